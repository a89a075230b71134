"""GoogLeNet(lrn=True): the paper's two local response normalisations in the stem."""

import contextlib
import io
import re

import numpy as np
import paddle
import pytest

from paddle_googlenet import ConfigError, GoogLeNet
from paddle_googlenet.models import build_model
from paddle_googlenet.models.analysis import count_parameters


def summary_rows(net, side=224):
    """The layer rows paddle.summary prints: one per layer that is not a container."""
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        paddle.summary(net, input_size=(None, 3, side, side))
    return re.findall(r"^\s*([A-Za-z]\w*-\d+)\s", printed.getvalue(), re.M)


def forward_order(net, side=64):
    order = []
    hooks = [layer.register_forward_post_hook(lambda layer, i, o: order.append(layer))
             for layer in net.sublayers() if not isinstance(layer, paddle.nn.Sequential)]
    net.eval()
    with paddle.no_grad():
        net(paddle.rand([1, 3, side, side]))
    for hook in hooks:
        hook.remove()
    return order


@pytest.mark.slow
def test_the_default_is_unchanged_and_lrn_adds_two_layers_and_no_parameter():
    plain, paper = GoogLeNet(), GoogLeNet(lrn=True)
    plain_rows, paper_rows = summary_rows(plain), summary_rows(paper)
    assert len(plain_rows) == 154
    assert count_parameters(plain)["total"] == count_parameters(paper)["total"] == 13_378_280
    assert sum(r.startswith("LocalResponseNorm") for r in paper_rows) == 2
    assert sum(r.startswith("LocalResponseNorm") for r in plain_rows) == 0


def test_the_norms_sit_where_figure_3_puts_them_with_caffes_constants():
    paddle.seed(0)
    net = GoogLeNet(num_classes=6, adaptive_pool=True, lrn=True)
    kinds = [type(layer).__name__ for layer in forward_order(net)
             if type(layer).__name__ != "Then"][:10]
    assert kinds == ["Conv2D", "ReLU", "MaxPool2D", "LocalResponseNorm", "Conv2D", "ReLU",
                     "Conv2D", "ReLU", "LocalResponseNorm", "MaxPool2D"]
    norms = [layer for layer in net.sublayers()
             if isinstance(layer, paddle.nn.LocalResponseNorm)]
    assert [(n.size, n.alpha, n.beta, n.k) for n in norms] == [(5, 1e-4, 0.75, 1.0)] * 2
    # the same parameters under the same names: weights load both ways, and the
    # normalisations change what the network computes
    plain = GoogLeNet(num_classes=6, adaptive_pool=True)
    assert list(plain.state_dict()) == list(net.state_dict())
    plain.set_state_dict(net.state_dict())
    x = paddle.rand([2, 3, 64, 64]) * 40
    plain.eval(), net.eval()
    with paddle.no_grad():
        assert not np.allclose(plain(x)[0].numpy(), net(x)[0].numpy())


def test_arch_lrn_builds_it_and_a_non_flag_is_refused():
    net = build_model({"name": "GoogLeNet", "class_num": 6, "adaptive_pool": True,
                       "lrn": True})
    assert net.lrn is True
    with pytest.raises(ConfigError, match="Arch.lrn: expected bool, got 'yes'"):
        build_model({"name": "GoogLeNet", "class_num": 6, "lrn": "yes"})
    with pytest.raises(ValueError, match="lrn must be true or false, got 1"):
        GoogLeNet(lrn=1)
