"""Inference-time image preprocessing with PIL and numpy alone.

These functions are the single implementation of decoding, resizing, centre
cropping and normalizing: the training package's transform operators
(``paddle_googlenet.data.transforms``) call them too, so an exported model sees
exactly the pixels it was evaluated on.

``Preprocess`` builds the pipeline from the ``transforms`` list of an exported
model's ``inference.yml`` (PaddleClas's list form, e.g. ``[{DecodeImage: {...}},
{ResizeImage: {resize_short: 256}}, ...]``). It accepts the deterministic
operators an ``Infer`` section uses; the random training operators make no sense
at deployment and are refused.
"""

import ast
import glob
import io
import operator
import os
from typing import Any, Callable, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["DeployError", "ImageError", "IMAGE_EXTENSIONS", "RESAMPLE", "expand_images",
           "parse_number", "decode_rgb", "resize", "short_side_size", "center_crop",
           "normalize", "transform_entries", "read_input", "Preprocess"]


class DeployError(ValueError):
    """A model directory, deployment config or argument that cannot be used."""


class ImageError(DeployError):
    """A file that cannot be read or decoded as an image."""


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm",
                    ".pgm")

# cv2 and PIL names PaddleClas accepts; 'area' (cv2.INTER_AREA averages the source
# pixels under each output pixel) maps to PIL's BOX filter, which does the same.
RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "area": Image.Resampling.BOX,
    "box": Image.Resampling.BOX,
    "lanczos": Image.Resampling.LANCZOS,
    "hamming": Image.Resampling.HAMMING,
}


def expand_images(spec) -> List[str]:
    """Image paths from a file, a folder (searched recursively) or a glob, or a list of them.

    A path that does not exist is kept, so that it is reported with the other
    per-file errors; a folder or glob that finds nothing is an error.
    """
    specs = spec if isinstance(spec, (list, tuple)) else [spec]
    paths = []
    for item in map(str, specs):
        if os.path.isdir(item):
            found = [os.path.join(root, name) for root, _, names in os.walk(item)
                     for name in names if name.lower().endswith(IMAGE_EXTENSIONS)]
        elif any(c in item for c in "*?["):
            found = [p for p in glob.glob(item, recursive=True) if os.path.isfile(p)]
        else:
            found = [item]
        if not found:
            raise DeployError(f"no images found at {item!r}")
        paths += sorted(found)
    return paths


_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
               ast.Div: operator.truediv}


