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

Differences from PaddleClas, on purpose:

* Everything is done with PIL and numpy; OpenCV is never needed. ``backend`` is
  accepted wherever PaddleClas accepts it ('cv2' or 'pil') but PIL always does the
  work, so resized pixels can differ slightly from a cv2 run (PIL's bilinear filter
  antialiases when shrinking, cv2's does not).
* ``Compose`` follows the image layout through the list (bytes, then HWC or CHW
  arrays) and rejects a list whose operators do not fit together (no DecodeImage
  first, a crop after ToCHWImage, a NormalizeImage ``order`` that does not match)
  when it is built, instead of failing or silently mis-broadcasting on the first
  batch.

Randomness: the random operators draw from numpy's global RNG (``np.random``), so
``np.random.seed`` controls them in a single process, and Paddle's DataLoader
reseeds that global RNG in every worker process (from a base seed it draws from the
main process's ``np.random``). ``loader.build_dataloader(..., seed=...)`` goes
further and seeds it per sample, so augmentations do not depend on ``num_workers``.
"""

import math
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from ..deploy import preprocess as pixels
from ..errors import ConfigError, DataError
from ..registry import Registry

__all__ = ["DecodeImage", "ResizeImage", "CropImage", "RandCropImage", "RandFlipImage",
           "NormalizeImage", "ToCHWImage", "Compose", "TRANSFORMS", "build_transforms",
           "ImageDecodeError"]


class ImageDecodeError(DataError):
    """Bytes that are not a readable image (the dataset adds the file's path)."""


# Layouts a sample goes through; Compose checks that neighbouring operators agree.
BYTES, HWC, CHW = "bytes", "hwc", "chw"
_LAYOUT_NAMES = {BYTES: "the raw bytes of an image file", HWC: "an HWC array",
                 CHW: "a CHW array"}

_RESAMPLE = pixels.RESAMPLE
_BACKENDS = ("cv2", "pil")

TRANSFORMS = Registry("transform op")


# ----------------------------------------------------------------- argument checks

def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    return bool(value)


def _size_pair(value: Any, name: str = "size") -> Tuple[int, int]:
    """An int or a ``[w, h]`` pair -> ``(w, h)``."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ConfigError(f"{name} must be an integer or a [w, h] pair, got {value!r}")
        return _positive_int(value[0], f"{name}[0] (width)"), _positive_int(value[1],
                                                                           f"{name}[1] (height)")
    side = _positive_int(value, name)
    return side, side


def _resample(interpolation: Optional[str]) -> int:
    if interpolation is None:
        return Image.Resampling.BILINEAR  # PaddleClas's default (cv2.INTER_LINEAR)
    if not isinstance(interpolation, str) or interpolation.lower() not in _RESAMPLE:
        raise ConfigError(f"interpolation must be one of {sorted(_RESAMPLE)} (or null for "
                          f"bilinear), got {interpolation!r}")
    return _RESAMPLE[interpolation.lower()]


def _check_backend(backend: Optional[str]) -> None:
    if backend is not None and (not isinstance(backend, str) or backend.lower() not in _BACKENDS):
        raise ConfigError(f"backend must be one of {list(_BACKENDS)} (PIL is used either "
                          f"way), got {backend!r}")


def _check_range(value: Any, name: str) -> Tuple[float, float]:
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            or not 0 < value[0] <= value[1]):
        raise ConfigError(f"{name} must be a pair [low, high] with 0 < low <= high, "
                          f"got {value!r}")
    return float(value[0]), float(value[1])


def _hwc(img: Any, op: str) -> np.ndarray:
    """Return ``img`` if it is an HWC array; say what went wrong otherwise."""
    if not isinstance(img, np.ndarray) or img.ndim != 3:
        got = (f"an array of shape {img.shape}" if isinstance(img, np.ndarray)
               else type(img).__name__)
        raise DataError(f"{op} expects an HWC image array, got {got}")
    return img


# ----------------------------------------------------------------------- operators

@TRANSFORMS.register
class DecodeImage:
    """Decode the bytes of an image file into an RGB ``uint8`` HWC array.

    Args:
        to_rgb: channel order RGB (True) or BGR (False). PaddleClas decodes with cv2,
            which yields BGR and converts when ``to_rgb`` is True; PIL yields RGB, so
            here BGR is the converted case. The resulting array is the same.
        channel_first: return CHW instead of HWC.
        to_np: accepted for PaddleClas configs; the result is always a numpy array
            because every other operator here works on arrays.
        backend: accepted ('cv2' or 'pil'); PIL decodes either way.

    Any image mode is converted to 3-channel RGB (grayscale, palette, CMYK, 16-bit,
    alpha composited onto white; see ``paddle_googlenet.deploy.preprocess.decode_rgb``,
    which does the work and is what deployment uses too). Bytes that are not an
    image, or a truncated image, raise ``ImageDecodeError``.
    """

    input_layout = BYTES

    def __init__(self, to_rgb: bool = True, channel_first: bool = False, to_np: bool = True,
                 backend: Optional[str] = None):
        _check_backend(backend)
        _flag(to_np, "to_np")
        self.to_rgb = _flag(to_rgb, "to_rgb")
        self.channel_first = _flag(channel_first, "channel_first")
        self.output_layout = CHW if self.channel_first else HWC

    def __call__(self, data: bytes) -> np.ndarray:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise DataError(f"DecodeImage expects the raw bytes of an image file, got "
                            f"{type(data).__name__} (is DecodeImage listed twice?)")
        try:
            rgb = pixels.decode_rgb(data)
        except pixels.ImageError as err:
            raise ImageDecodeError(str(err)) from None
        if not self.to_rgb:
            rgb = rgb[:, :, ::-1]
        if self.channel_first:
            rgb = rgb.transpose(2, 0, 1)
        return np.ascontiguousarray(rgb)


@TRANSFORMS.register
class ResizeImage:
    """Resize to an exact size, or so that the short side has a given length.

    Args:
        size: output size, an int (square) or ``[w, h]``.
        resize_short: length of the short side after resizing; the aspect ratio is
            kept. Give exactly one of ``size`` and ``resize_short``.
        interpolation: 'nearest', 'bilinear' (default), 'bicubic', 'area' (= 'box'),
            'lanczos' or 'hamming'.
        backend: accepted ('cv2' or 'pil'); PIL resizes either way.
    """

    input_layout = output_layout = HWC

    def __init__(self, size: Union[int, List[int], None] = None,
                 resize_short: Optional[int] = None, interpolation: Optional[str] = None,
                 backend: Optional[str] = None):
        if (size is None) == (resize_short is None):
            raise ConfigError("give exactly one of size and resize_short, got "
                              f"size={size!r}, resize_short={resize_short!r}")
        self.size = None if size is None else _size_pair(size)
        self.resize_short = None if resize_short is None else _positive_int(resize_short,
                                                                            "resize_short")
        self.resample = _resample(interpolation)
        _check_backend(backend)

    def __call__(self, img: np.ndarray) -> np.ndarray:
        img = _hwc(img, "ResizeImage")
        height, width = img.shape[:2]
        if self.size is not None:
            new_width, new_height = self.size
        else:
            new_width, new_height = pixels.short_side_size(width, height, self.resize_short)
        return pixels.resize(img, new_width, new_height, self.resample)


@TRANSFORMS.register
class CropImage:
    """Cut the centre ``size`` (an int, or ``[w, h]``) out of the image.

    An image smaller than ``size`` is an error rather than a smaller crop, so that
    every sample of a batch has the same shape.
    """

    input_layout = output_layout = HWC

    def __init__(self, size: Union[int, List[int]]):
        self.size = _size_pair(size)

    def __call__(self, img: np.ndarray) -> np.ndarray:
        img = _hwc(img, "CropImage")
        width, height = self.size
        try:
            return pixels.center_crop(img, width, height)
        except pixels.ImageError as err:
            raise DataError(f"CropImage: {err}") from None


@TRANSFORMS.register
class RandCropImage:
    """Random-resized crop as in Inception training: a random region, resized.

    The region covers a fraction of the image area drawn uniformly from ``scale``
    and has a width/height ratio drawn uniformly from ``ratio``; when such a region
    cannot fit, its area is reduced until it does. The region is then resized to
    ``size`` (an int, or ``[w, h]``).

    Args:
        size: output size.
        scale: range of the area fraction, default ``[0.08, 1.0]``.
        ratio: range of the aspect ratio, default ``[3/4, 4/3]``.
        interpolation: as for ResizeImage.
        backend: accepted ('cv2' or 'pil'); PIL resizes either way.
    """

    input_layout = output_layout = HWC

    def __init__(self, size: Union[int, List[int]], scale: Optional[List[float]] = None,
                 ratio: Optional[List[float]] = None, interpolation: Optional[str] = None,
                 backend: Optional[str] = None):
        self.size = _size_pair(size)
        self.scale = _check_range([0.08, 1.0] if scale is None else scale, "scale")
        if self.scale[1] > 1.0:
            raise ConfigError(f"scale is a fraction of the image area, at most 1.0; "
                              f"got {scale!r}")
        self.ratio = _check_range([3.0 / 4.0, 4.0 / 3.0] if ratio is None else ratio, "ratio")
        self.resample = _resample(interpolation)
        _check_backend(backend)

    def __call__(self, img: np.ndarray) -> np.ndarray:
        img = _hwc(img, "RandCropImage")
        img_height, img_width = img.shape[:2]
        aspect = np.random.uniform(*self.ratio)
        # Largest area fraction a region of this aspect ratio can have and still fit.
        fits = min(img_width / (img_height * aspect), img_height * aspect / img_width)
        area = img_width * img_height * np.random.uniform(min(self.scale[0], fits),
                                                          min(self.scale[1], fits))
        width = min(img_width, max(1, int(math.sqrt(area * aspect))))
        height = min(img_height, max(1, int(math.sqrt(area / aspect))))
        left = np.random.randint(0, img_width - width + 1)
        top = np.random.randint(0, img_height - height + 1)
        region = img[top:top + height, left:left + width]
        return pixels.resize(region, self.size[0], self.size[1], self.resample)


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
        img = _hwc(img, "RandFlipImage")
        if np.random.randint(2) == 0:
            return img
        if self.flip_code == 1:
            img = img[:, ::-1]
        elif self.flip_code == 0:
            img = img[::-1]
        else:
            img = img[::-1, ::-1]
        return np.ascontiguousarray(img)  # negative strides upset some consumers


def parse_number(text: str) -> float:
    """Evaluate arithmetic such as ``'1.0/255.0'`` (numbers, + - * / and parentheses)
    without ``eval``; ConfigError for anything else."""
    try:
        return pixels.parse_number(text)
    except pixels.DeployError as err:
        raise ConfigError(str(err)) from None


@TRANSFORMS.register
class NormalizeImage:
    """``(img * scale - mean) / std`` per channel, as float32 (float16 if asked).

    Args:
        scale: a number, or arithmetic text such as ``'1.0/255.0'``; default 1/255.
        mean, std: per-channel values; default ImageNet's (RGB order).
        order: layout of the *input* image, as in PaddleClas: 'chw', or 'hwc' / ''
            for HWC. Normalizing does not change the layout.
        output_fp16: return float16 instead of float32.
        channel_num: 3, or 4 to append a channel of zeros (PaddleClas does that for
            NHWC float16 training).
    """

    def __init__(self, scale: Union[float, str, None] = None,
                 mean: Optional[List[float]] = None, std: Optional[List[float]] = None,
                 order: str = "chw", output_fp16: bool = False, channel_num: int = 3):
        if scale is None:
            scale = 1.0 / 255.0
        elif isinstance(scale, str):
            scale = parse_number(scale)
        elif isinstance(scale, bool) or not isinstance(scale, (int, float)):
            raise ConfigError(f"scale must be a number or text like '1.0/255.0', got {scale!r}")
        if not (math.isfinite(scale) and scale > 0):
            raise ConfigError(f"scale must be a positive number, got {scale!r}")
        if order not in ("chw", "hwc", ""):
            raise ConfigError(f"order must be 'chw', 'hwc' or '' (HWC), got {order!r}")
        if channel_num not in (3, 4) or isinstance(channel_num, bool):
            raise ConfigError(f"channel_num must be 3 or 4, got {channel_num!r}")
        self.scale = float(scale)
        self.channel_axis = 0 if order == "chw" else 2
        self.input_layout = self.output_layout = CHW if order == "chw" else HWC
        shape = (3, 1, 1) if order == "chw" else (1, 1, 3)
        self.mean = self._channel_values(mean, [0.485, 0.456, 0.406], "mean").reshape(shape)
        self.std = self._channel_values(std, [0.229, 0.224, 0.225], "std").reshape(shape)
        if np.any(self.std <= 0):
            raise ConfigError(f"std must be positive, got {std!r}")
        self.dtype = np.float16 if _flag(output_fp16, "output_fp16") else np.float32
        self.channel_num = channel_num

    @staticmethod
    def _channel_values(values: Optional[Sequence[float]], default: List[float],
                        name: str) -> np.ndarray:
        values = default if values is None else values
        if (not isinstance(values, (list, tuple)) or len(values) != 3
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           for v in values)):
            raise ConfigError(f"{name} must be a list of 3 numbers, got {values!r}")
        return np.asarray(values, dtype=np.float32)

    def __call__(self, img: np.ndarray) -> np.ndarray:
        if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[self.channel_axis] != 3:
            got = f"shape {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
            layout = "CHW" if self.channel_axis == 0 else "HWC"
            raise DataError(f"NormalizeImage expects a 3-channel {layout} array, got {got}")
        out = pixels.normalize(img, self.scale, self.mean, self.std)
        if self.channel_num == 4:
            zeros_shape = list(out.shape)
            zeros_shape[self.channel_axis] = 1
            out = np.concatenate([out, np.zeros(zeros_shape, np.float32)], axis=self.channel_axis)
        return out.astype(self.dtype)


@TRANSFORMS.register
class ToCHWImage:
    """HWC -> CHW."""

    input_layout, output_layout = HWC, CHW

    def __call__(self, img: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(_hwc(img, "ToCHWImage").transpose(2, 0, 1))


# -------------------------------------------------------------------- composition

class Compose:
    """Apply operators in order; checks at construction that their layouts chain.

    Args:
        ops: operator instances; each has ``input_layout`` and ``output_layout``.
        where: config path of the list, for error messages.
        input_layout: what the first operator receives, 'bytes' by default.

    ``output_layout`` tells what the last operator returns ('bytes', 'hwc', 'chw').
    """

    def __init__(self, ops: Sequence[Callable], where: str = "transform_ops",
                 input_layout: str = BYTES):
        layout = input_layout
        for index, op in enumerate(ops):
            name = type(op).__name__
            needs = getattr(op, "input_layout", None)
            if needs is not None and needs != layout:
                raise ConfigError(f"{where}.{index} ({name}) works on {_LAYOUT_NAMES[needs]} but "
                                  f"receives {_LAYOUT_NAMES[layout]} here; "
                                  f"{_layout_hint(op, layout)}")
            layout = getattr(op, "output_layout", layout)
        self.ops = list(ops)
        self.output_layout = layout

    def __call__(self, sample: Any) -> Any:
        for op in self.ops:
            sample = op(sample)
        return sample

    def __repr__(self) -> str:
        return f"Compose([{', '.join(type(op).__name__ for op in self.ops)}])"


def _layout_hint(op: Any, layout: str) -> str:
    if layout == BYTES:
        return "the list must start with DecodeImage"
    if isinstance(op, DecodeImage):
        return "DecodeImage must come first, and only once"
    if isinstance(op, NormalizeImage):
        return "set NormalizeImage's order to '' for HWC input or 'chw' for CHW input"
    return ("move ToCHWImage to the end of the list and keep DecodeImage's "
            "channel_first False")


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
           for at, name, args in pixels.transform_entries(op_list, where, ConfigError)]
    return Compose(ops, where=where)
