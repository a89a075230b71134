"""The run directory (``<Global.output_dir>/<Arch.name>``) and resuming into it."""

import json
import os
from dataclasses import dataclass
from typing import Optional, Sequence

from ..weights import checkpoint
from ..errors import ConfigError, located
from .runtime import is_main_process, set_rng_state
from .report import read_metrics

__all__ = ["RunDirectory", "ResumePoint", "load_resume_point"]


class RunDirectory:
    """The files of one run, and the rules for starting one over an earlier one."""

    def __init__(self, output_dir: str, arch_name: str):
        self.path = os.path.join(output_dir, arch_name)
        self.metrics_file = os.path.join(self.path, "metrics.jsonl")
        self.plot_file = os.path.join(self.path, "metrics.png")
        self.log_file = os.path.join(self.path, "train.log")
        self.config_file = os.path.join(self.path, "config.yaml")

    def prepare(self, resuming: bool, overwrite: bool, reads: dict = None) -> list:
        """Refuse to train over an earlier run's checkpoints unless resuming or told
        to; a new run starts with no earlier checkpoints or metrics in the directory.
        ``reads`` ({config key: path}) are the weights this run loads: overwriting
        never deletes them. Return the names removed."""
        earlier = checkpoint.saved_checkpoints(self.path)
        if earlier and not resuming and overwrite:
            self._check_not_reading(earlier, reads or {})
        if earlier and not resuming and not overwrite:
            latest = os.path.join(self.path, checkpoint.LATEST)
            resume = (f"resume it with -o Global.checkpoints={latest}, or "
                      if checkpoint.LATEST in earlier else "")
            raise ConfigError(
                f"{self.path} holds an earlier run's checkpoints ({', '.join(earlier)}); "
                f"{resume}start over with -o Global.overwrite=True (which deletes them), or "
                f"choose another Global.output_dir")
        if not is_main_process():
            return []
        try:
            os.makedirs(self.path, exist_ok=True)
            probe = os.path.join(self.path, ".write-test")
            with open(probe, "w"):
                pass
            os.remove(probe)
        except OSError as err:
            raise ConfigError(f"Global.output_dir: cannot write to {self.path}: "
                              f"{err.strerror}; choose a directory you can write to") from None
        if resuming:
            return []
        # A new run drops what an earlier one left (checkpoints only when told to
        # overwrite; metrics also of a run killed before its first checkpoint), so
        # that nothing of it passes for this run's: a resume of `latest` above all.
        removed = checkpoint.saved_checkpoints(self.path)
        checkpoint.remove_checkpoints(self.path)
        for path in (self.metrics_file, self.plot_file):
            if os.path.exists(path):
                os.remove(path)
                removed.append(os.path.basename(path))
        return removed

    def _check_not_reading(self, earlier: list, reads: dict):
        """Refuse, before anything is written, to delete the weights the run loads."""
        doomed = {os.path.realpath(os.path.join(self.path, name)): name for name in earlier}
        for key, path in reads.items():
            if not path:
                continue
            target = os.path.realpath(path)
            for entry, name in doomed.items():
                if target == entry or target.startswith(entry + os.sep):
                    raise ConfigError(
                        f"{key}: {path} is the earlier run's {name} in {self.path}, which "
                        f"Global.overwrite=True deletes before training; write this run "
                        f"elsewhere with -o Global.output_dir=<another directory> (or copy "
                        f"the weights out of {self.path} first)")

    def write_config(self, text: str):
        with open(self.config_file, "w", encoding="utf-8") as f:
            f.write(text)

    def drop_metrics_after(self, epoch: int):
        """Drop metric lines of epochs after ``epoch``: a resume runs them again."""
        if is_main_process() and os.path.exists(self.metrics_file):
            kept = [r for r in read_metrics(self.metrics_file) if r["epoch"] <= epoch]
            with open(self.metrics_file, "w", encoding="utf-8") as f:
                f.writelines(json.dumps(r) + "\n" for r in kept)


