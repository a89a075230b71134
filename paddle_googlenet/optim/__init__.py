"""Optimizers and learning-rate schedules from PaddleClas's ``Optimizer`` section.

    Optimizer:
      name: Momentum
      momentum: 0.9
      lr: {name: Cosine, learning_rate: 0.01, warmup_epoch: 5}
      regularizer: {name: L2, coeff: 0.0001}

Schedules step once per iteration, as PaddleClas's do (``paddle.Model`` steps an
``LRScheduler`` after every batch): epochs in the config are turned into steps
with the number of batches per epoch.
"""

from typing import List, Optional

import paddle

from ..errors import ConfigError
from ..registry import Registry

__all__ = ["OPTIMIZERS", "LR_SCHEDULES", "build_optimizer", "build_lr"]

OPTIMIZERS = Registry("optimizer")
LR_SCHEDULES = Registry("LR schedule")
REGULARIZERS = {"L2": paddle.regularizer.L2Decay, "L1": paddle.regularizer.L1Decay}


# Each schedule takes the config's arguments plus ``epochs`` and ``steps_per_epoch``
# (filled in by build_lr) and returns a paddle LRScheduler or a float.

def _warmup(schedule, learning_rate: float, warmup_epoch: float, warmup_start_lr: float,
            steps_per_epoch: int):
    warmup_steps = round(warmup_epoch * steps_per_epoch)
    if warmup_steps <= 0:
        return schedule
    return paddle.optimizer.lr.LinearWarmup(schedule, warmup_steps, warmup_start_lr,
                                            learning_rate)


@LR_SCHEDULES.register
def Constant(learning_rate: float, epochs: int, steps_per_epoch: int,
             warmup_epoch: float = 0, warmup_start_lr: float = 0.0):
    """A fixed rate (after an optional linear warm-up)."""
    if warmup_epoch <= 0:
        return float(learning_rate)
    return _warmup(float(learning_rate), learning_rate, warmup_epoch, warmup_start_lr,
                   steps_per_epoch)


@LR_SCHEDULES.register
def Cosine(learning_rate: float, epochs: int, steps_per_epoch: int, warmup_epoch: float = 0,
           warmup_start_lr: float = 0.0, eta_min: float = 0.0):
    """Cosine decay to ``eta_min`` over the epochs after warm-up."""
    decay_steps = max(round((epochs - warmup_epoch) * steps_per_epoch), 1)
    cosine = paddle.optimizer.lr.CosineAnnealingDecay(learning_rate, T_max=decay_steps,
                                                      eta_min=eta_min)
    return _warmup(cosine, learning_rate, warmup_epoch, warmup_start_lr, steps_per_epoch)


@LR_SCHEDULES.register
def Piecewise(decay_epochs: List[int], values: List[float], epochs: int, steps_per_epoch: int,
              warmup_epoch: float = 0, warmup_start_lr: float = 0.0):
    """``values[i]`` until epoch ``decay_epochs[i]``; needs one more value than epochs."""
    if len(values) != len(decay_epochs) + 1:
        raise ValueError(f"values needs one entry more than decay_epochs; got "
                         f"{len(values)} values for {len(decay_epochs)} decay_epochs")
    if list(decay_epochs) != sorted(decay_epochs):
        raise ValueError(f"decay_epochs must increase, got {decay_epochs}")
    boundaries = [round(e * steps_per_epoch) for e in decay_epochs]
    piecewise = paddle.optimizer.lr.PiecewiseDecay(boundaries, [float(v) for v in values])
    return _warmup(piecewise, values[0], warmup_epoch, warmup_start_lr, steps_per_epoch)


