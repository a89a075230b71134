"""Colour and geometry augmentation policies with PaddleClas's names and arguments.

``AutoAugment``, ``RandAugment`` (and its ``V2``/``V3`` variants), ``TimmAutoAugment``,
``ColorJitter``, ``PCALighting`` and ``CropImageAtRatio`` work on the ``uint8`` HWC
pixels that DecodeImage and the crops produce, so they come before NormalizeImage,
as in PaddleClas's configs::

    transform_ops:
      - DecodeImage: {to_rgb: True, channel_first: False}
      - RandCropImage: {size: 224, interpolation: bicubic, backend: pil}
      - RandFlipImage: {flip_code: 1}
      - TimmAutoAugment: {config_str: rand-m9-mstd0.5-inc1, interpolation: bicubic,
                          img_size: 224}
      - NormalizeImage: {scale: 1.0/255.0, mean: [...], std: [...], order: ''}
      - RandomErasing: {EPSILON: 0.25, sl: 0.02, sh: 1.0/3.0, r1: 0.3, attempt: 10,
                        use_log_aspect: True, mode: pixel}

The image operations are PIL's (``ImageOps``, ``ImageEnhance``, affine transforms),
as in PaddleClas, so for a given choice of operations and magnitudes the pixels are
PaddleClas's. What differs on purpose:

* Every random choice is drawn from numpy's global RNG, never from python's
  ``random`` (PaddleClas mixes both), so the loader's per-sample seeding makes a run
  reproducible; the same seed does not give PaddleClas's sequence of choices.
* Arguments are checked when the list is built: an unknown policy section, a
  magnitude out of range, a probability outside [0, 1], an interpolation PIL cannot
  use for affine transforms (PaddleClas would fail on the first image).
* Layouts are checked when the list is built (these ops take and return HWC), but
  the dtype only when the first image arrives: a float array (the op listed after
  NormalizeImage) is refused with a message saying where the op belongs.
* TimmAutoAugment: ``inc0`` means off (timm tests the text '0', which is true);
  'nearest' is nearest (PaddleClas maps it to bilinear); AutoAugment policies are
  named by their first section as in timm (``original-mstd0.5``; PaddleClas requires
  the prefix 'auto' and then finds no such policy); AugMix is not available.
* Pillow 10+ refuses to posterize to 0 bits; that case gives black, as older Pillow.
"""

import re
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from .. import pixels
from ..errors import ConfigError, DataError
from ..registry import closest
from ..validators import color, count, number, probability
from .transforms import HWC, TRANSFORMS

__all__ = ["AutoAugment", "RandAugment", "RandAugmentV2", "RandAugmentV3", "TimmAutoAugment",
           "ColorJitter", "PCALighting", "CropImageAtRatio"]

_MAX_LEVEL = 10.0
_GREY = (128, 128, 128)
_AFFINE = Image.Transform.AFFINE
_NEAREST, _BILINEAR, _BICUBIC = (Image.Resampling.NEAREST, Image.Resampling.BILINEAR,
                                 Image.Resampling.BICUBIC)


# ----------------------------------------------------------------- argument checks

def pil_uint8(img: Any, op: str) -> Image.Image:
    """The PIL image of an HWC ``uint8`` RGB array; a clear error for anything else."""
    if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3:
        got = f"shape {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
        raise DataError(f"{op} expects an HWC RGB image array, got {got}")
    if img.dtype != np.uint8:
        raise DataError(f"{op} works on uint8 pixels but got {img.dtype} values; list it "
                        f"before NormalizeImage")
    return Image.fromarray(np.ascontiguousarray(img))


# PIL's affine transforms (shear, translate, rotate) take only these filters; PaddleClas
# maps any other name to bilinear ('nearest') or fails on the first image ('lanczos').
_AFFINE_RESAMPLE = {"nearest": _NEAREST, "bilinear": _BILINEAR, "bicubic": _BICUBIC}


def affine_resample(value: Any, name: str = "interpolation", allow_random: bool = False):
    """A PIL filter for affine transforms, or None for 'random' (bilinear or bicubic,
    drawn per operation)."""
    valid = sorted(_AFFINE_RESAMPLE) + (["random"] if allow_random else [])
    if not isinstance(value, str) or value.lower() not in valid:
        raise ConfigError(f"{name} must be one of {valid}{closest(value, valid)}, got {value!r}")
    return None if value.lower() == "random" else _AFFINE_RESAMPLE[value.lower()]


