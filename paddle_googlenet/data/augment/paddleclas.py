"""PaddleClas's AutoAugment (the ImageNet policy) and RandAugment with its V2 and V3
variants, with PaddleClas's names and arguments."""

from typing import Callable, Dict, List, Optional

import numpy as np
from PIL import Image, ImageOps

from ...errors import ConfigError
from ...validators import color, count, number
from ..transforms import TRANSFORMS
from .pil_ops import (BICUBIC, GREY, MAX_LEVEL, NEAREST, PilOp, affine_resample, brightness_op,
                      color_op, contrast_op, cutout, posterize, random_sign, rotate,
                      sharpness_op, shear_x, shear_y, solarize_add, translate_x, translate_y)

__all__ = ["AutoAugment", "RandAugment", "RandAugmentV2", "RandAugmentV3"]


# --------------------------------------------- PaddleClas's AutoAugment and RandAugment

def _paddleclas_ops(fill) -> Dict[str, Callable]:
    """The operations of PaddleClas's ImageNetPolicy and RandAugment, by name; each takes
    the image and a magnitude already on its own scale. Enhancements move 1.0 by the
    magnitude in a random direction; rotation is counter-clockwise only, with a grey
    fill whatever ``fill`` is (as PaddleClas's rotate_with_fill)."""
    return {
        "shearX": lambda img, m: shear_x(img, m * random_sign(), BICUBIC, fill),
        "shearY": lambda img, m: shear_y(img, m * random_sign(), BICUBIC, fill),
        "translateX": lambda img, m: translate_x(img, m * img.size[0] * random_sign(), NEAREST, fill),
        "translateY": lambda img, m: translate_y(img, m * img.size[1] * random_sign(), NEAREST, fill),
        "rotate": lambda img, m: rotate(img, m, NEAREST, GREY),
        "color": lambda img, m: color_op(img, 1 + m * random_sign()),
        "posterize": lambda img, m: posterize(img, int(m)),
        "solarize": lambda img, m: ImageOps.solarize(img, m),
        "contrast": lambda img, m: contrast_op(img, 1 + m * random_sign()),
        "sharpness": lambda img, m: sharpness_op(img, 1 + m * random_sign()),
        "brightness": lambda img, m: brightness_op(img, 1 + m * random_sign()),
        "autocontrast": lambda img, _: ImageOps.autocontrast(img),
        "equalize": lambda img, _: ImageOps.equalize(img),
        "invert": lambda img, _: ImageOps.invert(img),
    }


# Magnitude index 0..9 -> value, per operation (AutoAugment paper, ImageNet).
_POLICY_RANGES = {
    "shearX": np.linspace(0, 0.3, 10), "shearY": np.linspace(0, 0.3, 10),
    "translateX": np.linspace(0, 150 / 331, 10), "translateY": np.linspace(0, 150 / 331, 10),
    "rotate": np.linspace(0, 30, 10), "color": np.linspace(0.0, 0.9, 10),
    "posterize": np.round(np.linspace(8, 4, 10)).astype(int),
    "solarize": np.linspace(256, 0, 10), "contrast": np.linspace(0.0, 0.9, 10),
    "sharpness": np.linspace(0.0, 0.9, 10), "brightness": np.linspace(0.0, 0.9, 10),
    "autocontrast": [0] * 10, "equalize": [0] * 10, "invert": [0] * 10,
}

# The 25 ImageNet sub-policies: (probability, operation, magnitude index) twice.
_IMAGENET_POLICY = [
    ((0.4, "posterize", 8), (0.6, "rotate", 9)), ((0.6, "solarize", 5), (0.6, "autocontrast", 5)),
    ((0.8, "equalize", 8), (0.6, "equalize", 3)), ((0.6, "posterize", 7), (0.6, "posterize", 6)),
    ((0.4, "equalize", 7), (0.2, "solarize", 4)), ((0.4, "equalize", 4), (0.8, "rotate", 8)),
    ((0.6, "solarize", 3), (0.6, "equalize", 7)), ((0.8, "posterize", 5), (1.0, "equalize", 2)),
    ((0.2, "rotate", 3), (0.6, "solarize", 8)), ((0.6, "equalize", 8), (0.4, "posterize", 6)),
    ((0.8, "rotate", 8), (0.4, "color", 0)), ((0.4, "rotate", 9), (0.6, "equalize", 2)),
    ((0.0, "equalize", 7), (0.8, "equalize", 8)), ((0.6, "invert", 4), (1.0, "equalize", 8)),
    ((0.6, "color", 4), (1.0, "contrast", 8)), ((0.8, "rotate", 8), (1.0, "color", 2)),
    ((0.8, "color", 8), (0.8, "solarize", 7)), ((0.4, "sharpness", 7), (0.6, "invert", 8)),
    ((0.6, "shearX", 5), (1.0, "equalize", 9)), ((0.4, "color", 0), (0.6, "equalize", 3)),
    ((0.4, "equalize", 7), (0.2, "solarize", 4)), ((0.6, "solarize", 5), (0.6, "autocontrast", 5)),
    ((0.6, "invert", 4), (1.0, "equalize", 8)), ((0.6, "color", 4), (1.0, "contrast", 8)),
    ((0.8, "equalize", 8), (0.6, "equalize", 3)),
]


