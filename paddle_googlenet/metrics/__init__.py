"""Top-k accuracy of the main head, as a ``paddle.metric.Metric``.

``paddle.Model`` calls ``compute(*outputs, label)`` with every network output, so
a stock ``paddle.metric.Accuracy`` would take GoogLeNet's aux output ``out1`` for the
label and report a wrong number without complaint. These metrics always score the
first output against the last argument.

Every metric keeps sums (hits and image counts, a matrix of counts), so an
evaluation split across processes adds them up with ``sum_across_ranks()`` before
``accumulate``: the result is the one a single process gets from all the images.
``state_dict()`` returns those sums as plain data and ``set_state_dict()`` restores
them (a checkpoint taken in mid-epoch carries on with its training metrics).

Top-k accuracy needs integer labels. With ``batch_transform_ops`` (Mixup, Cutmix)
the training labels are soft targets, and, as PaddleClas does, accuracy is then
not computed on the training data: ``metrics_for_soft_targets`` leaves TopkAcc out
of the training metrics and says so, and TopkAcc refuses a soft label it is given.
"""

import warnings
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import paddle

from ..errors import ConfigError, brief
from ..registry import Registry

__all__ = ["TopkAcc", "GoogLeNetTopkAcc", "ConfusionMatrix", "METRICS", "build_metrics",
           "metrics_for_soft_targets", "SoftLabelError", "sum_across_ranks"]

METRICS = Registry("metric")


def sum_across_ranks(values) -> np.ndarray:
    """The element-wise sum of ``values`` over the ranks of ``paddle.distributed``
    (every rank gets it). Integers stay exact: they are summed as int64."""
    values = np.asarray(values)
    dtype = np.int64 if np.issubdtype(values.dtype, np.integer) else np.float64
    tensor = paddle.to_tensor(values.astype(dtype))
    paddle.distributed.all_reduce(tensor)
    return tensor.numpy()


class SoftLabelError(ConfigError):
    """An accuracy metric was given soft targets, which have no single true class."""


@METRICS.register
class TopkAcc(paddle.metric.Metric):
    """Top-k accuracy of ``outputs[0]``; reported as ``top1``, ``top5``, ..."""

    def __init__(self, topk: Union[int, List[int]] = (1, 5)):
        super().__init__()
        topk = [topk] if isinstance(topk, int) else list(topk)
        if not topk or any(not isinstance(k, int) or k < 1 for k in topk):
            raise ValueError(f"topk must be positive integers, got {topk!r}")
        self.topk = topk
        self.maxk = max(topk)
        self.reset()

    def compute(self, *args):
        pred, label = args[0], args[-1]
        if label.ndim == 2 and label.shape[-1] > 1 and paddle.is_floating_point(label):
            # Whose class would count for a mixed image? PaddleClas does not say either.
            raise SoftLabelError(
                f"{type(self).__name__} cannot score soft targets (labels of shape "
                f"{list(label.shape)}, made by batch_transform_ops such as Mixup or Cutmix); "
                f"leave it out of Metric.Train")
        maxk = min(self.maxk, pred.shape[-1])
        _, indices = paddle.topk(pred, k=maxk, axis=-1)
        label = label.reshape([-1, 1]).astype(indices.dtype)
        return (indices == label).astype("float32")

    def update(self, correct, *args):
        correct = np.asarray(correct)
        batch = []
        for i, k in enumerate(self.topk):
            hits = float(correct[:, :k].sum())
            self.hits[i] += hits
            batch.append(hits / max(len(correct), 1))
        self.count += len(correct)
        return batch

    def reset(self):
        self.hits = [0.0] * len(self.topk)
        self.count = 0

    def state_dict(self) -> dict:
        return {"hits": list(self.hits), "count": self.count}

    def set_state_dict(self, state: dict):
        """Restore ``state_dict()``'s sums; ValueError if they are not this metric's."""
        hits, count = state.get("hits"), state.get("count")
        if (not isinstance(hits, (list, tuple)) or len(hits) != len(self.topk)
                or not all(isinstance(h, (int, float)) and h >= 0 for h in hits)
                or type(count) is not int or count < 0):
            raise ValueError(f"not the state of {type(self).__name__} with topk "
                             f"{self.topk}: hits {brief(state.get('hits'))}, count "
                             f"{brief(state.get('count'))}")
        self.hits, self.count = [float(h) for h in hits], count

    def sum_across_ranks(self):
        """Make the hits and image count those of all the ranks together."""
        self.hits = [float(h) for h in sum_across_ranks(self.hits)]
        self.count = int(sum_across_ranks([self.count])[0])

    def accumulate(self):
        return [h / self.count if self.count else 0.0 for h in self.hits]

    def name(self):
        return [f"top{k}" for k in self.topk]


