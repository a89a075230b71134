"""Engine: builds everything a config names, checks it, then trains or evaluates
with ``paddle.Model``.

Everything is built and checked in ``__init__``, before any file is written or any
step is taken, so a misspelt op or a bad label fails in seconds, not after the
first epoch.
"""

import contextlib
import json
import os
import signal
import threading
import time
import warnings

import paddle

from .. import checkpoint
from ..config import dump_config, required_weights
from ..data import build_dataloader, ensure_demo_dataset
from ..errors import ConfigError, UserError
from ..losses import build_loss
from ..metrics import ConfusionMatrix, build_metrics
from ..models import build_model, load_weights
from ..optim import build_optimizer
from ..runtime import (is_main_process, rng_state, seed_everything, select_device,
                       set_cpu_threads, set_rng_state, world_size)
from ..fast_paths import keep_freed_memory, use_fast_conv_bias, use_mkl_avx2_on_amd
from .callbacks import LossAverager, RunRecorder, TrainingStopped
from .report import read_metrics, setup_logger

__all__ = ["Engine", "train", "NonFiniteLoss", "TrainingInterrupted"]


# paddle.Model re-wraps the loader's tensors with paddle.to_tensor and warns on
# every batch; the copy is Paddle's own, not something a user can act on.
_HAPI_COPY_WARNING = "To copy construct from a tensor"


@contextlib.contextmanager
def _quiet_hapi():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_HAPI_COPY_WARNING)
        yield


class NonFiniteLoss(UserError):
    """Training produced a NaN or infinite loss."""


class TrainingInterrupted(UserError):
    """SIGINT or SIGTERM stopped training after saving ``checkpoint``; the exit code
    is the shell's for that signal."""

    label = "stopped"

    def __init__(self, message: str, checkpoint: str, signum: int):
        super().__init__(message)
        self.checkpoint = checkpoint
        self.exit_code = 128 + signum


@contextlib.contextmanager
def _located(key: str):
    """Prefix a UserError raised inside with the config key it concerns."""
    try:
        yield
    except UserError as err:
        raise type(err)(f"{key}: {err}") from err


def _default_entries(config, section, split, default):
    entries = config.get(section, {}).get(split)
    return entries if entries else default


