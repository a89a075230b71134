"""Reading image files: expanding paths, the bytes, and decoding them to RGB arrays.

JPEGs are decoded by OpenCV, as PaddleClas does (libjpeg-turbo as in PIL, in less
time), optionally with DCT scaling; PIL decodes the other formats, and every image
whose bytes OpenCV would decode differently from PIL's strict reading (truncated
files, which OpenCV fills with grey). The JPEG header and EXIF orientation are read
from the markers here, without decoding. ``pixels`` builds its operators on these.

Importing this module changes no OpenCV setting; ``set_opencv_threads`` is called
where a process is set up (the engine, the tools that read images, loader workers).
"""

import contextlib
import glob
import io
import os
from typing import Callable, List, NamedTuple, Optional

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import DataError, ImageDecodeError, ImageError

__all__ = ["IMAGE_EXTENSIONS", "expand_images", "read_image_file", "open_image", "decode_errors",
           "decode_rgb", "is_complete_jpeg", "JpegHeader", "jpeg_header", "too_many_pixels",
           "decode_jpeg_bgr", "scalable_jpeg", "dct_reduction", "set_opencv_threads"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm",
                    ".pgm")


def set_opencv_threads(threads: int = 1) -> None:
    """OpenCV's thread count for this process, one by default, as data libraries
    commonly set: on images of ImageNet's size one thread is faster (its thread
    hand-offs cost more than they save; see docs/benchmarks.md), and loader workers
    are where the parallelism comes from. Left alone when it already has that count."""
    if cv2.getNumThreads() != int(threads):
        cv2.setNumThreads(int(threads))


# ------------------------------------------------------------------------ files

def _is_pattern(path: str) -> bool:
    return any(c in path for c in "*?[")


def expand_images(spec, where: Optional[str] = None) -> List[str]:
    """Image paths from a file, a folder (searched recursively) or a glob, or a list of them.

    A path that does not exist, a glob that matches no file and a folder without
    images are kept as they were given, so that each is reported with the other
    per-file errors (``read_image_file`` says which it was) while the rest are
    classified. Only an empty ``spec`` is a DataError (prefixed with ``where``, the
    option or config key that gave it).
    """
    specs = spec if isinstance(spec, (list, tuple)) else [spec]
    specs = [str(item) for item in specs if item is not None and str(item) != ""]
    if not specs:
        raise DataError(f"{where + ': ' if where else ''}no images given (a file, a folder "
                        f"or a glob)")
    paths, seen = [], set()
    for item in specs:
        if os.path.isdir(item):
            found = [os.path.join(root, name) for root, _, names in os.walk(item)
                     for name in names if name.lower().endswith(IMAGE_EXTENSIONS)]
        elif _is_pattern(item) and not os.path.exists(item):
            found = [p for p in glob.glob(item, recursive=True) if os.path.isfile(p)]
        else:
            found = []
        # A file named on its own and again inside a folder or glob is one image.
        for path in sorted(found) or [item]:
            if os.path.realpath(path) not in seen:
                seen.add(os.path.realpath(path))
                paths.append(path)
    return paths


def read_image_file(path: str, transform: Callable[[bytes], np.ndarray]) -> np.ndarray:
    """``transform`` of the bytes of an image file; ``ImageError`` names the file when
    it cannot be read or ``transform`` raises a DataError."""
    if os.path.isdir(path):  # what expand_images keeps for a folder without images
        raise ImageError(f"no images in folder {path} (looked for "
                         f"{', '.join(IMAGE_EXTENSIONS)})")
    if _is_pattern(path) and not os.path.exists(path):  # a glob that matched nothing
        raise ImageError(f"no file matches {path}")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise ImageError(f"cannot read {path}: {err.strerror}") from None
    try:
        return transform(data)
    except DataError as err:
        raise ImageError(f"{path}: {err}") from None


# ---------------------------------------------------------------------- decoding

