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
from dataclasses import dataclass
from typing import List, NamedTuple, Optional, Tuple

import numpy as np
import paddle

from ..metrics import ConfusionMatrix, sum_across_ranks

__all__ = ["evaluate_loader", "EvaluationReport", "scaled_decoding_agreement",
           "ScaledDecodingCheck", "SCALED_DECODING_AGREEMENT", "reading_with"]


@dataclass
class EvaluationReport:
    """What an evaluation of the Eval split found, for a tool to show.

    ``figures``: ``evaluate_loader``'s result (loss, each metric, image count);
    ``class_names``: one per class id; ``confusion``: counts of (true class,
    predicted class), ``[num_classes, num_classes]``.
    """

    figures: dict
    class_names: List[str]
    confusion: np.ndarray

    def per_class(self) -> List[Tuple[str, int, Optional[float]]]:
        """``(name, images, accuracy)`` of each class; accuracy None without images."""
        totals = self.confusion.sum(axis=1)
        accuracies = ConfusionMatrix.per_class_accuracy(self.confusion)
        return [(name, int(images), accuracy)
                for name, images, accuracy in zip(self.class_names, totals, accuracies)]


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _numpy(value) -> np.ndarray:
    return value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)


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
                for metric in metrics:
                    scored = _as_list(metric.compute(*outputs, label))
                    metric.update(*[_numpy(t) for t in scored])
    finally:
        if was_training:
            network.train()
    if getattr(loader.batch_sampler, "splits_across_ranks", False):
        loss_sum = float(sum_across_ranks([loss_sum])[0])
        images = int(sum_across_ranks([images])[0])
        for metric in metrics:
            metric.sum_across_ranks()
    result = {"loss": loss_sum / images if images else None}
    for metric in metrics:
        for name, value in zip(metric.name(), _as_list(metric.accumulate())):
            result[name] = float(value)
    result["images"] = images
    return result


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
