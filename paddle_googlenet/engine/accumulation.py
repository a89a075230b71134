"""Gradient accumulation (``Global.update_freq``), as PaddleClas does it.

With ``update_freq`` N the optimizer steps every N batches on the sum of their
gradients, each batch's loss divided by N (so N batches of B images step as one
batch of N*B would); the LR schedule is built for ``steps // N`` optimizer steps per
epoch and moves once per optimizer step; an epoch uses ``steps // N * N`` batches.
``paddle.Model.fit(accumulate_grad_batches=N)`` decides when to step; the division
is a gradient hook on each parameter (the logged loss stays the batch's own), and
``StepLROnUpdates`` replaces hapi's per-batch LR callback.
"""

import itertools
import warnings
from typing import Callable

import paddle

from .state import RunState

__all__ = ["effective_update_freq", "scale_gradients", "StepLROnUpdates", "FirstBatches"]


def effective_update_freq(update_freq: int, batches: int) -> int:
    """``update_freq``, or 1 with a warning when an epoch has fewer batches (PaddleClas)."""
    if update_freq > batches:
        warnings.warn(f"Global.update_freq ({update_freq}) is more than the {batches} "
                      f"batches of an epoch; using 1, as PaddleClas does")
        return 1
    return update_freq


def scale_gradients(network: paddle.nn.Layer, factor: float) -> list:
    """Multiply every trainable parameter's gradient by ``factor`` as it arrives;
    return the hook handles."""
    return [p.register_hook(lambda grad: grad * factor)
            for p in network.parameters() if not p.stop_gradient]


class StepLROnUpdates(paddle.callbacks.LRScheduler):
    """Steps the LR schedule after each optimizer step, not after each batch."""

    def __init__(self, state: RunState):
        super().__init__(by_step=True, by_epoch=False)
        self.state = state

    def on_train_batch_end(self, step, logs=None):
        if self.state.optimizer_stepped(step):
            super().on_train_batch_end(step, logs)


class FirstBatches:
    """The train loader cut to the epoch's ``steps`` batches (a whole number of
    accumulation groups); ``done()`` says how many a resumed epoch skips."""

    def __init__(self, loader, steps: int, done: Callable[[], int]):
        self.loader, self.steps, self.done = loader, steps, done

    def __len__(self):
        return self.steps

    def __iter__(self):
        return itertools.islice(iter(self.loader), max(self.steps - self.done(), 0))
