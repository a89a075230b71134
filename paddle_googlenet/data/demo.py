"""A small generated shape-classification dataset, written as real JPEG files.

The default dataset of the project's configs, so training can be tried without
downloading anything. Layout under ``root``, in PaddleClas's format::

    images/train/circle_00000.jpg ...   images/val/...
    train_list.txt   val_list.txt       lines "images/train/circle_00000.jpg 0"
    label_list.txt                      lines "0 circle" (class_id_map_file)
    manifest.json                       the parameters; written last

Each image shows one filled shape (the class) - circle, square, triangle, cross,
ring, star, then crescent and hourglass when ``num_classes`` asks for more - at a
random position, size (40-75% of the image side) and tilt (up to 15 degrees either
way), in a random colour, on a random background (flat, a two-colour gradient, or a
blotchy two-colour texture), with up to three small distractor dots or strokes and
pixel noise. The colours are drawn independently of the class, so colour says
nothing about the label: a nearest-centroid classifier on colour histograms stays
near chance (the tests check this).

Two choices keep it learnable in a few thousand images, which matters because the
network trains from scratch on a CPU: the shape is always lighter than every part
of its background (a luminance gap of at least 60 of 255, besides an RGB distance of
at least 110), so figure and ground never swap, and the tilt is limited, so a
square never turns into a diamond. Without them a small CNN stayed near chance in
trials; with them it learnt the set (docs/benchmarks.md, "The demo dataset").

Defaults (6 classes, 250 training and 100 evaluation images per class, 72x72
pixels) are sized for GoogLeNet trained from scratch on a CPU: 1,500 training
images make 8 epochs in 12,000 samples, a few minutes on two cores, and 72-pixel
files leave room for a random 64x64 crop (RandCropImage size 64 with a scale of
about [0.6, 1.0]; evaluate with CropImage 64). 600 evaluation images measure
accuracy to about +-1.2 points near 90%.

Everything is drawn from ``seed`` with an RNG per image, so the same parameters
give the same files.
"""

import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
from PIL import Image, ImageDraw

from ..errors import ConfigError, DataError
from ..validators import is_int

__all__ = ["photographic_jpeg", "SHAPES", "DEMO_DEFAULTS", "DemoDataset", "make_demo_dataset",
           "ensure_demo_dataset",
           "read_manifest"]

SHAPES = ("circle", "square", "triangle", "cross", "ring", "star", "crescent", "hourglass")
DEMO_DEFAULTS = {"num_classes": 6, "train_per_class": 250, "eval_per_class": 100,
                 "image_size": 72, "seed": 0}
_FORMAT = "paddle_googlenet demo dataset"
_VERSION = 2  # bump when drawing changes, so existing sets get regenerated
_SPLITS = (("train", "train_list.txt", "train_per_class"),
           ("val", "val_list.txt", "eval_per_class"))
_LAYOUT = ("images", "train_list.txt", "val_list.txt", "label_list.txt", "manifest.json")

_SUPERSAMPLE = 4            # draw masks 4x larger, then shrink: smooth edges
_MIN_COLOUR_DISTANCE = 110  # RGB distance between the shape and any background colour
_MIN_LUMINANCE_GAP = 60     # the shape is at least this much lighter than the background
_MAX_TILT = np.pi / 12      # 15 degrees
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 luminance weights
_DIAMETER_RANGE = (0.40, 0.75)  # of the image side


@dataclass(frozen=True)
class DemoDataset:
    """Where a demo dataset is and what it holds."""

    root: str
    class_names: Tuple[str, ...]
    num_train: int
    num_eval: int
    generated: bool  # False when an existing, matching dataset was reused

    @property
    def train_list(self) -> str:
        return os.path.join(self.root, "train_list.txt")

    @property
    def val_list(self) -> str:
        return os.path.join(self.root, "val_list.txt")

    @property
    def label_list(self) -> str:
        return os.path.join(self.root, "label_list.txt")


# --------------------------------------------------------------------- drawing