@LR_SCHEDULES.register
def Step(learning_rate: float, step_size: float, epochs: int, steps_per_epoch: int,
         gamma: float = 0.1, warmup_epoch: float = 0, warmup_start_lr: float = 0.0):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs."""
    step = paddle.optimizer.lr.StepDecay(learning_rate, max(round(step_size * steps_per_epoch), 1),
                                         gamma=gamma)
    return _warmup(step, learning_rate, warmup_epoch, warmup_start_lr, steps_per_epoch)


def build_lr(lr_config, epochs: int, steps_per_epoch: int, where: str = "Optimizer.lr"):
    """A schedule from ``{name: ..., **args}``; a bare number is a constant rate."""
    if isinstance(lr_config, (int, float)) and not isinstance(lr_config, bool):
        return float(lr_config)
    if not isinstance(lr_config, dict):
        raise ConfigError(f"{where}: expected a mapping like {{name: Cosine, learning_rate: "
                          f"0.01}} or a number, got {lr_config!r}")
    args = dict(lr_config)
    name = args.pop("name", "Constant")
    return LR_SCHEDULES.build(name, args, f"{where}", epochs=epochs,
                              steps_per_epoch=steps_per_epoch)


# Each optimizer takes ``regularizer``: None or a checked (name, coeff) pair.

def _coupled(regularizer):
    """Momentum, SGD and Adam add the decay to the gradient: a regularizer object."""
    if regularizer is None:
        return None
    name, coeff = regularizer
    return REGULARIZERS[name](coeff)


@OPTIMIZERS.register
def Momentum(learning_rate, parameters, regularizer, momentum: float = 0.9,
             use_nesterov: bool = False):
    return paddle.optimizer.Momentum(learning_rate, momentum=momentum, parameters=parameters,
                                     use_nesterov=use_nesterov,
                                     weight_decay=_coupled(regularizer))


@OPTIMIZERS.register
def SGD(learning_rate, parameters, regularizer):
    return paddle.optimizer.SGD(learning_rate, parameters=parameters,
                                weight_decay=_coupled(regularizer))


@OPTIMIZERS.register
def Adam(learning_rate, parameters, regularizer, beta1: float = 0.9, beta2: float = 0.999,
         epsilon: float = 1e-8):
    return paddle.optimizer.Adam(learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon,
                                 parameters=parameters, weight_decay=_coupled(regularizer))


@OPTIMIZERS.register
def AdamW(learning_rate, parameters, regularizer, beta1: float = 0.9, beta2: float = 0.999,
          epsilon: float = 1e-8, weight_decay: Optional[float] = None):
    """Decoupled decay: a coefficient, from ``weight_decay`` or an L2 ``regularizer``."""
    if regularizer is not None:
        if weight_decay is not None:
            raise ValueError("give weight_decay or regularizer, not both")
        if regularizer[0] != "L2":
            raise ValueError("AdamW's decoupled decay is L2 only")
        weight_decay = regularizer[1]
    return paddle.optimizer.AdamW(learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon,
                                  parameters=parameters,
                                  weight_decay=0.01 if weight_decay is None else weight_decay)


def _regularizer(config, where: str):
    if config is None:
        return None
    if not isinstance(config, dict) or config.get("name") not in REGULARIZERS:
        name = config.get("name") if isinstance(config, dict) else config
        raise ConfigError(f"{where}.name: unknown regularizer {name!r}; valid: "
                          f"{', '.join(REGULARIZERS)}")
    unknown = set(config) - {"name", "coeff"}
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key; valid keys: name, coeff")
    coeff = config.get("coeff", 0.0)
    if isinstance(coeff, bool) or not isinstance(coeff, (int, float)) or coeff < 0:
        raise ConfigError(f"{where}.coeff: expected a number >= 0, got {coeff!r}")
    return config["name"], float(coeff)


def build_optimizer(config, parameters, epochs: int, steps_per_epoch: int,
                    where: str = "Optimizer"):
    """Return ``(optimizer, lr)`` for the ``Optimizer`` section ``config``.

    ``lr`` is the LRScheduler (to save with checkpoints) or a float.
    """
    args = dict(config)
    name = args.pop("name", None)
    OPTIMIZERS.get(name, f"{where}.name")
    if "lr" not in args:
        raise ConfigError(f"{where}.lr: required key is missing, e.g. "
                          f"{{name: Cosine, learning_rate: 0.01}}")
    lr = build_lr(args.pop("lr"), epochs, steps_per_epoch, f"{where}.lr")
    regularizer = _regularizer(args.pop("regularizer", None), f"{where}.regularizer")
    optimizer = OPTIMIZERS.build(name, args, where, learning_rate=lr, parameters=parameters,
                                 regularizer=regularizer)
    return optimizer, lr