# ------------------------------------------------------------ image operations (PIL)

def _sign() -> int:
    return -1 if np.random.random_sample() < 0.5 else 1


def shear_x(img, factor, resample, fill):
    return img.transform(img.size, _AFFINE, (1, factor, 0, 0, 1, 0), resample, fillcolor=fill)


def shear_y(img, factor, resample, fill):
    return img.transform(img.size, _AFFINE, (1, 0, 0, factor, 1, 0), resample, fillcolor=fill)


def translate_x(img, offset, resample, fill):
    return img.transform(img.size, _AFFINE, (1, 0, offset, 0, 1, 0), resample, fillcolor=fill)


def translate_y(img, offset, resample, fill):
    return img.transform(img.size, _AFFINE, (1, 0, 0, 0, 1, offset), resample, fillcolor=fill)


def rotate(img, degrees, resample, fill):
    return img.rotate(degrees, resample, fillcolor=fill)


def posterize(img, bits):
    """Keep the ``bits`` most significant bits (0 bits: black, as older Pillow's
    ImageOps.posterize, which Pillow 10+ refuses)."""
    if bits >= 8:
        return img
    mask = (0xFF << (8 - max(0, int(bits)))) & 0xFF
    return img.point([i & mask for i in range(256)] * len(img.getbands()))


def solarize_add(img, add, threshold=128):
    """Add ``add`` to the values below ``threshold`` (capped at 255)."""
    lut = [min(255, i + add) if i < threshold else i for i in range(256)]
    return img.point(lut * len(img.getbands()))


def cutout(img, half_size, fill):
    """Paint a ``2 * half_size`` square (clipped) centred at a random pixel."""
    array = np.array(img)
    height, width = array.shape[:2]
    y, x = np.random.randint(0, height + 1), np.random.randint(0, width + 1)
    array[max(0, y - half_size):y + half_size, max(0, x - half_size):x + half_size] = fill
    return Image.fromarray(array)


def enhance(kind):
    return lambda img, factor: kind(img).enhance(factor)


color_op, contrast_op = enhance(ImageEnhance.Color), enhance(ImageEnhance.Contrast)
brightness_op, sharpness_op = enhance(ImageEnhance.Brightness), enhance(ImageEnhance.Sharpness)


# --------------------------------------------- PaddleClas's AutoAugment and RandAugment

