"""The state the training callbacks share, in one small explicit object."""

import time
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from .runtime import rng_state

__all__ = ["RunState"]


@dataclass
class RunState:
    """Where a run is and what it has measured.

    ``EpochProgress`` keeps the position and the epoch's running totals; the other
    callbacks read them and add to ``record``, the epoch's line of metrics.jsonl.
    Epochs count from 1 as in PaddleClas; ``step`` is the batches of ``epoch`` done.
    """

    epochs: int                       # Global.epochs: the last epoch
    steps_per_epoch: int
    start_epoch: int = 0              # epochs done before this process started
    best_top1: float = -1.0
    resumed: bool = False             # this process continued an earlier run
    epoch: int = 0
    steps_before: int = 0             # batches of ``epoch`` done before a resume
    losses: List[Tuple[float, int]] = field(default_factory=list)  # (loss, batch size)
    seen: int = 0                     # images of ``epoch`` trained on
    seconds_before: float = 0.0       # time spent on ``epoch`` before a resume
    started: float = 0.0              # time.time() when this process began ``epoch``
    record: dict = field(default_factory=dict)   # the epoch's metrics line
    improved: bool = False            # ``record``'s eval top-1 beat ``best_top1``
    saved: Optional[str] = None       # checkpoint written at the end of ``epoch``
    update_freq: int = 1              # batches per optimizer step (Global.update_freq)
    class_names: List[str] = field(default_factory=list)  # saved with every checkpoint

    def optimizer_stepped(self, step: int) -> bool:
        """Whether batch ``step`` of this process's epoch ended with an optimizer step."""
        return (self.steps_before + step + 1) % self.update_freq == 0

    def seconds(self) -> float:
        return self.seconds_before + time.time() - self.started

    def mean_loss(self) -> float:
        total = sum(size for _, size in self.losses)
        return sum(loss * size for loss, size in self.losses) / max(total, 1)

    def checkpoint_states(self, **extra) -> dict:
        """What a checkpoint stores besides parameters and optimizer: the best top-1,
        the random states, the schedule's length it was built for, and the class names
        (which eval, predict and export read back: engine.labels)."""
        return {"best_top1": self.best_top1, "rng": rng_state(), "epochs": self.epochs,
                "steps_per_epoch": self.steps_per_epoch, "class_names": list(self.class_names),
                **extra}
