"""Inference-time image preprocessing: the ``transforms`` list of an exported model.

``Preprocess`` builds the pipeline from the ``transforms`` list of an exported
model's ``inference.yml`` (PaddleClas's list form, e.g. ``[{DecodeImage: {...}},
{ResizeImage: {resize_short: 256}}, ...]``) with the deterministic operators of
``paddle_googlenet.pixels``, the same classes training uses, so arguments are
checked and defaulted alike. The random training operators make no sense at
deployment and are refused.
"""

from typing import Any, Mapping, Sequence

import numpy as np

from .. import pixels
from ..errors import DeployError
from ..registry import Registry
from ..validators import op_entries

__all__ = ["DEPLOY_OPS", "Preprocess"]

DEPLOY_OPS = Registry("deployment operator")
for _op in pixels.DETERMINISTIC_OPS:
    DEPLOY_OPS.register(_op)


class Preprocess:
    """The bytes of an image file -> the model's CHW float32 input, following a
    PaddleClas transform list (``where`` names it in errors)."""

    def __init__(self, ops: Sequence[Mapping[str, Any]], where: str = "transforms"):
        if not ops:
            raise DeployError(f"{where} is empty; it must start with DecodeImage")
        steps = []
        for at, name, args in op_entries(ops, where):
            if name not in DEPLOY_OPS:
                raise DeployError(f"{at}: {name} is not a deployment operator; the "
                                  f"supported ones are {', '.join(DEPLOY_OPS.names())}")
            step = DEPLOY_OPS.build(name, args, f"{at}.{name}")
            if isinstance(step, pixels.NormalizeImage) and (
                    step.dtype != np.float32 or step.channel_num != 3):
                raise DeployError(f"{at}.{name}: the exported model takes 3-channel float32 "
                                  f"input; remove output_fp16 and channel_num")
            steps.append(step)
        self.pipeline = pixels.Compose(steps, where=where)

    def __call__(self, data: bytes) -> np.ndarray:
        sample = self.pipeline(data)
        return pixels.model_input(sample, self.pipeline.output_layout).astype(np.float32)

    def read(self, path: str) -> np.ndarray:
        """The model input for an image file; ``ImageError`` names the file."""
        return pixels.read_image_file(path, self)