@METRICS.register
class GoogLeNetTopkAcc(TopkAcc):
    """PaddleClas's name for top-k accuracy of GoogLeNet's main output."""


def metrics_for_soft_targets(metrics: Sequence[paddle.metric.Metric],
                             soft_targets: bool) -> Tuple[list, Optional[str]]:
    """The metrics that can score the labels, and a warning naming those left out.

    With ``soft_targets`` (the training loader's batch operators mix labels), the
    top-k accuracies are left out, as PaddleClas leaves TopkAcc out of
    ``Metric.Train``; otherwise every metric is kept and the warning is None.
    """
    if not soft_targets:
        return list(metrics), None
    kept = [m for m in metrics if not isinstance(m, TopkAcc)]
    dropped = [type(m).__name__ for m in metrics if isinstance(m, TopkAcc)]
    if not dropped:
        return kept, None
    return kept, (f"accuracy cannot be computed on training batches whose labels "
                  f"batch_transform_ops mixed into soft targets; left out of the training "
                  f"metrics: {', '.join(dropped)}")


def build_metrics(entries, num_classes: int, where: str = "Metric.Eval",
                  soft_targets: bool = False):
    """Build ``[{Name: {topk: [1, 5]}}, ...]``; a k above the class count is an error.

    ``soft_targets``: the labels will be soft targets (batch operators on the
    training data); metrics that cannot score them are left out with a warning
    (see ``metrics_for_soft_targets``).
    """
    metrics = []
    for i, entry in enumerate(entries or ()):
        (name, args), = entry.items()
        metric = METRICS.build(name, args, f"{where}.{i}.{name}")
        if metric.maxk > num_classes:
            raise ConfigError(f"{where}.{i}.{name}.topk: top-{metric.maxk} needs at least "
                              f"{metric.maxk} classes; the model has {num_classes}")
        metrics.append(metric)
    metrics, warning = metrics_for_soft_targets(metrics, soft_targets)
    if warning:
        warnings.warn(warning)
    return metrics


class ConfusionMatrix(paddle.metric.Metric):
    """Counts of (true class, predicted class) of the main output's most probable
    class, picked as ``TopkAcc`` picks its top-1 (``paddle.topk``), so that per-class
    accuracy and top-1 agree when scores tie.

    Reported to ``paddle.Model`` as ``mean_class_acc`` (the mean of the per-class
    accuracies). ``paddle.Model`` resets metrics when an evaluation ends, so the
    counts as of the last ``accumulate`` are kept in ``result`` for the caller.
    """

    def __init__(self, num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        self.reset()
        self.result = self.matrix.copy()

    def compute(self, *args):
        pred, label = args[0], args[-1]
        _, top = paddle.topk(pred, k=1, axis=-1)
        return paddle.stack([label.reshape([-1]).astype("int64"),
                             top.reshape([-1]).astype("int64")], axis=1)

    def update(self, pairs, *args):
        pairs = np.asarray(pairs).reshape(-1, 2)
        np.add.at(self.matrix, (pairs[:, 0], pairs[:, 1]), 1)

    def reset(self):
        self.matrix = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def state_dict(self) -> dict:
        return {"matrix": self.matrix.copy()}

    def set_state_dict(self, state: dict):
        """Restore ``state_dict()``'s counts; ValueError if they are not this metric's."""
        matrix = state.get("matrix")
        if (not isinstance(matrix, np.ndarray) or matrix.shape != self.matrix.shape
                or not np.issubdtype(matrix.dtype, np.integer)):
            raise ValueError(f"not the counts of a {self.num_classes}-class confusion matrix")
        self.matrix = matrix.astype(np.int64)

    def sum_across_ranks(self):
        """Make the counts those of all the ranks together."""
        self.matrix = sum_across_ranks(self.matrix)

    @staticmethod
    def per_class_accuracy(matrix):
        """Accuracy of each class with images (None for a class without any)."""
        totals = matrix.sum(axis=1)
        return [float(matrix[c, c] / totals[c]) if totals[c] else None
                for c in range(len(matrix))]

    def accumulate(self):
        self.result = self.matrix.copy()
        seen = [a for a in self.per_class_accuracy(self.result) if a is not None]
        return float(np.mean(seen)) if seen else 0.0

    def name(self):
        return ["mean_class_acc"]
