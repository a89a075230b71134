"""Building what a config names - model, data, loss, metrics, optimizer - and the
pre-flight checks that make a bad label or input size fail in seconds, before any
file is written or any step is taken."""

import os
import warnings
from dataclasses import dataclass, field
from typing import Optional

import paddle

from ..config import required_weights
from ..data import build_dataloader, check_dataloader, ensure_demo_dataset
from ..errors import ConfigError, located
from ..losses import build_loss
from ..metrics import ConfusionMatrix, build_metrics
from ..models import build_model, load_weights
from ..optim import build_optimizer
from ..weights.checkpoint import evaluated_weights
from .runtime import is_main_process, rng_state, set_rng_state, world_size
from .accumulation import effective_update_freq
from .labels import (class_names, fill_class_num, folder_split, relabel_folders,
                     saved_class_names)

__all__ = ["Components", "build_components", "located", "describe_data",
           "describe_weights", "visualdl_callbacks"]


def _default_entries(config, section, split, default):
    entries = config.get(section, {}).get(split)
    return entries if entries else default


@dataclass
class Components:
    """Everything a run trains or evaluates with."""

    network: paddle.nn.Layer
    train_loader: Optional[paddle.io.DataLoader]
    eval_loader: Optional[paddle.io.DataLoader]
    loss: paddle.nn.Layer
    metrics: list                      # what fit() reports for training batches
    eval_metrics: list                 # what evaluate() reports (Metric.Eval)
    confusion: Optional[ConfusionMatrix]
    optimizer: Optional[paddle.optimizer.Optimizer]
    amp_configs: Optional[dict]
    weights_report: Optional[dict]     # what Global.pretrained_model loaded
    update_freq: int = 1               # batches per optimizer step (Global.update_freq)
    class_names: list = field(default_factory=list)  # engine.labels.class_names
    notes: list = field(default_factory=list)        # lines for the log: what was inferred

    @property
    def num_classes(self) -> int:
        return self.network.num_classes

    @property
    def metric_names(self) -> list:
        return [n for m in self.metrics for n in m.name()]

    @property
    def steps_per_epoch(self) -> int:
        """Batches trained on per epoch: a whole number of accumulation groups."""
        if not self.train_loader:
            return 1
        return len(self.train_loader) // self.update_freq * self.update_freq

    def loaders(self):
        return [(name, loader) for name, loader in (("Train", self.train_loader),
                                                    ("Eval", self.eval_loader)) if loader]


