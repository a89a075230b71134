"""The Optimizer sections of PaddleClas's ImageNet recipes: schedules step by step
against hand-computed values, and the decay / clipping options on tiny layers."""

import math
import warnings

import numpy as np
import paddle
import pytest

from paddle_googlenet.config import locate_key
from paddle_googlenet.errors import ConfigError
from paddle_googlenet.optim import build_lr, build_optimizer
from helpers import lr_values


def test_cosine_with_eta_min_and_warmup_start_lr():
    lr = build_lr({"name": "Cosine", "learning_rate": 0.1, "eta_min": 0.01, "warmup_epoch": 1,
                   "warmup_start_lr": 0.02}, epochs=4, steps_per_epoch=2)
    values = lr_values(lr, 8)
    assert values[0] == pytest.approx(0.02)                     # warm-up starts here
    assert values[1] == pytest.approx(0.06)                     # half-way up
    assert values[2] == pytest.approx(0.1)                      # warm-up done: cosine at 0
    assert values[5] == pytest.approx(0.055)                    # 3 of 6 cosine steps: middle
    assert values[7] == pytest.approx(0.01 + 0.09 * (1 + math.cos(5 * math.pi / 6)) / 2)
    assert lr.get_lr() == pytest.approx(0.01)                   # the end: eta_min


def test_cosine_matches_paddles_own_warmup_and_cosine():
    """PaddleClas builds LinearWarmup(CosineAnnealingDecay): same rates, step by step."""
    ours = build_lr({"name": "Cosine", "learning_rate": 0.3, "eta_min": 1e-3, "warmup_epoch": 2,
                     "warmup_start_lr": 1e-4}, epochs=7, steps_per_epoch=3)
    cosine = paddle.optimizer.lr.CosineAnnealingDecay(0.3, T_max=15, eta_min=1e-3)
    paddles = paddle.optimizer.lr.LinearWarmup(cosine, 6, 1e-4, 0.3)
    np.testing.assert_allclose(lr_values(ours, 21), lr_values(paddles, 21), rtol=1e-6)


def test_by_epoch_changes_the_rate_only_at_epoch_boundaries():
    lr = build_lr({"name": "Cosine", "learning_rate": 0.1, "warmup_epoch": 1, "by_epoch": True},
                  epochs=4, steps_per_epoch=3)
    values = lr_values(lr, 12)
    # warm-up of one epoch (0 -> 0.1), then a cosine over 3 epochs, in epoch units
    per_epoch = [0.0, 0.1, 0.05 * (1 + math.cos(math.pi / 3)),
                 0.05 * (1 + math.cos(2 * math.pi / 3))]
    assert values == pytest.approx([v for v in per_epoch for _ in range(3)])
    assert lr.by_epoch


def test_by_epoch_step_counts_step_size_in_epochs():
    lr = build_lr({"name": "Step", "learning_rate": 1.0, "step_size": 2, "gamma": 0.5,
                   "by_epoch": True}, epochs=5, steps_per_epoch=2)
    assert lr_values(lr, 10) == pytest.approx([1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25])


def test_step_truncates_a_fractional_step_size_to_whole_steps():
    # TinyNet's step_size 2.4 epochs: int(2.4 * 3) = 7 steps, as PaddleClas computes it
    lr = build_lr({"name": "Step", "learning_rate": 0.048, "step_size": 2.4, "gamma": 0.97,
                   "warmup_epoch": 1, "warmup_start_lr": 1e-6}, epochs=10, steps_per_epoch=3)
    values = lr_values(lr, 3 + 15)
    assert values[0] == pytest.approx(1e-6)
    assert values[3:10] == pytest.approx([0.048] * 7)
    assert values[10:17] == pytest.approx([0.048 * 0.97] * 7)
    assert values[17] == pytest.approx(0.048 * 0.97 ** 2)


def test_multistep_decay_at_milestones():
    lr = build_lr({"name": "MultiStepDecay", "learning_rate": 1.0, "milestones": [1, 3],
                   "gamma": 0.5}, epochs=4, steps_per_epoch=2)
    assert lr_values(lr, 8) == pytest.approx([1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25])


def test_piecewise_learning_rate_decays_tenfold_every_30_epochs():
    # what PaddleClas does when learning_rate is given: the lists are replaced
    with pytest.warns(UserWarning, match=r"decay_epochs \[30, 60\]"):
        lr = build_lr({"name": "Piecewise", "learning_rate": 0.1, "decay_epochs": [5],
                       "values": [0.1, 0.5]}, epochs=70, steps_per_epoch=1)
    values = lr_values(lr, 70)
    assert values[0] == values[29] == pytest.approx(0.1)
    assert values[30] == values[59] == pytest.approx(0.01)
    assert values[60] == values[69] == pytest.approx(0.001)


