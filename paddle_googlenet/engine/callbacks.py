"""The ``paddle.Model`` callback that turns a ``fit`` into a PaddleClas-style run."""

import os
import time

import numpy as np
import paddle

from .. import checkpoint
from ..runtime import is_main_process, rng_state
from .report import append_metrics, plot_metrics, read_metrics


class LossAverager(paddle.callbacks.Callback):
    """Mean of the per-batch losses of one ``evaluate`` (hapi logs the last one only)."""

    def __init__(self):
        super().__init__()
        self.total, self.count = 0.0, 0

    def on_eval_batch_end(self, step, logs=None):
        size = logs.get("batch_size", 1)
        self.total += float(np.mean(logs["loss"])) * size
        self.count += size

    @property
    def mean(self):
        return self.total / self.count if self.count else None


class TrainingStopped(Exception):
    """Raised inside ``fit`` after a stop was asked for (a signal) and the state was
    saved: ``epoch`` (1-based), ``step`` (batches of it done) and ``checkpoint``."""

    def __init__(self, epoch: int, step: int, checkpoint: str):
        super().__init__(f"stopped at epoch {epoch}, step {step}")
        self.epoch, self.step, self.checkpoint = epoch, step, checkpoint


class RunRecorder(paddle.callbacks.Callback):
    """Per-batch logging, evaluation at the configured interval, checkpoints, the
    best model, the metrics file and the plot; and stopping between two steps with
    a resumable checkpoint when the engine asks for it.

    ``fit`` counts epochs from 0 in every call; a resumed run starts at
    ``start_epoch``, so this callback numbers epochs from 1 as PaddleClas does:
    epoch ``start_epoch + fit_epoch + 1``. A run resumed from a mid-epoch checkpoint
    passes its ``progress``: the first epoch then skips the batches done before and
    carries on with their losses, image count, time and train metrics.
    """

    def __init__(self, engine, start_epoch: int, best_top1: float, progress: dict = None):
        super().__init__()
        self.engine = engine
        self.start_epoch = start_epoch
        self.best_top1 = best_top1
        self.resumed = progress
        self.log = engine.logger

    def epoch_number(self, fit_epoch: int) -> int:
        return self.start_epoch + fit_epoch + 1

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = self.epoch_number(epoch)
        self.losses, self.seen, self.done_before = [], 0, 0.0
        self.steps_before, self.saved = 0, None
        progress, self.resumed = self.resumed, None
        if progress:
            self.steps_before = progress["step"]
            self.losses, self.seen = list(progress["losses"]), progress["seen"]
            self.done_before = progress["seconds"]
            for metric, state in zip(self.engine.metrics, progress["metrics"]):
                vars(metric).update(state)
        self.engine.set_data_epoch(self.epoch, skip_batches=self.steps_before)
        self.started = time.time()

    def seconds(self) -> float:
        return self.done_before + time.time() - self.started

    def on_train_batch_begin(self, step, logs=None):
        # Here the previous step is complete, the LR schedule's step included.
        if self.engine.stop_requested():
            done = self.steps_before + step
            path = self.save_progress(done)
            raise TrainingStopped(self.epoch, done, path)

    def on_train_batch_end(self, step, logs=None):
        step += self.steps_before
        loss = float(np.mean(logs["loss"]))
        size = logs.get("batch_size", 1)
        self.losses.append((loss, size))
        self.seen += size
        if not np.isfinite(loss):
            self.engine.stop_on_nonfinite(self.epoch, step + 1, loss)
        if (step + 1) % self.engine.print_batch_step == 0:
            metrics = " ".join(f"{k}: {logs[k]:.4f}" for k in self.engine.metric_names
                               if k in logs)
            rate = self.seen / max(self.seconds(), 1e-9)
            self.log.info(f"[Train][Epoch {self.epoch}/{self.engine.epochs}][Iter "
                          f"{step + 1}/{self.engine.steps_per_epoch}] lr: "
                          f"{self.engine.current_lr():.6f} loss: {loss:.5f} {metrics} "
                          f"ips: {rate:.1f} images/s")

    def on_epoch_end(self, epoch, logs=None):
        engine = self.engine
        seconds = self.seconds()
        total = sum(s for _, s in self.losses)
        record = {"epoch": self.epoch,
                  "train_loss": sum(l * s for l, s in self.losses) / max(total, 1),
                  "lr": engine.current_lr(), "seconds": round(seconds, 2),
                  "images_per_second": round(self.seen / max(seconds, 1e-9), 2)}
        for key in engine.metric_names:
            if key in logs:
                record[f"train_{key}"] = float(logs[key])
        skipped = engine.skipped_images(engine.train_loader, f"[Train][Epoch {self.epoch}]")
        if skipped:
            record["train_skipped_images"] = skipped
        self.log.info(f"[Train][Epoch {self.epoch}/{engine.epochs}][Avg] loss: "
                      f"{record['train_loss']:.5f} "
                      + " ".join(f"{k}: {record[f'train_{k}']:.4f}" for k in engine.metric_names
                                 if f"train_{k}" in record)
                      + f" time: {seconds:.1f}s")
        if engine.eval_due(self.epoch):
            result = engine.evaluate()
            for key, value in result.items():
                record[f"eval_{key}"] = value
            self.log.info(f"[Eval][Epoch {self.epoch}][Avg] "
                          + " ".join(f"{k}: {v:.5f}" for k, v in result.items()
                                     if isinstance(v, float)))
        self.save(record)
        if engine.stop_requested():
            raise TrainingStopped(self.epoch, engine.steps_per_epoch,
                                  self.saved or self.save_progress(engine.steps_per_epoch))

    def _states(self, **extra) -> dict:
        return {"best_top1": self.best_top1, "rng": rng_state(),
                "steps_per_epoch": self.engine.steps_per_epoch, **extra}

    def save(self, record):
        engine = self.engine
        top1 = record.get("eval_top1")
        improved = top1 is not None and top1 > self.best_top1
        if improved:
            self.best_top1 = top1
        if not is_main_process():
            return
        # The metrics line goes first: a resume drops lines after its checkpoint's
        # epoch, so a crash between the two never loses an epoch's line.
        append_metrics(engine.metrics_file, record)
        plot_metrics(read_metrics(engine.metrics_file), engine.plot_file)
        states = self._states(metrics=record)
        if improved:
            checkpoint.save_best(engine.run_dir, self.epoch, engine.network, states)
            self.log.info(f"[Eval][Epoch {self.epoch}] new best top1 {top1:.5f}: saved "
                          f"{engine.run_dir}/{checkpoint.BEST}")
        if self.epoch % engine.save_interval == 0 or self.epoch == engine.epochs:
            self.saved = checkpoint.save_checkpoint(engine.run_dir, self.epoch, engine.network,
                                                    engine.optimizer, states)

    def save_progress(self, step: int) -> str:
        """Save the state after ``step`` batches of this epoch; return the path of the
        checkpoint (only the main process writes it)."""
        engine = self.engine
        done, states = self.epoch - 1, self._states()
        if step == engine.steps_per_epoch:
            done, step = self.epoch, 0
        elif step:
            states["progress"] = {"step": step, "losses": self.losses, "seen": self.seen,
                                  "seconds": self.seconds(),
                                  "metrics": [dict(vars(m)) for m in engine.metrics]}
        if not is_main_process():
            return os.path.join(engine.run_dir, checkpoint.checkpoint_name(done, step))
        return checkpoint.save_checkpoint(engine.run_dir, done, engine.network,
                                          engine.optimizer, states, step=step)