def _paddleclas_ops(fill) -> Dict[str, Callable]:
    """The operations of PaddleClas's ImageNetPolicy and RandAugment, by name; each takes
    the image and a magnitude already on its own scale. Enhancements move 1.0 by the
    magnitude in a random direction; rotation is counter-clockwise only, with a grey
    fill whatever ``fill`` is (as PaddleClas's rotate_with_fill)."""
    return {
        "shearX": lambda img, m: shear_x(img, m * _sign(), _BICUBIC, fill),
        "shearY": lambda img, m: shear_y(img, m * _sign(), _BICUBIC, fill),
        "translateX": lambda img, m: translate_x(img, m * img.size[0] * _sign(), _NEAREST, fill),
        "translateY": lambda img, m: translate_y(img, m * img.size[1] * _sign(), _NEAREST, fill),
        "rotate": lambda img, m: rotate(img, m, _NEAREST, _GREY),
        "color": lambda img, m: color_op(img, 1 + m * _sign()),
        "posterize": lambda img, m: posterize(img, int(m)),
        "solarize": lambda img, m: ImageOps.solarize(img, m),
        "contrast": lambda img, m: contrast_op(img, 1 + m * _sign()),
        "sharpness": lambda img, m: sharpness_op(img, 1 + m * _sign()),
        "brightness": lambda img, m: brightness_op(img, 1 + m * _sign()),
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


class _PilOp:
    """Base of the operators that work on a PIL image of the uint8 HWC pixels."""

    input_layout = output_layout = HWC

    def __call__(self, img: np.ndarray) -> np.ndarray:
        out = self.apply(pil_uint8(img, type(self).__name__))
        return np.array(out, dtype=np.uint8)  # a writable copy for the ops after

    def apply(self, img: Image.Image) -> Image.Image:
        raise NotImplementedError


@TRANSFORMS.register
class AutoAugment(_PilOp):
    """AutoAugment's ImageNet policy (Cubuk et al. 2018), as PaddleClas's ImageNetPolicy.

    Each image gets one of 25 sub-policies, drawn uniformly; a sub-policy applies two
    operations, each with its own probability and a fixed magnitude.

    Args:
        fillcolor: RGB colour of the area that shears and translations uncover.
    """

    def __init__(self, fillcolor: List[int] = _GREY):
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
class RandAugment(_PilOp):
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

    max_magnitude = _MAX_LEVEL

    def __init__(self, num_layers: int = 2, magnitude: float = 5,
                 fillcolor: List[int] = _GREY):
        self.num_layers = count(num_layers, "num_layers", 0)
        self.magnitude = number(magnitude, "magnitude", 0, self.max_magnitude)
        self.ops = self._operations(color(fillcolor, "fillcolor"))
        self.levels = self._levels(self.magnitude / _MAX_LEVEL)

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
                 fillcolor: List[int] = _GREY):
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
            "shearX": lambda img, m: shear_x(img, m * _sign(), _NEAREST, fill),
            "shearY": lambda img, m: shear_y(img, m * _sign(), _NEAREST, fill),
            "translateX": lambda img, m: translate_x(img, m * _sign(), _NEAREST, fill),
            "translateY": lambda img, m: translate_y(img, m * _sign(), _NEAREST, fill),
            "rotate": lambda img, m: rotate(img, m * _sign(), _NEAREST, _GREY),
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
            "shearX": lambda img, m: shear_x(img, m * _sign(), resample, fill),
            "shearY": lambda img, m: shear_y(img, m * _sign(), resample, fill),
            "translateX": lambda img, m: translate_x(img, m * img.size[0] * _sign(), resample,
                                                     fill),
            "translateY": lambda img, m: translate_y(img, m * img.size[1] * _sign(), resample,
                                                     fill),
            "rotate": lambda img, m: rotate(img, m * _sign(), resample, fill),
        })
        return ops

    @staticmethod
    def _levels(level: float) -> Dict[str, float]:
        levels = RandAugment._levels(level)
        levels.update({"posterize": 8 - int(4.0 * level), "solarize": 255.0 * (1 - level)})
        return levels


# ------------------------------------------------------------- timm's augmentations

def _randomly_negate(value: float) -> float:
    return -value if np.random.random_sample() > 0.5 else value


# Magnitude (0..10) -> the operation's argument, as in timm.
def _enhance(m, _):
    return m / _MAX_LEVEL * 1.8 + 0.1


def _enhance_increasing(m, _):
    return 1.0 + _randomly_negate(m / _MAX_LEVEL * 0.9)


def _posterize_bits(m, _):
    return int(m / _MAX_LEVEL * 4)


def _solarize_threshold(m, _):
    return int(m / _MAX_LEVEL * 256)


_TIMM_LEVELS = {
    "AutoContrast": None, "Equalize": None, "Invert": None,
    "Rotate": lambda m, _: _randomly_negate(m / _MAX_LEVEL * 30.0),
    "Posterize": _posterize_bits,
    "PosterizeIncreasing": lambda m, h: 4 - _posterize_bits(m, h),
    "PosterizeOriginal": lambda m, h: _posterize_bits(m, h) + 4,
    "Solarize": _solarize_threshold,
    "SolarizeIncreasing": lambda m, h: 256 - _solarize_threshold(m, h),
    "SolarizeAdd": lambda m, _: int(m / _MAX_LEVEL * 110),
    "Color": _enhance, "ColorIncreasing": _enhance_increasing,
    "Contrast": _enhance, "ContrastIncreasing": _enhance_increasing,
    "Brightness": _enhance, "BrightnessIncreasing": _enhance_increasing,
    "Sharpness": _enhance, "SharpnessIncreasing": _enhance_increasing,
    "ShearX": lambda m, _: _randomly_negate(m / _MAX_LEVEL * 0.3),
    "ShearY": lambda m, _: _randomly_negate(m / _MAX_LEVEL * 0.3),
    "TranslateX": lambda m, h: _randomly_negate(m / _MAX_LEVEL * h["translate_const"]),
    "TranslateY": lambda m, h: _randomly_negate(m / _MAX_LEVEL * h["translate_const"]),
    "TranslateXRel": lambda m, h: _randomly_negate(m / _MAX_LEVEL * h["translate_pct"]),
    "TranslateYRel": lambda m, h: _randomly_negate(m / _MAX_LEVEL * h["translate_pct"]),
}

