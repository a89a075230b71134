"""Exponential moving average of the weights (the config's ``EMA`` section).

As PaddleClas's ``ExponentialMovingAverage``: a shadow copy of every entry of the
network's state dict (parameters and buffers), started from the weights the run
starts from and moved after each optimizer step by

    shadow = decay * shadow + (1 - decay) * weight

with a fixed ``decay`` (no warm-up by update count). Evaluation and ``best_model``
use the shadow weights; checkpoints keep them in a file of their own.
"""

import contextlib

import numpy as np
import paddle

from ..errors import WeightsError, brief, shown
from ..weights.loading import fit_dtype, model_dtype

__all__ = ["WeightAverage"]


class WeightAverage:
    """The shadow weights of ``network`` and the swap that evaluates with them."""

    def __init__(self, network: paddle.nn.Layer, decay: float):
        self.network, self.decay = network, float(decay)
        self.shadow = {name: value.detach().clone()
                       for name, value in network.state_dict().items()}

    @paddle.no_grad()
    def update(self):
        for name, value in self.network.state_dict().items():
            shadow = self.shadow[name]
            if paddle.is_floating_point(shadow):
                paddle.assign(self.decay * shadow + (1.0 - self.decay) * value, shadow)
            else:  # counters and the like follow the network
                paddle.assign(value, shadow)

    @contextlib.contextmanager
    def swapped_in(self):
        """The network holds the shadow weights inside, its own ones again after."""
        weights = self.network.state_dict()
        kept = {name: value.detach().clone() for name, value in weights.items()}
        with paddle.no_grad():
            for name, value in weights.items():
                paddle.assign(self.shadow[name], value)
        try:
            yield
        finally:
            with paddle.no_grad():
                for name, value in weights.items():
                    paddle.assign(kept[name], value)

    def state_dict(self) -> dict:
        return dict(self.shadow)

    def set_state_dict(self, saved: dict, source: str):
        """Load shadow weights read from ``source``: the same names and shapes, and
        dtypes ``load_weights`` would accept (another float precision is converted)."""
        missing = sorted(set(self.shadow) - set(saved))
        if missing:
            raise WeightsError(f"{shown(source)}: no {brief(missing[0])} among the averaged "
                               f"weights ({len(missing)} of {len(self.shadow)} missing)")
        values = {}
        for name, shadow in self.shadow.items():
            value = saved[name]
            value = value.numpy() if isinstance(value, paddle.Tensor) else value
            if not isinstance(value, np.ndarray):
                raise WeightsError(f"{shown(source)}: {name} is {brief(value)}, not a tensor")
            if list(value.shape) != list(shadow.shape):
                raise WeightsError(f"{shown(source)}: {name} has shape {list(value.shape)}, "
                                   f"the network's is {list(shadow.shape)}")
            values[name] = fit_dtype(value, model_dtype(shadow), name, source)
        for name, shadow in self.shadow.items():  # all checked before any is changed
            paddle.assign(paddle.to_tensor(values[name], dtype=shadow.dtype), shadow)
