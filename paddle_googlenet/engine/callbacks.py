"""``paddle.Model`` callbacks that turn a ``fit`` into a PaddleClas-style run.

Each has one job and is handed what it needs; they share a ``RunState``. hapi calls
them in list order at every event, and the order is part of their meaning: it is
stated, with why, in one place, ``Engine.training_callbacks`` (engine/trainer.py),
which builds the list. Another per-step or per-epoch behaviour (weight averaging,
gradient accumulation) is one more callback, given what it needs and placed there.
With ``Global.update_freq`` above 1, "a step" in a checkpoint means a batch, and a
stop waits for the end of an accumulation group so that no partly accumulated
gradient is lost.
"""


import datetime
import os
import time
from typing import Callable

import numpy as np
import paddle

from ..weights import checkpoint
from ..errors import UserError
from .runtime import is_main_process
from .report import append_metrics, plot_metrics, read_metrics
from .state import RunState

__all__ = ["FrozenTrunk", "TrainingStopped", "NonFiniteLoss", "EpochProgress", "MovingAverage",
           "NonFiniteLossGuard", "TrainLog", "Evaluation", "MetricsLog", "BestModel",
           "Checkpoints", "StopOnSignal"]


class NonFiniteLoss(UserError):
    """Training produced a NaN or infinite loss."""


class TrainingStopped(Exception):
    """Raised inside ``fit`` after a stop was asked for (a signal) and the state was
    saved: ``epoch`` (1-based), ``step`` (batches of it done) and ``checkpoint``."""

    def __init__(self, epoch: int, step: int, checkpoint: str):
        super().__init__(f"stopped at epoch {epoch}, step {step}")
        self.epoch, self.step, self.checkpoint = epoch, step, checkpoint


class EpochProgress(paddle.callbacks.Callback):
    """Keeps ``state``'s position, losses, image count and time, and starts each
    epoch's record (train loss and metrics, LR, speed).

    ``fit`` counts epochs from 0 in every call; a resumed run starts at
    ``state.start_epoch``, so epochs are numbered ``start_epoch + fit_epoch + 1``. A
    run resumed from a mid-epoch checkpoint passes its ``progress``: the first epoch
    then skips the batches done before and carries on with their losses, image
    count, time and train metrics. ``set_data_epoch(epoch, skip_batches)`` reshuffles
    the data; ``skipped_images(where)`` reports the epoch's unreadable images.
    """

    def __init__(self, state: RunState, metrics: list, metric_names: list,
                 current_lr: Callable[[], float], set_data_epoch: Callable,
                 skipped_images: Callable[[str], int], progress: dict = None):
        super().__init__()
        self.state, self.metrics, self.metric_names = state, metrics, metric_names
        self.current_lr, self.set_data_epoch = current_lr, set_data_epoch
        self.skipped_images = skipped_images
        self.progress = progress

    def on_epoch_begin(self, epoch, logs=None):
        s = self.state
        s.epoch = s.start_epoch + epoch + 1
        s.losses, s.seen, s.seconds_before, s.steps_before = [], 0, 0.0, 0
        s.record, s.improved, s.saved = {}, False, None
        progress, self.progress = self.progress, None
        if progress:
            s.steps_before = progress["step"]
            s.losses, s.seen = list(progress["losses"]), progress["seen"]
            s.seconds_before = progress["seconds"]
            for metric, saved in zip(self.metrics, progress["metrics"]):
                metric.set_state_dict(saved)
        self.set_data_epoch(s.epoch, skip_batches=s.steps_before)
        s.started = time.time()

    def on_train_batch_end(self, step, logs=None):
        size = logs.get("batch_size", 1)
        self.state.losses.append((float(np.mean(logs["loss"])), size))
        self.state.seen += size

    def on_epoch_end(self, epoch, logs=None):
        s = self.state
        seconds = s.seconds()
        s.record = {"epoch": s.epoch, "train_loss": s.mean_loss(), "lr": self.current_lr(),
                    "seconds": round(seconds, 2),
                    "images_per_second": round(s.seen / max(seconds, 1e-9), 2)}
        for key in self.metric_names:
            if key in logs:
                s.record[f"train_{key}"] = float(logs[key])
        skipped = self.skipped_images(f"[Train][Epoch {s.epoch}]")
        if skipped:
            s.record["train_skipped_images"] = skipped


class MovingAverage(paddle.callbacks.Callback):
    """Moves ``average`` (a WeightAverage) after each optimizer step, as PaddleClas
    does: every ``state.update_freq`` batches."""

    def __init__(self, state: RunState, average):
        super().__init__()
        self.state, self.average = state, average

    def on_train_batch_end(self, step, logs=None):
        if self.state.optimizer_stepped(step):
            self.average.update()