# Operations that move pixels take the resampling filter and the fill colour.
_TIMM_GEOMETRY = {
    "Rotate": rotate, "ShearX": shear_x, "ShearY": shear_y,
    "TranslateX": translate_x, "TranslateY": translate_y,
    "TranslateXRel": lambda img, pct, resample, fill: translate_x(img, pct * img.size[0],
                                                                  resample, fill),
    "TranslateYRel": lambda img, pct, resample, fill: translate_y(img, pct * img.size[1],
                                                                  resample, fill),
}
_TIMM_PIXELS = {
    "AutoContrast": lambda img, _: ImageOps.autocontrast(img),
    "Equalize": lambda img, _: ImageOps.equalize(img),
    "Invert": lambda img, _: ImageOps.invert(img),
    "Posterize": posterize, "PosterizeIncreasing": posterize, "PosterizeOriginal": posterize,
    "Solarize": ImageOps.solarize, "SolarizeIncreasing": ImageOps.solarize,
    "SolarizeAdd": solarize_add,
    "Color": color_op, "ColorIncreasing": color_op, "Contrast": contrast_op,
    "ContrastIncreasing": contrast_op, "Brightness": brightness_op,
    "BrightnessIncreasing": brightness_op, "Sharpness": sharpness_op,
    "SharpnessIncreasing": sharpness_op,
}

_RAND_OPS = ["AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize",
             "SolarizeAdd", "Color", "Contrast", "Brightness", "Sharpness", "ShearX", "ShearY",
             "TranslateXRel", "TranslateYRel"]
_RAND_INCREASING_OPS = ["AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing",
                        "SolarizeIncreasing", "SolarizeAdd", "ColorIncreasing",
                        "ContrastIncreasing", "BrightnessIncreasing", "SharpnessIncreasing",
                        "ShearX", "ShearY", "TranslateXRel", "TranslateYRel"]
# timm's weight set 0 for 'w0' (in _RAND_OPS order; the increasing variants share them).
_RAND_WEIGHTS = [0.025, 0.005, 0, 0.3, 0, 0.005, 0.005, 0.025, 0.005, 0.005, 0.025, 0.2, 0.2,
                 0.1, 0.1]

