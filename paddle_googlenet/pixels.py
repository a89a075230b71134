"""The deterministic pixel operators and the model's CHW input, with OpenCV, PIL and
numpy.

This is the one implementation of resizing, centre cropping and normalizing, and of
the decoding operator over ``image_io``'s decoders. Training
(``paddle_googlenet.data.transforms``, which adds the random operators) and
deployment (``paddle_googlenet.deploy.preprocess``) both build their pipelines from
the classes here, so an exported model sees exactly the pixels it was evaluated on.
Each class parses and checks its own arguments, with PaddleClas's names and
defaults; ``DETERMINISTIC_OPS`` lists them for both sides.

Like PaddleClas, images are resized with OpenCV unless an operator says ``backend:
pil``, so that evaluation sees the pixels PaddleClas's own pipeline makes and
weights carry over either way (PIL's bilinear filter antialiases when it shrinks,
cv2's does not: the two differ by tens of grey levels at edges); PIL resizes with
the filters only it has (``box``, ``hamming``).

``Compose`` follows the image layout through a list of operators (bytes, then HWC
or CHW arrays) and rejects a list whose operators do not fit together when it is
built; ``model_input`` makes what a pipeline returns the model's CHW input.
"""

import copy
import math
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from PIL import Image

from .constants import IMAGENET_MEAN, IMAGENET_STD
from .errors import ConfigError, DataError
from .image_io import decode_jpeg_bgr, decode_rgb, dct_reduction, scalable_jpeg
from .validators import flag, is_number, parse_number, positive_int, require_hwc

__all__ = ["BYTES", "HWC", "CHW", "RESAMPLE", "Resampler", "resize", "short_side_size",
           "center_crop", "normalize", "to_chw", "model_input",
           "DecodeImage", "ResizeImage", "CropImage", "NormalizeImage", "ToCHWImage",
           "DETERMINISTIC_OPS", "Compose"]

# Layouts a sample goes through; Compose checks that neighbouring operators agree.
BYTES, HWC, CHW = "bytes", "hwc", "chw"
LAYOUT_NAMES = {BYTES: "the raw bytes of an image file", HWC: "an HWC array",
                CHW: "a CHW array"}

# The interpolation names PaddleClas accepts, as PIL filters; 'area' (cv2.INTER_AREA
# averages the source pixels under each output pixel) is PIL's BOX filter.
RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "area": Image.Resampling.BOX,
    "box": Image.Resampling.BOX,
    "lanczos": Image.Resampling.LANCZOS,
    "hamming": Image.Resampling.HAMMING,
}
# The same names as OpenCV flags: the ones PaddleClas's cv2 backend has.
CV2_RESAMPLE = {
    "nearest": cv2.INTER_NEAREST,
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
    "area": cv2.INTER_AREA,
    "lanczos": cv2.INTER_LANCZOS4,
}
BACKENDS = ("cv2", "pil")


# ------------------------------------------------------------------ argument checks

