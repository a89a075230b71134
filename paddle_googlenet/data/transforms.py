"""Image operators with PaddleClas's names and arguments, built from a config list.

A PaddleClas config describes preprocessing as a list of one-key mappings::

    transform_ops:
      - DecodeImage: {to_rgb: True, channel_first: False}
      - RandCropImage: {size: 224}
      - RandFlipImage: {flip_code: 1}
      - NormalizeImage: {scale: 1.0/255.0, mean: [0.485, 0.456, 0.406],
                         std: [0.229, 0.224, 0.225], order: ''}

``build_transforms`` turns that list into a ``Compose`` callable. Each operator
takes one sample image and returns it transformed: ``DecodeImage`` takes the raw
bytes of an image file, the others take numpy arrays.

The deterministic operators (DecodeImage, ResizeImage, CropImage, NormalizeImage,
ToCHWImage) and ``Compose`` are ``paddle_googlenet.pixels``'s, which inference
uses too; they are registered here beside the random training operators. See
that module for what they add to PaddleClas's (any image mode decoded, layouts
checked when the list is built).

Randomness: the random operators draw from numpy's global RNG (``np.random``), so
``np.random.seed`` controls them in a single process, and Paddle's DataLoader
reseeds that global RNG in every worker process (from a base seed it draws from the
main process's ``np.random``). ``loader.build_dataloader(..., seed=...)`` goes
further and seeds it per sample, so augmentations do not depend on ``num_workers``.
"""

import math
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from .. import image_io, pixels
from ..errors import ConfigError, ImageDecodeError
from ..pixels import (DETERMINISTIC_OPS, HWC, Compose, CropImage, DecodeImage,
                      NormalizeImage, ResizeImage, ToCHWImage, parse_number)
from ..registry import Registry
from ..validators import closest, count, op_entries, require_hwc, value_range

__all__ = ["DecodeImage", "ResizeImage", "CropImage", "RandCropImage", "RandFlipImage",
           "NormalizeImage", "ToCHWImage", "Compose", "TRANSFORMS", "build_transforms",
           "ImageDecodeError", "parse_number"]

TRANSFORMS = Registry("transform op")
for _op in DETERMINISTIC_OPS:
    TRANSFORMS.register(_op)


# ----------------------------------------------------------------- random operators

# ``interpolation: random`` resizes each crop with one of these, chosen per sample.
RANDOM_RESAMPLE = ("bilinear", "bicubic")


