"""Multi-crop, multi-model evaluation and the paper's Table 3.

    import paddle_googlenet.engine.multicrop as mc
    report = mc.evaluate_crops(config, weights=["a.pdparams", "b.pdparams"], crops=144)
    print("\n".join(report.lines()))

Each image is decoded once and all its crops (``data.multicrop``) are cut from the
decoded pixels in the loader's workers; each model's softmax probabilities of every
crop are averaged over the crops of a protocol and then over the models of an
ensemble (Szegedy et al. 2014, section 7: "softmax probabilities are averaged over
multiple crops and over all the individual classifiers"). The averaged probabilities
are scored by the config's own evaluation metrics, so the report is the one-crop
evaluation's (``evaluation.EvaluationReport``), without the loss. With ``table=True``
the same pass computes every model's probabilities of the union of the 1-, 10- and
144-crop protocols and scores each protocol for the first model alone and for an
ensemble, the rows of the paper's Table 3, into the report's ``table``.
"""

import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

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
from .evaluation import EvaluationReport, TableRow, metric_figures, update_metrics

__all__ = ["weights_files", "evaluate_crops", "crop_count"]


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


def _networks(engine, paths: List[str], ensemble: Sequence[str] = ()) -> list:
    """The engine's network (the first weights) and one more per further file, built
    from the same Arch. Every file must fit it, heads and class count included; a
    refusal names the table's ``ensemble`` for its files, else Global.pretrained_model."""
    networks = [engine.network]
    for path in paths[1:]:
        network = build_model(engine.config["Arch"])
        engine.process.speed_up(network)
        with located("ensemble" if path in ensemble else "Global.pretrained_model"):
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


def _table_rows(paths: List[str], ensemble: Optional[List[str]]
                ) -> List[Tuple[Tuple[str, ...], int]]:
    """The (weights, crops) of each Table 3 row: every protocol for the first file
    alone, then for the ensemble (``ensemble``, else every file when there are
    several)."""
    groups = [tuple(paths[:1])]
    if ensemble:
        groups.append(tuple(ensemble))
    elif len(paths) > 1:
        groups.append(tuple(paths))
    return [(group, count) for group in groups for count in CROP_COUNTS]


def evaluate_crops(config: dict, weights: Union[str, Sequence[str], None] = None,
                   crops: Optional[int] = None, table: bool = False,
                   ensemble: Union[str, Sequence[str], None] = None,
                   progress=None) -> EvaluationReport:
    """Evaluate ``weights`` (default ``Global.pretrained_model``; several files are an
    ensemble of one Arch) on the Eval split with ``crops`` crops an image (default
    ``Eval.crops``), averaging softmax probabilities over crops and models, and score
    the result with the config's evaluation metrics.

    With ``table``, the report's ``table`` also holds every protocol (1, 10, 144
    crops) for the first file alone and for an ensemble: ``ensemble``'s files when
    given (a run's last checkpoints, say, beside its best model), else all of
    ``weights``; each file's probabilities are computed once, in the same pass.
    ``progress`` (``progress.Progress`` or a function like it) shows the images done.
    """
    from .trainer import Engine

    paths = weights_files(weights if weights is not None
                          else required_weights(config, "evaluate"))
    members = weights_files(ensemble) if ensemble else None
    if members and not table:
        raise ConfigError("ensemble: the weights of a table's ensemble rows; to evaluate "
                          "an ensemble on its own, give its files as the weights")
    asked = check_crop_count(crops) if crops is not None else crop_count(config)
    rows = _table_rows(paths, members) if table else []
    files = list(dict.fromkeys(paths + (members or [])))  # each network built once
    counts = sorted({asked, *(count for _, count in rows)})

    single = copy.deepcopy(config)
    single["Global"]["pretrained_model"] = files[0]
    engine = Engine(single, mode="eval")
    networks = _networks(engine, files, [p for p in members or () if p not in paths])
    ops = config["DataLoader"]["Eval"]["dataset"].get("transform_ops")
    if not ops:
        raise ConfigError("DataLoader.Eval.dataset.transform_ops: multi-crop evaluation "
                          "needs the list (DecodeImage, ResizeImage, CropImage, ...)")
    plan = CropPlan(build_transforms(ops, where="DataLoader.Eval.dataset.transform_ops"),
                    counts)
    loader = _loader(engine, plan)
    chunk = max(plan.forward_passes, getattr(engine.eval_loader.batch_sampler, "batch_size", 64))
    position = {path: i for i, path in enumerate(files)}

    def averaged(probabilities: np.ndarray, group: Sequence[str], count: int) -> np.ndarray:
        """[images, classes]: over ``count``'s crops, then over ``group``'s models."""
        chosen = plan.chosen[count]
        return np.mean([probabilities[position[p]][:, chosen].mean(axis=1) for p in group],
                       axis=0)

    metrics = engine.eval_metrics
    for metric in metrics:
        metric.reset()
    sums = np.zeros((len(rows), 3), np.int64)  # top-1 hits, top-5 hits, images
    images = 0
    total = loader.batch_sampler.num_samples
    with paddle.no_grad(), engine.eval_weights(), \
            optional_progress(progress, total, "eval") as shown:
        for network in networks:
            network.eval()
        for batch, labels in loader:
            batch = batch.numpy() if isinstance(batch, paddle.Tensor) else np.asarray(batch)
            labels = np.asarray(labels).reshape(-1)
            flat = batch.reshape(-1, *batch.shape[2:])
            inputs = paddle.to_tensor(normalize_crops(flat, plan.normalize)
                                      if plan.normalize is not None else flat)
            # [files, images, crops, classes]
            probabilities = np.stack([_probabilities(n, inputs, chunk).reshape(
                batch.shape[0], batch.shape[1], -1) for n in networks])
            update_metrics(metrics, [paddle.to_tensor(averaged(probabilities, paths, asked))],
                           paddle.to_tensor(labels[:, None]))
            for row, (group, count) in enumerate(rows):
                mean = averaged(probabilities, group, count)
                sums[row] += (_hits(mean, labels, 1), _hits(mean, labels, 5), len(labels))
            images += len(labels)
            if shown is not None:
                shown.update(len(labels))
    across_ranks = getattr(loader.batch_sampler, "splits_across_ranks", False)
    if across_ranks and rows:
        sums = sum_across_ranks(sums)
    figures = metric_figures(metrics, None, images, across_ranks)
    engine.skipped_images(loader, "[Eval]")
    table_rows = [TableRow(list(group), count, int(seen),
                           float(top1 / seen) if seen else 0.0,
                           float(top5 / seen) if seen else 0.0)
                  for (group, count), (top1, top5, seen) in zip(rows, sums)]
    return EvaluationReport(figures, engine.class_names, engine.confusion.result.copy(),
                            weights=paths, crops=asked,
                            protocol=plan.describe() if counts != [1] else None,
                            table=table_rows,
                            skipped_images=list(loader.dataset.bad_images))
