"""The network: structure, shapes, input checks, initialisation, state round trip."""

import math

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from paddle_googlenet import GoogLeNet, Inception, InputShapeError, MainHeadOnly
from paddle_googlenet.models.analysis import count_macs, count_parameters
from helpers import n_params


@pytest.fixture(scope="module")
def net1000():
    paddle.seed(0)
    return GoogLeNet(num_classes=1000)


@pytest.mark.slow
def test_summary_total_is_the_spec_figure(net1000, capsys):
    info = paddle.summary(net1000, input_size=(None, 3, 224, 224))
    assert info["total_params"] == 13_378_280
    assert info["trainable_params"] == 13_378_280
    assert "Total params: 13,378,280" in capsys.readouterr().out


def test_part_counts_match_the_spec(net1000):
    assert n_params(Inception(192, 64, (96, 128), (16, 32), 32)) == 163_696
    assert n_params(net1000.stem[0]) == 9_472
    assert n_params(net1000.aux1.fc1) == 2_098_176
    assert n_params(net1000.aux2.fc1) == 2_098_176
    assert n_params(net1000.head.fc) == 1_025_000


def test_summary_lists_layers_in_spec_order(net1000):
    """Forward-hook order is what paddle.summary prints: trunk, main head, aux1, aux2."""
    order = []
    hooks = [layer.register_forward_post_hook(
        lambda layer, i, o: order.append(type(layer).__name__))
        for layer in net1000.sublayers() if not isinstance(layer, paddle.nn.Sequential)]
    net1000.eval()
    with paddle.no_grad():
        net1000(paddle.zeros([1, 3, 224, 224]))
    for h in hooks:
        h.remove()
    stem = ["Conv2D", "ReLU", "MaxPool2D", "Conv2D", "ReLU", "Conv2D", "ReLU", "MaxPool2D"]
    assert order[:8] == stem
    inception = ["Conv2D", "ReLU", "Conv2D", "ReLU", "Conv2D", "ReLU", "Conv2D", "ReLU",
                 "Conv2D", "ReLU", "MaxPool2D", "Conv2D", "ReLU", "Inception"]
    assert order[8:22] == inception
    assert order.count("Inception") == 9
    assert order.count("ReLU") == 57 + 2  # one after every trunk conv, one per aux head
    head = ["AvgPool2D", "Flatten", "Dropout", "Linear"]
    aux = ["AvgPool2D", "Conv2D", "Flatten", "Linear", "ReLU", "Dropout", "Linear"]
    assert order[-18:] == head + aux + aux
    assert order[-19] == "Inception"
    # 5b follows 5a without a pool; the two stride-2 pools sit after 3b and 4e.
    blocks = [i for i, name in enumerate(order) if name == "Inception"]
    assert order[blocks[1] + 1] == "MaxPool2D" and order[blocks[6] + 1] == "MaxPool2D"


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.slow
def test_three_outputs_in_train_and_eval(training):
    net = GoogLeNet(num_classes=7)
    net.train() if training else net.eval()
    outs = net(paddle.randn([2, 3, 224, 224]))
    assert isinstance(outs, tuple) and len(outs) == 3
    assert [list(o.shape) for o in outs] == [[2, 7]] * 3


@pytest.mark.slow
def test_no_aux_logits_returns_main_head_only():
    net = GoogLeNet(num_classes=10, aux_logits=False)
    out = net(paddle.randn([2, 3, 224, 224]))
    assert isinstance(out, paddle.Tensor) and out.shape == [2, 10]
    full = GoogLeNet(num_classes=10)
    aux_params = n_params(full.aux1) + n_params(full.aux2)
    assert n_params(net) == n_params(full) - aux_params


@pytest.mark.slow
def test_dropout_rates_are_arguments():
    net = GoogLeNet(num_classes=3, dropout=0.25, aux_dropout=0.5)
    assert net.head.dropout.p == 0.25
    assert net.aux1.dropout.p == 0.5 and net.aux2.dropout.p == 0.5
    default = GoogLeNet(num_classes=3)
    assert default.head.dropout.p == 0.4 and default.aux1.dropout.p == 0.7
    with pytest.raises(ValueError, match="dropout"):
        GoogLeNet(dropout=1.5)


