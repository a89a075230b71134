"""Engine: wires the parts of a run together and runs it with ``paddle.Model``.

    process.py     device, threads, fast paths, seeds
    components.py  model, data, loss, metrics, optimizer from the config; checks
    rundir.py      the run directory, and resuming into it
    signals.py     stopping on SIGINT/SIGTERM
    state.py       RunState, what the callbacks share
    callbacks.py   what happens at each step and epoch (one job per callback)
    averaging.py   the EMA weights
    accumulation.py  gradient accumulation (Global.update_freq)
    evaluation.py  one pass over the Eval split, summed over the processes
    settings.py    log lines for the PaddleClas settings accepted but not applied
    labels.py      class names and count: labels file, weights, folders, indices
    report.py      the log, metrics.jsonl and the plot

Everything is built and checked in ``Engine.__init__``, before any file is written
or any step is taken, so a misspelt op or a bad label fails in seconds, not after
the first epoch.
"""

import contextlib
import signal
import time
import warnings

import paddle

from ..config import dump_config
from ..errors import ConfigError, UserError
from .runtime import is_main_process
from .accumulation import FirstBatches, StepLROnUpdates, scale_gradients
from .averaging import WeightAverage
from .callbacks import (BestModel, Checkpoints, EpochProgress, Evaluation, FrozenTrunk,
                        MetricsLog, MovingAverage, NonFiniteLoss, NonFiniteLossGuard,
                        StopOnSignal, TrainLog, TrainingStopped)
from .components import (build_components, describe_data, describe_weights,
                         visualdl_callbacks)
from .evaluation import (SCALED_DECODING_AGREEMENT, EvaluationReport, evaluate_loader,
                         reading_with, scaled_decoding_agreement)
from .process import set_up_process
from .report import log_to_file, read_metrics, setup_logger, warnings_logged
from .rundir import RunDirectory, load_resume_point, position
from .settings import setting_notes
from .signals import StopSignal
from .state import RunState

__all__ = ["Engine", "train", "NonFiniteLoss", "TrainingInterrupted"]


# paddle.Model re-wraps the loader's tensors with paddle.to_tensor and warns on
# every batch; the copy is Paddle's own, not something a user can act on.
_HAPI_COPY_WARNING = "To copy construct from a tensor"


@contextlib.contextmanager
def _quiet_hapi():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_HAPI_COPY_WARNING)
        yield


class TrainingInterrupted(UserError):
    """SIGINT or SIGTERM stopped training after saving ``checkpoint``; the exit code
    is the shell's for that signal."""

    label = "stopped"

    def __init__(self, message: str, checkpoint: str, signum: int):
        super().__init__(message)
        self.checkpoint = checkpoint
        self.exit_code = 128 + signum


