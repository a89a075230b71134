"""The engine: the one place that wires config, model, data, loss, metrics and
optimizer together, and runs them with ``paddle.Model``."""

from .trainer import Engine, train

__all__ = ["Engine", "train"]
