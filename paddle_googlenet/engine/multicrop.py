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
from ..metrics import TopkAcc, sum_across_ranks
from ..models import build_model, load_weights
from ..progress import optional_progress
from ..weights.checkpoint import evaluated_weights
from .evaluation import EvaluationReport, TableRow, metric_figures, update_metrics

__all__ = ["weights_files", "evaluate_crops", "crop_count"]


def weights_files(value: Union[str, Sequence[str], None],
                  where: str = "Global.pretrained_model") -> List[str]:
    """The weights files ``value`` names (``where`` says which setting, for the error):
    one path, a list, or the text ``[a,b,c]`` an ``-o`` override leaves (names without
    quotes)."""
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
        raise ConfigError(f"{where}: no weights file in {value!r}")
    return paths


def crop_count(config: dict) -> int:
    """``Eval.crops`` (1 when the config has no Eval section)."""
    return check_crop_count((config.get("Eval") or {}).get("crops", 1))


def _networks(engine, paths: List[str], ensemble: Sequence[str] = ()) -> list:
    """The engine's network (the first weights) and one more per further file, built
    from the same Arch. Every file must fit it, heads and class count included; a
    refusal names the table's ``ensemble`` for its files, else Global.pretrained_model.
    Under an ``EMA`` config a checkpoint gives its averaged weights, as the engine's
    own network does (``weights.checkpoint.evaluated_weights``)."""
    networks = [engine.network]
    averaged = bool(engine.config.get("EMA"))
    for path in paths[1:]:
        network = build_model(engine.config["Arch"])
        engine.process.speed_up(network)
        with located("ensemble" if path in ensemble else "Global.pretrained_model"):
            load_weights(network, evaluated_weights(path, averaged), heads="strict")
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
    members = weights_files(ensemble, "ensemble") if ensemble is not None else None
    if members is not None and not table:
        raise ValueError("evaluate_crops: ensemble names the weights of the table's "
                         "ensemble rows (table=True); an ensemble evaluated on its own "
                         "is given as the weights")
    if members is not None and len(members) < 2:
        raise ConfigError(f"ensemble: {members[0]} alone is no ensemble; give two weights "
                          f"files or more")
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
    row_metrics = [TopkAcc([1, 5]) for _ in rows]  # the figures' scoring, row by row
    for metric in metrics + row_metrics:
        metric.reset()
    images = not_finite = 0
    total = loader.batch_sampler.num_samples
    for network in networks:
        network.eval()
    with paddle.no_grad(), optional_progress(progress, total, "eval") as shown:
        for batch, labels in loader:
            batch = batch.numpy() if isinstance(batch, paddle.Tensor) else np.asarray(batch)
            labels = np.asarray(labels).reshape(-1)
            flat = batch.reshape(-1, *batch.shape[2:])
            inputs = paddle.to_tensor(normalize_crops(flat, plan.normalize)
                                      if plan.normalize is not None else flat)
            # [files, images, crops, classes]
            probabilities = np.stack([_probabilities(n, inputs, chunk).reshape(
                batch.shape[0], batch.shape[1], -1) for n in networks])
            not_finite += int((~np.isfinite(probabilities)).any(axis=(0, 2, 3)).sum())
            label = paddle.to_tensor(labels[:, None])
            update_metrics(metrics, [paddle.to_tensor(averaged(probabilities, paths, asked))],
                           label)
            for metric, (group, count) in zip(row_metrics, rows):
                update_metrics([metric], [paddle.to_tensor(averaged(probabilities, group, count))],
                               label)
            images += len(labels)
            if shown is not None:
                shown.update(len(labels))
    across_ranks = getattr(loader.batch_sampler, "splits_across_ranks", False)
    figures = metric_figures(metrics, None, images, across_ranks)
    scored = [metric_figures([metric], None, images, across_ranks) for metric in row_metrics]
    if across_ranks:
        not_finite = int(sum_across_ranks([not_finite])[0])
    if not_finite:
        engine.logger.warning(f"[Eval] {not_finite} image(s) got probabilities that are not "
                              f"finite (NaN or inf) from these weights: their scores mean "
                              f"nothing")
    engine.skipped_images(loader, "[Eval]")
    table_rows = [TableRow(list(group), count, row["images"], row["top1"], row["top5"])
                  for (group, count), row in zip(rows, scored)]
    return EvaluationReport(figures, engine.class_names, engine.confusion.result.copy(),
                            weights=paths, crops=asked,
                            protocol=plan.describe() if counts != [1] else None,
                            table=table_rows,
                            skipped_images=list(loader.dataset.bad_images))