@TRANSFORMS.register
class RandCropImage:
    """Random-resized crop as in Inception training: a random region, resized.

    The region covers a fraction of the image area drawn uniformly from ``scale``
    and has a width/height ratio drawn uniformly from ``ratio`` (or, with
    ``use_log_aspect``, log-uniformly: uniform in ``log(ratio)``, so ratios r and 1/r
    are equally likely); when such a region cannot fit, its area is reduced until it
    does. The region is then resized to ``size`` (an int, or ``[w, h]``).

    Args:
        size: output size.
        scale: range of the area fraction, default ``[0.08, 1.0]``.
        ratio: range of the aspect ratio, default ``[3/4, 4/3]``.
        interpolation: as for ResizeImage, or ``random``: bilinear or bicubic, drawn
            for each sample (PaddleClas's), or a list of names to draw from.
        use_log_aspect: draw the aspect ratio uniformly in log space.
        progress_size: PaddleClas's progressive training (``Global.train_mode:
            progressive``) replaces ``size`` with these, stage by stage; a list of
            sizes, checked and kept in ``progress_size``, otherwise unused here.
        backend: 'cv2' (default) or 'pil': the library that resizes (see
            ``pixels.Resampler``).
    """

    input_layout = output_layout = HWC

    def __init__(self, size: Union[int, List[int]], scale: Optional[List[float]] = None,
                 ratio: Optional[List[float]] = None,
                 interpolation: Union[str, List[str], None] = None,
                 backend: Optional[str] = None, use_log_aspect: bool = False,
                 progress_size: Optional[List[int]] = None):
        self.size = pixels.size_pair(size)
        self.scale = value_range([0.08, 1.0] if scale is None else scale, "scale")
        if self.scale[1] > 1.0:
            raise ConfigError(f"scale is a fraction of the image area, at most 1.0; "
                              f"got {scale!r}")
        self.ratio = value_range([3.0 / 4.0, 4.0 / 3.0] if ratio is None else ratio, "ratio")
        if not isinstance(use_log_aspect, bool):
            raise ConfigError(f"use_log_aspect must be true or false, got {use_log_aspect!r}")
        self.use_log_aspect = use_log_aspect
        pixels.check_backend(backend)
        if isinstance(interpolation, str) and interpolation.lower() == "random":
            self.resample_choices = tuple(pixels.Resampler(name, backend)
                                          for name in RANDOM_RESAMPLE)
        elif isinstance(interpolation, (list, tuple)) and interpolation:
            # a list of names: one drawn for each sample (the paper draws from
            # bilinear, area, nearest and cubic)
            self.resample_choices = tuple(pixels.Resampler(name, backend)
                                          for name in interpolation)
        elif interpolation is None or (isinstance(interpolation, str)
                                       and interpolation.lower() in pixels.RESAMPLE):
            self.resample_choices = (pixels.Resampler(interpolation, backend),)
        else:
            raise ConfigError(f"interpolation must be one of {sorted(pixels.RESAMPLE)}, "
                              f"'random', a list of those names, or null for bilinear; "
                              f"got {interpolation!r}")
        self.progress_size = None
        if progress_size is not None:
            if not isinstance(progress_size, (list, tuple)) or not progress_size:
                raise ConfigError(f"progress_size must be a list of sizes, one per training "
                                  f"stage, got {progress_size!r}")
            self.progress_size = [pixels.size_pair(s) for s in progress_size]

    @property
    def resample(self) -> pixels.Resampler:
        """The resampler, when there is one (not ``interpolation: random``)."""
        return self.resample_choices[0]

    def _aspect_ratio(self) -> float:
        if self.use_log_aspect:
            return math.exp(np.random.uniform(math.log(self.ratio[0]), math.log(self.ratio[1])))
        return np.random.uniform(*self.ratio)

    def sample(self, img_width: int, img_height: int
               ) -> Tuple[int, int, int, int, pixels.Resampler]:
        """Draw the region of an image of that size, and the resampler:
        ``(left, top, width, height, resample)``."""
        aspect = self._aspect_ratio()
        # Largest area fraction a region of this aspect ratio can have and still fit.
        fits = min(img_width / (img_height * aspect), img_height * aspect / img_width)
        area = img_width * img_height * np.random.uniform(min(self.scale[0], fits),
                                                          min(self.scale[1], fits))
        width = min(img_width, max(1, int(math.sqrt(area * aspect))))
        height = min(img_height, max(1, int(math.sqrt(area / aspect))))
        left = np.random.randint(0, img_width - width + 1)
        top = np.random.randint(0, img_height - height + 1)
        resample = self.resample_choices[0]
        if len(self.resample_choices) > 1:
            resample = self.resample_choices[np.random.randint(len(self.resample_choices))]
        return left, top, width, height, resample

    def __call__(self, img: np.ndarray) -> np.ndarray:
        img = require_hwc(img, "RandCropImage")
        left, top, width, height, resample = self.sample(img.shape[1], img.shape[0])
        region = img[top:top + height, left:left + width]
        return pixels.resize(region, self.size[0], self.size[1], resample)

    def fused(self, previous) -> Optional["DecodeRandCrop"]:
        """After a ``DecodeImage`` that gives RGB HWC: one step that decodes only what
        the crop needs (see ``DecodeRandCrop``)."""
        if (type(previous) is DecodeImage and previous.to_rgb and previous.use_cv2
                and not previous.channel_first):
            return DecodeRandCrop(previous, self)
        return None


