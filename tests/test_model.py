"""The network: structure, shapes, input checks, initialisation, state round trip."""

import math

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from paddle_googlenet import GoogLeNet, Inception, InputShapeError, MainHeadOnly
from paddle_googlenet.analysis import count_macs, count_parameters


def n_params(layer):
    return sum(int(p.numel()) for p in layer.parameters())


@pytest.fixture(scope="module")
def net1000():
    paddle.seed(0)
    return GoogLeNet(num_classes=1000)


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
def test_three_outputs_in_train_and_eval(training):
    net = GoogLeNet(num_classes=7)
    net.train() if training else net.eval()
    outs = net(paddle.randn([2, 3, 224, 224]))
    assert isinstance(outs, tuple) and len(outs) == 3
    assert [list(o.shape) for o in outs] == [[2, 7]] * 3


def test_no_aux_logits_returns_main_head_only():
    net = GoogLeNet(num_classes=10, aux_logits=False)
    out = net(paddle.randn([2, 3, 224, 224]))
    assert isinstance(out, paddle.Tensor) and out.shape == [2, 10]
    full = GoogLeNet(num_classes=10)
    aux_params = n_params(full.aux1) + n_params(full.aux2)
    assert n_params(net) == n_params(full) - aux_params


def test_dropout_rates_are_arguments():
    net = GoogLeNet(num_classes=3, dropout=0.25, aux_dropout=0.5)
    assert net.head.dropout.p == 0.25
    assert net.aux1.dropout.p == 0.5 and net.aux2.dropout.p == 0.5
    default = GoogLeNet(num_classes=3)
    assert default.head.dropout.p == 0.4 and default.aux1.dropout.p == 0.7
    with pytest.raises(ValueError, match="dropout"):
        GoogLeNet(dropout=1.5)


@pytest.mark.parametrize("side", [96, 160, 299])
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


def test_mac_count():
    """1.59 G multiply-accumulates per 224x224 image; convs scale with the area."""
    macs = count_macs(GoogLeNet())
    assert 1.58e9 < macs["total"] < 1.60e9
    small = count_macs(GoogLeNet(adaptive_pool=True), [3, 112, 112])
    ratio = small["by_type"]["Conv2D"] / macs["by_type"]["Conv2D"]
    assert 0.24 < ratio < 0.26
    assert count_parameters(GoogLeNet())["total"] == 13_378_280
