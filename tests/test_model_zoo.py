"""The model-zoo entry points: timm's ``create_model``/``list_models``, paddle.vision's
``googlenet``, and ``build_model`` by name, all over the one registry; and the
package's ``__all__``, which static tools read through TYPE_CHECKING imports."""

import ast
import inspect
import os

import numpy as np
import paddle
import pytest

import paddle_googlenet as pg
from paddle_googlenet import ConfigError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def test_the_registry_is_iterable_and_list_models_filters_it():
    assert list(pg.MODELS) == pg.MODELS.names() == pg.list_models()
    assert len(pg.MODELS) == len(pg.list_models()) >= 2
    assert pg.list_models("googlenet*") == ["GoogLeNet", "GoogLeNetPaddleClas"]
    assert pg.list_models("*PADDLECLAS") == ["GoogLeNetPaddleClas"]
    assert pg.list_models("resnet*") == []


@pytest.mark.parametrize("name, built", [
    ("googlenet", "GoogLeNet"), ("GoogLeNet", "GoogLeNet"), ("GOOGLENET", "GoogLeNet"),
    ("googlenet_paddleclas", "GoogLeNetPaddleClas"), ("GoogLeNetPaddleClas", "GoogLeNetPaddleClas"),
])
def test_create_model_takes_timms_and_the_registrys_spelling(name, built):
    net = pg.create_model(name, num_classes=7)
    assert type(net).__name__ == built and net.num_classes == 7


def test_create_model_passes_constructor_arguments_and_refuses_unknown_ones():
    net = pg.create_model("googlenet", num_classes=0)
    assert net(paddle.zeros([1, 3, 224, 224])).shape == [1, 1024]
    assert pg.create_model("googlenet", aux_logits=False).aux1 is None
    with pytest.raises(ConfigError, match=r"create_model\.dropuot: GoogLeNet has no such "
                                          r"argument \(did you mean 'dropout'\?\)"):
        pg.create_model("googlenet", dropuot=0.5)


def test_an_unknown_name_says_which_are_valid():
    with pytest.raises(ConfigError, match=r"unknown model 'googlnet' \(did you mean "
                                          r"'googlenet'\?\); valid: GoogLeNet, GoogLeNetPaddleClas"):
        pg.create_model("googlnet")


@pytest.mark.parametrize("entry", [lambda: pg.create_model("googlenet", pretrained=True),
                                   lambda: pg.googlenet(pretrained=True),
                                   lambda: pg.build_model({"name": "GoogLeNet",
                                                           "pretrained": True})])
def test_pretrained_true_is_refused_because_nothing_is_downloaded(entry):
    with pytest.raises(ConfigError, match=r"pretrained: True would download weights, but "
                                          r"weights are read from a local file and never "
                                          r"downloaded.*; give the path"):
        entry()


@pytest.mark.slow
def test_pretrained_is_a_local_path_loaded_by_every_entry_point(tmp_path):
    source = pg.GoogLeNet(num_classes=5, adaptive_pool=True)
    path = str(tmp_path / "w.pdparams")
    paddle.save(source.state_dict(), path)
    expected = source.head.fc.weight.numpy()
    for net in (pg.create_model("googlenet", pretrained=path, num_classes=5, adaptive_pool=True),
                pg.googlenet(pretrained=path, num_classes=5, adaptive_pool=True),
                pg.build_model({"name": "GoogLeNet", "pretrained": path, "class_num": 5,
                                "adaptive_pool": True})):
        np.testing.assert_array_equal(net.head.fc.weight.numpy(), expected)


def test_googlenet_has_paddle_visions_signature():
    ours = inspect.signature(pg.googlenet).parameters
    theirs = inspect.signature(paddle.vision.models.googlenet).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == \
           [(p.name, p.kind, p.default) for p in theirs.values()]
    assert type(pg.googlenet(num_classes=3)) is pg.GoogLeNet


def test_build_model_takes_a_name_as_well_as_an_arch_mapping():
    assert type(pg.build_model("GoogLeNet")) is pg.GoogLeNet
    assert type(pg.build_model("GoogLeNetPaddleClas")) is pg.GoogLeNetPaddleClas
    with pytest.raises(ConfigError, match=r"Arch\.name: unknown model 'googlenet'"):
        pg.build_model("googlenet")  # configs keep the registry's spelling


def _type_checking_names():
    """The names ``paddle_googlenet/__init__.py`` imports under ``if TYPE_CHECKING:``."""
    tree = ast.parse(open(os.path.join(ROOT, "paddle_googlenet", "__init__.py")).read())
    block, = [node for node in tree.body if isinstance(node, ast.If)
              and getattr(node.test, "id", None) == "TYPE_CHECKING"]
    return {alias.name for node in block.body for alias in node.names}


def test_all_lists_every_export_and_static_tools_see_the_lazy_ones():
    import paddle_googlenet.models as models

    eager = {"UserError", "ConfigError", "DataError", "WeightsError", "DeployError",
             "__version__", "require_paddle"}
    lazy = set(models.__all__) | {"set_cpu_threads"}  # the one from engine.runtime
    assert set(pg.__all__) == eager | lazy
    assert len(pg.__all__) == len(set(pg.__all__))
    assert _type_checking_names() == lazy
    namespace = {}
    exec("from paddle_googlenet import *", namespace)
    assert {"create_model", "list_models", "googlenet", "GoogLeNet"} <= set(namespace)
    assert namespace["create_model"] is models.create_model
