"""Losses, metrics and optimizers, alone and under paddle.Model."""


import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from paddle_googlenet.errors import ConfigError
from paddle_googlenet.losses import build_loss
from paddle_googlenet.metrics import build_metrics
from paddle_googlenet.optim import build_lr, build_optimizer
from helpers import lr_values


def logits_for(labels, num_classes, shift=0):
    """Logits whose arg-max is ``(label + shift) % num_classes``."""
    target = (np.asarray(labels) + shift) % num_classes
    return paddle.to_tensor(np.eye(num_classes, dtype="float32")[target] * 5.0)


def test_googlenet_loss_weights_aux_heads_by_0_3():
    label = paddle.to_tensor([[0], [2]])
    outs = [paddle.randn([2, 3]) for _ in range(3)]
    loss = build_loss([{"GoogLeNetLoss": {"weight": 1.0}}])
    ce = [float(F.cross_entropy(o, label)) for o in outs]
    assert float(loss(*outs, label)) == pytest.approx(ce[0] + 0.3 * ce[1] + 0.3 * ce[2], rel=1e-5)


def test_ce_loss_scores_main_output_and_smooths_labels():
    label = paddle.to_tensor([[1], [0]])
    outs = [paddle.randn([2, 4]) for _ in range(3)]
    plain = build_loss([{"CELoss": None}])
    assert float(plain(*outs, label)) == pytest.approx(float(F.cross_entropy(outs[0], label)))
    smooth = build_loss([{"CELoss": {"epsilon": 0.1}}])
    soft = np.full((2, 4), 0.1 / 4, dtype="float32")
    soft[[0, 1], [1, 0]] += 0.9
    logp = F.log_softmax(outs[0]).numpy()
    assert float(smooth(*outs, label)) == pytest.approx(float(-(soft * logp).sum(1).mean()), rel=1e-5)


def test_combined_loss_weights():
    label = paddle.to_tensor([[1]])
    outs = [paddle.randn([1, 3]) for _ in range(3)]
    one = float(build_loss([{"CELoss": {}}])(*outs, label))
    both = float(build_loss([{"CELoss": {"weight": 0.5}}, {"CELoss": {"weight": 2.0}}])(*outs, label))
    assert both == pytest.approx(2.5 * one, rel=1e-5)


@pytest.mark.parametrize("entries, match", [
    ([{"FocalLoss": {}}], r"Loss.Train.0.FocalLoss: unknown loss 'FocalLoss'; valid: CELoss, GoogLeNetLoss"),
    ([{"CELoss": {"epsilon": "a"}}], r"Loss.Train.0.CELoss.epsilon: expected float"),
    ([{"CELoss": {"weight": "x"}}], r"weight: expected a number"),
    ([{"CELoss": {"smoothing": 0.1}}], r"CELoss.smoothing: CELoss has no such argument"),
    ([{"CELoss": {"epsilon": 1.5}}], r"epsilon .* must be in \[0, 1\)"),
    ([], r"no loss given"),
])
def test_loss_config_errors(entries, match):
    with pytest.raises(ConfigError, match=match):
        build_loss(entries)


def test_topk_metric_scores_first_output():
    metric = build_metrics([{"TopkAcc": {"topk": [1, 2]}}], num_classes=4)[0]
    labels = np.array([0, 1, 2, 3])
    main = logits_for(labels, 4)
    aux = logits_for(labels, 4, shift=1)
    correct = metric.compute(main, aux, aux, paddle.to_tensor(labels[:, None]))
    metric.update(correct.numpy())
    assert metric.accumulate() == [1.0, 1.0]
    assert metric.name() == ["top1", "top2"]
    metric.reset()
    metric.update(metric.compute(aux, main, main, paddle.to_tensor(labels[:, None])).numpy())
    assert metric.accumulate()[0] == 0.0


@pytest.mark.parametrize("entries, match", [
    ([{"TopkAcc": {"topk": [1, 5]}}], r"top-5 needs at least 5 classes; the model has 3"),
    ([{"Accuracy": {}}], r"unknown metric 'Accuracy'"),
    ([{"TopkAcc": {"topk": "1"}}], r"topk: expected int or list of int"),
])
def test_metric_config_errors(entries, match):
    with pytest.raises(ConfigError, match=match):
        build_metrics(entries, num_classes=3)


class DisagreeingNet(paddle.nn.Layer):
    """Main head always right; aux heads always wrong (and each other's image)."""

    def __init__(self, num_classes):
        super().__init__()
        self.num_classes = num_classes
        self.scale = paddle.create_parameter([1], "float32")

    def forward(self, x):
        label = x[:, 0].astype("int64")
        main = F.one_hot(label, self.num_classes) * 5.0 * self.scale
        aux = F.one_hot((label + 1) % self.num_classes, self.num_classes) * 5.0 * self.scale
        return main, aux, aux * 2.0