# timm's AutoAugment policies: v0 (TPU EfficientNet) and original (the paper); the 'r'
# variants use the posterize whose severity increases with magnitude.
_AUTO_V0 = [
    (("Equalize", 0.8, 1), ("ShearY", 0.8, 4)), (("Color", 0.4, 9), ("Equalize", 0.6, 3)),
    (("Color", 0.4, 1), ("Rotate", 0.6, 8)), (("Solarize", 0.8, 3), ("Equalize", 0.4, 7)),
    (("Solarize", 0.4, 2), ("Solarize", 0.6, 2)), (("Color", 0.2, 0), ("Equalize", 0.8, 8)),
    (("Equalize", 0.4, 8), ("SolarizeAdd", 0.8, 3)), (("ShearX", 0.2, 9), ("Rotate", 0.6, 8)),
    (("Color", 0.6, 1), ("Equalize", 1.0, 2)), (("Invert", 0.4, 9), ("Rotate", 0.6, 0)),
    (("Equalize", 1.0, 9), ("ShearY", 0.6, 3)), (("Color", 0.4, 7), ("Equalize", 0.6, 0)),
    (("Posterize", 0.4, 6), ("AutoContrast", 0.4, 7)), (("Solarize", 0.6, 8), ("Color", 0.6, 9)),
    (("Solarize", 0.2, 4), ("Rotate", 0.8, 9)), (("Rotate", 1.0, 7), ("TranslateYRel", 0.8, 9)),
    (("ShearX", 0.0, 0), ("Solarize", 0.8, 4)), (("ShearY", 0.8, 0), ("Color", 0.6, 4)),
    (("Color", 1.0, 0), ("Rotate", 0.6, 2)), (("Equalize", 0.8, 4), ("Equalize", 0.0, 8)),
    (("Equalize", 1.0, 4), ("AutoContrast", 0.6, 2)), (("ShearY", 0.4, 7), ("SolarizeAdd", 0.6, 7)),
    (("Posterize", 0.8, 2), ("Solarize", 0.6, 10)), (("Solarize", 0.6, 8), ("Equalize", 0.6, 1)),
    (("Color", 0.8, 6), ("Rotate", 0.4, 5)),
]
_AUTO_ORIGINAL = [
    (("PosterizeOriginal", 0.4, 8), ("Rotate", 0.6, 9)),
    (("Solarize", 0.6, 5), ("AutoContrast", 0.6, 5)), (("Equalize", 0.8, 8), ("Equalize", 0.6, 3)),
    (("PosterizeOriginal", 0.6, 7), ("PosterizeOriginal", 0.6, 6)),
    (("Equalize", 0.4, 7), ("Solarize", 0.2, 4)), (("Equalize", 0.4, 4), ("Rotate", 0.8, 8)),
    (("Solarize", 0.6, 3), ("Equalize", 0.6, 7)),
    (("PosterizeOriginal", 0.8, 5), ("Equalize", 1.0, 2)),
    (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)),
    (("Equalize", 0.6, 8), ("PosterizeOriginal", 0.4, 6)),
    (("Rotate", 0.8, 8), ("Color", 0.4, 0)), (("Rotate", 0.4, 9), ("Equalize", 0.6, 2)),
    (("Equalize", 0.0, 7), ("Equalize", 0.8, 8)), (("Invert", 0.6, 4), ("Equalize", 1.0, 8)),
    (("Color", 0.6, 4), ("Contrast", 1.0, 8)), (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
    (("Color", 0.8, 8), ("Solarize", 0.8, 7)), (("Sharpness", 0.4, 7), ("Invert", 0.6, 8)),
    (("ShearX", 0.6, 5), ("Equalize", 1.0, 9)), (("Color", 0.4, 0), ("Equalize", 0.6, 3)),
    (("Equalize", 0.4, 7), ("Solarize", 0.2, 4)), (("Solarize", 0.6, 5), ("AutoContrast", 0.6, 5)),
    (("Invert", 0.6, 4), ("Equalize", 1.0, 8)), (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
    (("Equalize", 0.8, 8), ("Equalize", 0.6, 3)),
]


def _increasing_posterize(policy):
    rename = {"Posterize": "PosterizeIncreasing", "PosterizeOriginal": "PosterizeIncreasing"}
    return [tuple((rename.get(name, name), p, m) for name, p, m in pair) for pair in policy]


_AUTO_POLICIES = {"v0": _AUTO_V0, "v0r": _increasing_posterize(_AUTO_V0),
                  "original": _AUTO_ORIGINAL, "originalr": _increasing_posterize(_AUTO_ORIGINAL)}


class _TimmOp:
    """One of timm's operations at a magnitude, applied with a probability; the
    magnitude gets Gaussian noise of ``magnitude_std`` and is clipped to [0, 10]."""

    def __init__(self, name: str, prob: float, magnitude: float, hparams: Dict[str, Any]):
        self.name, self.prob, self.magnitude = name, prob, magnitude
        self.hparams = hparams
        self.level = _TIMM_LEVELS[name]

    def __call__(self, img: Image.Image) -> Image.Image:
        if self.prob < 1.0 and np.random.random_sample() > self.prob:
            return img
        magnitude = self.magnitude
        if self.hparams["magnitude_std"] > 0:
            magnitude = np.random.normal(magnitude, self.hparams["magnitude_std"])
        magnitude = min(_MAX_LEVEL, max(0.0, magnitude))
        arg = self.level(magnitude, self.hparams) if self.level else None
        if self.name in _TIMM_GEOMETRY:
            resample = self.hparams["resample"]
            if resample is None:  # 'random': bilinear or bicubic, per operation
                resample = _BILINEAR if np.random.randint(2) == 0 else _BICUBIC
            return _TIMM_GEOMETRY[self.name](img, arg, resample, self.hparams["fill"])
        return _TIMM_PIXELS[self.name](img, arg)


def _config_sections(config_str: str, known: Dict[str, Callable], kind: str) -> Dict[str, Any]:
    """Parse ``key<number>`` sections such as 'm9', 'mstd0.5', 'inc1'."""
    values = {}
    for section in config_str.split("-")[1:]:
        match = re.fullmatch(r"([a-z]+)(\d.*)", section)
        if not match or match.group(1) not in known:
            raise ConfigError(f"config_str {config_str!r}: unknown {kind} section {section!r}; "
                              f"sections are {', '.join(k + '<number>' for k in known)}")
        key, text = match.groups()
        try:
            values[key] = known[key](text)
        except ValueError:
            kind_of_number = "a whole number" if known[key] is int else "a number"
            raise ConfigError(f"config_str {config_str!r}: section {section!r} needs "
                              f"{kind_of_number} after {key!r}") from None
    return values


@TRANSFORMS.register
class TimmAutoAugment(_PilOp):
    """timm's RandAugment or AutoAugment, chosen and configured by ``config_str``.

    ``config_str`` is a dash-separated list whose first section is the method:

    * ``rand``: RandAugment. Sections: ``m<number>`` magnitude, 0..10 after noise
      (larger values are clipped to 10 per operation, as timm does; default 10),
      ``n<int>`` operations per image (default 2), ``mstd<float>`` standard deviation
      of Gaussian noise added to the magnitude per operation, ``inc<0|1>`` use the
      operations whose severity increases with magnitude, ``w0`` draw operations with
      timm's weights (without repetition). Each drawn operation is applied with
      probability 0.5. E.g. ``rand-m9-mstd0.5-inc1``.
    * ``v0``, ``v0r``, ``original``, ``originalr``: AutoAugment with timm's policy of
      that name; section ``mstd<float>``. E.g. ``original-mstd0.5``.

    Args:
        config_str: as above.
        interpolation: filter for rotations, shears and translations: 'bicubic'
            (default), 'bilinear', 'nearest', or 'random' (bilinear or bicubic, drawn
            per operation).
        img_size: training image size, an int or ``[w, h]``; absolute translations are
            up to 45% of its shorter side.
        mean: fill colour of uncovered areas, as fractions of 255 per channel.
        prob: probability of augmenting an image at all.
    """

    def __init__(self, config_str: Optional[str] = "rand-m9-mstd0.5-inc1",
                 interpolation: Optional[str] = "bicubic",
                 img_size: Union[int, List[int]] = 224,
                 mean: List[float] = (0.485, 0.456, 0.406), prob: float = 1.0):
        self.prob = probability(prob, "prob")
        sides = img_size if isinstance(img_size, (list, tuple)) else [img_size]
        if not sides or len(sides) > 2:
            raise ConfigError(f"img_size must be an integer or [w, h], got {img_size!r}")
        short_side = min(count(side, "img_size") for side in sides)
        if (not isinstance(mean, (list, tuple)) or len(mean) != 3
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           and 0 <= v <= 1 for v in mean)):
            raise ConfigError(f"mean must be three fractions of 255 in [0, 1] (the fill "
                              f"colour), got {mean!r}")
        hparams = {"translate_const": int(short_side * 0.45), "translate_pct": 0.45,
                   "fill": tuple(min(255, round(255 * v)) for v in mean),
                   "resample": affine_resample("random" if interpolation is None
                                               else interpolation, allow_random=True),
                   "magnitude_std": 0.0}
        if not isinstance(config_str, str) or not config_str:
            raise ConfigError(f"config_str must be text such as 'rand-m9-mstd0.5-inc1' or "
                              f"'original-mstd0.5', got {config_str!r}")
        method = config_str.split("-")[0]
        self.choice_weights = None
        if method == "rand":
            sections = _config_sections(config_str, {"m": float, "n": int, "mstd": float,
                                                     "inc": int, "w": int}, "RandAugment")
            # Above 10 is allowed, and clipped per operation as timm does (PPHGNet_base
            # uses m15: the noise of mstd then only weakens it).
            magnitude = number(sections.get("m", _MAX_LEVEL), "config_str magnitude m", 0)
            self.num_layers = count(sections.get("n", 2), "config_str layers n")
            names = _RAND_INCREASING_OPS if sections.get("inc", 0) else _RAND_OPS
            if "w" in sections:
                if sections["w"] != 0:
                    raise ConfigError(f"config_str {config_str!r}: only weight set w0 exists")
                self.choice_weights = np.asarray(_RAND_WEIGHTS) / np.sum(_RAND_WEIGHTS)
                if self.num_layers > np.count_nonzero(self.choice_weights):
                    raise ConfigError(f"config_str {config_str!r}: w0 draws without repetition"
                                      f" from {np.count_nonzero(self.choice_weights)} "
                                      f"operations; n is larger")
            hparams["magnitude_std"] = number(sections.get("mstd", 0), "config_str mstd", 0)
            self.ops = [_TimmOp(name, 0.5, magnitude, hparams) for name in names]
            self.policy = None
        elif method in _AUTO_POLICIES:
            sections = _config_sections(config_str, {"mstd": float}, "AutoAugment")
            hparams["magnitude_std"] = number(sections.get("mstd", 0), "config_str mstd", 0)
            self.policy = [[_TimmOp(name, p, m, hparams) for name, p, m in pair]
                           for pair in _AUTO_POLICIES[method]]
        else:
            valid = ["rand"] + list(_AUTO_POLICIES)
            raise ConfigError(f"config_str {config_str!r} starts with an unknown method "
                              f"{method!r}{closest(method, valid)}; valid: {', '.join(valid)} "
                              f"(augmix is not available)")

    def apply(self, img: Image.Image) -> Image.Image:
        if self.prob < 1.0 and np.random.random_sample() >= self.prob:
            return img
        if self.policy is not None:
            ops = self.policy[np.random.randint(len(self.policy))]
        else:
            picks = np.random.choice(len(self.ops), self.num_layers,
                                     replace=self.choice_weights is None, p=self.choice_weights)
            ops = [self.ops[i] for i in picks]
        for op in ops:
            img = op(img)
        return img