@dataclass
class ResumePoint:
    """Where a run starts: epochs done, the best top-1 so far and, for a mid-epoch
    checkpoint, its progress (``None`` otherwise)."""

    start_epoch: int = 0
    best_top1: float = -1.0
    progress: Optional[dict] = None
    step: int = 0
    path: Optional[str] = None
    schedule: Optional[tuple] = None  # (epochs, steps per epoch) the LR schedule had

    def schedule_warning(self, epochs: int, steps_per_epoch: int) -> Optional[str]:
        """A warning when this run's LR schedule is not the one the checkpoint had."""
        if not self.schedule or self.schedule == (epochs, steps_per_epoch):
            return None
        (was_epochs, was_steps), now = self.schedule, []
        if was_epochs != epochs:
            now.append(f"the LR schedule was built for {was_epochs} epochs, now {epochs}")
        if was_steps != steps_per_epoch:
            now.append(f"for {was_steps} steps per epoch, now {steps_per_epoch}")
        return (f"{'; '.join(now)}: from epoch {self.start_epoch + 1} on the learning rate "
                f"follows this config's schedule from the step the checkpoint reached, so "
                f"it may jump, and the result differs from a run of this config from the "
                f"start")

    @property
    def resumed(self) -> bool:
        return self.path is not None

    def describe(self, steps_per_epoch: int) -> str:
        if self.step:
            where = position(self.start_epoch + 1, self.step, steps_per_epoch)
        else:
            where = position(self.start_epoch, steps_per_epoch, steps_per_epoch)
        return f"resumed from {self.path} at {where}"


def position(epoch: int, step: int, steps_per_epoch: int) -> str:
    """Where training is, in the words every message uses: ``epoch 2, step 44 of 47``
    (``step`` steps of epoch ``epoch``, counted from 1, done), or ``the end of epoch 2``."""
    if step >= steps_per_epoch:
        return f"the end of epoch {epoch}"
    return f"epoch {epoch}, step {step} of {steps_per_epoch}"


def load_resume_point(path: Optional[str], network, optimizer, epochs: int,
                      steps_per_epoch: int, run_dir: str, ema=None, logger=None,
                      metrics: Sequence = ()) -> ResumePoint:
    """Load the checkpoint at ``path`` (``Global.checkpoints``; none: a new run) into
    ``network`` and ``optimizer`` (and the averaged weights into ``ema``), before
    anything is written. A mid-epoch checkpoint's training metric sums are checked by
    restoring them into ``metrics`` (the epoch's start restores them again)."""
    if not path:
        return ResumePoint()
    with located("Global.checkpoints"):
        states = checkpoint.load_checkpoint(path, network, optimizer)
        if ema is not None:
            saved = checkpoint.load_ema(path)
            if saved is None:
                # A checkpoint of a run without EMA: average from the weights it holds.
                ema.set_state_dict(network.state_dict(), path)
                if logger:
                    logger.warning(f"warning: {path} has no {checkpoint.EMA} (saved without "
                                   f"EMA); the moving average starts from its weights")
            else:
                ema.set_state_dict(saved, checkpoint.ema_file(path))
    start, step = int(states["epoch"]), int(states.get("step", 0))
    saved_steps = states.get("steps_per_epoch", steps_per_epoch)
    if step and saved_steps != steps_per_epoch:
        raise ConfigError(
            f"Global.checkpoints: {path} stopped {step} steps into epoch "
            f"{start + 1} of {saved_steps} steps, but this config gives "
            f"{steps_per_epoch} steps per epoch; resume with the batch size, data "
            f"and number of processes it was saved with")
    if start >= epochs:
        raise ConfigError(f"Global.checkpoints: {path} is at epoch {start}, "
                          f"Global.epochs is {epochs}: nothing left to train; raise "
                          f"Global.epochs")
    if step:
        for metric, saved in zip(metrics, states["progress"]["metrics"]):
            try:
                metric.set_state_dict(saved)
            except ValueError as err:
                raise ConfigError(f"Global.checkpoints: {path}: {err}; resume with the "
                                  f"Metric.Train it was saved with") from None
    set_rng_state(states["rng"])
    best = max(float(states.get("best_top1", -1.0)), checkpoint.saved_best_top1(run_dir))
    schedule = (int(states["epochs"]), int(saved_steps)) if "epochs" in states else None
    return ResumePoint(start, best, states.get("progress") if step else None, step, path,
                       schedule)
