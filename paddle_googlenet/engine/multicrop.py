"""Multi-crop, multi-model evaluation and the paper's Table 3.

    import paddle_googlenet.engine.multicrop as mc
    report = mc.evaluate_crops(config, weights=["a.pdparams", "b.pdparams"], crops=144)
    print(report.text())

Each image is decoded once and all its crops (``data.multicrop``) are cut from the
decoded pixels in the loader's workers; each model's softmax probabilities of every
crop are averaged over the crops of a protocol and then over the models of an
ensemble (Szegedy et al. 2014, section 7: "softmax probabilities are averaged over
multiple crops and over all the individual classifiers"). With ``table=True`` one
pass computes every model's probabilities of the union of the 1-, 10- and 144-crop
protocols and scores each protocol for the first model alone and for all of them,
the rows of the paper's Table 3.
"""

import copy
import json
from dataclasses import asdict, dataclass, field
from typing import List, Optional, Sequence, Union

import numpy as np
import paddle

from ..config import required_weights
from ..data.crop_geometry import CROP_COUNTS
from ..data.loader import EpochDataLoader
from ..data.multicrop import CropPlan, check_crop_count, multi_crop_dataset, normalize_crops
from ..data.samplers import eval_shard_batch_sampler
from ..data.transforms import build_transforms
from ..errors import ConfigError, located
from ..metrics import sum_across_ranks
from ..models import build_model, load_weights
from ..progress import optional_progress

__all__ = ["TableRow", "CropReport", "weights_files", "evaluate_crops", "crop_count"]


@dataclass
class TableRow:
    """One row of Table 3: an ensemble's size, a protocol's crops and their scores."""

    models: int
    crops: int
    forward_passes: int  # per image: crops x models
    images: int
    top1: float
    top5: float

    @property
    def top1_error(self) -> float:
        return 1.0 - self.top1

    @property
    def top5_error(self) -> float:
        return 1.0 - self.top5


@dataclass
class CropReport:
    """What ``evaluate_crops`` found: a row per (models, crops) and what it used."""

    weights: List[str]
    rows: List[TableRow]
    protocol: str                      # the crop size, scales and interpolation
    forward_passes: int                # crops each image was cut into, per model
    skipped_images: List[str] = field(default_factory=list)

    def text(self) -> str:
        """The rows as the paper's Table 3 lays them out, with accuracy as well."""
        lines = [f"{'models':>6} {'crops':>5} {'forward passes':>14} {'top-1':>7} "
                 f"{'top-5':>7} {'top-1 error':>11} {'top-5 error':>11}"]
        for r in self.rows:
            lines.append(f"{r.models:>6} {r.crops:>5} {r.forward_passes:>14} "
                         f"{r.top1:>7.2%} {r.top5:>7.2%} {r.top1_error:>11.2%} "
                         f"{r.top5_error:>11.2%}")
        return "\n".join(lines)

    def as_json(self) -> str:
        rows = [dict(asdict(r), top1_error=r.top1_error, top5_error=r.top5_error)
                for r in self.rows]
        return json.dumps({"weights": self.weights, "protocol": self.protocol,
                           "rows": rows, "skipped_images": self.skipped_images})


