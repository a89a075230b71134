"""Building by name from an Arch mapping, and loading .pdparams files."""

import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

import paddle_googlenet as pg
from paddle_googlenet import ConfigError, GoogLeNet, WeightsError, build_model, load_weights

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


@pytest.mark.slow
def test_build_by_name_with_paddleclas_spelling():
    net = build_model({"name": "GoogLeNet", "class_num": 12, "pretrained": False,
                       "adaptive_pool": True, "dropout": 0.2})
    assert isinstance(net, GoogLeNet)
    assert net.num_classes == 12 and net.adaptive_pool and net.head.dropout.p == 0.2
    assert build_model({"name": "GoogLeNet", "num_classes": 3}).num_classes == 3


@pytest.mark.parametrize("arch, match", [
    ({"name": "GoogleNet"}, r"Arch.name: unknown model 'GoogleNet' \(did you mean 'GoogLeNet'\?\)"),
    ({"name": "GoogLeNet", "clas_num": 3}, r"Arch.clas_num: .*did you mean 'class_num'"),
    ({"name": "GoogLeNet", "class_num": "3"}, r"Arch.class_num: expected int, got '3'"),
    ({"name": "GoogLeNet", "dropout": "high"}, r"Arch.dropout: expected float"),
    ({"name": "GoogLeNet", "pretrained": True}, r"no weights are ever downloaded"),
    ({"name": "GoogLeNet", "class_num": 3, "num_classes": 3}, r"not both"),
])
def test_bad_arch_is_a_clear_config_error(arch, match):
    with pytest.raises(ConfigError, match=match):
        build_model(arch)


def save(net, path):
    paddle.save(net.state_dict(), str(path))
    return str(path)


@pytest.mark.slow
def test_pretrained_path_loads_weights(tmp_path):
    paddle.seed(4)
    src = GoogLeNet(num_classes=5)
    path = save(src, tmp_path / "w.pdparams")
    # PaddleClas names weights without the suffix; both spellings work.
    for given in (path, path[: -len(".pdparams")]):
        net = build_model({"name": "GoogLeNet", "class_num": 5, "pretrained": given})
        for (k, a), b in zip(src.state_dict().items(), net.state_dict().values()):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


def test_missing_weights_file(tmp_path):
    with pytest.raises(WeightsError, match="weights file not found.*nope"):
        build_model({"name": "GoogLeNet", "pretrained": str(tmp_path / "nope.pdparams")})


def test_file_of_another_network(tmp_path):
    other = paddle.vision.models.LeNet()
    path = save(other, tmp_path / "lenet.pdparams")
    with pytest.raises(WeightsError, match="does not hold GoogLeNet weights"):
        load_weights(GoogLeNet(num_classes=10), path)


def test_not_a_weights_file(tmp_path):
    path = tmp_path / "junk.pdparams"
    path.write_text("hello")
    with pytest.raises(WeightsError, match="junk.pdparams"):
        load_weights(GoogLeNet(num_classes=10), str(path))


@pytest.mark.slow
def test_trunk_shape_mismatch_names_the_parameter(tmp_path):
    state = GoogLeNet(num_classes=5).state_dict()
    state["inception3a.branch1.0.weight"] = paddle.zeros([1, 1, 1, 1])
    path = tmp_path / "bad.pdparams"
    paddle.save(state, str(path))
    with pytest.raises(WeightsError, match=r"'inception3a.branch1.0.weight' has shape "
                                           r"\[1, 1, 1, 1\] in the file but \[64, 192, 1, 1\]"):
        load_weights(GoogLeNet(num_classes=5), str(path))


@pytest.mark.slow
def test_other_class_count_keeps_heads_at_init_with_a_warning(tmp_path):
    paddle.seed(5)
    src = GoogLeNet(num_classes=1000)
    path = save(src, tmp_path / "imagenet.pdparams")
    paddle.seed(6)
    net = GoogLeNet(num_classes=7)
    head_before = net.head.fc.weight.numpy().copy()
    with pytest.warns(UserWarning, match="left at initialisation.*head.fc.weight"):
        report = load_weights(net, path)
    assert set(report["reinitialised"]) == {
        "head.fc.weight", "head.fc.bias", "aux1.fc2.weight", "aux1.fc2.bias",
        "aux2.fc2.weight", "aux2.fc2.bias"}
    np.testing.assert_array_equal(net.head.fc.weight.numpy(), head_before)
    np.testing.assert_array_equal(net.inception4e.branch2[2].weight.numpy(),
                                  src.inception4e.branch2[2].weight.numpy())
    with pytest.raises(WeightsError, match="head.fc.weight"):
        load_weights(GoogLeNet(num_classes=7), path, strict=True)


