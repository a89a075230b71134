"""Operators that hide parts of the image, with PaddleClas's names and arguments.

``RandomErasing``, ``Cutout``, ``GridMask`` and ``HideAndSeek`` come after
NormalizeImage in PaddleClas's configs (erasing to 0 then means erasing to the
mean colour), and work on the HWC array it returns (``order: ''``); PaddleClas's
dataset turns the result CHW afterwards, as ``ImageNetDataset`` does here. They
also accept the uint8 pixels before NormalizeImage. Each returns a new array of the
input's shape and dtype; the input is not modified.

Randomness comes from numpy's global RNG only (see ``transforms``).
"""

from typing import List, Optional, Union

import numpy as np
from PIL import Image

from ..errors import ConfigError, DataError
from ..validators import closest, count, number, probability, require_hwc
from .transforms import HWC, TRANSFORMS

__all__ = ["RandomErasing", "Cutout", "GridMask", "HideAndSeek"]


_ERASE_MODES = ("const", "rand", "pixel")


@TRANSFORMS.register
class RandomErasing:
    """Random Erasing (Zhong et al. 2017): with probability ``EPSILON``, replace a
    random rectangle of the image.

    The rectangle covers a fraction of the area drawn uniformly from ``[sl, sh]`` and
    has a height/width ratio drawn uniformly from ``[r1, 1/r1]`` (or log-uniformly with
    ``use_log_aspect``); its sides are rounded to whole pixels. Up to ``attempt``
    draws are made until one fits strictly inside the image; if none does, the image is
    left alone.

    Args:
        EPSILON: probability of erasing.
        sl, sh: range of the erased fraction of the area, 0 < sl <= sh <= 1. Numbers or
            arithmetic text such as '1.0/3.0'.
        r1: smallest aspect ratio, in (0, 1].
        mean: fill values for mode 'const' (one per channel).
        attempt: number of draws of the rectangle.
        use_log_aspect: draw the aspect ratio uniformly in log space.
        mode: 'const' fills with ``mean``; 'rand' with one standard-normal value per
            channel; 'pixel' with standard-normal noise per pixel and channel (the
            noise is meant for normalized images, so 'rand' and 'pixel' refuse uint8).

    Only the first 3 channels are filled: with ``NormalizeImage channel_num: 4`` the
    padding channel stays zero (PaddleClas fills only channel 0 of a 4-channel image).
    """

    input_layout = output_layout = HWC

    def __init__(self, EPSILON: Union[float, str] = 0.5, sl: Union[float, str] = 0.02,
                 sh: Union[float, str] = 0.4, r1: Union[float, str] = 0.3,
                 mean: List[float] = (0.0, 0.0, 0.0), attempt: int = 100,
                 use_log_aspect: bool = False, mode: str = "const"):
        self.probability = probability(EPSILON, "EPSILON")
        self.sl = number(sl, "sl", 0, 1)
        self.sh = number(sh, "sh", 0, 1)
        if not 0 < self.sl <= self.sh:
            raise ConfigError(f"sl and sh must satisfy 0 < sl <= sh <= 1, got sl={sl!r}, "
                              f"sh={sh!r}")
        r1 = number(r1, "r1", 0, 1)
        if r1 <= 0:
            raise ConfigError(f"r1 must be in (0, 1], got {r1!r}")
        if not isinstance(use_log_aspect, bool):
            raise ConfigError(f"use_log_aspect must be true or false, got {use_log_aspect!r}")
        self.use_log_aspect = use_log_aspect
        self.aspect_range = (np.log(r1), -np.log(r1)) if use_log_aspect else (r1, 1 / r1)
        self.attempt = count(attempt, "attempt")
        if mode not in _ERASE_MODES:
            raise ConfigError(f"mode must be one of {list(_ERASE_MODES)}"
                              f"{closest(mode, _ERASE_MODES)}, got {mode!r}")
        self.mode = mode
        if not isinstance(mean, (list, tuple)) or len(mean) != 3:
            raise ConfigError(f"mean must be a list of 3 numbers, got {mean!r}")
        self.mean = np.asarray([number(v, "mean") for v in mean], dtype=np.float64)

    def region(self, height: int, width: int) -> Optional[tuple]:
        """Draw ``(top, left, h, w)`` of the rectangle to erase, or None if no draw fits."""
        for _ in range(self.attempt):
            area = np.random.uniform(self.sl, self.sh) * height * width
            aspect = np.random.uniform(*self.aspect_range)
            if self.use_log_aspect:
                aspect = np.exp(aspect)
            h = int(round(np.sqrt(area * aspect)))
            w = int(round(np.sqrt(area / aspect)))
            if w < width and h < height:
                top = np.random.randint(0, height - h + 1)
                return top, np.random.randint(0, width - w + 1), h, w
        return None

    def __call__(self, img: np.ndarray) -> np.ndarray:
        if np.random.random_sample() > self.probability:
            return img
        img = require_hwc(img, "RandomErasing").copy()
        if self.mode != "const" and not np.issubdtype(img.dtype, np.floating):
            raise DataError(f"RandomErasing mode {self.mode!r} fills with standard-normal "
                            f"noise, which needs the float image NormalizeImage returns; "
                            f"got {img.dtype} (list RandomErasing after NormalizeImage or use "
                            f"mode 'const')")
        found = self.region(*img.shape[:2])
        if found is None:
            return img
        top, left, h, w = found
        channels = min(3, img.shape[2])
        if self.mode == "const":
            fill = self.mean[:channels]
        elif self.mode == "rand":
            fill = np.random.normal(size=3)[:channels]
        else:
            fill = np.random.normal(size=(h, w, 3))[:, :, :channels]
        img[top:top + h, left:left + w, :channels] = fill
        return img