def weights_files(value: Union[str, Sequence[str], None]) -> List[str]:
    """The weights files ``Global.pretrained_model`` names: one path, a list, or the
    text ``[a,b,c]`` an ``-o`` override leaves (names without quotes)."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            value = [part.strip().strip("'\"") for part in text[1:-1].split(",")]
        else:
            value = [text]
    paths = [str(p) for p in value if str(p).strip()]
    if not paths:
        raise ConfigError(f"Global.pretrained_model: no weights file in {value!r}")
    return paths


def crop_count(config: dict) -> int:
    """``Eval.crops`` (1 when the config has no Eval section)."""
    return check_crop_count((config.get("Eval") or {}).get("crops", 1))


def _networks(engine, paths: List[str]) -> list:
    """The engine's network (the first weights) and one more per further file, built
    from the same Arch. Every file must fit it, heads and class count included."""
    networks = [engine.network]
    for path in paths[1:]:
        network = build_model(engine.config["Arch"])
        engine.process.speed_up(network)
        with located("Global.pretrained_model"):
            load_weights(network, path, heads="strict")
        network.eval()
        networks.append(network)
    return networks


def _loader(engine, plan: CropPlan) -> EpochDataLoader:
    """The Eval split read as crops: as many images a batch as make about the
    configured batch size in crops (at least one), sharded over the ranks as the
    engine's loader is, with its workers."""
    loader = engine.eval_loader
    dataset = multi_crop_dataset(loader.dataset, plan)
    batch_size = getattr(loader.batch_sampler, "batch_size", 1)
    images = max(1, batch_size // plan.forward_passes)
    shards = getattr(loader.batch_sampler, "splits_across_ranks", False)
    sampler = eval_shard_batch_sampler(dataset, images, distributed=None if shards else False)
    return EpochDataLoader(dataset, sampler, where="DataLoader.Eval",
                           num_workers=loader.num_workers,
                           use_shared_memory=loader.use_shared_memory, return_list=True)


def _probabilities(network, inputs: paddle.Tensor, chunk: int) -> np.ndarray:
    """Softmax of the main head, ``chunk`` crops a forward pass."""
    out = []
    for start in range(0, int(inputs.shape[0]), chunk):
        logits = network(inputs[start:start + chunk])
        logits = logits[0] if isinstance(logits, (list, tuple)) else logits
        out.append(paddle.nn.functional.softmax(logits, axis=-1).numpy())
    return np.concatenate(out)


def _hits(probabilities: np.ndarray, labels: np.ndarray, k: int) -> int:
    """Images whose label is among the ``k`` most probable classes."""
    k = min(k, probabilities.shape[1])
    top = np.argpartition(-probabilities, k - 1, axis=1)[:, :k]
    return int((top == labels[:, None]).any(axis=1).sum())


def evaluate_crops(config: dict, weights: Union[str, Sequence[str], None] = None,
                   crops: Optional[int] = None, table: bool = False,
                   progress=None) -> CropReport:
    """Evaluate ``weights`` (default ``Global.pretrained_model``; several files are an
    ensemble of one Arch) on the Eval split with ``crops`` crops an image (default
    ``Eval.crops``), averaging softmax probabilities over crops and models. With
    ``table``, every protocol (1, 10, 144 crops) for the first model alone and for
    the ensemble of all, in one pass. ``progress`` (``progress.Progress`` or a function
    like it) shows the images done."""
    from .trainer import Engine

    paths = weights_files(weights if weights is not None
                          else required_weights(config, "evaluate"))
    counts = CROP_COUNTS if table else (check_crop_count(crops) if crops is not None
                                        else crop_count(config))
    counts = (counts,) if isinstance(counts, int) else tuple(counts)
    ensembles = [1, len(paths)] if table and len(paths) > 1 else [len(paths)]

    single = copy.deepcopy(config)
    single["Global"]["pretrained_model"] = paths[0]
    engine = Engine(single, mode="eval")
    networks = _networks(engine, paths)
    ops = config["DataLoader"]["Eval"]["dataset"].get("transform_ops")
    if not ops:
        raise ConfigError("DataLoader.Eval.dataset.transform_ops: multi-crop evaluation "
                          "needs the list (DecodeImage, ResizeImage, CropImage, ...)")
    plan = CropPlan(build_transforms(ops, where="DataLoader.Eval.dataset.transform_ops"),
                    counts)
    loader = _loader(engine, plan)
    chunk = max(plan.forward_passes, getattr(engine.eval_loader.batch_sampler, "batch_size", 64))
    rows = [(models, count) for models in ensembles for count in counts]
    sums = np.zeros((len(rows), 3), np.int64)  # top-1 hits, top-5 hits, images

    for network in networks:
        network.eval()
    total = loader.batch_sampler.num_samples
    with paddle.no_grad(), optional_progress(progress, total, "eval") as shown:
        for images, labels in loader:
            batch = images.numpy() if isinstance(images, paddle.Tensor) else np.asarray(images)
            labels = np.asarray(labels).reshape(-1)
            flat = batch.reshape(-1, *batch.shape[2:])
            inputs = paddle.to_tensor(normalize_crops(flat, plan.normalize)
                                      if plan.normalize is not None else flat)
            # [models, images, crops, classes]
            per_model = np.stack([_probabilities(n, inputs, chunk).reshape(
                batch.shape[0], batch.shape[1], -1) for n in networks])
            for row, (models, count) in enumerate(rows):
                averaged = per_model[:models][:, :, plan.chosen[count]].mean(axis=(0, 2))
                sums[row] += (_hits(averaged, labels, 1), _hits(averaged, labels, 5),
                              len(labels))
            if shown is not None:
                shown.update(len(labels))
    if getattr(loader.batch_sampler, "splits_across_ranks", False):
        sums = sum_across_ranks(sums)
    engine.skipped_images(loader, "[Eval]")
    table_rows = [TableRow(models, count, models * count, int(images),
                           float(top1 / images) if images else 0.0,
                           float(top5 / images) if images else 0.0)
                  for (models, count), (top1, top5, images) in zip(rows, sums)]
    return CropReport(paths, table_rows, plan.describe(), plan.forward_passes,
                      loader.dataset.bad_images)