class NonFiniteLossGuard(paddle.callbacks.Callback):
    """Stops training at a NaN or infinite loss, before it is logged or saved."""

    def __init__(self, state: RunState, run_dir: str):
        super().__init__()
        self.state, self.run_dir = state, run_dir

    def on_train_batch_end(self, step, logs=None):
        loss = float(np.mean(logs["loss"]))
        if not np.isfinite(loss):
            step = self.state.steps_before + step + 1
            raise NonFiniteLoss(
                f"loss is {loss} at epoch {self.state.epoch}, step {step}; training stopped "
                f"and the last checkpoint in {self.run_dir} was left as it was. Lower "
                f"Optimizer.lr.learning_rate or add warm-up epochs")


def training_eta(state: RunState, done: int) -> str:
    """Time left to the last step of the run, ``H:MM:SS``, at this epoch's pace so far
    (``done`` of its steps); evaluation is not counted, as in PaddleClas's logs."""
    left = (state.epochs - state.epoch + 1) * state.steps_per_epoch - done
    return str(datetime.timedelta(seconds=round(state.seconds() / max(done, 1) * left)))


class FrozenTrunk(paddle.callbacks.Callback):
    """For the first ``epochs`` epochs only the parameters not in ``frozen`` train (the
    heads fine-tuning re-initialised): the others keep the weights they were loaded
    with, and the optimizer skips them. From the next epoch on everything trains."""

    def __init__(self, state: RunState, logger, network, frozen: list, epochs: int):
        super().__init__()
        self.state, self.log, self.epochs = state, logger, epochs
        self.frozen = [p for name, p in network.named_parameters() if name in set(frozen)]

    def on_epoch_begin(self, epoch, logs=None):
        freeze = self.state.epoch <= self.epochs
        if self.frozen and self.frozen[0].stop_gradient != freeze:
            for parameter in self.frozen:
                parameter.stop_gradient = freeze
            self.log.info(f"[Train][Epoch {self.state.epoch}] Global.freeze_epochs: "
                          + (f"{len(self.frozen)} loaded parameter tensors fixed, the "
                             f"re-initialised heads train" if freeze
                             else "every parameter trains"))


class TrainLog(paddle.callbacks.Callback):
    """A log line every ``every`` steps and one per epoch, PaddleClas-style; an epoch
    of fewer than ``every`` steps gets one after its first step, with the time left."""

    def __init__(self, state: RunState, logger, every: int, metric_names: list,
                 current_lr: Callable[[], float]):
        super().__init__()
        self.state, self.log, self.every = state, logger, every
        self.metric_names, self.current_lr = metric_names, current_lr

    def on_train_batch_end(self, step, logs=None):
        s = self.state
        step += s.steps_before
        short_epoch_start = step == 0 and s.steps_per_epoch < self.every
        if (step + 1) % self.every == 0 or short_epoch_start:
            loss = float(np.mean(logs["loss"]))
            metrics = " ".join(f"{k}: {logs[k]:.4f}" for k in self.metric_names if k in logs)
            rate = s.seen / max(s.seconds(), 1e-9)
            self.log.info(f"[Train][Epoch {s.epoch}/{s.epochs}][Iter {step + 1}/"
                          f"{s.steps_per_epoch}] lr: {self.current_lr():.6f} loss: "
                          f"{loss:.5f} {metrics} ips: {rate:.1f} images/s "
                          f"eta: {training_eta(s, step + 1)}")

    def on_epoch_end(self, epoch, logs=None):
        s, record = self.state, self.state.record
        self.log.info(f"[Train][Epoch {s.epoch}/{s.epochs}][Avg] loss: "
                      f"{record['train_loss']:.5f} "
                      + " ".join(f"{k}: {record[f'train_{k}']:.4f}" for k in self.metric_names
                                 if f"train_{k}" in record)
                      + f" time: {record['seconds']:.1f}s")


class Evaluation(paddle.callbacks.Callback):
    """Evaluates at the end of the epochs ``due(epoch)`` names, adds the result to
    the record, logs it, and keeps the best top-1 (``state.improved`` when beaten)."""

    def __init__(self, state: RunState, logger, evaluate: Callable[[], dict],
                 due: Callable[[int], bool]):
        super().__init__()
        self.state, self.log, self.evaluate, self.due = state, logger, evaluate, due

    def on_epoch_end(self, epoch, logs=None):
        s = self.state
        if not self.due(s.epoch):
            return
        result = self.evaluate()
        for key, value in result.items():
            s.record[f"eval_{key}"] = value
        self.log.info(f"[Eval][Epoch {s.epoch}][Avg] "
                      + " ".join(f"{k}: {v:.5f}" for k, v in result.items()
                                 if isinstance(v, float)))
        judge(s, result.get("top1"))


def judge(state: RunState, top1):
    """Record whether ``top1`` beats the best so far (strictly) and keep the best."""
    state.improved = top1 is not None and top1 > state.best_top1
    if state.improved:
        state.best_top1 = top1