@TRANSFORMS.register
class Cutout:
    """Cutout (DeVries & Taylor 2017): ``n_holes`` times, fill the square of side
    ``length`` centred at a uniformly drawn pixel, clipped to the image.

    The square spans ``length // 2`` pixels on either side of its centre, so an odd
    ``length`` fills ``length - 1`` pixels (as PaddleClas).

    Args:
        n_holes: number of squares.
        length: side of a square, in pixels.
        fill_value: per-channel fill, default zeros; null (or 'none') for a random
            colour in 0..255 per square, as PaddleClas's option of that name.
    """

    input_layout = output_layout = HWC

    def __init__(self, n_holes: int = 1, length: int = 112,
                 fill_value: Union[List[float], str, None] = (0, 0, 0)):
        self.n_holes = count(n_holes, "n_holes")
        self.length = count(length, "length")
        if fill_value is None or fill_value == "none":
            self.fill_value = None
        elif isinstance(fill_value, (list, tuple)) and len(fill_value) == 3:
            self.fill_value = np.asarray([number(v, "fill_value") for v in fill_value])
        else:
            raise ConfigError(f"fill_value must be 3 numbers or null (random colours), got "
                              f"{fill_value!r}")

    def __call__(self, img: np.ndarray) -> np.ndarray:
        img = require_hwc(img, "Cutout").copy()
        height, width = img.shape[:2]
        half = self.length // 2
        channels = min(3, img.shape[2])
        for _ in range(self.n_holes):
            y, x = np.random.randint(height), np.random.randint(width)
            fill = (np.random.randint(0, 256, size=3) if self.fill_value is None
                    else self.fill_value)
            img[max(0, y - half):min(height, y + half), max(0, x - half):min(width, x + half),
                :channels] = fill[:channels]
        return img


