"""Structure figures of a network: parameter counts and multiply-accumulates.

``paddle.flops`` in Paddle 3.3.1 fails with NumPy 2 (``dynamic_flops.py:324``), so
the count is done here: one forward pass with hooks on the layers that multiply.
"""

from typing import Sequence

import paddle
from paddle import nn

__all__ = ["count_parameters", "count_macs"]


def count_parameters(network: nn.Layer) -> dict:
    """``{"total": ..., "trainable": ...}`` parameter counts."""
    total = trainable = 0
    for p in network.parameters():
        n = int(p.numel())
        total += n
        if not p.stop_gradient:
            trainable += n
    return {"total": total, "trainable": trainable}


def _conv_macs(layer: nn.Conv2D, output) -> int:
    kh, kw = layer._kernel_size
    per_output = (layer._in_channels // layer._groups) * kh * kw
    return int(output[0].numel()) * per_output  # first image of the batch


def _linear_macs(layer: nn.Linear, output) -> int:
    return int(layer.weight.shape[0]) * int(output[0].numel())


def count_macs(network: nn.Layer, input_shape: Sequence[int] = (3, 224, 224)) -> dict:
    """Multiply-accumulates of one image through ``network`` in eval mode.

    Returns ``{"total": ..., "by_type": {"Conv2D": ..., "Linear": ...}}``. Only
    convolutions and fully connected layers are counted (pooling, ReLU and the
    bias additions are not multiply-accumulates), as is usual for this figure.
    """
    counts = {"Conv2D": 0, "Linear": 0}

    def hook(kind, fn):
        def record(layer, inputs, output):
            counts[kind] += fn(layer, output)
        return record

    handles = []
    for layer in network.sublayers(include_self=True):
        if isinstance(layer, nn.Conv2D):
            handles.append(layer.register_forward_post_hook(hook("Conv2D", _conv_macs)))
        elif isinstance(layer, nn.Linear):
            handles.append(layer.register_forward_post_hook(hook("Linear", _linear_macs)))
    was_training = network.training
    network.eval()
    try:
        with paddle.no_grad():
            network(paddle.zeros([1] + list(input_shape), dtype="float32"))
    finally:
        for h in handles:
            h.remove()
        if was_training:
            network.train()
    return {"total": sum(counts.values()), "by_type": counts}