class Engine:
    """A configured run. ``mode`` is ``train`` or ``eval``: it decides which data
    splits must exist."""

    def __init__(self, config: dict, mode: str = "train"):
        self.config = config
        self.mode = mode
        g = config["Global"]
        self.logger = setup_logger()
        self.epochs = g["epochs"]
        self.run = RunDirectory(g["output_dir"], config["Arch"]["name"])
        self.run_dir = self.run.path
        self.stop = StopSignal()

        # Warnings while building (a classifier head left at initialisation, say) are
        # shown as usual and kept, for train.log once it exists.
        with warnings.catch_warnings(record=True) as raised:
            self.process = set_up_process(g)
            self.device, self.threads = self.process.device, self.process.threads
            self.parts = build_components(config, mode, self.device, self.process.speed_up,
                                          announce=self.logger.info)
        for w in raised:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        self.setup_warnings = [f"{w.category.__name__}: {w.message}" for w in raised]
        p = self.parts
        self.network, self.train_loader, self.eval_loader = (p.network, p.train_loader,
                                                             p.eval_loader)
        self.loss, self.metrics, self.confusion = p.loss, p.metrics, p.confusion
        self.optimizer, self.amp_configs = p.optimizer, p.amp_configs
        self.num_classes, self.metric_names = p.num_classes, p.metric_names
        self.class_names = p.class_names
        if mode != "train":  # a training run logs them once its log file exists
            for note in p.notes:
                self.logger.info(note)
        self.steps_per_epoch = p.steps_per_epoch
        if g["freeze_epochs"] and mode == "train" and not (
                p.weights_report and p.weights_report["reinitialised"]):
            raise ConfigError("Global.freeze_epochs: fixes the weights Global.pretrained_model "
                              "loads while the heads it re-initialises train; give weights "
                              "of another class count, or set it to 0")
        self.extra_callbacks = visualdl_callbacks(g["use_visualdl"], self.run_dir)
        self.update_freq = p.update_freq
        if self.update_freq > 1:
            # Each batch's gradient counts 1/N, as PaddleClas divides the loss by N.
            scale_gradients(self.network, 1.0 / self.update_freq)
        # PaddleClas keeps the average in train mode only, from the starting weights.
        self.average = (WeightAverage(self.network, config["EMA"]["decay"])
                        if "EMA" in config and mode == "train" else None)
        inputs = None
        if g["to_static"]:
            # As PaddleClas's apply_to_static on Paddle 3: symbolic tracing (SOT), which
            # traces each input shape it meets, so no input spec; paddle.Model needs one
            # only to know the forward takes one input.
            inputs = [paddle.static.InputSpec([None, 3, None, None], "float32", "image")]
            self.network = paddle.jit.to_static(self.network)
        self.model = paddle.Model(self.network, inputs=inputs)
        self.model.prepare(self.optimizer, self.loss, self.metrics,
                           amp_configs=self.amp_configs)
        # Evaluation scores Metric.Eval (see evaluate()), training batches Metric.Train.
        self.eval_metrics = p.eval_metrics

    # -- what the callbacks are handed ---------------------------------------------

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

    def eval_weights(self):
        """A context in which the network holds the weights evaluation uses: the
        EMA weights with an ``EMA`` section, its own otherwise."""
        return self.average.swapped_in() if self.average else contextlib.nullcontext()

    def evaluate(self, progress=None) -> dict:
        """Evaluate the main head on the Eval split: loss, Metric.Eval and image count,
        each image counted once however many processes share the split. ``progress``
        (a ``progress.Progress``) is told of every batch."""
        with self.eval_weights(), self.checked_scaled_decoding():
            result = evaluate_loader(self.network, self.loss, self.eval_metrics,
                                     self.eval_loader, progress)
        self.skipped_images(self.eval_loader, "[Eval]")
        return result

    @contextlib.contextmanager
    def checked_scaled_decoding(self):
        """A context for one evaluation. With ResizeImage's ``dct_scaling`` in the Eval
        list, the network's top-1 is compared with full decoding's on evaluation images
        first (``evaluation.scaled_decoding_agreement``); below the agreement needed,
        this evaluation decodes whole, as PaddleClas's list does, and says so. Each
        evaluation checks again: training changes the weights."""
        check = scaled_decoding_agreement(self.network, self.eval_loader)
        if check is None:
            yield
            return
        share = (f"{check.agreeing} of {check.checked} evaluation images "
                 f"({check.agreeing / check.checked:.1%}; DCT scaling changed the pixels "
                 f"of {check.scaled})")
        if check.agreeing >= SCALED_DECODING_AGREEMENT * check.checked:
            self.logger.info(f"[Eval] dct_scaling: the top-1 class is full decoding's "
                             f"for {share}")
            yield
            return
        self.logger.warning(
            f"[Eval] DataLoader.Eval.dataset.transform_ops: with ResizeImage's "
            f"dct_scaling these weights give full decoding's top-1 class for only {share}, "
            f"under the {SCALED_DECODING_AGREEMENT:.1%} needed: this evaluation decodes "
            f"every image whole (set dct_scaling false to skip the check)")
        dataset = self.eval_loader.dataset
        with reading_with(dataset, dataset.transform.full_decoding()):
            yield

    def evaluation_report(self, progress=None) -> EvaluationReport:
        """``evaluate()``'s figures with the class names (in ``labels``' order: the
        config's file, the weights' names, the folders, the indices) and the confusion
        matrix."""
        figures = self.evaluate(progress)
        weights = self.config["Global"].get("pretrained_model")
        return EvaluationReport(figures, self.class_names, self.confusion.result.copy(),
                                weights=[str(weights)] if weights else [],
                                skipped_images=list(getattr(self.eval_loader.dataset,
                                                            "bad_images", [])))

    def training_callbacks(self, state: RunState, progress: dict = None) -> list:
        """The callbacks of ``fit``, in the order they must run at each event (hapi
        calls them in list order):

        1. ``EpochProgress``: the position, running loss and timing the others read;
           resumes a mid-epoch checkpoint.
        2. ``FrozenTrunk`` (with ``Global.freeze_epochs``): fixes the loaded weights
           for the first epochs, before the epoch's first step.
        3. ``NonFiniteLossGuard``: stops at a NaN/inf loss before anything logs or
           saves it.
        4. ``MovingAverage`` (with ``EMA``): moves the average after each optimizer step.
        5. ``TrainLog``: the step and epoch lines of the log.
        6. ``Evaluation``: evaluates when due and records whether the best top-1 was
           beaten (``state.improved``), which ``BestModel`` reads.
        7. ``MetricsLog`` (main process): the epoch's metrics.jsonl line and plot,
           before the checkpoint: a resume drops lines after its checkpoint's epoch,
           so a crash between the two never loses an epoch's line.
        8. ``BestModel`` (main process): saves a new best.
        9. ``Checkpoints``: the epoch's checkpoint (``state.saved``), which
           ``StopOnSignal`` names when a stop comes at an epoch's end.
        10. ``StopOnSignal``: stops between two optimizer steps after a signal.
        11. the extra callbacks given to the engine, then ``StepLROnUpdates`` (with
            ``Global.update_freq`` above 1) last, as hapi's own per-batch one would
            be, so the step's lines show its LR.
        """
        g = self.config["Global"]
        checkpoints = Checkpoints(state, self.logger, self.run_dir, self.network,
                                  self.optimizer, self.metrics, g["save_interval"],
                                  keep=g["keep_checkpoints"], average=self.average)
        title = f"{self.config['Arch']['name']}: {self.run_dir}"
        main = is_main_process()
        return [
            EpochProgress(state, self.metrics, self.metric_names, self.current_lr,
                          self.set_data_epoch,
                          lambda where: self.skipped_images(self.train_loader, where),
                          progress),
            *([FrozenTrunk(state, self.logger, self.network,
                           self.parts.weights_report["loaded"], g["freeze_epochs"])]
              if g["freeze_epochs"] else []),
            NonFiniteLossGuard(state, self.run_dir),
            *([MovingAverage(state, self.average)] if self.average else []),
            TrainLog(state, self.logger, g["print_batch_step"], self.metric_names,
                     self.current_lr),
            Evaluation(state, self.logger, self.evaluate, self.eval_due),
            *([MetricsLog(state, self.run.metrics_file, self.run.plot_file, title),
               BestModel(state, self.logger, self.run_dir,
                         self.average.state_dict if self.average
                         else self.network.state_dict)] if main else []),
            checkpoints,
            StopOnSignal(state, self.stop.requested, checkpoints.save_now),
            *self.extra_callbacks,
            # Last, as hapi's own per-batch one would be: the step's lines show its LR.
            *([StepLROnUpdates(state)] if self.update_freq > 1 else []),
        ]

    # -- the run ----------------------------------------------------------------------

    def _log_start(self, resume, removed: list):
        """What the run starts from, once the log file exists: warnings while building,
        what overwriting removed, the weights loaded, the resume point, where the
        config and data are, and the device."""
        for message in self.setup_warnings:
            log_to_file(self.logger, message)
        if removed:
            self.logger.info(f"Global.overwrite: removed the earlier run's "
                             f"{', '.join(removed)} from {self.run_dir}")
        for line in describe_weights(self.config, self.parts.weights_report):
            self.logger.info(line)
        for line in self.parts.notes + setting_notes(self.config, self.update_freq,
                                                     self.steps_per_epoch, self.device):
            self.logger.info(line)
        if resume.resumed:
            self.logger.info(resume.describe(self.steps_per_epoch))
            changed = resume.schedule_warning(self.epochs, self.steps_per_epoch)
            if changed:
                self.logger.warning(f"warning: {changed}")
        self.logger.info(f"resolved config (defaults and -o overrides applied): "
                         f"{self.run.config_file} (--show-config prints it)")
        data = describe_data(self.config)
        if data:
            self.logger.info(data)
        self.logger.info(self.process.describe()
                         + f"; {len(self.train_loader.dataset)} train images, "
                         f"{self.steps_per_epoch} steps per epoch")

    def train(self) -> dict:
        """Train for ``Global.epochs`` epochs; return the last eval and the best top-1.

        SIGINT or SIGTERM stop it between two steps with a resumable checkpoint and
        raise TrainingInterrupted, which names the checkpoint.
        """
        g = self.config["Global"]
        resume = load_resume_point(g["checkpoints"], self.network, self.optimizer, self.epochs,
                                   self.steps_per_epoch, self.run_dir, ema=self.average,
                                   logger=self.logger, metrics=self.metrics)
        if resume.step % self.update_freq:
            raise ConfigError(f"Global.checkpoints: {resume.path} stopped {resume.step} "
                              f"batches into an epoch, inside a group of "
                              f"Global.update_freq={self.update_freq}; resume with the "
                              f"update_freq it was saved with")
        removed = self.run.prepare(
            resuming=resume.resumed, overwrite=g["overwrite"],
            reads={"Global.pretrained_model": g["pretrained_model"],
                   "Arch.pretrained": self.config["Arch"].get("pretrained") or None})
        if is_main_process():
            self.logger = setup_logger(self.run.log_file)
            self.run.write_config(dump_config(self.config))
        self.run.drop_metrics_after(resume.start_epoch)
        self._log_start(resume, removed)
        state = RunState(self.epochs, self.steps_per_epoch, resume.start_epoch,
                         resume.best_top1, resumed=resume.resumed,
                         update_freq=self.update_freq, class_names=self.class_names)
        train_data = self.train_loader
        if self.update_freq > 1:  # whole accumulation groups only, as in PaddleClas
            train_data = FirstBatches(self.train_loader, self.steps_per_epoch,
                                      lambda: state.steps_before)
        began = time.time()
        try:
            with warnings_logged(self.logger), _quiet_hapi(), self.stop.installed():
                self.model.fit(train_data, epochs=self.epochs - resume.start_epoch,
                               verbose=0, log_freq=g["print_batch_step"],
                               accumulate_grad_batches=self.update_freq,
                               callbacks=self.training_callbacks(state, resume.progress))
        except TrainingStopped as stop:
            where = position(stop.epoch, stop.step, self.steps_per_epoch)
            raise TrainingInterrupted(f"training interrupted by {self.stop.name} at {where}; "
                                      f"saved a resumable checkpoint: {stop.checkpoint}",
                                      stop.checkpoint, self.stop.signum or signal.SIGTERM
                                      ) from None
        records = read_metrics(self.run.metrics_file)
        last_eval = next((r for r in reversed(records) if "eval_top1" in r), {})
        summary = {"best_top1": state.best_top1, "last_eval_top1": last_eval.get("eval_top1"),
                   "seconds": round(time.time() - began, 1), "run_dir": self.run_dir}
        epochs = f"{self.epochs} epoch" + ("s" if self.epochs != 1 else "")
        self.logger.info(f"finished {epochs} in {summary['seconds']}s; best eval "
                         f"top1 {state.best_top1:.5f}; outputs in {self.run_dir}")
        return summary


def train(config: dict) -> dict:
    return Engine(config, mode="train").train()
