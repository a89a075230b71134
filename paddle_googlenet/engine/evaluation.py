"""One pass over the evaluation data: mean loss, metrics and image count.

``paddle.Model.evaluate`` is not used for it: with several processes it gathers
every batch's outputs from all ranks, which needs shards of equal size (so images
repeated to pad them) and trims the repeats only when they end the last batch, and it
leaves the loss each rank's own. Here every rank scores its own shard (see
``EvalShardBatchSampler``: no image repeated, shards may differ by one image) and the
sums (loss times batch size, image count, the metrics' hits and counts) are added up
over the ranks once, at the end, so the result is the one a single process gets.
"""

import contextlib
from dataclasses import dataclass, field
from typing import List, NamedTuple, Optional, Tuple

import numpy as np
import paddle

from ..metrics import ConfusionMatrix, sum_across_ranks

__all__ = ["evaluate_loader", "update_metrics", "metric_figures", "EvaluationReport",
           "TableRow", "scaled_decoding_agreement", "ScaledDecodingCheck",
           "SCALED_DECODING_AGREEMENT", "reading_with"]


@dataclass
class TableRow:
    """One row of a table like the paper's Table 3: the weights averaged, the crops
    an image was cut into, and what they scored."""

    weights: List[str]
    crops: int
    images: int
    top1: float
    top5: float

    @property
    def models(self) -> int:
        return len(self.weights)

    @property
    def forward_passes(self) -> int:
        """Per image: crops x models, as the paper counts them (a file named twice in
        an ensemble counts twice, though it is run once)."""
        return self.crops * self.models

    @property
    def top1_error(self) -> float:
        return 1.0 - self.top1

    @property
    def top5_error(self) -> float:
        return 1.0 - self.top5

    def as_dict(self) -> dict:
        return {"models": self.models, "crops": self.crops,
                "forward_passes": self.forward_passes, "weights": list(self.weights),
                "images": self.images, "top1": self.top1, "top5": self.top5,
                "top1_error": self.top1_error, "top5_error": self.top5_error}


@dataclass
class EvaluationReport:
    """What an evaluation of the Eval split found, for a tool to show.

    ``figures``: loss, each metric and the image count (the loss is None where
    probabilities were averaged over crops or models: the config's loss is one
    model's, of one crop); ``class_names``: one per class id; ``confusion``: counts
    of (true class, predicted class), ``[num_classes, num_classes]``; ``weights``:
    the files evaluated, an ensemble when several; ``crops``: crops an image;
    ``protocol``: how the crops were cut, for more than one; ``table``: the rows of
    a Table 3 pass; ``skipped_images``: unreadable images left out.
    """

    figures: dict
    class_names: List[str]
    confusion: np.ndarray
    weights: List[str] = field(default_factory=list)
    crops: int = 1
    protocol: Optional[str] = None
    table: List[TableRow] = field(default_factory=list)
    skipped_images: List[str] = field(default_factory=list)

    def per_class(self) -> List[Tuple[str, int, Optional[float]]]:
        """``(name, images, accuracy)`` of each class; accuracy None without images."""
        totals = self.confusion.sum(axis=1)
        accuracies = ConfusionMatrix.per_class_accuracy(self.confusion)
        return [(name, int(images), accuracy)
                for name, images, accuracy in zip(self.class_names, totals, accuracies)]

    def table_lines(self) -> List[str]:
        """The table's rows as the paper's Table 3 lays them out, accuracy added, and
        under it the weights of each ensemble size."""
        lines = [f"{'models':>6} {'crops':>5} {'forward passes':>14} {'top-1':>7} "
                 f"{'top-5':>7} {'top-1 error':>11} {'top-5 error':>11}"]
        for r in self.table:
            lines.append(f"{r.models:>6} {r.crops:>5} {r.forward_passes:>14} "
                         f"{r.top1:>7.2%} {r.top5:>7.2%} {r.top1_error:>11.2%} "
                         f"{r.top5_error:>11.2%}")
        for weights in dict.fromkeys(tuple(r.weights) for r in self.table):
            count = f"{len(weights)} model{'s' if len(weights) > 1 else ''}"
            lines.append(f"{count}: {', '.join(weights)}")
        return lines

    def lines(self) -> List[str]:
        """The report as ``tools/eval.py`` prints it: the weights, the figures, each
        class's accuracy, and the table when there is one."""
        lines = [f"weights: {path}" if len(self.weights) == 1 else f"weights {i}: {path}"
                 for i, path in enumerate(self.weights, start=1)]
        if self.protocol:
            lines.append(f"crops: {self.crops} per image; {self.protocol}")
        figures = self.figures
        loss = ("-" if figures.get("loss") is None else f"{figures['loss']:.5f}")
        lines.append(f"images: {figures['images']}  loss: {loss}  " + "  ".join(
            f"{k}: {v:.5f}" for k, v in figures.items() if k not in ("images", "loss")))
        width = max(len(n) for n in self.class_names)
        lines.append(f"{'class':<{width + 6}} {'images':>7} {'accuracy':>9}")
        for i, (name, images, accuracy) in enumerate(self.per_class()):
            shown = f"{accuracy:.4f}" if accuracy is not None else "-"
            lines.append(f"{i:>4}  {name:<{width}} {images:>7} {shown:>9}")
        if self.table:
            lines += ["", *self.table_lines()]
        return lines

    def as_dict(self) -> dict:
        """Everything above as JSON-ready values; ``per_class`` rows are
        ``{"class", "name", "images", "accuracy"}``. A figure that is not finite (the
        loss of broken weights) is None, which JSON can hold; the printed report shows
        it as it is."""
        figures = {k: v if not isinstance(v, float) or np.isfinite(v) else None
                   for k, v in self.figures.items()}
        return {"weights": list(self.weights), "crops": self.crops,
                "protocol": self.protocol, "figures": figures,
                "per_class": [{"class": i, "name": name, "images": images,
                               "accuracy": accuracy}
                              for i, (name, images, accuracy) in enumerate(self.per_class())],
                "confusion": self.confusion.tolist(),
                "table": [row.as_dict() for row in self.table],
                "skipped_images": list(self.skipped_images)}


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _numpy(value) -> np.ndarray:
    return value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)


