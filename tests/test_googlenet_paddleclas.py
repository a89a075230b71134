"""GoogLeNetPaddleClas: PaddleClas's / paddle.vision's GoogLeNet, loading their weights."""

import numpy as np
import paddle
import pytest

from paddle_googlenet import WeightsError
from paddle_googlenet.models import (GoogLeNetPaddleClas, HeadMismatchError, InputShapeError,
                                     build_model, load_weights)
from helpers import n_params


def vision_weights(tmp_path, num_classes, seed):
    paddle.seed(seed)
    reference = paddle.vision.models.GoogLeNet(num_classes=num_classes)
    path = str(tmp_path / f"vision_{num_classes}.pdparams")
    paddle.save(reference.state_dict(), path)
    reference.eval()
    return reference, path


def test_parameter_count_and_keys_are_paddle_visions():
    net = GoogLeNetPaddleClas()
    assert n_params(net) == 11_535_736
    reference = paddle.vision.models.GoogLeNet()
    own, theirs = net.state_dict(), reference.state_dict()
    assert list(own) == list(theirs)
    assert [list(v.shape) for v in own.values()] == [list(v.shape) for v in theirs.values()]


@pytest.mark.slow
def test_loads_paddle_vision_weights_and_gives_its_outputs(tmp_path):
    reference, path = vision_weights(tmp_path, 10, seed=21)
    net = build_model({"name": "GoogLeNetPaddleClas", "class_num": 10})
    report = load_weights(net, path, heads="strict")
    assert report["reinitialised"] == [] and len(report["loaded"]) == len(net.state_dict())
    net.eval()
    x = paddle.randn([2, 3, 224, 224])
    for theirs, ours in zip(reference(x), net(x)):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5)
    # The trunk is the same function: forward_features is their 5b map.
    assert net.forward_features(x).shape == [2, 1024, 6, 6]


@pytest.mark.slow
def test_other_class_count_reinitialises_heads_when_fine_tuning(tmp_path):
    reference, path = vision_weights(tmp_path, 1000, seed=22)
    paddle.seed(23)
    with pytest.warns(UserWarning, match="left at initialisation.*_fc_out.weight"):
        net = build_model({"name": "GoogLeNetPaddleClas", "class_num": 3, "pretrained": path})
    assert net._fc_out.weight.shape == [1024, 3]
    assert 0.0007 < float(net._out1.weight.std()) < 0.0013
    net.eval()
    x = paddle.randn([1, 3, 224, 224])
    np.testing.assert_allclose(net.forward_features(x).numpy(),
                               _vision_5b(reference, x).numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(HeadMismatchError, match=r"for 1000 classes but the model has 3.*"
                                                r"-o Arch.class_num=1000"):
        load_weights(GoogLeNetPaddleClas(num_classes=3), path, heads="strict")


def _vision_5b(reference, x):
    """paddle.vision's network up to inception 5b (its forward has no such output)."""
    maps = []
    hook = reference._ince5b.register_forward_post_hook(lambda layer, i, o: maps.append(o))
    reference(x)
    hook.remove()
    return maps[0]


@pytest.mark.slow
def test_feature_extractor_and_no_aux_heads_load_the_full_file(tmp_path):
    reference, path = vision_weights(tmp_path, 5, seed=24)
    features = GoogLeNetPaddleClas(num_classes=0)
    report = load_weights(features, path, heads="strict")
    assert "_fc_out.weight" in report["ignored"] and "_out2.bias" in report["ignored"]
    features.eval()
    x = paddle.randn([1, 3, 224, 224])
    expected = _vision_5b(reference, x).mean(axis=[2, 3])
    np.testing.assert_allclose(features(x).numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
    slim = GoogLeNetPaddleClas(num_classes=5, aux_logits=False)
    load_weights(slim, path, heads="strict")
    slim.eval()
    np.testing.assert_allclose(slim(x).numpy(), reference(x)[0].numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_reset_classifier_and_num_classes_0():
    paddle.seed(25)
    net = GoogLeNetPaddleClas(num_classes=1000)
    trunk = net._ince4e._conv3._conv.weight.numpy().copy()
    net.reset_classifier(7)
    assert n_params(net) == n_params(GoogLeNetPaddleClas(num_classes=7))
    for layer in net.classifier_layers():
        assert layer.weight.shape == [1024, 7] and np.all(layer.bias.numpy() == 0)
    np.testing.assert_array_equal(net._ince4e._conv3._conv.weight.numpy(), trunk)
    net.reset_classifier(0)
    assert n_params(net) == n_params(GoogLeNetPaddleClas(num_classes=0))
    assert net.classifier_layers() == [] and not net.aux_logits
    net.reset_classifier(2)
    net.eval()
    assert [o.shape for o in net(paddle.randn([1, 3, 224, 224]))] == [[1, 2]] * 3


@pytest.mark.slow
def test_input_checks():
    net = GoogLeNetPaddleClas(num_classes=3)
    with pytest.raises(InputShapeError, match=r"expect \[N, 3, 224, 224\].*adaptive_pool"):
        net(paddle.randn([1, 3, 128, 128]))
    adaptive = GoogLeNetPaddleClas(num_classes=3, adaptive_pool=True)
    adaptive.eval()
    assert [o.shape for o in adaptive(paddle.randn([1, 3, 128, 128]))] == [[1, 3]] * 3
    with pytest.raises(InputShapeError, match="at least 61"):
        adaptive(paddle.randn([1, 3, 60, 60]))
    assert adaptive(paddle.randn([1, 3, 61, 61]))[0].shape == [1, 3]


@pytest.mark.slow
def test_blog_weights_are_refused_as_another_network(tmp_path):
    from paddle_googlenet import GoogLeNet

    path = str(tmp_path / "blog.pdparams")
    paddle.save(GoogLeNet(num_classes=3).state_dict(), path)
    with pytest.raises(WeightsError, match="does not hold GoogLeNetPaddleClas weights"):
        load_weights(GoogLeNetPaddleClas(num_classes=3), path)


@pytest.mark.slow
def test_a_file_keyed_by_paddleclas_parameter_names_loads(tmp_path):
    """PaddleClas names every parameter (ParamAttr(name="conv1_weights")...); a file
    keyed by those names, as a static-graph save writes it, is renamed on loading."""
    from paddle_googlenet.models.googlenet_paddleclas import paddleclas_parameter_names

    reference, _ = vision_weights(tmp_path, 4, seed=26)
    renames = paddleclas_parameter_names()
    assert len(renames) == len(reference.state_dict())  # one name per parameter
    by_key = {key: name for name, key in renames.items()}
    assert by_key["_ince4b._conv5r._conv.weight"] == "inception_ince4b_5x5_reduce_weights"
    assert by_key["_fc_out.bias"] == "out_offset"
    path = str(tmp_path / "named.pdparams")
    paddle.save({by_key[k]: v for k, v in reference.state_dict().items()}, path)
    net = GoogLeNetPaddleClas(num_classes=4)
    load_weights(net, path, heads="strict")
    net.eval()
    x = paddle.randn([1, 3, 224, 224])
    for theirs, ours in zip(reference(x), net(x)):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5)