def build_components(config: dict, mode: str, device: str, speed_up=None,
                     announce=None) -> Components:
    """Build and check the components of ``config`` for ``mode`` (``train`` or
    ``eval``, which decides the splits that must exist); ``speed_up(network)`` is
    applied to the network before any weights are loaded; ``announce(message)`` says
    what takes a while (generating the demo dataset)."""
    g = config["Global"]
    split = "Train" if mode == "train" else "Eval"
    if mode == "eval":
        required_weights(config, "evaluate")
    notes = []
    held_out = hold_out_val_split(config)
    if held_out:
        notes.append(held_out)
    class_num_source = fill_class_num(config, split, training=mode == "train")
    if class_num_source:
        notes.append(class_num_source)
    network = build_model(config["Arch"])
    if speed_up:
        speed_up(network)
    report = None
    if g["pretrained_model"]:
        weights = (g["pretrained_model"] if mode == "train"
                   else evaluated_weights(g["pretrained_model"], bool(config.get("EMA"))))
        with located("Global.pretrained_model"):
            report = load_weights(network, weights,
                                  heads="reinit" if mode == "train" else "strict")

    loaders = config.get("DataLoader", {})
    if mode == "train" and "Train" not in loaders:
        raise ConfigError("DataLoader.Train: required to train")
    if "Eval" not in loaders and (mode == "eval" or g["eval_during_train"]):
        raise ConfigError("DataLoader.Eval: required to evaluate (or set "
                          "Global.eval_during_train false)")
    loss = build_loss(_default_entries(config, "Loss", split,
                                       [{"GoogLeNetLoss": {"weight": 1.0}}]), f"Loss.{split}")
    if loss.needs_aux and not network.aux_logits:
        raise ConfigError(f"Loss.{split}: GoogLeNetLoss needs the aux heads, but "
                          f"Arch.aux_logits is false; use CELoss")
    default_metrics, metric_note = default_metric(network.num_classes)
    if metric_note and not (config.get("Metric") or {}).get(split):
        notes.append(metric_note)
    # Evaluation always scores Metric.Eval, as PaddleClas does; training batches score
    # Metric.Train, which cannot hold accuracy when batch operators mix the labels.
    eval_metrics = build_metrics(_default_entries(config, "Metric", "Eval", default_metrics),
                                 network.num_classes, "Metric.Eval")
    mixed = ((loaders.get("Train") or {}).get("dataset") or {}).get("batch_transform_ops")
    metrics = (build_metrics(_default_entries(config, "Metric", "Train", default_metrics),
                             network.num_classes, "Metric.Train",
                             soft_targets=mixed is not None)
               if mode == "train" else eval_metrics)
    # Every check that reads no file, before the demo set is written or a list read.
    if mode == "train":
        check_dataloader(loaders["Train"], g["seed"], "DataLoader.Train", network.num_classes)
        build_optimizer(config.get("Optimizer") or {}, network.named_parameters(),
                        g["epochs"], 1)
    if "Eval" in loaders:
        check_dataloader(loaders["Eval"], g["seed"], "DataLoader.Eval", training=False)

    if g["demo_dataset"]:
        _ensure_demo_dataset(g["demo_dataset"], announce)
    train_loader = (build_dataloader(loaders["Train"], seed=g["seed"], where="DataLoader.Train",
                                     num_classes=network.num_classes)
                    if mode == "train" else None)
    eval_loader = (build_dataloader(loaders["Eval"], seed=g["seed"], where="DataLoader.Eval",
                                   training=False)
                   if "Eval" in loaders else None)
    read = train_loader if mode == "train" else eval_loader
    folders = getattr(read.dataset, "class_names", None) if read else None
    names, names_note = class_names(config, network.num_classes, folders,
                                    training=mode == "train")
    if names_note and mode == "train":
        names = []  # indices are not names: nothing to save with the weights
    elif names_note:
        notes.append(names_note)
    if eval_loader is not None:
        # Val folders labelled as the classes the model was (or is being) trained on.
        if mode == "train":
            trained, named_by = folders, getattr(train_loader.dataset, "root", "")
        else:
            trained, named_by = saved_class_names(g["pretrained_model"]), g["pretrained_model"]
        relabel_folders(eval_loader.dataset, trained, "DataLoader.Eval.dataset", named_by)

    confusion = None
    if mode == "eval":
        confusion = ConfusionMatrix(network.num_classes)
        eval_metrics.append(confusion)

    parts = Components(network, train_loader, eval_loader, loss, metrics, eval_metrics, confusion,
                       optimizer=None, amp_configs=_amp_configs(config["AMP"], device),
                       weights_report=report, class_names=names, notes=notes)
    check_labels(parts)
    check_input_size(parts)
    if mode == "train":
        parts.update_freq = effective_update_freq(g["update_freq"], len(train_loader))
        # The schedule counts optimizer steps, as PaddleClas's does.
        parts.optimizer, _ = build_optimizer(config.get("Optimizer") or {},
                                             network.named_parameters(), g["epochs"],
                                             parts.steps_per_epoch // parts.update_freq)
    return parts


# The share of each class held out for evaluation when there is no val folder.
HOLDOUT = 0.2


def hold_out_val_split(config: dict) -> str:
    """With no val folder (``DataLoader.Eval`` reads the training folders), hold out
    ``HOLDOUT`` of each class for evaluation and train on the rest: both dataset
    sections get ``holdout``, ``holdout_seed`` (``Global.seed``, else 0) and ``part``,
    so the resolved config.yaml records the split. Returns a line saying so, or "" when
    the config sets the split itself or has a val folder."""
    train, evaluation = (folder_split(config, s) for s in ("Train", "Eval"))
    if not train or not evaluation or os.path.abspath(train) != os.path.abspath(evaluation):
        return ""
    datasets = [config["DataLoader"][s]["dataset"] for s in ("Train", "Eval")]
    if any(key in d for d in datasets for key in ("holdout", "part")):
        return ""
    seed = config["Global"].get("seed") or 0
    for dataset, part in zip(datasets, ("train", "val")):
        dataset.update(holdout=HOLDOUT, holdout_seed=seed, part=part)
    return (f"DataLoader.Eval: no val folder (it reads the training folders, {train}): "
            f"{HOLDOUT:.0%} of each class held out for evaluation with seed {seed}, "
            f"recorded as holdout, holdout_seed and part in the resolved config")


def default_metric(num_classes: int):
    """The metrics of a config without ``Metric``: top-1 and top-5, or top-1 alone below
    5 classes, with a note saying so."""
    if num_classes >= 5:
        return [{"TopkAcc": {"topk": [1, 5]}}], ""
    return ([{"TopkAcc": {"topk": [1]}}],
            f"Metric: top-1 only ({num_classes} classes; top-5 needs at least 5)")


def _ensure_demo_dataset(root: str, announce=None):
    """Generate the demo dataset once: rank 0 writes it while the others wait."""
    if is_main_process():
        ensure_demo_dataset(root, announce=announce and (
            lambda path: announce(f"writing the demo dataset to {path} (first run only)")))
    if world_size() > 1:
        paddle.distributed.barrier()
        ensure_demo_dataset(root)  # present now: only checked


def check_labels(parts: Components):
    """Every label of every list below Arch.class_num, before any work starts."""
    for name, loader in parts.loaders():
        if hasattr(loader.dataset, "check_labels"):
            with located(f"DataLoader.{name}.dataset"):
                loader.dataset.check_labels(parts.num_classes, "Arch.class_num")


def _sample_items(loader) -> list:
    """The dataset items whose shapes stand for every batch ``loader`` can make: one
    per image size a multi-scale batch sampler can ask for, else the first sample."""
    sizes = getattr(getattr(loader, "batch_sampler", None), "image_sizes", None)
    if sizes and hasattr(loader.dataset, "pipeline"):
        return [(width, height, 0) for width, height in sizes]
    return [0]


def check_input_size(parts: Components):
    """Transform the first sample of each split, at every size its sampler can ask
    for, and check the network takes it, so a size the heads cannot take fails now
    rather than at the first step (or the first batch of an unlucky scale)."""
    saved = rng_state()  # the sample's random crop must not shift later draws
    try:
        for name, loader in parts.loaders():
            for item in _sample_items(loader):
                with located(f"DataLoader.{name}.dataset"):
                    shape = list(loader.dataset[item][0].shape)
                normalize = getattr(loader, "normalize", None)  # a batch step may turn it
                if normalize is not None:
                    shape = normalize.image_shape(shape)
                where = (f"DataLoader.{name}.sampler.scales" if isinstance(item, tuple)
                         else f"DataLoader.{name}.dataset.transform_ops")
                with located(f"{where} (images of shape {shape})"):
                    parts.network.check_input(paddle.zeros([1, *shape]))
    finally:
        set_rng_state(saved)


def _amp_configs(amp: dict, device: str):
    if not amp.get("use_amp"):
        return None
    if device.startswith("gpu"):
        return {"level": amp["level"].upper(), "init_loss_scaling": amp["scale_loss"],
                "use_dynamic_loss_scaling": amp["use_dynamic_loss_scaling"]}
    warnings.warn("AMP.use_amp is true but AMP is off: Paddle's mixed precision in "
                  "dynamic graph mode needs a GPU (bfloat16 autocast does nothing on "
                  "the CPU); training runs in float32")
    return None


def describe_data(config: dict) -> str:
    """The absolute paths the DataLoader splits read, and what relative ones in the
    config are relative to (the working directory, as in PaddleClas)."""
    shown, relative = [], False
    for split, loader in (config.get("DataLoader") or {}).items():
        dataset = loader.get("dataset", {})
        paths = [dataset.get(key) for key in ("image_root", "cls_label_path")]
        paths = [p for p in paths if isinstance(p, str) and p]
        relative |= any(not os.path.isabs(p) for p in paths)
        if paths:
            shown.append(f"{split} " + ", ".join(os.path.abspath(p) for p in paths))
    if not shown:
        return ""
    text = "data: " + "; ".join(shown)
    if relative:
        text += (f" (relative paths in the config resolve against the working directory, "
                 f"{os.getcwd()})")
    return text


def visualdl_callbacks(enabled: bool, run_dir: str) -> list:
    """Paddle's VisualDL callback when Global.use_visualdl asks for it (main process)."""
    if not enabled:
        return []
    try:
        import visualdl  # noqa: F401  (paddle's VisualDL callback needs it)
    except ImportError:
        raise ConfigError("Global.use_visualdl is true but the visualdl package is not "
                          "installed: pip install visualdl, or set it false") from None
    if not is_main_process():
        return []
    return [paddle.callbacks.VisualDL(log_dir=os.path.join(run_dir, "vdl"))]


def describe_weights(config: dict, report: Optional[dict]) -> list:
    """Log lines naming the weights a run started from."""
    lines = []
    arch_weights = config["Arch"].get("pretrained")
    if arch_weights:
        lines.append(f"Arch.pretrained: loaded weights from {os.path.abspath(arch_weights)}")
    if report:
        # The heads left at initialisation are in the loader's warning, logged once.
        lines.append(f"Global.pretrained_model: loaded {len(report['loaded'])} parameter "
                     f"tensors from {os.path.abspath(report['path'])}")
    return lines