def _shape_parts(name: str, rng: np.random.Generator) -> List[Tuple[str, object, int]]:
    """The shape in unit coordinates (radius about 1): ``(kind, geometry, fill)``.

    ``kind`` is 'polygon' (geometry: an ``(n, 2)`` array of points) or 'disc'
    (geometry: ``(centre, radius)``); fill 0 cuts a hole into what came before.
    """
    def regular(count: int, radii, start: float) -> np.ndarray:
        angles = start + np.arange(count) * 2 * np.pi / count
        return np.stack([np.cos(angles), np.sin(angles)], axis=1) * np.asarray(radii)[:, None]

    if name == "circle":
        return [("disc", ((0.0, 0.0), 1.0), 255)]
    if name == "ring":
        return [("disc", ((0.0, 0.0), 1.0), 255),
                ("disc", ((0.0, 0.0), rng.uniform(0.5, 0.62)), 0)]
    if name == "crescent":
        return [("disc", ((0.0, 0.0), 1.0), 255), ("disc", ((0.45, 0.0), 0.8), 0)]
    if name == "square":
        return [("polygon", regular(4, [1.0] * 4, np.pi / 4), 255)]
    if name == "triangle":
        return [("polygon", regular(3, [1.0] * 3, np.pi / 2), 255)]
    if name == "star":
        return [("polygon", regular(10, [1.0, 0.42] * 5, np.pi / 2), 255)]
    if name == "cross":
        w = rng.uniform(0.26, 0.34)  # half the arm width
        quarter = np.array([(w, 1.0), (w, w), (1.0, w)])
        turns = [quarter @ np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
                 for a in np.arange(4) * -np.pi / 2]  # clockwise: points stay in order
        return [("polygon", np.concatenate(turns), 255)]
    if name == "hourglass":
        top = np.array([(-0.6, -0.85), (0.6, -0.85), (0.0, 0.0)])
        return [("polygon", top, 255), ("polygon", top * [1, -1], 255)]
    raise ValueError(f"unknown shape {name!r}")