@pytest.mark.parametrize("side", [96, 160, 299])
@pytest.mark.slow
def test_adaptive_heads_take_other_sizes(side):
    net = GoogLeNet(num_classes=5, adaptive_pool=True)
    assert n_params(net) == n_params(GoogLeNet(num_classes=5))
    net.eval()
    outs = net(paddle.randn([2, 3, side, side]))
    assert [list(o.shape) for o in outs] == [[2, 5]] * 3


def test_non_square_adaptive_input():
    net = GoogLeNet(num_classes=4, adaptive_pool=True, aux_logits=False)
    assert net(paddle.randn([1, 3, 96, 128])).shape == [1, 4]


@pytest.mark.parametrize("shape, match", [
    ([2, 3, 160, 160], r"expects \[N, 3, 224, 224\].*adaptive_pool=True"),
    ([2, 1, 224, 224], r"shape \[N, 3, H, W\]"),
    ([3, 224, 224], r"shape \[N, 3, H, W\]"),
])
def test_fixed_heads_reject_inputs_they_cannot_take(shape, match):
    net = GoogLeNet(num_classes=5)
    with pytest.raises(InputShapeError, match=match) as err:
        net(paddle.randn(shape))
    assert isinstance(err.value, ValueError)
    assert str(shape) in str(err.value)


def test_fixed_heads_take_the_sizes_that_give_the_same_feature_maps():
    net = GoogLeNet(num_classes=5)
    net.eval()
    assert net(paddle.randn([1, 3, 209, 224]))[0].shape == [1, 5]
    with pytest.raises(InputShapeError):
        net(paddle.randn([1, 3, 208, 224]))


def test_adaptive_heads_reject_tiny_inputs():
    net = GoogLeNet(num_classes=5, adaptive_pool=True)
    with pytest.raises(InputShapeError, match="at least 49"):
        net(paddle.randn([1, 3, 32, 32]))


@pytest.mark.parametrize("num_classes", [5, 1000])
@pytest.mark.slow
def test_initial_loss_is_about_log_num_classes(num_classes):
    """Each head starts near ln(C); Paddle's default init gives about 3x that."""
    paddle.seed(1)
    net = GoogLeNet(num_classes=num_classes)
    net.eval()
    x = paddle.randn([8, 3, 224, 224])
    labels = paddle.randint(0, num_classes, [8, 1])
    for out in net(x):
        loss = float(F.cross_entropy(out, labels))
        assert abs(loss - math.log(num_classes)) < 0.1 * math.log(num_classes), loss