@TRANSFORMS.register
class AutoAugment(PilOp):
    """AutoAugment's ImageNet policy (Cubuk et al. 2018), as PaddleClas's ImageNetPolicy.

    Each image gets one of 25 sub-policies, drawn uniformly; a sub-policy applies two
    operations, each with its own probability and a fixed magnitude.

    Args:
        fillcolor: RGB colour of the area that shears and translations uncover.
    """

    def __init__(self, fillcolor: List[int] = GREY):
        fill = color(fillcolor, "fillcolor")
        ops = _paddleclas_ops(fill)
        self.sub_policies = [tuple((p, ops[name], _POLICY_RANGES[name][index])
                                   for p, name, index in pair) for pair in _IMAGENET_POLICY]

    def apply(self, img: Image.Image) -> Image.Image:
        for p, op, magnitude in self.sub_policies[np.random.randint(len(self.sub_policies))]:
            if np.random.random_sample() < p:
                img = op(img, magnitude)
        return img


@TRANSFORMS.register
class RandAugment(PilOp):
    """RandAugment (Cubuk et al. 2019) as PaddleClas implements it.

    ``num_layers`` operations are drawn uniformly (with repetition) from 14 and each is
    applied at ``magnitude`` (0..10, where 10 is the strongest: shear 0.3, translation
    45% of the size, rotation 30 degrees, colour factors 1 +- 0.9, posterize to
    ``int(0.4 * magnitude)`` bits, solarize above ``25.6 * magnitude``).

    Args:
        num_layers: operations per image.
        magnitude: strength, 0 to 10.
        fillcolor: RGB colour of the area that shears and translations uncover.
    """

    max_magnitude = MAX_LEVEL

    def __init__(self, num_layers: int = 2, magnitude: float = 5,
                 fillcolor: List[int] = GREY):
        self.num_layers = count(num_layers, "num_layers", 0)
        self.magnitude = number(magnitude, "magnitude", 0, self.max_magnitude)
        self.ops = self._operations(color(fillcolor, "fillcolor"))
        self.levels = self._levels(self.magnitude / MAX_LEVEL)

    @staticmethod
    def _operations(fill) -> Dict[str, Callable]:
        return _paddleclas_ops(fill)

    @staticmethod
    def _levels(level: float) -> Dict[str, float]:
        return {"shearX": 0.3 * level, "shearY": 0.3 * level,
                "translateX": 150.0 / 331 * level, "translateY": 150.0 / 331 * level,
                "rotate": 30 * level, "color": 0.9 * level, "posterize": int(4.0 * level),
                "solarize": 256.0 * level, "contrast": 0.9 * level, "sharpness": 0.9 * level,
                "brightness": 0.9 * level, "autocontrast": 0, "equalize": 0, "invert": 0}

    def apply(self, img: Image.Image) -> Image.Image:
        names = list(self.levels)
        for index in np.random.randint(len(names), size=self.num_layers):
            img = self.ops[names[index]](img, self.levels[names[index]])
        return img


