"""Learning-rate schedules of PaddleClas's ``Optimizer.lr``, with its defaults.

    lr: {name: Cosine, learning_rate: 0.01, eta_min: 1e-6, warmup_epoch: 5,
         warmup_start_lr: 1e-5, by_epoch: false}

``paddle.Model`` steps the schedule after every batch. A schedule is a closed-form
function of a counter: the step, or with ``by_epoch: true`` the epoch (step //
steps_per_epoch), so the rate then changes only at epoch boundaries, as in
PaddleClas, which steps such schedules once per epoch. Every length given in epochs
(warm-up, decay epochs, step size) is counted in that unit: ``steps_per_epoch``
steps per epoch, or one epoch.

As in PaddleClas, a linear warm-up from ``warmup_start_lr`` to the base rate comes
first and the schedule proper starts from its beginning when the warm-up ends; a
warm-up as long as the run or longer is cut to the run's length, with a warning.
"""

import bisect
import math
import warnings
from typing import Callable, List, Optional

import paddle

from ..errors import ConfigError
from ..validators import is_number
from ..registry import Registry

__all__ = ["LR_SCHEDULES", "build_lr", "ClosedFormSchedule"]

LR_SCHEDULES = Registry("LR schedule")


class ClosedFormSchedule(paddle.optimizer.lr.LRScheduler):
    """``value_at(counter)``, where the counter is the step, or the epoch when
    ``steps_per_epoch`` is given (``by_epoch``). Its state is Paddle's usual
    ``last_epoch`` (steps taken), so checkpoints save and restore it as any other."""

    def __init__(self, value_at: Callable[[int], float], steps_per_epoch: Optional[int] = None):
        self.value_at = value_at
        self.by_epoch = steps_per_epoch is not None
        self.steps_per_counter = steps_per_epoch or 1
        super().__init__(float(value_at(0)))

    def get_lr(self) -> float:
        return float(self.value_at(self.last_epoch // self.steps_per_counter))


def _with_warmup(value_at, warmup: float, start_lr: float, end_lr: float):
    """Linear from ``start_lr`` to ``end_lr`` over ``warmup`` counts, then ``value_at``
    counted from the end of the warm-up (as Paddle's LinearWarmup does)."""
    if warmup <= 0:
        return value_at

    def warmed(t):
        if t < warmup:
            return start_lr + (end_lr - start_lr) * t / warmup
        return value_at(t - warmup)
    return warmed


class _Units:
    """How epochs turn into the schedule's counter, and the checked warm-up length."""

    def __init__(self, name: str, epochs: int, steps_per_epoch: int, warmup_epoch: float,
                 by_epoch: bool):
        if warmup_epoch < 0:
            raise ValueError(f"warmup_epoch must be >= 0, got {warmup_epoch}")
        if warmup_epoch > epochs:
            warnings.warn(f"Optimizer.lr.warmup_epoch ({warmup_epoch}) is above "
                          f"Global.epochs ({epochs}): {name}'s warm-up is cut to {epochs} "
                          f"epoch{'s' if epochs != 1 else ''}, as PaddleClas does")
            warmup_epoch = epochs
        elif warmup_epoch == epochs and warmup_epoch > 0:
            warnings.warn(f"Optimizer.lr.warmup_epoch ({warmup_epoch}) equals Global.epochs "
                          f"({epochs}): the whole run warms up and {name} never decays")
        self.by_epoch = by_epoch
        self.per_epoch = 1 if by_epoch else steps_per_epoch
        self.steps_per_epoch = steps_per_epoch
        self.warmup = warmup_epoch if by_epoch else round(warmup_epoch * steps_per_epoch)
        self.after_warmup = round((epochs - warmup_epoch) * self.per_epoch)

    def schedule(self, value_at, learning_rate: float, warmup_start_lr: float):
        value_at = _with_warmup(value_at, self.warmup, warmup_start_lr, learning_rate)
        return ClosedFormSchedule(value_at, self.steps_per_epoch if self.by_epoch else None)


@LR_SCHEDULES.register
def Constant(learning_rate: float, epochs: int, steps_per_epoch: int,
             warmup_epoch: float = 0, warmup_start_lr: float = 0.0, by_epoch: bool = False):
    """A fixed rate (after an optional linear warm-up)."""
    units = _Units("Constant", epochs, steps_per_epoch, warmup_epoch, by_epoch)
    if units.warmup <= 0:
        return float(learning_rate)
    return units.schedule(lambda t: learning_rate, learning_rate, warmup_start_lr)


LR_SCHEDULES.register(Constant, name="ConstLR")  # PaddleClas's name for the same


@LR_SCHEDULES.register
def Cosine(learning_rate: float, epochs: int, steps_per_epoch: int, eta_min: float = 0.0,
           warmup_epoch: float = 0, warmup_start_lr: float = 0.0, by_epoch: bool = False):
    """Half a cosine from ``learning_rate`` down to ``eta_min`` over the epochs after
    the warm-up."""
    units = _Units("Cosine", epochs, steps_per_epoch, warmup_epoch, by_epoch)
    length = units.after_warmup

    def cosine(t):
        if length <= 0:
            return learning_rate
        return eta_min + (learning_rate - eta_min) * (1 + math.cos(math.pi * t / length)) / 2
    return units.schedule(cosine, learning_rate, warmup_start_lr)


@LR_SCHEDULES.register
def Linear(learning_rate: float, epochs: int, steps_per_epoch: int, end_lr: float = 0.0,
           power: float = 1.0, cycle: bool = False, warmup_epoch: float = 0,
           warmup_start_lr: float = 0.0, by_epoch: bool = False):
    """Polynomial decay (``power`` 1: linear) to ``end_lr`` over the epochs after the
    warm-up; with ``cycle`` it starts again from a longer period, as Paddle's
    PolynomialDecay does."""
    units = _Units("Linear", epochs, steps_per_epoch, warmup_epoch, by_epoch)
    length = units.after_warmup

    def polynomial(t):
        if length <= 0:
            return learning_rate
        period = length
        if cycle:
            period = length * max(math.ceil(t / length), 1)
        else:
            t = min(t, length)
        return (learning_rate - end_lr) * (1 - t / period) ** power + end_lr
    return units.schedule(polynomial, learning_rate, warmup_start_lr)


def _decay_every_30_epochs(learning_rate: float, epochs: int):
    """PaddleClas's Piecewise when ``learning_rate`` is given: a tenth every 30 epochs."""
    starts = list(range(0, epochs, 30))
    values = [learning_rate * 0.1 ** i for i in range(len(starts))]
    if len(starts) == 1:  # fewer than 30 epochs: one value throughout
        return [epochs], [values[0], values[0]]
    return starts[1:], values


def _same(given, computed) -> bool:
    return (given is not None and len(given) == len(computed)
            and all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(given, computed)))


@LR_SCHEDULES.register
def Piecewise(epochs: int, steps_per_epoch: int, decay_epochs: Optional[List[float]] = None,
              values: Optional[List[float]] = None, learning_rate: Optional[float] = None,
              warmup_epoch: float = 0, warmup_start_lr: float = 0.0, by_epoch: bool = False):
    """``values[i]`` until epoch ``decay_epochs[i]``, then the last value.

    As in PaddleClas, a (non-zero) ``learning_rate`` replaces both lists with a
    tenth-every-30-epochs decay from it (a warning says so when that differs from the
    lists given)."""
    if learning_rate:
        given = (decay_epochs, values)
        decay_epochs, values = _decay_every_30_epochs(learning_rate, epochs)
        if not _same(given[0], decay_epochs) or not _same(given[1], values):
            warnings.warn(f"Optimizer.lr.learning_rate is set, so Piecewise decays it "
                          f"tenfold every 30 epochs, as PaddleClas does: decay_epochs "
                          f"{decay_epochs}, values {values} (replacing "
                          f"decay_epochs {given[0]}, values {given[1]})")
    if decay_epochs is None or values is None:
        raise ValueError("Piecewise needs decay_epochs and values (or learning_rate)")
    if len(values) != len(decay_epochs) + 1:
        raise ValueError(f"values needs one entry more than decay_epochs; got "
                         f"{len(values)} values for {len(decay_epochs)} decay_epochs")
    if list(decay_epochs) != sorted(decay_epochs):
        raise ValueError(f"decay_epochs must increase, got {decay_epochs}")
    units = _Units("Piecewise", epochs, steps_per_epoch, warmup_epoch, by_epoch)
    boundaries = [e * units.per_epoch for e in decay_epochs]
    values = [float(v) for v in values]

    def piecewise(t):
        return values[bisect.bisect_right(boundaries, t)]
    return units.schedule(piecewise, values[0], warmup_start_lr)


@LR_SCHEDULES.register
def Step(learning_rate: float, step_size: float, epochs: int, steps_per_epoch: int,
         gamma: float = 0.1, warmup_epoch: float = 0, warmup_start_lr: float = 0.0,
         by_epoch: bool = False):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs (whole steps: as in
    PaddleClas, ``step_size * steps_per_epoch`` is truncated)."""
    units = _Units("Step", epochs, steps_per_epoch, warmup_epoch, by_epoch)
    period = step_size if by_epoch else int(step_size * steps_per_epoch)
    if period <= 0:
        raise ValueError(f"step_size {step_size} is less than one step "
                         f"({steps_per_epoch} steps per epoch)")
    return units.schedule(lambda t: learning_rate * gamma ** (t // period), learning_rate,
                          warmup_start_lr)


@LR_SCHEDULES.register
def MultiStepDecay(learning_rate: float, milestones: List[float], epochs: int,
                   steps_per_epoch: int, gamma: float = 0.1, warmup_epoch: float = 0,
                   warmup_start_lr: float = 0.0, by_epoch: bool = False):
    """Multiply the rate by ``gamma`` at each of the ``milestones`` (epochs)."""
    if list(milestones) != sorted(milestones):
        raise ValueError(f"milestones must increase, got {milestones}")
    units = _Units("MultiStepDecay", epochs, steps_per_epoch, warmup_epoch, by_epoch)
    boundaries = [m * units.per_epoch for m in milestones]
    return units.schedule(lambda t: learning_rate * gamma ** bisect.bisect_right(boundaries, t),
                          learning_rate, warmup_start_lr)


def build_lr(lr_config, epochs: int, steps_per_epoch: int, where: str = "Optimizer.lr"):
    """A schedule from ``{name: ..., **args}``; a bare number is a constant rate."""
    if is_number(lr_config):
        return float(lr_config)
    if not isinstance(lr_config, dict):
        raise ConfigError(f"{where}: expected a mapping like {{name: Cosine, learning_rate: "
                          f"0.01}} or a number, got {lr_config!r}")
    args = dict(lr_config)
    name = args.pop("name", "Constant")
    return LR_SCHEDULES.build(name, args, where, epochs=epochs,
                              steps_per_epoch=steps_per_epoch)