def parse_number(text: str) -> float:
    """Evaluate arithmetic such as ``'1.0/255.0'``: numbers, + - * / and parentheses.

    PaddleClas passes such strings to ``eval``; this walks the syntax tree instead
    and refuses anything else, so a config file cannot run code.
    """
    def evaluate(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = evaluate(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            return _ARITHMETIC[type(node.op)](evaluate(node.left), evaluate(node.right))
        raise ValueError("only numbers, + - * / and parentheses are allowed")

    try:
        return float(evaluate(ast.parse(text.strip(), mode="eval").body))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError) as err:
        raise DeployError(f"cannot read {text!r} as a number: {err}") from None


# ------------------------------------------------------------------ pixel functions

def decode_rgb(data: bytes) -> np.ndarray:
    """The bytes of an image file -> ``uint8`` RGB array of shape ``(H, W, 3)``.

    Whatever the file holds, the result has 3 channels: grayscale and 1-bit images
    are repeated, palette images expanded, CMYK and YCbCr converted, 16-bit and
    32-bit integer images taken as 0-65535, float images as 0-1 (or 0-255 if a value
    exceeds 1). Alpha (RGBA, LA, or a ``transparency`` entry) is composited onto
    white, as viewers show such images. EXIF orientation is applied, as OpenCV's
    decoder does. Only the first frame of an animation is used.

    Raises ``ImageError`` for bytes that are not an image or are truncated.
    """
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except UnidentifiedImageError:
        raise ImageError("not an image file (PIL cannot identify its format)") from None
    # PIL reports damaged data with many types (OSError, SyntaxError, EOFError,
    # struct.error, zlib.error, DecompressionBombError...), so catch them all.
    except Exception as err:
        raise ImageError(f"truncated or corrupt image data ({err})") from err
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block is metadata trouble, the pixels are fine
        pass
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        gray = np.asarray(img).astype(np.float64) * (255.0 / 65535.0)
        return _gray_to_rgb(gray)
    if img.mode == "F":
        values = np.asarray(img, dtype=np.float64)
        if values.size and np.nanmax(values) <= 1.0:
            values = values * 255.0
        return _gray_to_rgb(np.nan_to_num(values))
    try:
        if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info:
            white = Image.new("RGBA", img.size, (255, 255, 255, 255))
            img = Image.alpha_composite(white, img.convert("RGBA"))
        rgb = img.convert("RGB")
    except (ValueError, OSError) as err:
        raise ImageError(f"unsupported image mode {img.mode!r} ({err})") from err
    return np.asarray(rgb, dtype=np.uint8)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(np.rint(gray), 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)


def resize(img: np.ndarray, width: int, height: int, resample: int) -> np.ndarray:
    """Resize an HWC array of any dtype and channel count with a PIL filter."""
    if img.dtype == np.uint8 and img.shape[2] in (3, 4):
        return np.asarray(Image.fromarray(img).resize((width, height), resample))
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
    """The centre ``width`` x ``height`` of an HWC array; ``ImageError`` if it is smaller."""
    img_height, img_width = img.shape[:2]
    if width > img_width or height > img_height:
        raise ImageError(f"a centre crop of {width}x{height} does not fit in an image of "
                         f"{img_width}x{img_height}; resize first (ResizeImage resize_short)")
    left = (img_width - width) // 2
    top = (img_height - height) // 2
    return img[top:top + height, left:left + width]


def normalize(img: np.ndarray, scale: float, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(img * scale - mean) / std`` in float32; ``mean`` and ``std`` broadcast
    against ``img`` (shape ``(1, 1, 3)`` for HWC, ``(3, 1, 1)`` for CHW)."""
    return (img.astype(np.float32) * np.float32(scale) - mean) / std


# ----------------------------------------------------------- the deployment pipeline

def transform_entries(ops: Any, where: str, error: type = DeployError
                      ) -> Iterator[Tuple[str, str, Mapping]]:
    """``(where.index, op name, arguments)`` for each entry of a PaddleClas transform
    list, raising ``error`` for a list or entry of the wrong form."""
    if not isinstance(ops, (list, tuple)):
        raise error(f"{where} must be a list of one-key mappings like "
                    f"[{{DecodeImage: {{to_rgb: true}}}}, ...], got {type(ops).__name__}")
    for index, entry in enumerate(ops):
        at = f"{where}.{index}"
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise error(f"{at} must be a mapping with exactly one key, the op name, "
                        f"e.g. {{ResizeImage: {{resize_short: 256}}}}; got {entry!r}")
        (name, args), = entry.items()
        if args is not None and not isinstance(args, Mapping):
            raise error(f"{at}: the arguments of {name} must be a mapping (or empty), "
                        f"got {args!r}")
        yield at, name, args or {}


def read_input(path: str, transform: Callable[[bytes], np.ndarray],
               errors: Tuple[type, ...] = (ImageError,)) -> np.ndarray:
    """``transform`` of the bytes of an image file; ``ImageError`` names the file when
    it cannot be read or ``transform`` raises one of ``errors``."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise ImageError(f"cannot read {path}: {err.strerror}") from None
    try:
        return transform(data)
    except errors as err:
        raise ImageError(f"{path}: {err}") from None


def _size(value: Any, where: str) -> Tuple[int, int]:
    """An int or a ``[w, h]`` pair -> ``(w, h)``."""
    pair = value if isinstance(value, (list, tuple)) else [value, value]
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                 for v in pair):
        raise DeployError(f"{where}: size must be a positive integer or [w, h], got {value!r}")
    return pair[0], pair[1]


def _resample(name: Optional[str], where: str) -> int:
    if name is None:
        return RESAMPLE["bilinear"]
    if not isinstance(name, str) or name.lower() not in RESAMPLE:
        raise DeployError(f"{where}: interpolation must be one of {sorted(RESAMPLE)}, "
                          f"got {name!r}")
    return RESAMPLE[name.lower()]


def _decode_op(args: Mapping, where: str) -> Callable:
    to_rgb, channel_first = args.get("to_rgb", True), args.get("channel_first", False)

    def decode(data):
        img = decode_rgb(data) if to_rgb else decode_rgb(data)[:, :, ::-1]
        return np.ascontiguousarray(img.transpose(2, 0, 1) if channel_first else img)
    return decode


def _resize_op(args: Mapping, where: str) -> Callable:
    resample = _resample(args.get("interpolation"), where)
    if args.get("size") is not None:
        width, height = _size(args["size"], where)
        return lambda img: resize(img, width, height, resample)
    short = args.get("resize_short")
    if not isinstance(short, int) or isinstance(short, bool) or short < 1:
        raise DeployError(f"{where}: give size or a positive resize_short, got {dict(args)!r}")
    return lambda img: resize(img, *short_side_size(img.shape[1], img.shape[0], short), resample)


def _crop_op(args: Mapping, where: str) -> Callable:
    width, height = _size(args.get("size"), where)
    return lambda img: center_crop(img, width, height)


def _normalize_op(args: Mapping, where: str) -> Callable:
    if args.get("output_fp16") or args.get("channel_num", 3) != 3:
        raise DeployError(f"{where}: the exported model takes 3-channel float32 input; "
                          f"remove output_fp16 and channel_num")
    scale = args.get("scale", 1.0 / 255.0)
    scale = parse_number(scale) if isinstance(scale, str) else float(scale)
    shape = (3, 1, 1) if args.get("order", "chw") == "chw" else (1, 1, 3)
    mean = np.asarray(args.get("mean", [0.485, 0.456, 0.406]), np.float32).reshape(shape)
    std = np.asarray(args.get("std", [0.229, 0.224, 0.225]), np.float32).reshape(shape)
    return lambda img: normalize(img, scale, mean, std)


def _chw_op(args: Mapping, where: str) -> Callable:
    return lambda img: np.ascontiguousarray(img.transpose(2, 0, 1))


_OPS = {"DecodeImage": _decode_op, "ResizeImage": _resize_op, "CropImage": _crop_op,
        "NormalizeImage": _normalize_op, "ToCHWImage": _chw_op}


class Preprocess:
    """The bytes of an image file -> the model's CHW float32 input, following a
    PaddleClas transform list (``where`` names it in errors)."""

    def __init__(self, ops: Sequence[Mapping[str, Any]], where: str = "transforms"):
        if not ops:
            raise DeployError(f"{where} is empty; it must start with DecodeImage")
        self.steps = []
        for at, name, args in transform_entries(ops, where):
            if name not in _OPS:
                raise DeployError(f"{at}: {name} is not a deployment operator; the "
                                  f"supported ones are {', '.join(_OPS)}")
            if not self.steps and name != "DecodeImage":
                raise DeployError(f"{where} must start with DecodeImage, got {name}")
            self.steps.append(_OPS[name](args, f"{at}.{name}"))
        self.chw = any("ToCHWImage" in e for e in ops) or (ops[0]["DecodeImage"] or {}).get(
            "channel_first", False)

    def __call__(self, data: bytes) -> np.ndarray:
        sample = data
        for step in self.steps:
            sample = step(sample)
        # A list ending in HWC (NormalizeImage order '' without ToCHWImage) is made
        # CHW here, as the training datasets do.
        return sample.astype(np.float32) if self.chw else np.ascontiguousarray(
            sample.transpose(2, 0, 1).astype(np.float32))

    def read(self, path: str) -> np.ndarray:
        """The model input for an image file; ``ImageError`` names the file."""
        return read_input(path, self)