@pytest.mark.slow
def test_state_dict_round_trip_gives_identical_outputs(tmp_path):
    paddle.seed(2)
    net = GoogLeNet(num_classes=6)
    path = str(tmp_path / "w.pdparams")
    paddle.save(net.state_dict(), path)
    paddle.seed(3)
    other = GoogLeNet(num_classes=6)
    x = paddle.randn([2, 3, 224, 224])
    net.eval(), other.eval()
    assert not np.allclose(net(x)[0].numpy(), other(x)[0].numpy())
    other.set_state_dict(paddle.load(path))
    for a, b in zip(net(x), other(x)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.slow
def test_main_head_only_matches_main_output():
    net = GoogLeNet(num_classes=5)
    net.eval()
    x = paddle.randn([2, 3, 224, 224])
    out = net(x)[0]
    wrapped = MainHeadOnly(net)
    np.testing.assert_allclose(wrapped(x).numpy(), out.numpy(), rtol=1e-6)
    probs = MainHeadOnly(net, softmax=True)(x).numpy()
    np.testing.assert_allclose(probs, F.softmax(out, axis=-1).numpy(), rtol=1e-5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_mac_count():
    """1.59 G multiply-accumulates per 224x224 image; convs scale with the area."""
    macs = count_macs(GoogLeNet())
    assert 1.58e9 < macs["total"] < 1.60e9
    small = count_macs(GoogLeNet(adaptive_pool=True), [3, 112, 112])
    ratio = small["by_type"]["Conv2D"] / macs["by_type"]["Conv2D"]
    assert 0.24 < ratio < 0.26
    assert count_parameters(GoogLeNet())["total"] == 13_378_280


# -- the interface every architecture provides --------------------------------------

def test_forward_says_what_it_returns():
    doc = GoogLeNet.forward.__doc__
    assert "(out, out1, out2)" in doc and "num_classes=0" in doc and "aux_logits=False" in doc


@pytest.mark.slow
def test_every_registered_architecture_is_a_classifier_with_metadata():
    from paddle_googlenet.models import MODELS, Classifier, model_info

    assert {"GoogLeNet", "GoogLeNetPaddleClas"} <= set(MODELS.names())
    for name in MODELS.names():
        info = model_info(name)
        assert info.input_size == (3, 224, 224)
        assert len(info.mean) == len(info.std) == 3 and all(0 < s < 1 for s in info.std)
        net = MODELS.build(name, {"num_classes": 4}, "Arch")
        assert isinstance(net, Classifier) and net.num_classes == 4 and net.aux_logits
        net.eval()
        x = paddle.randn([1, 3, 224, 224])
        # The main-head path MainHeadOnly uses is forward's first output.
        out = net(x)[0]
        np.testing.assert_allclose(net.forward_head(net.forward_features(x)).numpy(),
                                   out.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(MainHeadOnly(net)(x).numpy(), out.numpy(), rtol=1e-5,
                                   atol=1e-6)
        assert len(net.classifier_parameter_names()) == 6  # weight and bias of 3 heads
        assert all(net.is_head_parameter(k) for k in net.classifier_parameter_names())


def test_model_info_of_an_unknown_name_is_a_config_error():
    from paddle_googlenet import ConfigError
    from paddle_googlenet.models import model_info

    with pytest.raises(ConfigError, match="GoogLeNetPaddleClas"):
        model_info("GoogLeNetPaddleclass")


def _trunk_convs(net):
    aux = {id(layer) for head in (net.aux1, net.aux2) if head for layer in head.sublayers()}
    return [layer for layer in net.sublayers()
            if isinstance(layer, paddle.nn.Conv2D) and id(layer) not in aux]


@pytest.mark.parametrize("conv_block", ["conv_bn_relu", "callable"])
@pytest.mark.slow
def test_conv_block_swaps_conv_relu_for_conv_bn_relu(conv_block):
    from paddle_googlenet.models import conv_bn_relu

    paddle.seed(7)
    plain = GoogLeNet(num_classes=5)
    net = GoogLeNet(num_classes=5, conv_block=conv_bn_relu if conv_block == "callable"
                    else conv_block)
    convs = _trunk_convs(net)
    assert len(convs) == 57 and all(c.bias is None for c in convs)
    norms = [l for l in net.sublayers() if isinstance(l, paddle.nn.BatchNorm2D)]
    assert len(norms) == 57
    # Each trunk conv trades its bias for a norm's scale and shift (trainable) and
    # running mean and variance (parameters too in Paddle, not trainable).
    biases = sum(int(c.bias.numel()) for c in _trunk_convs(plain))
    counts = count_parameters(net)
    assert counts["trainable"] == n_params(plain) + biases
    assert counts["total"] == n_params(plain) + 3 * biases
    assert "inception3a.branch2.3.weight" in net.state_dict()  # conv, bn, relu, conv...
    for norm in norms:
        assert np.all(norm.weight.numpy() == 1) and np.all(norm.bias.numpy() == 0)
    # Initialised by type: He-normal convs without bias still start near ln(C).
    net.eval()
    labels = paddle.randint(0, 5, [4, 1])
    for out in net(paddle.randn([4, 3, 224, 224])):
        assert abs(float(F.cross_entropy(out, labels)) - math.log(5)) < 0.2 * math.log(5)


def test_conv_block_by_an_unknown_name_is_a_config_error():
    from paddle_googlenet import ConfigError, build_model

    with pytest.raises(ConfigError, match=r"Arch: .*'conv_bn'.*conv_relu, conv_bn_relu"):
        build_model({"name": "GoogLeNet", "conv_block": "conv_bn"})


# -- feature extraction --------------------------------------------------------------

@pytest.mark.slow
def test_num_classes_0_builds_no_heads_and_returns_pooled_features():
    paddle.seed(8)
    full = GoogLeNet(num_classes=1000)
    net = GoogLeNet(num_classes=0)
    assert net.num_classes == 0 and not net.aux_logits and net.aux1 is None
    assert net.classifier_layers() == [] and net.classifier_parameter_names() == []
    assert n_params(net) == (n_params(full) - n_params(full.head.fc) - n_params(full.aux1)
                             - n_params(full.aux2))
    net.eval()
    x = paddle.randn([2, 3, 224, 224])
    features = net(x)
    assert isinstance(features, paddle.Tensor) and features.shape == [2, 1024]
    # The pooled 5b map: the same as pooling forward_features by hand.
    np.testing.assert_allclose(features.numpy(), net.forward_features(x).mean(axis=[2, 3]).numpy(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_forward_features_is_the_5b_map(net1000):
    net1000.eval()
    x = paddle.randn([2, 3, 224, 224])
    maps = net1000.forward_features(x)
    assert maps.shape == [2, 1024, 7, 7]
    assert net1000.forward_head(maps, pre_logits=True).shape == [2, 1024]
    np.testing.assert_allclose(net1000.forward_head(maps).numpy(), net1000(x)[0].numpy(),
                               rtol=1e-5, atol=1e-6)


def _check_classifier_init(layer, classes):
    weight = layer.weight.numpy()
    assert weight.shape == (1024, classes)
    assert 0.0007 < weight.std() < 0.0013 and abs(weight.mean()) < 0.0002
    assert np.all(layer.bias.numpy() == 0)


@pytest.mark.slow
def test_reset_classifier_swaps_every_head_keeping_the_rest():
    paddle.seed(9)
    net = GoogLeNet(num_classes=1000)
    trunk = net.inception4e.branch2[2].weight.numpy().copy()
    aux_fc1 = net.aux1.fc1.weight.numpy().copy()
    net.reset_classifier(7)
    assert net.num_classes == 7 and net.aux_logits
    for layer in net.classifier_layers():
        _check_classifier_init(layer, 7)
    assert n_params(net) == n_params(GoogLeNet(num_classes=7))
    np.testing.assert_array_equal(net.inception4e.branch2[2].weight.numpy(), trunk)
    np.testing.assert_array_equal(net.aux1.fc1.weight.numpy(), aux_fc1)
    net.eval()
    outs = net(paddle.randn([2, 3, 224, 224]))
    assert [o.shape for o in outs] == [[2, 7]] * 3
    # The summary order (trunk, main head, aux1, aux2) is kept.
    assert list(net._sub_layers)[-3:] == ["head", "aux1", "aux2"]
    assert list(net.head._sub_layers) == ["pool", "flatten", "dropout", "fc"]


@pytest.mark.slow
def test_reset_classifier_to_0_and_back():
    net = GoogLeNet(num_classes=10, adaptive_pool=True)
    net.reset_classifier(0)
    assert n_params(net) == n_params(GoogLeNet(num_classes=0))
    net.eval()
    assert net(paddle.randn([1, 3, 96, 96])).shape == [1, 1024]
    net.reset_classifier(3)
    assert net.aux_logits and n_params(net) == n_params(GoogLeNet(num_classes=3))
    for layer in net.classifier_layers():
        _check_classifier_init(layer, 3)
    assert [o.shape for o in net(paddle.randn([1, 3, 96, 96]))] == [[1, 3]] * 3
    slim = GoogLeNet(num_classes=0, aux_logits=False)
    slim.reset_classifier(3)
    assert not slim.aux_logits and slim.aux1 is None
    with pytest.raises(ValueError, match="non-negative"):
        net.reset_classifier(-1)