# ------------------------------------------------------------------ colour jitter

def _jitter_range(value: Any, name: str, center: float, bound: Tuple[float, float]):
    """PaddlePaddle's ColorJitter ranges: a number v -> [center - v, center + v] (the low
    end clipped at 0 for factors), or an explicit ``[low, high]``; None when it does
    nothing."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ConfigError(f"{name} must be a number or a [low, high] pair, got {value!r}")
        low, high = (number(v, name) for v in value)
        if not bound[0] <= low <= high <= bound[1]:
            raise ConfigError(f"{name} must be a pair with {bound[0]:g} <= low <= high <= "
                              f"{bound[1]:g}, got {value!r}")
    else:
        spread = number(value, name, 0, bound[1] - center)
        low, high = max(bound[0], center - spread), center + spread
    return None if low == high == center else (low, high)


def adjust_hue(img: Image.Image, shift: float) -> Image.Image:
    """Rotate the hue by ``shift`` turns (-0.5..0.5), as PaddlePaddle does on PIL images."""
    h, s, v = img.convert("HSV").split()
    hue = (np.asarray(h, dtype=np.int16) + int(shift * 255)) % 256
    return Image.merge("HSV", (Image.fromarray(hue.astype(np.uint8), "L"), s, v)).convert("RGB")


@TRANSFORMS.register
class ColorJitter(_PilOp):
    """Random brightness, contrast, saturation and hue, in a random order (PaddleClas's
    wrapper of PaddlePaddle's ColorJitter).

    Args:
        brightness, contrast, saturation: a number v for a factor drawn uniformly from
            ``[max(0, 1 - v), 1 + v]``, or a ``[low, high]`` range; 0 leaves it alone.
        hue: a number v in [0, 0.5] for a hue rotation drawn from ``[-v, v]`` turns, or
            a ``[low, high]`` range within [-0.5, 0.5].
        prob: probability of jittering an image (PaddleClas's default 2 means always).
    """

    def __init__(self, brightness: Union[float, List[float]] = 0,
                 contrast: Union[float, List[float]] = 0,
                 saturation: Union[float, List[float]] = 0,
                 hue: Union[float, List[float]] = 0, prob: float = 2):
        self.prob = number(prob, "prob", 0)
        self.adjustments = [(adjust, spread) for adjust, spread in (
            (brightness_op, _jitter_range(brightness, "brightness", 1.0, (0, np.inf))),
            (contrast_op, _jitter_range(contrast, "contrast", 1.0, (0, np.inf))),
            (color_op, _jitter_range(saturation, "saturation", 1.0, (0, np.inf))),
            (adjust_hue, _jitter_range(hue, "hue", 0.0, (-0.5, 0.5))),
        ) if spread is not None]

    def apply(self, img: Image.Image) -> Image.Image:
        if np.random.random_sample() >= self.prob:
            return img
        for index in np.random.permutation(len(self.adjustments)):
            adjust, (low, high) = self.adjustments[index]
            img = adjust(img, np.random.uniform(low, high))
        return img


# ------------------------------------------------------------------- PCA lighting

@TRANSFORMS.register
class PCALighting:
    """AlexNet-style lighting noise: add ``eigvec @ (alpha * eigval)`` to every pixel,
    with ``alpha`` drawn per image from N(0, alphastd) per component.

    As in PaddleClas, the offset is added in the units of the input (0..255 pixels
    before NormalizeImage, where PaddleClas's ResNet18_dbb recipe puts it) although the
    default eigenvalues come from [0, 1]-scaled ImageNet images, so the effect is
    small. The result is float32 HWC.

    Args:
        alphastd: standard deviation of alpha; 0 disables the op.
        eigval: the 3 eigenvalues of the RGB covariance.
        eigvec: the 3x3 matrix whose columns are the matching eigenvectors.
    """

    input_layout = output_layout = HWC

    def __init__(self, alphastd: float = 0.1,
                 eigval: List[float] = (0.2175, 0.0188, 0.0045),
                 eigvec: List[List[float]] = ((-0.5675, 0.7192, 0.4009),
                                              (-0.5808, -0.0045, -0.8140),
                                              (-0.5836, -0.6948, 0.4203))):
        self.alphastd = number(alphastd, "alphastd", 0)
        values = np.asarray([number(v, "eigval") for v in eigval] if isinstance(
            eigval, (list, tuple)) else [], dtype=np.float32)
        if values.shape != (3,):
            raise ConfigError(f"eigval must be a list of 3 numbers, got {eigval!r}")
        try:
            vectors = np.asarray(eigvec, dtype=np.float32)
        except (TypeError, ValueError):
            vectors = None
        if vectors is None or vectors.shape != (3, 3) or not np.all(np.isfinite(vectors)):
            raise ConfigError(f"eigvec must be a 3x3 list of numbers, got {eigvec!r}")
        self.eigval, self.eigvec = values, vectors

    def offset(self, alpha: np.ndarray) -> np.ndarray:
        """The per-channel value added for a given ``alpha``."""
        return (self.eigvec * (alpha * self.eigval)[None, :]).sum(axis=1)

    def __call__(self, img: np.ndarray) -> np.ndarray:
        if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3:
            got = f"shape {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
            raise DataError(f"PCALighting expects an HWC RGB image array, got {got}")
        if self.alphastd == 0:
            return img
        alpha = np.random.normal(0, self.alphastd, size=3).astype(np.float32)
        return img.astype(np.float32) + self.offset(alpha)


# --------------------------------------------------------------------- crop at ratio

@TRANSFORMS.register
class CropImageAtRatio:
    """Centre square crop of ``size / (size + pad)`` of the shorter side, resized to
    ``size`` x ``size`` (PaddleClas's evaluation crop for some high-resolution models).

    Args:
        size: output side.
        pad: margin that the crop ratio leaves out: ratio = size / (size + pad).
        interpolation: as for ResizeImage (default 'bilinear'). PaddleClas resizes with
            cv2 here; PIL's filters antialias when shrinking, so pixels differ slightly.
    """

    input_layout = output_layout = HWC

    def __init__(self, size: int, pad: int, interpolation: str = "bilinear"):
        self.size = count(size, "size")
        self.ratio = self.size / (self.size + count(pad, "pad", 0))
        if not isinstance(interpolation, str) or interpolation.lower() not in pixels.RESAMPLE:
            raise ConfigError(f"interpolation must be one of {sorted(pixels.RESAMPLE)}"
                              f"{closest(interpolation, pixels.RESAMPLE)}, got {interpolation!r}")
        self.resample = pixels.RESAMPLE[interpolation.lower()]

    def __call__(self, img: np.ndarray) -> np.ndarray:
        if not isinstance(img, np.ndarray) or img.ndim != 3:
            got = f"shape {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
            raise DataError(f"CropImageAtRatio expects an HWC image array, got {got}")
        height, width = img.shape[:2]
        side = max(1, int(self.ratio * min(height, width)))
        top, left = (height - side) // 2, (width - side) // 2
        return pixels.resize(img[top:top + side, left:left + side], self.size, self.size,
                             self.resample)
