"""What the augmentation policies share: PIL image operations on uint8 HWC pixels,
the checks of their arguments, and ``PilOp``, the base of the operators."""

from typing import Any

import numpy as np
from PIL import Image, ImageEnhance

from ...errors import ConfigError, DataError
from ...validators import closest
from ..transforms import HWC

MAX_LEVEL = 10.0
GREY = (128, 128, 128)
AFFINE = Image.Transform.AFFINE
NEAREST, BILINEAR, BICUBIC = (Image.Resampling.NEAREST, Image.Resampling.BILINEAR,
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
AFFINE_RESAMPLE = {"nearest": NEAREST, "bilinear": BILINEAR, "bicubic": BICUBIC}


def affine_resample(value: Any, name: str = "interpolation", allow_random: bool = False):
    """A PIL filter for affine transforms, or None for 'random' (bilinear or bicubic,
    drawn per operation)."""
    valid = sorted(AFFINE_RESAMPLE) + (["random"] if allow_random else [])
    if not isinstance(value, str) or value.lower() not in valid:
        raise ConfigError(f"{name} must be one of {valid}{closest(value, valid)}, got {value!r}")
    return None if value.lower() == "random" else AFFINE_RESAMPLE[value.lower()]


# ------------------------------------------------------------ image operations (PIL)

def random_sign() -> int:
    return -1 if np.random.random_sample() < 0.5 else 1


def shear_x(img, factor, resample, fill):
    return img.transform(img.size, AFFINE, (1, factor, 0, 0, 1, 0), resample, fillcolor=fill)


def shear_y(img, factor, resample, fill):
    return img.transform(img.size, AFFINE, (1, 0, 0, factor, 1, 0), resample, fillcolor=fill)


def translate_x(img, offset, resample, fill):
    return img.transform(img.size, AFFINE, (1, 0, offset, 0, 1, 0), resample, fillcolor=fill)


def translate_y(img, offset, resample, fill):
    return img.transform(img.size, AFFINE, (1, 0, 0, 0, 1, offset), resample, fillcolor=fill)


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


class PilOp:
    """Base of the operators that work on a PIL image of the uint8 HWC pixels."""

    input_layout = output_layout = HWC

    def __call__(self, img: np.ndarray) -> np.ndarray:
        out = self.apply(pil_uint8(img, type(self).__name__))
        return np.array(out, dtype=np.uint8)  # a writable copy for the ops after

    def apply(self, img: Image.Image) -> Image.Image:
        raise NotImplementedError