def test_piecewise_learning_rate_as_in_resnet50_is_silent_and_short_runs_keep_it():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same lists as the recipe's: no warning
        lr = build_lr({"name": "Piecewise", "learning_rate": 0.1, "decay_epochs": [30, 60, 90],
                       "values": [0.1, 0.01, 0.001, 0.0001]}, epochs=120, steps_per_epoch=2)
    values = lr_values(lr, 240)
    assert [values[i] for i in (59, 60, 179, 180)] == pytest.approx([0.1, 0.01, 0.001, 0.0001])
    with pytest.warns(UserWarning, match=r"decay_epochs \[3\], values \[0.1, 0.1\]"):
        short = build_lr({"name": "Piecewise", "learning_rate": 0.1, "decay_epochs": [30, 60],
                          "values": [0.1, 0.01, 0.001]}, epochs=3, steps_per_epoch=2)
    assert lr_values(short, 6) == pytest.approx([0.1] * 6)


def test_piecewise_warmup_ends_at_the_first_value():
    lr = build_lr({"name": "Piecewise", "decay_epochs": [2], "values": [0.2, 0.02],
                   "warmup_epoch": 1}, epochs=3, steps_per_epoch=2)
    # the warm-up takes epoch 0; the piecewise epochs count from its end
    assert lr_values(lr, 6) == pytest.approx([0.0, 0.1, 0.2, 0.2, 0.2, 0.2])


def test_linear_decays_to_end_lr():
    lr = build_lr({"name": "Linear", "learning_rate": 1.0, "end_lr": 0.2}, epochs=2,
                  steps_per_epoch=2)
    assert lr_values(lr, 5) == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2])


def test_warmup_as_long_as_the_run_is_cut_with_a_warning():
    with pytest.warns(UserWarning, match="warm-up is cut to 2 epochs"):
        lr = build_lr({"name": "Cosine", "learning_rate": 0.4, "warmup_epoch": 5}, epochs=2,
                      steps_per_epoch=2)
    assert lr_values(lr, 5) == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_warmup_exactly_as_long_as_the_run_is_not_called_cut():
    with pytest.warns(UserWarning, match=r"equals Global.epochs \(1\): the whole run warms "
                                         r"up and Cosine never decays") as caught:
        lr = build_lr({"name": "Cosine", "learning_rate": 0.4, "warmup_epoch": 1}, epochs=1,
                      steps_per_epoch=4)
    assert not any("cut" in str(w.message) for w in caught)
    assert lr_values(lr, 4) == pytest.approx([0.0, 0.1, 0.2, 0.3])