class DecodeRandCrop:
    """``DecodeImage`` then ``RandCropImage``, the same regions drawn, in less work.

    The region is drawn from the image's size, which the file's header gives, before
    any pixel is decoded. A JPEG is then decoded with DCT scaling by the largest
    factor of 2, 4 or 8 that keeps the region at least the output size, the region
    is cut out of the decoded image as a view, resized, and only the resized pixels
    are turned from OpenCV's BGR into RGB. At factor 1 the pixels are exactly
    ``RandCropImage``'s (and PaddleClas's: the same crop, the same cv2.resize); with
    DCT scaling they differ by what the scaling changes. The random draws are the
    same calls in the same order as ``RandCropImage``'s, so a seed gives the same
    regions and flips either way. Other formats, JPEGs with an EXIF orientation or
    a mode other than RGB or grey, and ``backend: pil`` take the two operators one
    after the other.
    """

    input_layout, output_layout = pixels.BYTES, HWC

    def __init__(self, decode: DecodeImage, crop: RandCropImage):
        self.decode, self.crop = decode, crop

    def __call__(self, data: bytes):
        header = image_io.scalable_jpeg(data)
        if header is None:
            return self.crop(self.decode(data))  # PIL says what is wrong, or decodes it
        width, height = header.width, header.height
        left, top, region_w, region_h, resampler = self.crop.sample(width, height)
        out_w, out_h = self.crop.size
        factor = image_io.dct_reduction(region_w, region_h, out_w, out_h)
        bgr = image_io.decode_jpeg_bgr(data, factor, header_read=True)
        if bgr is None:
            return self.crop(self.decode(data))
        if factor > 1:  # the region in the decoded image's pixels
            sx, sy = bgr.shape[1] / width, bgr.shape[0] / height
            left, right = round(left * sx), round((left + region_w) * sx)
            top, bottom = round(top * sy), round((top + region_h) * sy)
        else:
            right, bottom = left + region_w, top + region_h
        out = resampler(bgr[top:bottom, left:right], out_w, out_h)
        return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)


@TRANSFORMS.register
class RandFlipImage:
    """Flip with probability 0.5: ``flip_code`` 1 horizontally, 0 vertically, -1 both."""

    input_layout = output_layout = HWC

    def __init__(self, flip_code: int = 1):
        if isinstance(flip_code, bool) or flip_code not in (-1, 0, 1):
            raise ConfigError(f"flip_code must be 1 (horizontal), 0 (vertical) or -1 (both), "
                              f"got {flip_code!r}")
        self.flip_code = int(flip_code)

    def __call__(self, img: np.ndarray) -> np.ndarray:
        img = require_hwc(img, "RandFlipImage")
        if np.random.randint(2) == 0:
            return img
        if img.shape[2] <= 4 and img.dtype in (np.uint8, np.float32):
            # cv2 writes a contiguous flipped copy in one pass: a tenth of what
            # copying numpy's negative-stride view costs.
            return cv2.flip(img, self.flip_code).reshape(img.shape)
        flipped = {1: img[:, ::-1], 0: img[::-1], -1: img[::-1, ::-1]}[self.flip_code]
        return np.ascontiguousarray(flipped)  # negative strides upset some consumers


def build_transforms(op_list: Sequence[Mapping[str, Any]],
                     where: str = "transform_ops") -> Compose:
    """Build a ``Compose`` from PaddleClas's list form.

    Args:
        op_list: e.g. ``[{"DecodeImage": {"to_rgb": True}}, {"ToCHWImage": None}]``;
            each entry maps one operator name (one of ``TRANSFORMS.names()``) to its keyword
            arguments, or to None for none.
        where: config path of the list, used in error messages (``where.<index>``).

    Raises ConfigError for an entry that is not a one-key mapping, an unknown
    operator, an unknown or missing argument, a bad argument value, or operators
    whose layouts do not chain (see Compose).
    """
    ops = [TRANSFORMS.build(name, args, f"{at}.{name}")
           for at, name, args in op_entries(op_list, where)]
    return Compose(ops, where=where)


@TRANSFORMS.register
class CropImageAtRatio:
    """Centre square crop of ``size / (size + pad)`` of the shorter side, resized to
    ``size`` x ``size`` (PaddleClas's evaluation crop for some high-resolution models).

    Args:
        size: output side.
        pad: margin that the crop ratio leaves out: ratio = size / (size + pad).
        interpolation: as for ResizeImage (default 'bilinear'), resized with cv2 as
            PaddleClas does.
    """

    input_layout = output_layout = HWC

    def __init__(self, size: int, pad: int, interpolation: str = "bilinear"):
        self.size = count(size, "size")
        self.ratio = self.size / (self.size + count(pad, "pad", 0))
        if not isinstance(interpolation, str) or interpolation.lower() not in pixels.RESAMPLE:
            raise ConfigError(f"interpolation must be one of {sorted(pixels.RESAMPLE)}"
                              f"{closest(interpolation, pixels.RESAMPLE)}, got {interpolation!r}")
        self.resample = pixels.Resampler(interpolation)

    def __call__(self, img: np.ndarray) -> np.ndarray:
        height, width = require_hwc(img, "CropImageAtRatio").shape[:2]
        side = max(1, int(self.ratio * min(height, width)))
        top, left = (height - side) // 2, (width - side) // 2
        return pixels.resize(img[top:top + side, left:left + side], self.size, self.size,
                             self.resample)