def size_pair(value: Any, name: str = "size") -> Tuple[int, int]:
    """An int or a ``[w, h]`` pair -> ``(w, h)``."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ConfigError(f"{name} must be an integer or a [w, h] pair, got {value!r}")
        return (positive_int(value[0], f"{name}[0] (width)"),
                positive_int(value[1], f"{name}[1] (height)"))
    side = positive_int(value, name)
    return side, side


class Resampler:
    """Resize with one of PaddleClas's interpolation names, in one library.

    ``interpolation`` None is bilinear (PaddleClas's default). OpenCV does the work,
    as in PaddleClas, unless ``backend`` is 'pil' or the filter is one only PIL has
    ('box', 'hamming'). Two resamplers are equal when they give the same pixels.
    """

    def __init__(self, interpolation: Optional[str] = None, backend: Optional[str] = None):
        check_backend(backend)
        if interpolation is None:
            interpolation = "bilinear"
        if not isinstance(interpolation, str) or interpolation.lower() not in RESAMPLE:
            raise ConfigError(f"interpolation must be one of {sorted(RESAMPLE)} (or null for "
                              f"bilinear), got {interpolation!r}")
        self.name = interpolation.lower()
        use_pil = (backend or "cv2").lower() == "pil" or self.name not in CV2_RESAMPLE
        self.library = "pil" if use_pil else "cv2"

    def __call__(self, img: np.ndarray, width: int, height: int) -> np.ndarray:
        if self.library == "cv2" and img.dtype in _CV2_DTYPES and img.shape[2] <= 4:
            out = cv2.resize(_positive_strides(img), (width, height),
                             interpolation=CV2_RESAMPLE[self.name])
            return out.reshape(height, width, img.shape[2])  # cv2 drops a single channel
        return _pil_resize(img, width, height, RESAMPLE[self.name])

    def __eq__(self, other: Any) -> bool:
        return (isinstance(other, Resampler)
                and (self.name, self.library) == (other.name, other.library))

    def __hash__(self) -> int:
        return hash((self.name, self.library))

    def __repr__(self) -> str:
        return f"Resampler({self.name!r}, {self.library!r})"


# What cv2.resize takes; other arrays (integers wider than 16 bits, bool) go to PIL.
_CV2_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.int16),
               np.dtype(np.float32), np.dtype(np.float64))


def _positive_strides(img: np.ndarray) -> np.ndarray:
    """OpenCV takes views with positive strides only (a flip makes negative ones)."""
    return img if all(step > 0 for step in img.strides) else np.ascontiguousarray(img)


def check_backend(backend: Optional[str]) -> None:
    if backend is not None and (not isinstance(backend, str) or backend.lower() not in BACKENDS):
        raise ConfigError(f"backend must be one of {list(BACKENDS)} (PIL is used either "
                          f"way), got {backend!r}")


# ------------------------------------------------------------------ pixel functions

def resize(img: np.ndarray, width: int, height: int, resampler: "Resampler") -> np.ndarray:
    """Resize an HWC array of any dtype and channel count with ``resampler``."""
    return resampler(img, width, height)


def _pil_resize(img: np.ndarray, width: int, height: int, resample: int) -> np.ndarray:
    """Resize an HWC array of any dtype and channel count with a PIL filter."""
    if img.dtype == np.uint8 and img.shape[2] in (3, 4):
        return np.asarray(Image.fromarray(np.ascontiguousarray(img)).resize((width, height),
                                                                            resample))
    # PIL has no multi-channel float mode: resize each channel as a 32-bit float image.
    channels = [np.asarray(Image.fromarray(img[:, :, c].astype(np.float32), mode="F")
                           .resize((width, height), resample)) for c in range(img.shape[2])]
    out = np.stack(channels, axis=2)
    if np.issubdtype(img.dtype, np.integer):
        info = np.iinfo(img.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(img.dtype)


def short_side_size(width: int, height: int, short: int) -> Tuple[int, int]:
    """``(width, height)`` scaled so the shorter side is ``short``, aspect ratio kept."""
    factor = short / min(width, height)
    return max(1, round(width * factor)), max(1, round(height * factor))


def center_crop(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """The centre ``width`` x ``height`` of an HWC array; DataError if it is smaller."""
    img_height, img_width = img.shape[:2]
    if width > img_width or height > img_height:
        raise DataError(f"a centre crop of {width}x{height} does not fit in an image of "
                        f"{img_width}x{img_height}; resize first (ResizeImage resize_short)")
    left = (img_width - width) // 2
    top = (img_height - height) // 2
    return img[top:top + height, left:left + width]


def normalize(img: np.ndarray, scale: float, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(img * scale - mean) / std`` in float32; ``mean`` and ``std`` broadcast
    against ``img`` (shape ``(1, 1, 3)`` for HWC, ``(3, 1, 1)`` for CHW)."""
    return (img.astype(np.float32) * np.float32(scale) - mean) / std


def normalize_table(scale: float, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``normalize`` of every ``uint8`` level, per channel: a ``(256, 3)`` float32 table.

    Looking a ``uint8`` image up in it (``cv2.LUT``) gives the very numbers
    ``normalize`` computes, in a fraction of the time: one read and one write per
    value instead of four passes over float32 copies.
    """
    levels = np.arange(256, dtype=np.uint8).reshape(256, 1)
    return normalize(levels, scale, np.reshape(mean, (1, 3)), np.reshape(std, (1, 3)))


def look_up(img: np.ndarray, table: np.ndarray, channel_axis: int,
            out_axis: Optional[int] = None) -> np.ndarray:
    """A ``uint8`` array whose channels lie along ``channel_axis`` (an HWC or CHW image,
    an NHWC or NCHW batch), each looked up in its column of ``table``
    (``normalize_table``); the float32 result has its channels along ``out_axis``
    (default ``channel_axis``), so an NHWC batch comes out NCHW in the same pass."""
    out_axis = channel_axis if out_axis is None else out_axis
    if channel_axis == out_axis == img.ndim - 1 == 2:  # HWC: OpenCV looks up interleaved channels
        return cv2.LUT(img, table.reshape(1, 256, img.shape[2]))
    shape = list(img.shape)
    channels = shape.pop(channel_axis)
    out = np.empty(shape[:out_axis] + [channels] + shape[out_axis:], np.float32)
    if channel_axis == img.ndim - 1:  # interleaved: OpenCV splits them in one pass
        planes = cv2.split(img.reshape(-1, img.shape[-2], channels))
    else:
        planes = [np.ascontiguousarray(np.take(img, c, axis=channel_axis))
                  for c in range(channels)]
    for c, plane in enumerate(planes):
        at = (slice(None),) * out_axis + (c,)
        out[at] = cv2.LUT(plane.reshape(-1, plane.shape[-1]), table[:, c]).reshape(out[at].shape)
    return out


def to_chw(img: np.ndarray) -> np.ndarray:
    """HWC -> a contiguous CHW array."""
    return np.ascontiguousarray(img.transpose(2, 0, 1))


def model_input(img: np.ndarray, layout: str) -> np.ndarray:
    """What a pipeline ending in ``layout`` returned, as the model takes it: CHW.

    Like PaddleClas's datasets, a pipeline that ends in HWC (the usual
    ``NormalizeImage order: ''`` without ToCHWImage) is transposed here; one ending
    in CHW is left alone. Training datasets, ``predict`` and deployment all call this.
    """
    return to_chw(img) if layout == HWC else img


# ----------------------------------------------------------------------- operators

class DecodeImage:
    """Decode the bytes of an image file into an RGB ``uint8`` HWC array.

    Args:
        to_rgb: channel order RGB (True) or BGR (False).
        channel_first: return CHW instead of HWC.
        to_np: accepted for PaddleClas configs; the result is always a numpy array
            because every other operator here works on arrays.
        backend: 'cv2' (default: OpenCV decodes JPEGs, PIL the rest) or 'pil' (PIL
            decodes everything).

    Any image mode is converted to 3-channel RGB (see ``decode_rgb``). Bytes that
    are not an image, or a truncated image, raise ``ImageDecodeError``.
    """

    input_layout = BYTES

    def __init__(self, to_rgb: bool = True, channel_first: bool = False, to_np: bool = True,
                 backend: Optional[str] = None):
        check_backend(backend)
        self.use_cv2 = (backend or "cv2").lower() == "cv2"
        flag(to_np, "to_np")
        self.to_rgb = flag(to_rgb, "to_rgb")
        self.channel_first = flag(channel_first, "channel_first")
        self.output_layout = CHW if self.channel_first else HWC

    def __call__(self, data: bytes) -> np.ndarray:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise DataError(f"DecodeImage expects the raw bytes of an image file, got "
                            f"{type(data).__name__} (is DecodeImage listed twice?)")
        bgr = None if self.to_rgb or not self.use_cv2 else decode_jpeg_bgr(data)
        img = bgr if bgr is not None else decode_rgb(data, self.use_cv2)
        if bgr is None and not self.to_rgb:
            img = img[:, :, ::-1]
        return to_chw(img) if self.channel_first else np.ascontiguousarray(img)


class ResizeImage:
    """Resize to an exact size, or so that the short side has a given length.

    Args:
        size: output size, an int (square) or ``[w, h]``.
        resize_short: length of the short side after resizing; the aspect ratio is
            kept. Give exactly one of ``size`` and ``resize_short``.
        interpolation: 'nearest', 'bilinear' (default), 'bicubic', 'area' (= 'box'),
            'lanczos' or 'hamming'.
        backend: 'cv2' (default) or 'pil': the library that resizes (see Resampler).
        dct_scaling: right after ``DecodeImage``, decode a JPEG at least twice the
            output size with DCT scaling (see ``DecodeScaledResize``): faster on
            large photographs, but not PaddleClas's pixels, so off by default; an
            evaluation takes it only where the weights agree. Not a PaddleClas
            argument.
    """

    input_layout = output_layout = HWC

    def __init__(self, size: Union[int, List[int], None] = None,
                 resize_short: Optional[int] = None, interpolation: Optional[str] = None,
                 backend: Optional[str] = None, dct_scaling: bool = False):
        if (size is None) == (resize_short is None):
            raise ConfigError("give exactly one of size and resize_short, got "
                              f"size={size!r}, resize_short={resize_short!r}")
        self.size = None if size is None else size_pair(size)
        self.resize_short = None if resize_short is None else positive_int(resize_short,
                                                                           "resize_short")
        self.resampler = Resampler(interpolation, backend)
        self.dct_scaling = flag(dct_scaling, "dct_scaling")

    def output_size(self, width: int, height: int) -> Tuple[int, int]:
        """``(width, height)`` of the result for an image of that size."""
        if self.size is not None:
            return self.size
        return short_side_size(width, height, self.resize_short)

    def __call__(self, img: np.ndarray) -> np.ndarray:
        img = require_hwc(img, "ResizeImage")
        height, width = img.shape[:2]
        return self.resampler(img, *self.output_size(width, height))

    def fused(self, previous) -> Optional["DecodeScaledResize"]:
        """With ``dct_scaling``, after a ``DecodeImage`` that gives RGB HWC: one step
        that decodes a large JPEG at a fraction of its size (``DecodeScaledResize``)."""
        if not self.dct_scaling:
            return None
        if (type(previous) is DecodeImage and previous.to_rgb and previous.use_cv2
                and not previous.channel_first):
            return DecodeScaledResize(previous, self)
        raise ConfigError("dct_scaling works on a ResizeImage right after a DecodeImage "
                          "with to_rgb true, channel_first false and the cv2 backend; "
                          "set it false here")


class DecodeScaledResize:
    """``DecodeImage`` then ``ResizeImage``, a large JPEG decoded with DCT scaling.

    The output size is worked out from the file's header. A JPEG at least twice that
    size both ways is decoded at 1/2, 1/4 or 1/8 of its size (the largest factor
    that keeps it at least the output size; libjpeg then computes fewer pixels from
    each block of coefficients, though it still reads every one) and then resized as
    ``ResizeImage`` would. The result has the same size as the two operators', but
    not the same pixels: the scaled decode smooths where cv2's bilinear shrink of
    the full image skips pixels. Hence an opt-in (``ResizeImage``'s
    ``dct_scaling``) for evaluating on photographs much larger than the model's
    input, which evaluation takes only where the weights' top-1 class agrees with
    the full decode's. Smaller JPEGs get exactly the two operators'
    pixels, and so do other formats, EXIF-rotated and CMYK JPEGs, and files over
    PIL's pixel limit: they take the two operators one after the other.
    """

    input_layout, output_layout = BYTES, HWC

    def __init__(self, decode: DecodeImage, resize: ResizeImage):
        self.decode, self.resize = decode, resize

    def __call__(self, data: bytes) -> np.ndarray:
        header = scalable_jpeg(data)
        if header is None:
            return self.resize(self.decode(data))
        out_w, out_h = self.resize.output_size(header.width, header.height)
        factor = dct_reduction(header.width, header.height, out_w, out_h)
        bgr = decode_jpeg_bgr(data, factor, header_read=True)
        if bgr is None:
            return self.resize(self.decode(data))
        return cv2.cvtColor(self.resize.resampler(bgr, out_w, out_h), cv2.COLOR_BGR2RGB)


class CropImage:
    """Cut the centre ``size`` (an int, or ``[w, h]``) out of the image.

    An image smaller than ``size`` is an error rather than a smaller crop, so that
    every sample of a batch has the same shape.
    """

    input_layout = output_layout = HWC

    def __init__(self, size: Union[int, List[int]]):
        self.size = size_pair(size)

    def __call__(self, img: np.ndarray) -> np.ndarray:
        img = require_hwc(img, "CropImage")
        width, height = self.size
        try:
            return center_crop(img, width, height)
        except DataError as err:
            raise DataError(f"CropImage: {err}") from None


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
        elif not is_number(scale):
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
        self.mean = self._channel_values(mean, IMAGENET_MEAN, "mean").reshape(shape)
        self.std = self._channel_values(std, IMAGENET_STD, "std").reshape(shape)
        if np.any(self.std <= 0):
            raise ConfigError(f"std must be positive, got {std!r}")
        self.dtype = np.float16 if flag(output_fp16, "output_fp16") else np.float32
        self.channel_num = channel_num
        self.table = normalize_table(self.scale, self.mean, self.std)

    @staticmethod
    def _channel_values(values: Optional[Sequence[float]], default: Sequence[float],
                        name: str) -> np.ndarray:
        values = default if values is None else values
        if (not isinstance(values, (list, tuple)) or len(values) != 3
                or not all(is_number(v) for v in values)):
            raise ConfigError(f"{name} must be a list of 3 numbers, got {values!r}")
        return np.asarray(values, dtype=np.float32)

    def __call__(self, img: np.ndarray) -> np.ndarray:
        if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[self.channel_axis] != 3:
            got = f"shape {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
            layout = "CHW" if self.channel_axis == 0 else "HWC"
            raise DataError(f"NormalizeImage expects a 3-channel {layout} array, got {got}")
        if img.dtype == np.uint8:
            out = look_up(img, self.table, self.channel_axis)
        else:
            out = normalize(img, self.scale, self.mean, self.std)
        if self.channel_num == 4:
            zeros_shape = list(out.shape)
            zeros_shape[self.channel_axis] = 1
            out = np.concatenate([out, np.zeros(zeros_shape, np.float32)], axis=self.channel_axis)
        return out.astype(self.dtype)


class ToCHWImage:
    """HWC -> CHW."""

    input_layout, output_layout = HWC, CHW

    def __call__(self, img: np.ndarray) -> np.ndarray:
        return to_chw(require_hwc(img, "ToCHWImage"))


# The operators whose output depends on their input alone: training registers them
# beside its random ones, and they are what a deployment config may use.
DETERMINISTIC_OPS = (DecodeImage, ResizeImage, CropImage, NormalizeImage, ToCHWImage)


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
        layout, steps = input_layout, []
        for index, op in enumerate(ops):
            name = type(op).__name__
            needs = getattr(op, "input_layout", None)
            if needs is not None and needs != layout:
                raise ConfigError(f"{where}.{index} ({name}) works on {LAYOUT_NAMES[needs]} but "
                                  f"receives {LAYOUT_NAMES[layout]} here; "
                                  f"{_layout_hint(op, layout)}")
            layout = getattr(op, "output_layout", layout)
            # An operator may do the one before's work together with its own, in less
            # time (``fused(previous)`` returns that callable, or None).
            fused = getattr(op, "fused", None)
            try:
                merged = fused(steps[-1]) if fused is not None and steps else None
            except ConfigError as err:
                raise ConfigError(f"{where}.{index} ({name}): {err}") from None
            if merged is not None:
                steps[-1] = merged
            else:
                steps.append(op)
        self.ops = list(ops)
        self.steps = steps
        self.where, self.input_layout, self.output_layout = where, input_layout, layout

    def __call__(self, sample: Any) -> Any:
        for step in self.steps:
            sample = step(sample)
        return sample

    @property
    def scales_decoding(self) -> bool:
        """Whether a step decodes with DCT scaling (ResizeImage's ``dct_scaling``)."""
        return any(isinstance(step, DecodeScaledResize) for step in self.steps)

    def refuse_scaled_decoding(self, error=ConfigError) -> None:
        """Raise ``error`` when the list scales decoding: only evaluation, which checks
        the weights' agreement with full decoding first, takes ``dct_scaling``."""
        if self.scales_decoding:
            raise error(f"{self.where}: ResizeImage's dct_scaling is for the "
                        f"DataLoader.Eval list, where evaluation first checks that the "
                        f"weights' top-1 class agrees with full decoding; set it false here")

    def full_decoding(self) -> "Compose":
        """This list with every ResizeImage's ``dct_scaling`` off: PaddleClas's pixels."""
        ops = [copy.copy(op) for op in self.ops]
        for op in ops:
            if isinstance(op, ResizeImage):
                op.dct_scaling = False
        return Compose(ops, where=self.where, input_layout=self.input_layout)

    def split_final_normalize(self) -> Tuple["Compose", Optional[NormalizeImage]]:
        """This list less the NormalizeImage that ends it (a ToCHWImage may follow),
        and that NormalizeImage; ``(self, None)`` when the list does not end so, or
        its NormalizeImage makes float16 or a fourth channel.

        Normalizing is per pixel and per channel, so it can run once on a batch of
        the images the shorter list makes (``uint8``, a quarter of the bytes) and give
        the same numbers.
        """
        ops = list(self.ops)
        if ops and isinstance(ops[-1], ToCHWImage):
            ops.pop()
        if len(ops) < 2 or not isinstance(ops[-1], NormalizeImage):
            return self, None
        normalize = ops.pop()
        if normalize.dtype != np.float32 or normalize.channel_num != 3:
            return self, None
        return Compose(ops, where=self.where, input_layout=self.input_layout), normalize

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
