"""Colour augmentation: ``ColorJitter`` and ``PCALighting`` (AlexNet's lighting noise)."""

from typing import Any, List, Tuple, Union

import numpy as np
from PIL import Image

from ...errors import ConfigError, DataError
from ...validators import number
from ..transforms import HWC, TRANSFORMS
from .pil_ops import (PilOp, brightness_op, color_op, contrast_op)

__all__ = ["ColorJitter", "PCALighting"]


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
class ColorJitter(PilOp):
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


