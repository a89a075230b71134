"""paddle_googlenet.paddleclas.GoogLeNet: a drop-in PaddleClas model-zoo entry.

What PaddleClas does with a network's output is reproduced here as it is in
PaddleClas: GoogLeNetLoss unpacks three outputs, GoogLeNetTopkAcc and ExportModel
keep ``x[0]`` of a list, and ExportModel applies a softmax and is traced by
``paddle.jit.save``.
"""

import os

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from paddle_googlenet import ConfigError, GoogLeNet
from paddle_googlenet.paddleclas import GoogLeNet as PaddleClasGoogLeNet
from paddle_googlenet.paddleclas import GoogLeNetForPaddleClas


def googlenet_loss(inputs, label):
    """PaddleClas's GoogLeNetLoss.forward."""
    input0, input1, input2 = inputs
    loss = (F.cross_entropy(input0, label=label) + 0.3 * F.cross_entropy(input1, label=label)
            + 0.3 * F.cross_entropy(input2, label=label))
    return loss.mean()


class ExportModel(paddle.nn.Layer):
    """What PaddleClas's ExportModel.forward does for a plain classifier."""

    def __init__(self, model):
        super().__init__()
        self.base_model = model
        self.out_act = paddle.nn.Softmax(axis=-1)

    def forward(self, x):
        x = self.base_model(x)
        if isinstance(x, list):
            x = x[0]
        return self.out_act(x)


@pytest.mark.parametrize("training", [True, False])
def test_forward_returns_a_list_in_train_and_eval(training):
    net = PaddleClasGoogLeNet(class_num=5, adaptive_pool=True)
    net.train() if training else net.eval()
    outs = net(paddle.randn([2, 3, 96, 96]))
    assert isinstance(outs, list) and len(outs) == 3
    assert [o.shape for o in outs] == [[2, 5]] * 3
    labels = paddle.randint(0, 5, [2, 1])
    assert float(googlenet_loss(outs, labels)) > 0
    # GoogLeNetTopkAcc scores x[0], the main head (TopkAcc uses paddle.metric.accuracy).
    top1 = float(paddle.metric.accuracy(outs[0], labels, k=1))
    expected = float((outs[0].argmax(axis=1).numpy() == labels.numpy()[:, 0]).mean())
    assert top1 == pytest.approx(expected)


@pytest.mark.slow
def test_the_plain_class_keeps_returning_a_tuple_and_parameters_match():
    paddle.seed(11)
    plain = GoogLeNet(num_classes=5)
    paddle.seed(11)
    wrapped = PaddleClasGoogLeNet(class_num=5)
    assert isinstance(wrapped, GoogLeNetForPaddleClas) and isinstance(wrapped, GoogLeNet)
    assert list(plain.state_dict()) == list(wrapped.state_dict())
    for (name, a), b in zip(plain.state_dict().items(), wrapped.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    plain.eval(), wrapped.eval()
    x = paddle.randn([1, 3, 224, 224])
    assert isinstance(plain(x), tuple)
    for a, b in zip(plain(x), wrapped(x)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_without_aux_heads_the_single_tensor():
    net = PaddleClasGoogLeNet(class_num=4, aux_logits=False)
    net.eval()
    assert isinstance(net(paddle.randn([1, 3, 224, 224])), paddle.Tensor)


@pytest.mark.slow
def test_export_model_traces_and_matches_eager(tmp_path):
    paddle.seed(12)
    net = PaddleClasGoogLeNet(class_num=6, adaptive_pool=True)
    export = ExportModel(net)
    export.eval()
    x = paddle.randn([2, 3, 64, 64])
    eager = export(x).numpy()
    np.testing.assert_allclose(eager.sum(axis=1), 1.0, rtol=1e-5)
    path = str(tmp_path / "inference")
    paddle.jit.save(export, path,
                    input_spec=[paddle.static.InputSpec([None, 3, 64, 64], "float32", "x")])
    loaded = paddle.jit.load(path)
    loaded.eval()
    np.testing.assert_allclose(loaded(x).numpy(), eager, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_pretrained_path_loads_and_reinitialises_other_heads(tmp_path):
    paddle.seed(13)
    source = GoogLeNet(num_classes=6)
    path = str(tmp_path / "w.pdparams")
    paddle.save(source.state_dict(), path)
    same = PaddleClasGoogLeNet(pretrained=path[: -len(".pdparams")], class_num=6)
    np.testing.assert_array_equal(same.head.fc.weight.numpy(), source.head.fc.weight.numpy())
    with pytest.warns(UserWarning, match="left at initialisation"):
        other = PaddleClasGoogLeNet(pretrained=path, class_num=3)
    np.testing.assert_array_equal(other.inception5b.branch1[0].weight.numpy(),
                                  source.inception5b.branch1[0].weight.numpy())


@pytest.mark.parametrize("kwargs, match", [
    ({"pretrained": True}, r"pretrained: .*never downloaded.*path of a .pdparams"),
    ({"pretrained": 3}, r"pretrained: expected a path"),
    ({"use_ssld": True}, r"use_ssld: there are no SSLD"),
    ({"clas_num": 3}, r"Arch.clas_num: .*valid: pretrained, use_ssld, class_num, aux_logits"),
])
def test_refused_arguments_are_clear(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        PaddleClasGoogLeNet(**kwargs)


def test_missing_pretrained_file_is_a_weights_error(tmp_path):
    from paddle_googlenet import WeightsError

    with pytest.raises(WeightsError, match="not found"):
        PaddleClasGoogLeNet(pretrained=os.path.join(str(tmp_path), "nope"))