@pytest.mark.slow
def test_aux_heads_may_be_absent_on_either_side(tmp_path):
    full = GoogLeNet(num_classes=5)
    path = save(full, tmp_path / "full.pdparams")
    report = load_weights(GoogLeNet(num_classes=5, aux_logits=False), path)
    assert "aux1.fc1.weight" in report["ignored"]
    slim = save(GoogLeNet(num_classes=5, aux_logits=False), tmp_path / "slim.pdparams")
    with pytest.warns(UserWarning, match="aux1"):
        load_weights(GoogLeNet(num_classes=5), slim)


def test_import_without_paddle_names_both_distributions(tmp_path):
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'paddle' or name.startswith('paddle.'):\n"
        "            raise ImportError('No module named ' + repr(name))\n"
        "sys.meta_path.insert(0, Block())\n")
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}")
    # the package imports without Paddle (deployment needs none); the model does not
    proc = subprocess.run([sys.executable, "-c", "import paddle_googlenet as pg; pg.GoogLeNet"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr
    for text in ("paddlepaddle", "paddlepaddle-gpu", "pip install"):
        assert text in proc.stderr


def test_package_exports():
    for name in ("GoogLeNet", "Inception", "MainHeadOnly", "build_model", "load_weights"):
        assert hasattr(pg, name)


# -- the heads policy -------------------------------------------------------------------

@pytest.mark.slow
def test_strict_heads_refuse_another_class_count_naming_both(tmp_path):
    from paddle_googlenet.models import HeadMismatchError

    path = save(GoogLeNet(num_classes=6), tmp_path / "six.pdparams")
    net = GoogLeNet(num_classes=3)
    before = net.inception3a.branch1[0].weight.numpy().copy()
    with pytest.raises(HeadMismatchError, match=r"heads are for 6 classes but the model has 3"
                                                r".*-o Arch.class_num=6") as err:
        load_weights(net, path, heads="strict")
    assert (err.value.file_classes, err.value.model_classes) == (6, 3)
    assert isinstance(err.value, WeightsError)
    # Nothing was loaded.
    np.testing.assert_array_equal(net.inception3a.branch1[0].weight.numpy(), before)


@pytest.mark.slow
def test_strict_heads_refuse_a_file_without_the_models_aux_heads(tmp_path):
    slim = save(GoogLeNet(num_classes=5, aux_logits=False), tmp_path / "slim.pdparams")
    with pytest.raises(WeightsError, match=r"'aux1\..*in the model but not in the file.*"
                                           r"aux_logits=False"):
        load_weights(GoogLeNet(num_classes=5), slim, heads="strict")
    # Heads the model was built without are ignored under either policy.
    full = save(GoogLeNet(num_classes=5), tmp_path / "full.pdparams")
    report = load_weights(GoogLeNet(num_classes=0), full, heads="strict")
    assert "head.fc.weight" in report["ignored"] and "aux2.fc2.bias" in report["ignored"]


def test_heads_policy_is_checked_and_resume_strictness_is_the_same():
    with pytest.raises(ValueError, match="heads must be one of reinit, strict"):
        load_weights(GoogLeNet(num_classes=3), "unused.pdparams", heads="guess")


@pytest.mark.slow
def test_build_main_head_is_strict_and_skips_arch_pretrained(tmp_path):
    from paddle_googlenet.models import HeadMismatchError, build_main_head

    six = save(GoogLeNet(num_classes=6), tmp_path / "six.pdparams")
    with pytest.raises(HeadMismatchError, match="-o Arch.class_num=6"):
        build_main_head({"name": "GoogLeNet", "class_num": 3}, six, softmax=True)
    # Arch.pretrained (a file that does not even exist) is not read: the weights
    # given replace every parameter.
    main = build_main_head({"name": "GoogLeNet", "class_num": 6,
                            "pretrained": str(tmp_path / "nope")}, six, softmax=False)
    assert main.net.num_classes == 6 and not main.training
