"""Top-k accuracy of the main head, as a ``paddle.metric.Metric``.

``paddle.Model`` calls ``compute(*outputs, label)`` with every network output, so
a stock ``paddle.metric.Accuracy`` would take GoogLeNet's aux output ``out1`` for the
label and report a wrong number without complaint. These metrics always score the
first output against the last argument.
"""

from typing import List, Union

import numpy as np
import paddle

from ..errors import ConfigError
from ..registry import Registry

__all__ = ["TopkAcc", "GoogLeNetTopkAcc", "METRICS", "build_metrics"]

METRICS = Registry("metric")


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

    def accumulate(self):
        return [h / self.count if self.count else 0.0 for h in self.hits]

    def name(self):
        return [f"top{k}" for k in self.topk]


@METRICS.register
class GoogLeNetTopkAcc(TopkAcc):
    """PaddleClas's name for top-k accuracy of GoogLeNet's main output."""


def build_metrics(entries, num_classes: int, where: str = "Metric.Eval"):
    """Build ``[{Name: {topk: [1, 5]}}, ...]``; a k above the class count is an error."""
    metrics = []
    for i, entry in enumerate(entries or ()):
        (name, args), = entry.items()
        metric = METRICS.build(name, args, f"{where}.{i}.{name}")
        if metric.maxk > num_classes:
            raise ConfigError(f"{where}.{i}.{name}.topk: top-{metric.maxk} needs at least "
                              f"{metric.maxk} classes; the model has {num_classes}")
        metrics.append(metric)
    return metrics