def update_metrics(metrics: list, outputs: list, label: paddle.Tensor):
    """Add one batch's ``outputs`` (the network's, or anything whose first item is
    scored as its main head) to each metric."""
    for metric in metrics:
        scored = _as_list(metric.compute(*outputs, label))
        metric.update(*[_numpy(t) for t in scored])


def metric_figures(metrics: list, loss_sum: Optional[float], images: int,
                   across_ranks: bool) -> dict:
    """``{"loss", <each metric's names>..., "images"}`` from the sums of one pass:
    the mean loss (None without images or without a loss), each metric's value. With
    ``across_ranks`` every rank must call this: the sums are first added up over the
    ranks."""
    if across_ranks:
        if loss_sum is not None:
            loss_sum = float(sum_across_ranks([loss_sum])[0])
        images = int(sum_across_ranks([images])[0])
        for metric in metrics:
            metric.sum_across_ranks()
    result = {"loss": loss_sum / images if images and loss_sum is not None else None}
    for metric in metrics:
        for name, value in zip(metric.name(), _as_list(metric.accumulate())):
            result[name] = float(value)
    result["images"] = images
    return result


def evaluate_loader(network: paddle.nn.Layer, loss: paddle.nn.Layer, metrics: list,
                    loader, progress=None) -> dict:
    """Score ``network`` on ``loader``: ``{"loss", <each metric's names>..., "images"}``.

    ``loss(*outputs, label)`` is the batch's mean loss; ``metrics`` are reset, then
    updated with every batch. When the loader's batch sampler splits the images across
    ranks (``splits_across_ranks``), every rank must call this: the sums are added up
    over the ranks and every rank returns the totals. Otherwise each process scores
    the whole set on its own. The loss is None when there were no images.
    ``progress`` (a ``progress.Progress``) is told of every batch.
    """
    for metric in metrics:
        metric.reset()
    loss_sum, images = 0.0, 0
    was_training = network.training
    network.eval()
    try:
        with paddle.no_grad():
            for batch in loader:
                inputs, label = batch[:-1], batch[-1]
                outputs = _as_list(network(*inputs))
                size = int(label.shape[0])
                loss_sum += float(loss(*outputs, label)) * size
                images += size
                if progress is not None:
                    progress.update(size)
                update_metrics(metrics, outputs, label)
    finally:
        if was_training:
            network.train()
    return metric_figures(metrics, loss_sum, images,
                          getattr(loader.batch_sampler, "splits_across_ranks", False))


# ResizeImage's dct_scaling gives other pixels than PaddleClas's list: evaluation
# takes it only when the weights' top-1 agrees with full decoding on this share of
# up to SCALED_DECODING_CHECKED evaluation images spread over the set.
SCALED_DECODING_AGREEMENT = 0.995
SCALED_DECODING_CHECKED = 400


class ScaledDecodingCheck(NamedTuple):
    agreeing: int  # images whose top-1 class is the same both ways
    checked: int   # images read both ways
    scaled: int    # of these, the ones DCT scaling gave other pixels


@contextlib.contextmanager
def reading_with(dataset, transform):
    """Within the block, ``dataset`` reads its samples through ``transform``."""
    kept = dataset.transform
    dataset.transform = transform
    try:
        yield
    finally:
        dataset.transform = kept


def scaled_decoding_agreement(network: paddle.nn.Layer, loader,
                              images: int = SCALED_DECODING_CHECKED
                              ) -> Optional[ScaledDecodingCheck]:
    """Of up to ``images`` samples spread over the loader's dataset, how many get
    the same top-1 class from the network's first output when decoded as the list
    says (with DCT scaling) and when decoded whole, and how many the scaling changed
    at all; None when the list scales no decoding. Reads the samples in this
    process."""
    dataset = loader.dataset
    transform = getattr(dataset, "transform", None)
    if not getattr(transform, "scales_decoding", False):
        return None
    whole = transform.full_decoding()
    positions = np.unique(np.linspace(0, len(dataset) - 1,
                                      min(images, len(dataset))).round().astype(int))
    normalize = getattr(loader, "normalize", None)

    def read(pipeline, chunk) -> np.ndarray:
        with reading_with(dataset, pipeline):
            return np.stack([dataset[int(i)][0] for i in chunk])

    def top1(batch: np.ndarray) -> np.ndarray:
        inputs = normalize(batch) if normalize is not None else paddle.to_tensor(batch)
        with paddle.no_grad():
            return _numpy(_as_list(network(inputs))[0]).argmax(axis=1)

    defer_errors, was_training = getattr(dataset, "defer_errors", False), network.training
    agreeing = changed = 0
    network.eval()
    try:
        dataset.defer_errors = False  # a bad file raises here, as evaluation would
        for start in range(0, len(positions), 32):
            chunk = positions[start:start + 32]
            scaled, decoded_whole = read(transform, chunk), read(whole, chunk)
            agreeing += int((top1(scaled) == top1(decoded_whole)).sum())
            changed += int((scaled != decoded_whole).reshape(len(chunk), -1).any(axis=1).sum())
    finally:
        dataset.defer_errors = defer_errors
        if was_training:
            network.train()
    return ScaledDecodingCheck(agreeing, len(positions), changed)
