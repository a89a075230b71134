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
from ..image_io import read_image_file
from ..errors import DeployError
from ..registry import Registry
from ..validators import op_entries

__all__ = ["DEPLOY_OPS", "Preprocess"]

DEPLOY_OPS = Registry("deployment operator")
for _op in pixels.DETERMINISTIC_OPS:
    DEPLOY_OPS.register(_op)


class Preprocess:
    """The bytes of an image file -> the model's CHW float32 input, following a
    PaddleClas transform list (``where`` names it in errors).

    With ``uint8_input`` (a model exported with ``--uint8-input``, which normalizes
    its input itself) the list stops before its final NormalizeImage and the input
    is the CHW ``uint8`` pixels.
    """

    def __init__(self, ops: Sequence[Mapping[str, Any]], where: str = "transforms",
                 uint8_input: bool = False):
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
        self.pipeline.refuse_scaled_decoding(DeployError)
        self.dtype = np.float32
        if uint8_input:
            self.pipeline, normalize = self.pipeline.split_final_normalize()
            if normalize is None:
                raise DeployError(f"{where}: a model that takes uint8 pixels needs a list "
                                  f"that ends with NormalizeImage (a ToCHWImage may follow): "
                                  f"the model applies it")
            self.dtype = np.uint8

    def __call__(self, data: bytes) -> np.ndarray:
        sample = self.pipeline(data)
        return pixels.model_input(sample, self.pipeline.output_layout).astype(self.dtype)

    def read(self, path: str) -> np.ndarray:
        """The model input for an image file; ``ImageError`` names the file."""
        return read_image_file(path, self)