class Engine:
    """A configured run. ``mode`` is ``train`` or ``eval``: it decides which data
    splits must exist."""

    def __init__(self, config: dict, mode: str = "train"):
        self.config = config
        self.mode = mode
        g = config["Global"]
        self.logger = setup_logger()
        self.epochs = g["epochs"]
        self.print_batch_step = g["print_batch_step"]
        self.save_interval = g["save_interval"]
        self.stop_signal = None  # set by a SIGINT/SIGTERM handler while training
        self.run_dir = os.path.join(g["output_dir"], config["Arch"]["name"])
        self.metrics_file = os.path.join(self.run_dir, "metrics.jsonl")
        self.plot_file = os.path.join(self.run_dir, "metrics.png")

        self.device = select_device(g["device"])
        self.threads = set_cpu_threads(g["num_threads"]) if self.device == "cpu" else None
        fast = self.device == "cpu" and g["cpu_fast_paths"]
        # MKL reads its kernel choice at its first call, so this comes before any work.
        self.fast_paths = ["MKL AVX2 kernels"] if fast and use_mkl_avx2_on_amd() else []
        if fast and keep_freed_memory():
            self.fast_paths.append("freed memory kept for reuse")
        if world_size() > 1:
            paddle.distributed.init_parallel_env()
        seed_everything(g["seed"])

        self.network = build_model(config["Arch"])
        self.num_classes = self.network.num_classes
        if fast and use_fast_conv_bias(self.network):
            self.fast_paths.append("GEMM convolution bias")
        if g["pretrained_model"]:
            with _located("Global.pretrained_model"):
                load_weights(self.network, g["pretrained_model"],
                             heads="reinit" if mode == "train" else "strict")

        if g["demo_dataset"]:
            self._ensure_demo_dataset(g["demo_dataset"])
        loaders = config.get("DataLoader", {})
        if mode == "train" and "Train" not in loaders:
            raise ConfigError("DataLoader.Train: required to train")
        if "Eval" not in loaders and (mode == "eval" or g["eval_during_train"]):
            raise ConfigError("DataLoader.Eval: required to evaluate (or set "
                              "Global.eval_during_train false)")
        self.train_loader = (build_dataloader(loaders["Train"], seed=g["seed"],
                                              where="DataLoader.Train", num_classes=self.num_classes)
                             if mode == "train" else None)
        self.eval_loader = (build_dataloader(loaders["Eval"], seed=g["seed"],
                                             where="DataLoader.Eval")
                            if "Eval" in loaders else None)
        self._check_labels()
        self._check_input_size()

        split = "Train" if mode == "train" else "Eval"
        self.loss = build_loss(_default_entries(config, "Loss", split,
                                                [{"GoogLeNetLoss": {"weight": 1.0}}]),
                               f"Loss.{split}")
        if self.loss.needs_aux and not self.network.aux_logits:
            raise ConfigError(f"Loss.{split}: GoogLeNetLoss needs the aux heads, but "
                              f"Arch.aux_logits is false; use CELoss")
        self.metrics = build_metrics(_default_entries(config, "Metric", split,
                                                      [{"TopkAcc": {"topk": [1, 5]}}]),
                                     self.num_classes, f"Metric.{split}", soft_targets=getattr(self.train_loader, "soft_targets", False))
        self.confusion = None
        if mode == "eval":
            required_weights(config, "evaluate")  # loaded above
            self.confusion = ConfusionMatrix(self.num_classes)
            self.metrics.append(self.confusion)
        self.metric_names = [n for m in self.metrics for n in m.name()]

        self.steps_per_epoch = len(self.train_loader) if self.train_loader else 1
        self.optimizer, _ = (build_optimizer(config.get("Optimizer") or {},
                                             self.network.parameters(), self.epochs,
                                             self.steps_per_epoch)
                             if mode == "train" else (None, None))
        self.amp_configs = self._amp_configs(config["AMP"])
        self.extra_callbacks = self._visualdl(g["use_visualdl"])
        self.model = paddle.Model(self.network)
        self.model.prepare(self.optimizer, self.loss, self.metrics,
                           amp_configs=self.amp_configs)

    # -- checks -------------------------------------------------------------------

    @staticmethod
    def _ensure_demo_dataset(root: str):
        """Generate the demo dataset once: rank 0 writes it while the others wait."""
        if is_main_process():
            ensure_demo_dataset(root)
        if world_size() > 1:
            paddle.distributed.barrier()
            ensure_demo_dataset(root)  # present now: only checked

    def _loaders(self):
        return [(name, loader) for name, loader in (("Train", self.train_loader),
                                                    ("Eval", self.eval_loader)) if loader]

    def _check_labels(self):
        """Every label of every list below Arch.class_num, before any work starts."""
        for name, loader in self._loaders():
            if hasattr(loader.dataset, "check_labels"):
                with _located(f"DataLoader.{name}.dataset"):
                    loader.dataset.check_labels(self.num_classes, "Arch.class_num")

    def _check_input_size(self):
        """Transform the first sample of each split and check the network takes its
        size, so a size the heads cannot take fails now rather than at the first step."""
        saved = rng_state()  # the sample's random crop must not shift later draws
        try:
            for name, loader in self._loaders():
                with _located(f"DataLoader.{name}.dataset"):
                    image = loader.dataset[0][0]
                with _located(f"DataLoader.{name}.dataset.transform_ops (images of shape "
                              f"{list(image.shape)})"):
                    self.network.check_input(paddle.zeros([1, *image.shape]))
        finally:
            set_rng_state(saved)

    def _amp_configs(self, amp):
        if not amp.get("use_amp"):
            return None
        if self.device.startswith("gpu"):
            return {"level": amp["level"].upper(), "init_loss_scaling": amp["scale_loss"],
                    "use_dynamic_loss_scaling": amp["use_dynamic_loss_scaling"]}
        warnings.warn("AMP.use_amp is true but AMP is off: Paddle's mixed precision in "
                      "dynamic graph mode needs a GPU (bfloat16 autocast does nothing on "
                      "the CPU); training runs in float32")
        return None

    def _visualdl(self, enabled: bool):
        if not enabled:
            return []
        try:
            import visualdl  # noqa: F401  (paddle's VisualDL callback needs it)
        except ImportError:
            raise ConfigError("Global.use_visualdl is true but the visualdl package is not "
                              "installed: pip install visualdl, or set it false") from None
        if not is_main_process():
            return []
        return [paddle.callbacks.VisualDL(log_dir=os.path.join(self.run_dir, "vdl"))]

    def stop_on_nonfinite(self, epoch: int, step: int, loss: float):
        raise NonFiniteLoss(f"loss is {loss} at epoch {epoch}, step {step}; training stopped "
                            f"and the last checkpoint in {self.run_dir} was left as it was. "
                            f"Lower Optimizer.lr.learning_rate or add warm-up epochs")

    # -- helpers the callback uses --------------------------------------------------

    def current_lr(self) -> float:
        return float(self.optimizer.get_lr()) if self.optimizer else 0.0

    def eval_due(self, epoch: int) -> bool:
        g = self.config["Global"]
        return (self.eval_loader is not None and g["eval_during_train"]
                and (epoch % g["eval_interval"] == 0 or epoch == self.epochs))

    def set_data_epoch(self, epoch: int, skip_batches: int = 0):
        """Reshuffle for ``epoch``: the order depends on (seed, epoch) only, so a
        resumed run sees the same batches as an uninterrupted one; leave out the
        first ``skip_batches`` (trained before a mid-epoch stop)."""
        sampler = getattr(self.train_loader, "batch_sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        if skip_batches:
            sampler.skip_batches(skip_batches)

    def skipped_images(self, loader, where: str) -> int:
        """Log how many unreadable images ``loader``'s epoch skipped; return the count."""
        bad = getattr(loader.dataset, "bad_images", [])
        if bad:
            shown = ", ".join(bad[:3]) + (", ..." if len(bad) > 3 else "")
            self.logger.warning(f"{where} skipped {len(bad)} unreadable image(s) "
                                f"(skip_bad_images is true): {shown}")
        return len(bad)

    # -- stopping on a signal ---------------------------------------------------------

    def stop_requested(self) -> bool:
        """Whether a signal asked to stop; under a multi-process launch, whether any
        process got one, so that all of them stop at the same step."""
        wanted = self.stop_signal is not None
        if world_size() > 1:
            flag = paddle.to_tensor([int(wanted)], dtype="int32")
            paddle.distributed.all_reduce(flag, op=paddle.distributed.ReduceOp.MAX)
            wanted = bool(flag.item())
        return wanted

    @contextlib.contextmanager
    def _stop_on_signals(self):
        """While training, SIGINT (Ctrl-C) and SIGTERM ask to stop after the current
        step (RunRecorder saves a checkpoint and raises TrainingStopped); a second one
        stops at once, without saving. The handlers are installed in the main thread of
        this process only, ignored by DataLoader workers forked with them, and the
        previous ones restored after."""
        self.stop_signal = None
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        pid = os.getpid()

        def request_stop(signum, frame):
            if os.getpid() != pid:  # a loader worker: the main process decides
                return
            if self.stop_signal is not None:
                raise KeyboardInterrupt
            self.stop_signal = signum
            # os.write, not logging or print: safe whatever the main thread was writing.
            os.write(2, f"\n{signal.Signals(signum).name}: stopping after the current step "
                        f"to save a checkpoint (send it again to stop at once without "
                        f"saving)\n".encode())

        previous = {signum: signal.signal(signum, request_stop)
                    for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                # None: a handler set outside Python (Paddle's crash reporter); the
                # signal module cannot put it back, so the default takes its place.
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    def evaluate(self) -> dict:
        """Evaluate the main head on the Eval split: loss, metrics and image count."""
        averager = LossAverager()
        with _quiet_hapi():
            logs = self.model.evaluate(self.eval_loader, verbose=0, callbacks=[averager])
        self.skipped_images(self.eval_loader, "[Eval]")
        result = {"loss": averager.mean}
        for key in self.metric_names:
            result[key] = float(logs[key])
        result["images"] = averager.count
        return result

    # -- the run ----------------------------------------------------------------------

    def _prepare_run_dir(self):
        """Refuse to train over an earlier run's checkpoints unless resuming or told to;
        a new run starts with no earlier checkpoints or metrics in its directory."""
        g = self.config["Global"]
        earlier = checkpoint.saved_checkpoints(self.run_dir)
        if earlier and not g["checkpoints"] and not g["overwrite"]:
            latest = os.path.join(self.run_dir, checkpoint.LATEST)
            resume = (f"resume it with -o Global.checkpoints={latest}, or "
                      if checkpoint.LATEST in earlier else "")
            raise ConfigError(
                f"{self.run_dir} holds an earlier run's checkpoints ({', '.join(earlier)}); "
                f"{resume}start over with -o Global.overwrite=True (which deletes them), or "
                f"choose another Global.output_dir")
        if not is_main_process():
            return
        try:
            os.makedirs(self.run_dir, exist_ok=True)
            probe = os.path.join(self.run_dir, ".write-test")
            with open(probe, "w"):
                pass
            os.remove(probe)
        except OSError as err:
            raise ConfigError(f"Global.output_dir: cannot write to {self.run_dir}: "
                              f"{err.strerror}; choose a directory you can write to") from None
        if not g["checkpoints"]:
            # A new run drops what an earlier one left (checkpoints only when told to
            # overwrite; metrics also of a run killed before its first checkpoint), so
            # that nothing of it passes for this run's: a resume of `latest` above all.
            checkpoint.remove_checkpoints(self.run_dir)
            for path in (self.metrics_file, self.plot_file):
                if os.path.exists(path):
                    os.remove(path)

    def _resume(self):
        """Load ``Global.checkpoints`` (before anything is written); return the epochs
        done, the best top-1 so far and, for a mid-epoch checkpoint, its progress."""
        g = self.config["Global"]
        if not g["checkpoints"]:
            return 0, -1.0, None
        with _located("Global.checkpoints"):
            states = checkpoint.load_checkpoint(g["checkpoints"], self.network, self.optimizer)
        start, step = int(states["epoch"]), int(states.get("step", 0))
        saved_steps = states.get("steps_per_epoch", self.steps_per_epoch)
        if step and saved_steps != self.steps_per_epoch:
            raise ConfigError(
                f"Global.checkpoints: {g['checkpoints']} stopped {step} steps into epoch "
                f"{start + 1} of {saved_steps} steps, but this config gives "
                f"{self.steps_per_epoch} steps per epoch; resume with the batch size, data "
                f"and number of processes it was saved with")
        if start >= self.epochs:
            raise ConfigError(f"Global.checkpoints: {g['checkpoints']} is at epoch {start}, "
                              f"Global.epochs is {self.epochs}: nothing left to train; raise "
                              f"Global.epochs")
        set_rng_state(states["rng"])
        where = f"epoch {start}" + (f", step {step} of epoch {start + 1}" if step else "")
        self.logger.info(f"resumed from {g['checkpoints']} at {where}")
        best = max(float(states.get("best_top1", -1.0)), checkpoint.saved_best_top1(self.run_dir))
        return start, best, states.get("progress") if step else None

    def _drop_metrics_after(self, epoch: int):
        """Drop metric lines of epochs after ``epoch``: a resume runs them again."""
        if is_main_process() and os.path.exists(self.metrics_file):
            kept = [r for r in read_metrics(self.metrics_file) if r["epoch"] <= epoch]
            with open(self.metrics_file, "w", encoding="utf-8") as f:
                f.writelines(json.dumps(r) + "\n" for r in kept)

    def train(self) -> dict:
        """Train for ``Global.epochs`` epochs; return the last eval and the best top-1.

        SIGINT or SIGTERM stop it between two steps with a resumable checkpoint and
        raise TrainingInterrupted, which names the checkpoint.
        """
        start_epoch, best, progress = self._resume()
        self._prepare_run_dir()
        if is_main_process():
            self.logger = setup_logger(os.path.join(self.run_dir, "train.log"))
            with open(os.path.join(self.run_dir, "config.yaml"), "w", encoding="utf-8") as f:
                f.write(dump_config(self.config))
        self._drop_metrics_after(start_epoch)
        self.logger.info("resolved config:\n" + dump_config(self.config))
        self.logger.info(f"device: {self.device}"
                         + (f", {self.threads} CPU threads" if self.threads else "")
                         + (f" ({', '.join(self.fast_paths)})" if self.fast_paths else "")
                         + f", {world_size()} process(es); {len(self.train_loader.dataset)} "
                         f"train images, {self.steps_per_epoch} steps per epoch")
        recorder = RunRecorder(self, start_epoch, best, progress)
        began = time.time()
        try:
            with _quiet_hapi(), self._stop_on_signals():
                self.model.fit(self.train_loader, epochs=self.epochs - start_epoch, verbose=0,
                               log_freq=self.print_batch_step,
                               callbacks=[recorder, *self.extra_callbacks])
        except TrainingStopped as stop:
            name = (signal.Signals(self.stop_signal).name if self.stop_signal
                    else "a signal to another process")
            where = (f"the end of epoch {stop.epoch}" if stop.step == self.steps_per_epoch
                     else f"epoch {stop.epoch}, step {stop.step} of {self.steps_per_epoch}")
            raise TrainingInterrupted(f"training interrupted by {name} at {where}; saved a "
                                      f"resumable checkpoint: {stop.checkpoint}",
                                      stop.checkpoint, self.stop_signal or signal.SIGTERM) from None
        records = read_metrics(self.metrics_file)
        last_eval = next((r for r in reversed(records) if "eval_top1" in r), {})
        summary = {"best_top1": recorder.best_top1, "last_eval_top1": last_eval.get("eval_top1"),
                   "seconds": round(time.time() - began, 1), "run_dir": self.run_dir}
        self.logger.info(f"finished {self.epochs} epochs in {summary['seconds']}s; best eval "
                         f"top1 {recorder.best_top1:.5f}; outputs in {self.run_dir}")
        return summary


def train(config: dict) -> dict:
    return Engine(config, mode="train").train()