@TRANSFORMS.register
class GridMask:
    """GridMask (Chen et al. 2020): with probability ``prob``, multiply the image by a
    grid mask of period d (drawn from ``[d1, d2)``) whose stripes of width
    ``round(d * ratio)`` are zero, shifted randomly and rotated by a random whole
    number of degrees below ``rotate``.

    Args:
        d1, d2: range of the grid period in pixels, d1 < d2.
        rotate: rotation angles are drawn from 0..rotate-1 degrees (1: no rotation).
        ratio: fraction of the period covered by a stripe, in [0, 1].
        mode: 0 zeroes the stripes, 1 keeps only the stripes.
        prob: probability of masking an image.

    PaddleClas scales ``prob`` by ``epoch / 240`` through a module-level epoch counter
    that nothing updates, so there it never masks; here ``prob`` is used as given.
    PaddleClas also reads the image as CHW although its configs hand it HWC; here the
    mask covers height and width of the HWC image.
    """

    input_layout = output_layout = HWC

    def __init__(self, d1: int = 96, d2: int = 224, rotate: int = 1, ratio: float = 0.5,
                 mode: int = 0, prob: float = 1.0):
        self.d1 = count(d1, "d1")
        self.d2 = count(d2, "d2")
        if self.d2 <= self.d1:
            raise ConfigError(f"d2 must be larger than d1, got d1={d1!r}, d2={d2!r}")
        self.rotate = count(rotate, "rotate")
        self.ratio = probability(ratio, "ratio")
        if isinstance(mode, bool) or mode not in (0, 1):
            raise ConfigError(f"mode must be 0 (zero the stripes) or 1 (keep only the stripes),"
                              f" got {mode!r}")
        self.mode = int(mode)
        self.prob = probability(prob, "prob")

    def mask(self, height: int, width: int) -> np.ndarray:
        """Draw a mask of 0s and 1s of the image's height and width."""
        big_h, big_w = int(1.5 * height), int(1.5 * width)
        period = np.random.randint(self.d1, self.d2)
        stripe = int(period * self.ratio + 0.5)
        offset_h, offset_w = np.random.randint(period), np.random.randint(period)
        rows = (np.arange(big_h) - offset_h) % period < stripe
        cols = (np.arange(big_w) - offset_w) % period < stripe
        grid = np.where(rows[:, None] | cols[None, :], 0, 1).astype(np.uint8)
        angle = np.random.randint(self.rotate)
        grid = np.asarray(Image.fromarray(grid).rotate(angle))
        top, left = (big_h - height) // 2, (big_w - width) // 2
        grid = grid[top:top + height, left:left + width]
        return 1 - grid if self.mode == 1 else grid

    def __call__(self, img: np.ndarray) -> np.ndarray:
        img = require_hwc(img, "GridMask").copy()
        if np.random.random_sample() > self.prob:
            return img
        return (img * self.mask(*img.shape[:2])[:, :, None]).astype(img.dtype)


@TRANSFORMS.register
class HideAndSeek:
    """Hide-and-Seek (Singh & Lee 2017): cut the image into square cells of a side drawn
    from ``grid_sizes`` (0: leave the image alone) and zero each cell with probability
    ``hide_prob``.

    PaddleClas takes no arguments and uses the defaults; like GridMask it reads the
    image as CHW although its configs hand it HWC, so here the cells cover height and
    width of the HWC image.
    """

    input_layout = output_layout = HWC

    def __init__(self, grid_sizes: List[int] = (0, 16, 32, 44, 56), hide_prob: float = 0.5):
        if not isinstance(grid_sizes, (list, tuple)) or not grid_sizes:
            raise ConfigError(f"grid_sizes must be a list of cell sides (0: no hiding), got "
                              f"{grid_sizes!r}")
        self.grid_sizes = [count(size, "grid_sizes", 0) for size in grid_sizes]
        self.hide_prob = probability(hide_prob, "hide_prob")

    def __call__(self, img: np.ndarray) -> np.ndarray:
        img = require_hwc(img, "HideAndSeek").copy()
        side = self.grid_sizes[np.random.randint(len(self.grid_sizes))]
        if side == 0:
            return img
        height, width = img.shape[:2]
        cells_y, cells_x = -(-height // side), -(-width // side)
        hidden = np.random.random_sample((cells_y, cells_x)) <= self.hide_prob
        keep = np.repeat(np.repeat(~hidden, side, axis=0), side, axis=1)[:height, :width]
        return img * keep[:, :, None].astype(img.dtype)
