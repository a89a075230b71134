"""The engine: the one place that wires config, model, data, loss, metrics and
optimizer together, and runs them with ``paddle.Model``."""

from .trainer import Engine, NonFiniteLoss, TrainingInterrupted, train

__all__ = ["Engine", "train", "NonFiniteLoss", "TrainingInterrupted"]