@TRANSFORMS.register
class RandAugmentV2(RandAugment):
    """PaddleClas's RandAugment for EfficientNetV2: like RandAugment, plus
    ``solarize_add`` and ``cutout``, with translations of ``10 * magnitude`` pixels,
    colour factors drawn as ``0.1 + 0.18 * magnitude`` (no random direction), solarize
    above ``int(25.6 * magnitude)``, rotation in a random direction, and nearest
    neighbour resampling.

    Args:
        num_layers, magnitude, fillcolor: as for RandAugment.
        progress_magnitude: magnitudes for the stages of progressive training, as in
            PaddleClas's EfficientNetV2 recipe. Checked and kept; this operator always
            applies ``magnitude`` (the training engine has no progressive stages).

    Magnitudes above 10 are allowed, as EfficientNetV2's progressive recipe goes up to
    15 (operations whose effect saturates, such as posterize, then do nothing more).
    """

    max_magnitude = np.inf

    def __init__(self, num_layers: int = 2, magnitude: float = 5,
                 progress_magnitude: Optional[List[float]] = None,
                 fillcolor: List[int] = GREY):
        super().__init__(num_layers, magnitude, fillcolor)
        if progress_magnitude is not None:
            if not isinstance(progress_magnitude, (list, tuple)) or not progress_magnitude:
                raise ConfigError(f"progress_magnitude must be a list of magnitudes, got "
                                  f"{progress_magnitude!r}")
            progress_magnitude = [number(m, f"progress_magnitude[{i}]", 0)
                                  for i, m in enumerate(progress_magnitude)]
        self.progress_magnitude = progress_magnitude

    @staticmethod
    def _operations(fill) -> Dict[str, Callable]:
        return {
            "shearX": lambda img, m: shear_x(img, m * random_sign(), NEAREST, fill),
            "shearY": lambda img, m: shear_y(img, m * random_sign(), NEAREST, fill),
            "translateX": lambda img, m: translate_x(img, m * random_sign(), NEAREST, fill),
            "translateY": lambda img, m: translate_y(img, m * random_sign(), NEAREST, fill),
            "rotate": lambda img, m: rotate(img, m * random_sign(), NEAREST, GREY),
            "color": color_op, "contrast": contrast_op, "sharpness": sharpness_op,
            "brightness": brightness_op,
            "posterize": lambda img, m: posterize(img, int(m)),
            "solarize": lambda img, m: ImageOps.solarize(img, m),
            "solarize_add": solarize_add,
            "autocontrast": lambda img, _: ImageOps.autocontrast(img),
            "equalize": lambda img, _: ImageOps.equalize(img),
            "invert": lambda img, _: ImageOps.invert(img),
            "cutout": lambda img, m: cutout(img, m, fill[0]),
        }

    @staticmethod
    def _levels(level: float) -> Dict[str, float]:
        enhance_factor = 1.8 * level + 0.1
        return {"shearX": 0.3 * level, "shearY": 0.3 * level, "translateX": 100.0 * level,
                "translateY": 100.0 * level, "rotate": 30 * level, "color": enhance_factor,
                "posterize": int(4.0 * level), "solarize": int(256.0 * level),
                "solarize_add": int(110.0 * level), "contrast": enhance_factor,
                "sharpness": enhance_factor, "brightness": enhance_factor, "autocontrast": 0,
                "equalize": 0, "invert": 0, "cutout": int(40 * level)}


@TRANSFORMS.register
class RandAugmentV3(RandAugment):
    """PaddleClas's RandAugment for MobileViTV2: like RandAugment with severity that
    grows with magnitude for posterize (``8 - int(0.4 * magnitude)`` bits) and solarize
    (above ``255 * (1 - magnitude / 10)``), rotation in a random direction, and the
    given resampling filter for shears, translations and rotation.

    Args:
        num_layers: operations per image.
        magnitude: strength, 0 to 10 (default 3).
        fillcolor: RGB colour of uncovered areas (default black).
        interpolation: 'bicubic' (default), 'bilinear' or 'nearest'.
    """

    def __init__(self, num_layers: int = 2, magnitude: float = 3,
                 fillcolor: List[int] = (0, 0, 0), interpolation: str = "bicubic"):
        self.resample = affine_resample(interpolation)
        super().__init__(num_layers, magnitude, fillcolor)

    def _operations(self, fill) -> Dict[str, Callable]:
        ops = _paddleclas_ops(fill)
        resample = self.resample
        ops.update({
            "shearX": lambda img, m: shear_x(img, m * random_sign(), resample, fill),
            "shearY": lambda img, m: shear_y(img, m * random_sign(), resample, fill),
            "translateX": lambda img, m: translate_x(img, m * img.size[0] * random_sign(), resample,
                                                     fill),
            "translateY": lambda img, m: translate_y(img, m * img.size[1] * random_sign(), resample,
                                                     fill),
            "rotate": lambda img, m: rotate(img, m * random_sign(), resample, fill),
        })
        return ops

    @staticmethod
    def _levels(level: float) -> Dict[str, float]:
        levels = RandAugment._levels(level)
        levels.update({"posterize": 8 - int(4.0 * level), "solarize": 255.0 * (1 - level)})
        return levels


