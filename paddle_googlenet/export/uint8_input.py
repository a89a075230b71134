"""A model that takes the ``uint8`` pixels and normalizes them itself, so that a
deployment client sends bytes (a quarter of float32's) and runs no arithmetic."""

import numpy as np
import paddle

from ..pixels import NormalizeImage

__all__ = ["Uint8Input"]


class Uint8Input(paddle.nn.Layer):
    """``model((x * scale - mean) / std)`` for ``uint8`` NCHW ``x``: the Infer list's
    final NormalizeImage, in its order of operations, ahead of ``model``."""

    def __init__(self, model: paddle.nn.Layer, normalize: NormalizeImage):
        super().__init__()
        self.model = model
        self.scale = float(np.float32(normalize.scale))
        self.register_buffer("mean", paddle.to_tensor(normalize.mean.reshape(1, 3, 1, 1)))
        self.register_buffer("std", paddle.to_tensor(normalize.std.reshape(1, 3, 1, 1)))

    def forward(self, x):
        return self.model((paddle.cast(x, "float32") * self.scale - self.mean) / self.std)
