"""Optimizers and learning-rate schedules from PaddleClas's ``Optimizer`` section.

    Optimizer:
      name: Momentum
      momentum: 0.9
      lr: {name: Cosine, learning_rate: 0.01, warmup_epoch: 5}
      regularizer: {name: L2, coeff: 0.0001}

Schedules (``lr.py``) step once per iteration, as ``paddle.Model`` steps an
``LRScheduler`` after every batch; epochs in the config are turned into steps with
the number of batches per epoch (or, with ``by_epoch``, the rate changes only at
epoch boundaries). The optimizers and the keys they share are in ``optimizers.py``.
"""

from ..errors import ConfigError
from ..validators import is_number
from .lr import LR_SCHEDULES, build_lr
from .optimizers import OPTIMIZERS, REGULARIZERS

__all__ = ["OPTIMIZERS", "LR_SCHEDULES", "build_optimizer", "build_lr"]


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
    if not is_number(coeff) or coeff < 0:
        raise ConfigError(f"{where}.coeff: expected a number >= 0, got {coeff!r}")
    return config["name"], float(coeff)


def _named(parameters):
    """``(name, parameter)`` pairs from a Layer, its ``named_parameters()``, or a plain
    list of parameters (names unknown: None)."""
    if hasattr(parameters, "named_parameters"):
        return list(parameters.named_parameters())
    pairs = list(parameters)
    if all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
        return pairs
    return [(None, p) for p in pairs]


def build_optimizer(config, parameters, epochs: int, steps_per_epoch: int,
                    where: str = "Optimizer"):
    """Return ``(optimizer, lr)`` for the ``Optimizer`` section ``config``.

    ``parameters``: the network's ``named_parameters()`` (what ``no_weight_decay_name``
    matches), the network itself, or a plain parameter list. ``lr`` is the
    LRScheduler (to save with checkpoints) or a float.
    """
    args = dict(config)
    name = args.pop("name", None)
    OPTIMIZERS.get(name, f"{where}.name")
    if "lr" not in args:
        raise ConfigError(f"{where}.lr: required key is missing, e.g. "
                          f"{{name: Cosine, learning_rate: 0.01}}")
    lr = build_lr(args.pop("lr"), epochs, steps_per_epoch, f"{where}.lr")
    regularizer = _regularizer(args.pop("regularizer", None), f"{where}.regularizer")
    optimizer = OPTIMIZERS.build(name, args, where, learning_rate=lr,
                                 parameters=_named(parameters), regularizer=regularizer)
    return optimizer, lr