class LabelAsInput(paddle.io.Dataset):
    def __init__(self, labels):
        self.labels = labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return (np.array([self.labels[i]], dtype="float32"),
                np.array([self.labels[i]], dtype="int64"))


def test_paddle_model_reports_the_main_heads_accuracy():
    """paddle.Model hands every output to the metric; a stock Accuracy takes out1 for
    the label. Ours must report the main head's 100%, not the aux heads' 0%."""
    classes = 4
    data = LabelAsInput(np.arange(12) % classes)
    net = DisagreeingNet(classes)
    net.scale.set_value(paddle.ones([1]))
    model = paddle.Model(net)
    model.prepare(loss=build_loss([{"GoogLeNetLoss": {}}]),
                  metrics=build_metrics([{"GoogLeNetTopkAcc": {"topk": [1, 2]}},
                                         {"TopkAcc": {"topk": [1]}}], classes))
    result = model.evaluate(data, batch_size=4, verbose=0)
    assert result["top1"] == 1.0 and result["top2"] == 1.0
    # The stock metric, given the same call, silently scores against out1: the trap.
    stock = paddle.Model(net)
    stock.prepare(loss=build_loss([{"GoogLeNetLoss": {}}]), metrics=paddle.metric.Accuracy())
    assert stock.evaluate(data, batch_size=4, verbose=0)["acc"] != 1.0


def test_cosine_with_warmup_in_steps():
    lr = build_lr({"name": "Cosine", "learning_rate": 0.1, "warmup_epoch": 1}, epochs=3,
                  steps_per_epoch=4)
    values = lr_values(lr, 12)
    assert values[0] == 0.0 and values[2] == pytest.approx(0.05)
    assert values[4] == pytest.approx(0.1)                       # warm-up done
    assert values[4 + 4] == pytest.approx(0.05, rel=1e-6)        # half-way through cosine
    assert values[-1] < values[8]


def test_piecewise_step_constant():
    lr = build_lr({"name": "Piecewise", "decay_epochs": [1, 2], "values": [0.1, 0.01, 0.001]},
                  epochs=3, steps_per_epoch=2)
    assert lr_values(lr, 6) == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    step = build_lr({"name": "Step", "learning_rate": 1.0, "step_size": 1, "gamma": 0.5},
                    epochs=3, steps_per_epoch=2)
    assert lr_values(step, 6) == pytest.approx([1, 1, 0.5, 0.5, 0.25, 0.25])
    assert build_lr({"name": "Constant", "learning_rate": 0.3}, 3, 2) == 0.3
    assert build_lr(0.2, 3, 2) == 0.2


@pytest.mark.parametrize("lr, match", [
    ({"name": "Cosin", "learning_rate": 0.1}, r"Optimizer.lr: unknown LR schedule 'Cosin' \(did you mean 'Cosine'\?\)"),
    ({"name": "Cosine"}, r"Cosine needs learning_rate"),
    ({"name": "Piecewise", "decay_epochs": [1], "values": [0.1]}, r"one entry more"),
    ({"name": "Cosine", "learning_rate": "fast"}, r"learning_rate: expected float"),
    ("fast", r"expected a mapping"),
])
def test_lr_errors(lr, match):
    with pytest.raises(ConfigError, match=match):
        build_lr(lr, 3, 2, "Optimizer.lr")


@pytest.mark.parametrize("name, extra", [("Momentum", {"momentum": 0.9}), ("SGD", {}),
                                         ("Adam", {"beta1": 0.8}), ("AdamW", {})])
def test_optimizers_step(name, extra):
    layer = paddle.nn.Linear(3, 2)
    before = layer.weight.numpy().copy()
    opt, lr = build_optimizer({"name": name, "lr": {"name": "Constant", "learning_rate": 0.1},
                               "regularizer": {"name": "L2", "coeff": 1e-4}, **extra},
                              layer.parameters(), epochs=1, steps_per_epoch=1)
    layer(paddle.ones([4, 3])).sum().backward()
    opt.step()
    assert not np.allclose(layer.weight.numpy(), before)


@pytest.mark.parametrize("config, match", [
    ({"name": "Lion", "lr": 0.1}, r"Optimizer.name: unknown optimizer 'Lion'; valid: Adam, AdamW, Momentum, RMSProp, SGD"),
    ({"name": "Momentum"}, r"Optimizer.lr: required key is missing"),
    ({"name": "Momentum", "lr": 0.1, "momentun": 0.9}, r"Optimizer.momentun: Momentum has no such argument \(did you mean 'momentum'\?\)"),
    ({"name": "Momentum", "lr": 0.1, "regularizer": {"name": "L3"}}, r"unknown regularizer 'L3'"),
    ({"name": "Momentum", "lr": 0.1, "momentum": "high"}, r"Optimizer.momentum: expected float"),
])
def test_optimizer_errors(config, match):
    with pytest.raises(ConfigError, match=match):
        build_optimizer(config, paddle.nn.Linear(2, 2).parameters(), 1, 1)