def open_image(data: bytes) -> Image.Image:
    """The image in ``data``, opened but not decoded (PIL reads the header only), so
    that its size is known before any pixel is; ``ImageDecodeError`` if it is none."""
    with decode_errors():
        return Image.open(io.BytesIO(data))


@contextlib.contextmanager
def decode_errors():
    """Turn what PIL raises for damaged or unknown data into ``ImageDecodeError``."""
    try:
        yield
    except UnidentifiedImageError:
        raise ImageDecodeError("not an image file (PIL cannot identify its format)") from None
    # PIL reports damaged data with many types (OSError, SyntaxError, EOFError,
    # struct.error, zlib.error, DecompressionBombError...), so catch them all.
    except Exception as err:
        raise ImageDecodeError(f"truncated or corrupt image data ({err})") from err


def decode_rgb(data: bytes, use_cv2: bool = True) -> np.ndarray:
    """The bytes of an image file -> ``uint8`` RGB array of shape ``(H, W, 3)``.

    Whatever the file holds, the result has 3 channels: grayscale and 1-bit images
    are repeated, palette images expanded, CMYK and YCbCr converted, 16-bit and
    32-bit integer images taken as 0-65535, float images as 0-1 (or 0-255 if a value
    exceeds 1). Alpha (RGBA, LA, or a ``transparency`` entry) is composited onto
    white, as viewers show such images. EXIF orientation is applied, as OpenCV's
    decoder does. Only the first frame of an animation is used.

    With ``use_cv2`` JPEGs are decoded by OpenCV, as PaddleClas does (libjpeg-turbo
    as in PIL, in less time); other formats, and JPEGs that do not end where a JPEG
    ends, by PIL.

    Raises ``ImageDecodeError`` for bytes that are not an image or are truncated.
    """
    bgr = decode_jpeg_bgr(data) if use_cv2 else None
    if bgr is not None:
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return _decode_rgb_pil(data)


def _decode_rgb_pil(data: bytes) -> np.ndarray:
    img = open_image(data)
    with decode_errors():
        img.load()
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
        raise ImageDecodeError(f"unsupported image mode {img.mode!r} ({err})") from err
    return np.asarray(rgb, dtype=np.uint8)


def is_complete_jpeg(data: bytes) -> bool:
    """Whether ``data`` starts as a JPEG and ends with its end-of-image marker (padding
    aside). OpenCV decodes a truncated JPEG into grey rows with only a warning; such
    files go to PIL, which says what is wrong."""
    return (bytes(data[:3]) == b"\xff\xd8\xff"
            and bytes(data[-64:]).rstrip(b"\x00\r\n ").endswith(b"\xff\xd9"))


class JpegHeader(NamedTuple):
    width: int
    height: int
    components: int  # 1 grey, 3 colour, 4 CMYK or YCCK
    orientation: int  # EXIF orientation, 1 when there is none


# Start-of-frame markers (baseline, extended, progressive, lossless, arithmetic);
# 0xC4, 0xC8 and 0xCC are other segments in the same range.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_EXIF_ORIENTATION = 0x0112