def _shape_mask(name: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """Float mask in [0, 1] of one randomly placed, scaled and rotated shape."""
    radius = rng.uniform(*_DIAMETER_RANGE) * size / 2
    margin = 1.05 * radius + 1  # the cross's corners reach 1.04 of the radius
    centre = rng.uniform(margin, size - margin, 2)
    angle = rng.uniform(-_MAX_TILT, _MAX_TILT)
    rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])

    def to_canvas(points) -> np.ndarray:
        return (np.asarray(points, float) @ rotation * radius + centre) * _SUPERSAMPLE

    canvas = Image.new("L", (size * _SUPERSAMPLE, size * _SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(canvas)
    for kind, geometry, fill in _shape_parts(name, rng):
        if kind == "polygon":
            draw.polygon([tuple(p) for p in to_canvas(geometry)], fill=fill)
        else:
            (cx, cy), r = to_canvas([geometry[0]])[0], geometry[1] * radius * _SUPERSAMPLE
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    small = canvas.resize((size, size), Image.Resampling.BOX)
    return np.asarray(small, np.float32)[:, :, None] / 255.0


def _segment_distance(point: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Distance from ``point`` to the segment ``a``-``b`` (all RGB colours)."""
    ab = b - a
    t = 0.0 if not ab.any() else float(np.clip((point - a) @ ab / (ab @ ab), 0, 1))
    return float(np.linalg.norm(point - (a + t * ab)))


def _colours(rng: np.random.Generator, kind: str) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two background colours, and a lighter foreground colour far from all between them."""
    while True:
        first, second, shape = rng.uniform(0, 255, (3, 3))
        if kind == "flat":
            second = first
        lighter = shape @ _LUMA - max(first @ _LUMA, second @ _LUMA) >= _MIN_LUMINANCE_GAP
        if lighter and _segment_distance(shape, first, second) >= _MIN_COLOUR_DISTANCE:
            return first, second, shape


def _background(rng: np.random.Generator, size: int) -> Tuple[np.ndarray, np.ndarray]:
    """A background image (float RGB) and the foreground colour to draw on it."""
    kind = ("flat", "gradient", "texture")[rng.integers(3)]
    first, second, shape = _colours(rng, kind)
    if kind == "flat":
        weight = np.zeros((size, size, 1), np.float32)
    elif kind == "gradient":
        direction = rng.uniform(0, 2 * np.pi)
        ys, xs = np.mgrid[0:size, 0:size] / (size - 1)
        along = xs * np.cos(direction) + ys * np.sin(direction)
        weight = ((along - along.min()) / (np.ptp(along) or 1))[:, :, None]
    else:  # smooth blotches: a coarse random grid, enlarged with bicubic filtering
        cells = int(rng.integers(3, 7))
        grid = Image.fromarray((rng.uniform(0, 255, (cells, cells))).astype(np.uint8))
        weight = np.asarray(grid.resize((size, size), Image.Resampling.BICUBIC),
                            np.float32)[:, :, None] / 255.0
    return first + (second - first) * weight, shape


def _distractors(image: Image.Image, rng: np.random.Generator) -> None:
    """Draw 0-3 small dots or short strokes in random colours."""
    draw = ImageDraw.Draw(image)
    size = image.size[0]
    for _ in range(rng.integers(0, 4)):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = rng.uniform(0, size, 2)
        if rng.random() < 0.5:
            r = rng.uniform(1.0, 2.5) * size / 72
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
        else:
            length = rng.uniform(5, 12) * size / 72
            angle = rng.uniform(0, 2 * np.pi)
            end = (x + length * np.cos(angle), y + length * np.sin(angle))
            draw.line([(x, y), end], fill=colour, width=max(1, round(size / 72)))


def render_image(shape: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One demo image of ``shape`` as a ``uint8`` array ``(size, size, 3)``."""
    background, colour = _background(rng, size)
    mask = _shape_mask(shape, size, rng)
    pixels = background * (1 - mask) + colour * mask
    image = Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))
    _distractors(image, rng)
    noisy = np.asarray(image, np.float32) + rng.normal(0, rng.uniform(2, 8), (size, size, 3))
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------- the dataset

def _check_params(num_classes, train_per_class, eval_per_class, image_size, seed) -> Dict:
    def integer(value, name, low, high=None):
        if not is_int(value) or value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise ConfigError(f"{name} must be an integer {bounds}, got {value!r}")
        return value

    return {"num_classes": integer(num_classes, "num_classes", 2, len(SHAPES)),
            "train_per_class": integer(train_per_class, "train_per_class", 1),
            "eval_per_class": integer(eval_per_class, "eval_per_class", 1),
            "image_size": integer(image_size, "image_size", 32, 1024),
            "seed": integer(seed, "seed", 0, 2 ** 32 - 1)}


def make_demo_dataset(root: str, num_classes: int = 6, train_per_class: int = 250,
                      eval_per_class: int = 100, image_size: int = 72,
                      seed: int = 0) -> DemoDataset:
    """Write a demo dataset into ``root``, which must not exist or be empty.

    Sample ``i`` of a split shows class ``i % num_classes``, so the classes are
    exactly balanced; its pixels come from an RNG seeded with ``(seed, split, i)``.
    The manifest is written last, so its presence means the set is complete. Use
    ``ensure_demo_dataset`` to (re)generate only when needed, atomically.
    """
    params = _check_params(num_classes, train_per_class, eval_per_class, image_size, seed)
    if os.path.exists(root) and (not os.path.isdir(root) or os.listdir(root)):
        raise DataError(f"{os.path.abspath(root)} already exists and is not an empty directory")
    class_names = SHAPES[:num_classes]
    counts = {}
    for split_index, (split, list_name, per_class_key) in enumerate(_SPLITS):
        os.makedirs(os.path.join(root, "images", split))
        lines = []
        for i in range(params[per_class_key] * num_classes):
            label = i % num_classes
            rng = np.random.default_rng([seed, split_index, i])
            relative = f"images/{split}/{class_names[label]}_{i:05d}.jpg"
            Image.fromarray(render_image(class_names[label], image_size, rng)).save(
                os.path.join(root, relative), quality=92)  # artefacts well below the noise
            lines.append(f"{relative} {label}\n")
        with open(os.path.join(root, list_name), "w", encoding="utf-8") as file:
            file.writelines(lines)
        counts[split] = len(lines)
    with open(os.path.join(root, "label_list.txt"), "w", encoding="utf-8") as file:
        file.writelines(f"{label} {name}\n" for label, name in enumerate(class_names))
    manifest = {"format": _FORMAT, "version": _VERSION, "params": params, "counts": counts,
                "class_names": list(class_names)}
    with open(os.path.join(root, "manifest.json"), "w", encoding="utf-8") as file:
        json.dump(manifest, file, indent=2)
    return DemoDataset(os.path.abspath(root), tuple(class_names), counts["train"],
                       counts["val"], generated=True)


def read_manifest(root: str) -> Optional[Dict]:
    """The manifest of a demo dataset at ``root``, or None if there is no readable one."""
    try:
        with open(os.path.join(root, "manifest.json"), encoding="utf-8") as file:
            manifest = json.load(file)
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == _FORMAT else None


def _existing(root: str, params: Dict) -> Optional[DemoDataset]:
    """The complete demo dataset at ``root`` made with ``params``, or None."""
    manifest = read_manifest(root)
    if manifest is None or manifest.get("version") != _VERSION or manifest.get("params") != params:
        return None
    counts, class_names = manifest.get("counts"), manifest.get("class_names")
    if not isinstance(counts, dict) or not isinstance(class_names, list):
        return None
    for split, list_name, _ in _SPLITS:
        folder = os.path.join(root, "images", split)
        if (not os.path.isfile(os.path.join(root, list_name)) or not os.path.isdir(folder)
                or len(os.listdir(folder)) != counts.get(split)):
            return None
    return DemoDataset(os.path.abspath(root), tuple(class_names), counts["train"],
                       counts["val"], generated=False)


def _replaceable(root: str) -> bool:
    """Whether ``root`` holds nothing but (possibly partial or stale) demo files."""
    return os.path.isdir(root) and all(name in _LAYOUT for name in os.listdir(root))


def _current_umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def ensure_demo_dataset(root: str, num_classes: int = 6, train_per_class: int = 250,
                        eval_per_class: int = 100, image_size: int = 72, seed: int = 0,
                        force: bool = False,
                        announce: Optional[Callable[[str], None]] = None) -> DemoDataset:
    """Return the demo dataset at ``root``, generating it first if needed.

    An existing set is reused only if its manifest records the same parameters and
    generator version and its files are all there; otherwise (or with ``force``) a
    new one is generated in a temporary sibling directory and renamed into place,
    so other processes never see a half-written set. A ``root`` holding anything but
    demo files is never replaced: that raises DataError. ``announce(root)`` is called
    before generating (to say why the first run takes a moment longer).
    """
    params = _check_params(num_classes, train_per_class, eval_per_class, image_size, seed)
    root = os.path.abspath(root)
    found = _existing(root, params)
    if found is not None and not force:
        return found
    if os.path.exists(root) and not _replaceable(root):
        raise DataError(f"{root} exists and holds files that are not part of a demo dataset; "
                        f"not replacing it. Delete it or choose another root.")
    if announce:
        announce(root)
    parent, name = os.path.split(root)
    os.makedirs(parent, exist_ok=True)
    fresh = tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=parent)
    os.chmod(fresh, 0o777 & ~_current_umask())  # mkdtemp makes it private (0700)
    stale = None
    try:
        made = make_demo_dataset(fresh, **params)
        if os.path.exists(root):
            if not force and _existing(root, params) is not None:
                return _existing(root, params)  # another process finished first
            stale = tempfile.mkdtemp(prefix=f".{name}.old-", dir=parent)
            os.rename(root, os.path.join(stale, name))
        try:
            os.rename(fresh, root)
        except OSError:
            found = _existing(root, params)  # another process renamed its copy in first
            if found is None:
                raise
            return found
    finally:
        for leftover in (fresh, stale):
            if leftover is not None and os.path.exists(leftover):
                shutil.rmtree(leftover, ignore_errors=True)
    return DemoDataset(root, made.class_names, made.num_train, made.num_eval, generated=True)


def photographic_jpeg(width: int, height: int, rng: np.random.Generator,
                      quality: int = 90) -> bytes:
    """A JPEG (``quality``) of ``width`` x ``height`` that decodes and compresses like a
    photograph: colour fields smooth at three scales plus sensor-like noise (about
    70 kB at 500x375, as ImageNet's photographs). For timing and checking the image
    operators at the sizes users train on; nothing is downloaded."""
    pixels = np.zeros((height, width, 3))
    for scale in (4, 16, 64):
        coarse = rng.random((max(2, height // scale), max(2, width // scale), 3))
        pixels += np.asarray(Image.fromarray((coarse * 255).astype(np.uint8)).resize(
            (width, height), Image.Resampling.BICUBIC), dtype=np.float64) / 3
    pixels += rng.normal(0, 6, pixels.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG",
                                                                    quality=quality)
    return buffer.getvalue()