class MetricsLog(paddle.callbacks.Callback):
    """Appends the epoch's record to ``metrics_file`` and redraws ``plot_file``
    (titled ``title``). The first record of a resumed run says ``"resumed": true``."""

    def __init__(self, state: RunState, metrics_file: str, plot_file: str, title: str = None):
        super().__init__()
        self.state, self.metrics_file, self.plot_file = state, metrics_file, plot_file
        self.title = title
        self.mark_resume = state.resumed

    def on_epoch_end(self, epoch, logs=None):
        record = self.state.record
        if self.mark_resume:
            record, self.mark_resume = dict(record, resumed=True), False
        append_metrics(self.metrics_file, record)
        plot_metrics(read_metrics(self.metrics_file), self.plot_file, self.title)


class BestModel(paddle.callbacks.Callback):
    """Saves the parameters evaluated as ``best_model`` when the epoch's evaluation
    beat the best so far; ``evaluated_weights()`` returns them as a state dict (the
    EMA weights with an ``EMA`` section, the network's otherwise)."""

    def __init__(self, state: RunState, logger, run_dir: str,
                 evaluated_weights: Callable[[], dict]):
        super().__init__()
        self.state, self.log, self.run_dir = state, logger, run_dir
        self.evaluated_weights = evaluated_weights

    def on_epoch_end(self, epoch, logs=None):
        s = self.state
        if not s.improved:
            return
        checkpoint.save_best(self.run_dir, s.epoch, self.evaluated_weights(),
                             s.checkpoint_states(metrics=s.record))
        self.log.info(f"[Eval][Epoch {s.epoch}] new best top1 {s.best_top1:.5f}: saved "
                      f"{self.run_dir}/{checkpoint.BEST}")


class Checkpoints(paddle.callbacks.Callback):
    """Saves a full checkpoint every ``interval`` epochs and after the last, keeping
    the newest ``keep``; ``save_now(step)`` saves the state after ``step`` batches of
    the current epoch (a stop in mid-epoch). Only the main process writes."""

    def __init__(self, state: RunState, logger, run_dir: str, network, optimizer,
                 metrics: list, interval: int, keep: int = 2, average=None):
        super().__init__()
        self.state, self.log, self.run_dir = state, logger, run_dir
        self.network, self.optimizer, self.metrics = network, optimizer, metrics
        self.interval, self.keep, self.average = interval, keep, average

    def on_epoch_end(self, epoch, logs=None):
        s = self.state
        if is_main_process() and (s.epoch % self.interval == 0 or s.epoch == s.epochs):
            s.saved = self._save(s.epoch, 0, s.checkpoint_states(metrics=s.record))

    def save_now(self, step: int) -> str:
        """Save the state after ``step`` batches of this epoch; return the path of the
        checkpoint (only the main process writes it)."""
        s = self.state
        done, states = s.epoch - 1, s.checkpoint_states()
        if step == s.steps_per_epoch:
            done, step = s.epoch, 0
        elif step:
            states["progress"] = {"step": step, "losses": s.losses, "seen": s.seen,
                                  "seconds": s.seconds(),
                                  "metrics": [m.state_dict() for m in self.metrics]}
        if not is_main_process():
            return os.path.join(self.run_dir, checkpoint.checkpoint_name(done, step))
        return self._save(done, step, states)

    def _save(self, epoch: int, step: int, states: dict) -> str:
        path, pruned = checkpoint.save_checkpoint(
            self.run_dir, epoch, self.network, self.optimizer, states, keep=self.keep,
            step=step, ema_state=self.average.state_dict() if self.average else None)
        if pruned:
            self.log.info(f"removed older checkpoint(s) {', '.join(pruned)}: "
                          f"Global.keep_checkpoints keeps the newest {self.keep}")
        return path


class StopOnSignal(paddle.callbacks.Callback):
    """Stops training between two optimizer steps once ``requested()`` says so, after
    ``save_now(step)`` saved a resumable checkpoint (at an epoch's end, the one that
    epoch saved, if any): raises TrainingStopped naming it. Inside an accumulation
    group it waits for the group's last batch."""

    def __init__(self, state: RunState, requested: Callable[[], bool],
                 save_now: Callable[[int], str]):
        super().__init__()
        self.state, self.requested, self.save_now = state, requested, save_now

    def on_train_batch_begin(self, step, logs=None):
        # Here the previous step is complete, the LR schedule's step included.
        done = self.state.steps_before + step
        if self.requested() and done % self.state.update_freq == 0:
            raise TrainingStopped(self.state.epoch, done, self.save_now(done))

    def on_epoch_end(self, epoch, logs=None):
        s = self.state
        if self.requested():
            raise TrainingStopped(s.epoch, s.steps_per_epoch,
                                  s.saved or self.save_now(s.steps_per_epoch))