class TwoLinears(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.keep = paddle.nn.Linear(3, 2)
        self.decay = paddle.nn.Linear(3, 2)
        for bias in (self.keep.bias, self.decay.bias):
            bias.set_value(paddle.ones_like(bias))  # zero biases would not show a decay

    def forward(self, x):
        return self.keep(x) + self.decay(x)


def step_with_zero_gradient(config):
    """One step whose gradients are all zero: only weight decay can move a parameter.
    Returns the names of the parameters that moved."""
    paddle.seed(0)
    net = TwoLinears()
    before = {n: p.numpy().copy() for n, p in net.named_parameters()}
    opt, _ = build_optimizer(config, net.named_parameters(), epochs=1, steps_per_epoch=1)
    (net(paddle.ones([2, 3])) * 0).sum().backward()
    opt.step()
    return {n for n, p in net.named_parameters() if not np.allclose(p.numpy(), before[n])}


LR = {"name": "Constant", "learning_rate": 0.5}
L2 = {"name": "L2", "coeff": 0.1}


def test_rmsprop_leaves_one_dim_and_named_params_undecayed():
    everything = {"keep.weight", "keep.bias", "decay.weight", "decay.bias"}
    rmsprop = {"name": "RMSProp", "momentum": 0.9, "rho": 0.9, "epsilon": 0.001, "lr": LR,
               "regularizer": L2}
    assert step_with_zero_gradient(rmsprop) == everything
    assert step_with_zero_gradient({**rmsprop, "one_dim_param_no_weight_decay": True}) == {
        "keep.weight", "decay.weight"}
    assert step_with_zero_gradient({**rmsprop, "no_weight_decay_name": "keep"}) == {
        "decay.weight", "decay.bias"}


def test_adamw_no_weight_decay_name_and_one_dim():
    adamw = {"name": "AdamW", "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8,
             "weight_decay": 0.05, "lr": LR}
    assert step_with_zero_gradient(adamw) == {"keep.weight", "keep.bias", "decay.weight",
                                              "decay.bias"}
    assert step_with_zero_gradient({**adamw, "no_weight_decay_name": "keep .bias",
                                    "one_dim_param_no_weight_decay": False}) == {"decay.weight"}
    assert step_with_zero_gradient({**adamw, "one_dim_param_no_weight_decay": True}) == {
        "keep.weight", "decay.weight"}


def test_momentum_no_weight_decay_name_and_its_paddleclas_one_dim_rule():
    momentum = {"name": "Momentum", "momentum": 0.9, "lr": LR, "regularizer": L2}
    assert step_with_zero_gradient({**momentum, "no_weight_decay_name": ".bias",
                                    "one_dim_param_no_weight_decay": True}) == {
        "keep.weight", "decay.weight"}
    # alone, PaddleClas's Momentum ignores the 1-D rule: said, not silent
    with pytest.warns(UserWarning, match="only when no_weight_decay_name is set"):
        moved = step_with_zero_gradient({**momentum, "one_dim_param_no_weight_decay": True})
    assert "keep.bias" in moved


def test_no_weight_decay_name_needs_structured_names():
    with pytest.raises(ConfigError, match="needs the parameters' structured names"):
        build_optimizer({"name": "AdamW", "lr": 0.1, "no_weight_decay_name": "bias"},
                        paddle.nn.Linear(2, 2).parameters(), 1, 1)


def test_clip_norm_bounds_each_gradient_tensor():
    """PaddleClas's clip_norm is Paddle's ClipGradByNorm: every tensor's gradient is
    scaled to at most clip_norm, here 1, so SGD at rate 1 moves each by exactly 1."""
    layer = paddle.nn.Linear(3, 1)
    before = [p.numpy().copy() for p in layer.parameters()]
    opt, _ = build_optimizer({"name": "SGD", "lr": 1.0, "clip_norm": 1.0},
                             layer.named_parameters(), 1, 1)
    (layer(paddle.ones([4, 3])) * 1000).sum().backward()
    opt.step()
    moves = [np.linalg.norm(p.numpy() - b) for p, b in zip(layer.parameters(), before)]
    assert moves == pytest.approx([1.0, 1.0], rel=1e-5)

    unclipped = paddle.nn.Linear(3, 1)
    start = unclipped.weight.numpy().copy()
    opt, _ = build_optimizer({"name": "SGD", "lr": 1.0}, unclipped.named_parameters(), 1, 1)
    (unclipped(paddle.ones([4, 3])) * 1000).sum().backward()
    opt.step()
    assert np.linalg.norm(unclipped.weight.numpy() - start) > 1000


def test_multi_precision_and_clip_grad_are_accepted_and_said_to_do_nothing():
    layer = paddle.nn.Linear(2, 2)
    with pytest.warns(UserWarning, match="multi_precision.*no effect"):
        build_optimizer({"name": "Momentum", "momentum": 0.9, "lr": 0.1,
                         "multi_precision": True}, layer.named_parameters(), 1, 1)
    with pytest.warns(UserWarning, match="clip_grad.*ignores"):
        build_optimizer({"name": "AdamW", "lr": 0.1, "clip_grad": 0.01},
                        layer.named_parameters(), 1, 1)


@pytest.mark.parametrize("section, key, match", [
    ({"name": "AdamW", "lr": 0.1, "no_weight_decay_names": "bias"}, "no_weight_decay_names",
     r"Optimizer.no_weight_decay_names: AdamW has no such argument \(did you mean "
     r"'no_weight_decay_name'\?\)"),
    ({"name": "RMSProp", "lr": 0.1, "centered": True}, "centered",
     r"Optimizer.centered: RMSProp has no such argument"),
    ({"name": "Momentum", "lr": {"name": "Cosine", "learning_rate": 0.1, "eta_mim": 0}},
     "eta_mim", r"Optimizer.lr.eta_mim: Cosine has no such argument \(did you mean 'eta_min'\?\)"),
    ({"name": "Momentum", "lr": {"name": "MultiStepDecay", "learning_rate": 0.1,
                                 "milestone": [3]}},
     "milestone", r"Optimizer.lr.milestone: MultiStepDecay has no such argument \(did you "
                  r"mean 'milestones'\?\)"),
])
def test_unknown_keys_fail_located_with_the_closest_valid_key(tmp_path, section, key, match):
    import yaml
    config = tmp_path / "recipe.yaml"
    config.write_text(yaml.safe_dump({"Global": {"epochs": 1}, "Optimizer": section},
                                     sort_keys=False))
    with pytest.raises(ConfigError, match=match) as err:
        build_optimizer(section, paddle.nn.Linear(2, 2).named_parameters(), 1, 1)
    line = next(i for i, text in enumerate(config.read_text().splitlines(), 1) if key in text)
    assert locate_key(str(err.value), str(config)).startswith(f"{config}:{line}: ")