def jpeg_header(data: bytes) -> Optional[JpegHeader]:
    """Size, component count and EXIF orientation of a JPEG, read from its markers
    in a few microseconds (PIL takes 20 to open it); None for anything this reader
    does not follow (not a JPEG, a broken segment or EXIF block, no frame before
    the scan), which callers leave to PIL. Every length is checked against the
    data, so no file can make it read out of bounds or loop."""
    view, end = memoryview(data), len(data)
    if bytes(view[:2]) != b"\xff\xd8":
        return None
    position, orientation = 2, 1
    while position + 4 <= end:
        if view[position] != 0xFF:
            return None
        marker = view[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a segment
            position += 2
            continue
        length = int.from_bytes(view[position + 2:position + 4], "big")
        segment = view[position + 4:position + 2 + length]
        if length < 2 or len(segment) != length - 2 or marker in (0xD9, 0xDA):
            return None
        if marker in _SOF_MARKERS:
            if len(segment) < 6:
                return None
            height = int.from_bytes(segment[1:3], "big")
            width = int.from_bytes(segment[3:5], "big")
            if not (width and height):  # a height given later (DNL): leave it to PIL
                return None
            return JpegHeader(width, height, segment[5], orientation)
        if marker == 0xE1 and bytes(segment[:6]) == b"Exif\x00\x00":
            orientation = _exif_orientation(bytes(segment[6:]))
            if orientation is None:
                return None
        position += 2 + length
    return None


def _exif_orientation(tiff: bytes) -> Optional[int]:
    """The orientation tag of an EXIF block's first directory (1 when absent); None
    when the block is not a TIFF structure this reader follows."""
    order = {b"II": "little", b"MM": "big"}.get(tiff[:2])
    if order is None or len(tiff) < 8 or int.from_bytes(tiff[2:4], order) != 42:
        return None
    directory = int.from_bytes(tiff[4:8], order)
    if directory + 2 > len(tiff):
        return None
    entries = int.from_bytes(tiff[directory:directory + 2], order)
    first = directory + 2
    if first + 12 * entries > len(tiff):
        return None
    for at in range(first, first + 12 * entries, 12):
        if int.from_bytes(tiff[at:at + 2], order) == _EXIF_ORIENTATION:
            if int.from_bytes(tiff[at + 2:at + 4], order) != 3:  # not a SHORT
                return None
            return int.from_bytes(tiff[at + 8:at + 10], order)
    return 1


def too_many_pixels(width: int, height: int) -> bool:
    """Whether PIL's decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``, which a
    user may change) would warn about or refuse an image of this size."""
    limit = Image.MAX_IMAGE_PIXELS
    return limit is not None and width * height > limit


def decode_jpeg_bgr(data: bytes, reduction: int = 1,
                    header_read: bool = False) -> Optional[np.ndarray]:
    """A complete JPEG as a BGR ``uint8`` array, decoded by OpenCV with DCT scaling by
    ``reduction`` (1, 2, 4 or 8) and its EXIF orientation applied; None for anything
    else (left to PIL).

    The header is read first (unless the caller did: ``header_read``), so that a
    file claiming more pixels than PIL's decompression-bomb limit is refused by PIL
    (``ImageDecodeError``) before OpenCV allocates them.
    """
    if not is_complete_jpeg(data):
        return None
    if not header_read:
        header = jpeg_header(data)
        if header is None or too_many_pixels(header.width, header.height):
            open_image(data)  # PIL warns about or refuses it, as for any other format
    flags = _CV2_REDUCED[reduction]
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    return bgr if bgr is not None and bgr.ndim == 3 and bgr.shape[2] == 3 else None


_CV2_REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2,
                4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


def scalable_jpeg(data: bytes) -> Optional[JpegHeader]:
    """The header of a JPEG that ``decode_jpeg_bgr`` may decode with DCT scaling: a
    complete file, grey or colour, no EXIF rotation, within PIL's pixel limit. None
    for anything else, which the caller decodes whole, as the operators do one
    after the other (PIL then says what is wrong with a bad file)."""
    header = jpeg_header(data) if is_complete_jpeg(data) else None
    if (header is None or header.components not in (1, 3) or header.orientation != 1
            or too_many_pixels(header.width, header.height)):
        return None
    return header


def dct_reduction(width: int, height: int, need_width: int, need_height: int) -> int:
    """The largest DCT scaling factor (8, 4 or 2; else 1) that keeps a ``width`` x
    ``height`` region at least ``need_width`` x ``need_height``, so that what is
    decoded is still shrunk, never enlarged, to the size asked for."""
    return next((f for f in (8, 4, 2) if width >= need_width * f and height >= need_height * f),
                1)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(np.rint(gray), 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
