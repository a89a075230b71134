"""Image classification datasets: a PaddleClas list file, or a folder per class.

Both datasets check everything they can when they are built (paths, every line of
a list file, every class folder), so a broken dataset fails before training starts
rather than in the middle of an epoch. Images themselves are only opened when a
sample is read; statting every file of a million-image list up front would take
too long on network storage.

A sample is ``(image, label)``: ``label`` is a ``np.int64`` and ``image`` is what the
transform pipeline returns, turned CHW by ``pixels.model_input`` (a pipeline that
ends in HWC is transposed, as in PaddleClas's datasets).
"""

import ctypes
import logging
import multiprocessing
import os
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import paddle

from ..errors import ConfigError, DataError, ImageDecodeError
from ..image_io import IMAGE_EXTENSIONS
from ..pixels import BYTES, Compose, DecodeImage, NormalizeImage, model_input
from ..registry import Registry
from ..validators import is_int, is_number, positive_int
from .transforms import build_transforms

__all__ = ["ImageNetDataset", "ImageFolderDataset", "DATASETS", "IMAGE_EXTENSIONS", "SampleMarks",
           "FAILED_SAMPLE", "class_folders"]

_log = logging.getLogger(__name__)

_MAX_REPORTED_LINES = 5

TransformOps = Union[Sequence[Mapping[str, Any]], Compose, None]
PathName = Union[str, os.PathLike]

DATASETS = Registry("dataset")

# How to make the lists an ImageNetDataset reads, for the errors that find none.
LISTS_HINT = ("a list has a 'relative/path label' line per image; for ILSVRC2012, "
              "python tools/make_imagenet_lists.py <root> writes train_list.txt, "
              "val_list.txt and label_list.txt from its train/ and val/ folders")


def _build_pipeline(transform_ops: TransformOps) -> Compose:
    """PaddleClas list form, a ready Compose, or None (decode only) -> Compose."""
    if transform_ops is None:
        pipeline = Compose([DecodeImage()])
    elif isinstance(transform_ops, Compose):
        pipeline = transform_ops
    else:
        pipeline = build_transforms(transform_ops)
    if pipeline.output_layout == BYTES:
        raise ConfigError("transform_ops must start with DecodeImage: the dataset reads each "
                          "image file as bytes and the pipeline has to decode them")
    return pipeline


class SampleMarks:
    """One flag per sample, in memory shared with DataLoader worker processes.

    Workers get their own copy of a dataset, so what they note in ordinary
    attributes never reaches the main process; flags in shared memory do, whether
    the workers were forked or spawned (the memory is inherited at process start).
    """

    def __init__(self, size: int):
        self._size = size
        self._flags = multiprocessing.RawArray(ctypes.c_uint8, size)  # zeroed
        self._any = multiprocessing.RawValue(ctypes.c_uint8, 0)  # O(1) check per batch

    def mark(self, position: int) -> bool:
        """Flag ``position``; True if it was not flagged yet."""
        new = not self._flags[position]
        self._flags[position] = 1
        self._any.value = 1
        return new

    def any(self) -> bool:
        return bool(self._any.value)

    def positions(self) -> List[int]:
        if not self.any():
            return []
        return np.flatnonzero(np.frombuffer(self._flags, dtype=np.uint8)).tolist()

    def clear(self) -> None:
        ctypes.memset(self._flags, 0, self._size)
        self._any.value = 0


class _FailedSample:
    def __repr__(self):
        return "FAILED_SAMPLE"


# What a dataset returns instead of raising while ``defer_errors`` is set.
FAILED_SAMPLE = _FailedSample()


class SampleTable:
    """``(path, label)`` pairs held in three arrays: the paths' bytes end to end, where
    each ends, and the labels.

    A list of 1.28M ``(str, int)`` tuples holds about 220 bytes a line in Python
    objects, and a loader worker that reads one touches its reference count, which
    copies the page it lies on: forked workers end up with a copy each. Here a line
    costs its path's bytes and 17 bytes more, in three buffers no worker writes to.
    """

    def __init__(self, paths: Sequence[str], labels: Sequence[int], root: str = ""):
        """``paths[i]`` (joined to ``root`` when read) is labelled ``labels[i]``."""
        self.root = root
        # One encode of all the paths, each followed by NUL (no path holds one); a
        # path is then the bytes between two NULs.
        self.paths = "\0".join([*paths, ""]).encode("utf-8", "surrogateescape")
        self.ends = np.flatnonzero(np.frombuffer(self.paths, np.uint8) == 0)
        self.labels = np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def path(self, position: int) -> str:
        start = int(self.ends[position - 1]) + 1 if position else 0
        path = self.paths[start:int(self.ends[position])].decode("utf-8", "surrogateescape")
        return os.path.join(self.root, path) if self.root else path

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __getitem__(self, position):
        if isinstance(position, slice):
            return [self[i] for i in range(*position.indices(len(self)))]
        if position < 0:
            position += len(self)
        if not 0 <= position < len(self):
            raise IndexError(position)
        return self.path(position), int(self.labels[position])


class _ImageSamples(paddle.io.Dataset):
    """Shared reading logic: ``samples`` of ``(path, label)`` through a pipeline.

    ``skip_bad_images``: when an image cannot be read or decoded, use the next
    readable sample instead of raising, and record the path in ``bad_images`` (in
    list order, each path once). Loader worker processes record into shared memory,
    so ``bad_images`` is exact in the main process with any ``num_workers``; the
    loader clears it at the start of each epoch.
    ``defer_errors``: set by the loader while it iterates. An error reading a sample
    is then not raised (inside Paddle's loader thread or a worker process it would
    print a stray traceback or, with ``num_workers=0``, hang the main process); the
    sample is flagged and ``FAILED_SAMPLE`` returned, and ``raise_deferred_error``
    raises that error again in the main process.
    ``sample_seed``: when set to ``(seed, epoch)`` (build_dataloader does this),
    numpy's global RNG is seeded from ``(seed, epoch, index)`` before each sample is
    transformed, so random augmentations depend on neither the number of workers
    nor the order in which they fetch samples. An index ``i + r * len(dataset)`` reads
    sample ``i`` with a seed of its own (RASampler yields repeats of ``i`` so).
    """

    def __init__(self, samples: SampleTable, transform_ops: TransformOps,
                 skip_bad_images: bool):
        super().__init__()
        if not isinstance(skip_bad_images, bool):
            raise ConfigError(f"skip_bad_images must be true or false, got {skip_bad_images!r}")
        self.samples = samples
        self.labels = samples.labels
        self.transform = _build_pipeline(transform_ops)
        self.skip_bad_images = skip_bad_images
        self.skipped = SampleMarks(len(samples))
        self.failed = SampleMarks(len(samples))
        self.defer_errors = False
        self.sample_seed: Optional[Tuple[int, int]] = None
        # None: items are CHW, as the model takes them. After defer_normalize, the
        # layout the shorter pipeline ends in: the loader turns whole batches.
        self.item_layout: Optional[str] = None

    def __len__(self) -> int:
        return len(self.samples)

    def defer_normalize(self) -> Optional[NormalizeImage]:
        """Drop the NormalizeImage that ends the pipeline and return it, for a loader
        that normalizes whole batches (loader.BatchNormalize); None, and the pipeline
        kept, when it does not end so (see ``Compose.split_final_normalize``).

        Items are then left in the layout the shorter pipeline ends in
        (``item_layout``, usually HWC): the batch is turned to NCHW with the
        normalization, on the device, instead of each image being copied in a worker.
        """
        pipeline, normalize = self.transform.split_final_normalize()
        if normalize is not None:
            self.transform = pipeline
            self.item_layout = pipeline.output_layout
        return normalize

    @property
    def bad_images(self) -> List[str]:
        """Paths skipped as unreadable (since the loader's epoch began)."""
        return [self.samples.path(position) for position in self.skipped.positions()]

    def describe(self, position: int) -> str:
        """Where sample ``position`` comes from, for messages."""
        return f"sample {position}"

    def check_labels(self, class_num: int, name: str = "class_num"):
        """Raise DataError listing the first few samples whose label is not below
        ``class_num`` (``name`` says where that number is set), and their count."""
        beyond = np.flatnonzero(self.labels >= class_num).tolist()
        if beyond:
            raise DataError(_problem_report(
                f"{len(beyond)} label(s) not below {name} {class_num} (the largest is "
                f"{self.labels.max()}; {name} must be at least {self.labels.max() + 1})",
                [(self.describe(i), f"{self.samples[i][0]} {self.labels[i]}") for i in beyond]))

    def __getitem__(self, index: int):
        if not self.defer_errors:
            return self._sample(index)
        try:
            return self._sample(index)
        except Exception:  # raised again in the main process: raise_deferred_error
            self.failed.mark(index % len(self.samples))  # RASampler's repeats: i + r * len
            return FAILED_SAMPLE

    def raise_deferred_error(self):
        """Raise here the error met reading a sample while errors were deferred."""
        if not self.failed.any():
            return
        index = self.failed.positions()[0]
        self.failed.clear()
        self._sample(index)  # reads it again, in this process, to raise its error
        raise DataError(f"reading {self.describe(index)} failed in a DataLoader worker but "
                        f"worked when tried again: is the file system reliable?")

    def _sample(self, index: int) -> Tuple[np.ndarray, np.int64]:
        if self.sample_seed is not None:
            np.random.seed([*self.sample_seed, index])
        for attempt in range(len(self.samples)):
            position = (index + attempt) % len(self.samples)
            path, label = self.samples[position]
            try:
                image = self._read(path, position)
            except (OSError, ImageDecodeError) as err:
                if not self.skip_bad_images:
                    raise DataError(f"cannot read image {path} ({self.describe(position)}): "
                                    f"{_reason(err)}; fix or remove it, or set the dataset's "
                                    f"skip_bad_images: true to skip unreadable images") from err
                if self.skipped.mark(position):
                    _log.warning("skipping unreadable image %s: %s", path, _reason(err))
                continue
            return image, np.int64(label)
        raise DataError(f"none of the {len(self.samples)} images of the dataset can be read "
                        f"(first: {self.samples[0][0]})")

    def _read(self, path: str, position: int) -> np.ndarray:
        with open(path, "rb") as file:
            data = file.read()
        try:
            image = self.transform(data)
        except ImageDecodeError:
            raise
        except DataError as err:  # a later op failed: a pipeline problem, never skipped
            raise DataError(f"transforming image {path} ({self.describe(position)}): "
                            f"{err}") from err
        if self.item_layout is not None:
            return image
        return model_input(image, self.transform.output_layout)


def _problem_report(summary: str, problems: List[Tuple[str, str]]) -> str:
    """``summary`` and the first few ``(where, text)`` problems, one an indented line."""
    shown = "\n".join(f"  {where}: {text}" for where, text in problems[:_MAX_REPORTED_LINES])
    more = f" (first {_MAX_REPORTED_LINES} shown)" if len(problems) > _MAX_REPORTED_LINES else ""
    return f"{summary}{more}:\n{shown}"


def _reason(err: Exception) -> str:
    if isinstance(err, FileNotFoundError):
        return "file not found"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err)


def _check_dir(path: Any, name: str) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"{name} must be a path, got {path!r}")
    if not os.path.isdir(path):
        what = "is not a directory" if os.path.exists(path) else "does not exist"
        raise DataError(f"{name} {os.path.abspath(path)} {what}")
    return os.path.abspath(path)


@DATASETS.register
class ImageNetDataset(_ImageSamples):
    """Images listed in a PaddleClas list file, one ``relative/path.jpg label`` a line.

    Args:
        image_root: directory the listed paths are relative to.
        cls_label_path: the list file. Blank lines are ignored; the label is the last
            field, so paths may contain spaces.
        transform_ops: PaddleClas list of ops (see ``build_transforms``), a Compose,
            or None to decode only (samples are then ``uint8`` CHW arrays).
        delimiter: separator between path and label; default any whitespace.
        class_num: if given, every label must be below it.
        skip_bad_images: see ``_ImageSamples``.

    Attributes: ``samples`` (a ``SampleTable``: a sequence of ``(absolute path,
    label)``), ``labels`` (an int64 array), ``bad_images``. Raises DataError when ``image_root`` or the list file is missing,
    the list is empty, or lines are malformed or have bad labels (the message lists
    the first few such lines, ``file:line: text``, and how many there are), or when
    the first listed image does not exist (a likely sign of a wrong ``image_root``;
    not checked with ``skip_bad_images``).
    """

    def __init__(self, image_root: PathName, cls_label_path: PathName,
                 transform_ops: TransformOps = None,
                 delimiter: Optional[str] = None, class_num: Optional[int] = None,
                 skip_bad_images: bool = False):
        try:
            root = _check_dir(image_root, "image_root")
        except DataError as err:
            raise DataError(f"{err}; {LISTS_HINT}") from None
        if not isinstance(cls_label_path, (str, os.PathLike)):
            raise ConfigError(f"cls_label_path must be a path, got {cls_label_path!r}")
        if not os.path.isfile(cls_label_path):
            raise DataError(f"cls_label_path {os.path.abspath(cls_label_path)} does not exist "
                            f"or is not a file; {LISTS_HINT}")
        if delimiter is not None and (not isinstance(delimiter, str) or not delimiter):
            raise ConfigError(f"delimiter must be a non-empty string, got {delimiter!r}")
        if class_num is not None:
            positive_int(class_num, "class_num")
        self.cls_label_path = os.path.abspath(cls_label_path)
        samples, self.line_numbers = self._read_list(root, self.cls_label_path, delimiter,
                                                     class_num)
        super().__init__(samples, transform_ops, skip_bad_images)
        if not skip_bad_images and not os.path.isfile(samples[0][0]):
            raise DataError(f"the first image listed ({self.describe(0)}) "
                            f"does not exist: {samples[0][0]}; is image_root {root} right?")

    def describe(self, position: int) -> str:
        return f"{self.cls_label_path}:{self.line_numbers[position]}"

    @staticmethod
    def _read_list(root: str, list_path: str, delimiter: Optional[str],
                   class_num: Optional[int]) -> Tuple[SampleTable, np.ndarray]:
        try:
            with open(list_path, encoding="utf-8") as file:
                lines = file.read().splitlines()
        except UnicodeDecodeError as err:
            raise DataError(f"list file {list_path} is not UTF-8 text ({err})") from None
        paths, labels, line_numbers, problems = [], [], [], []
        for number, line in enumerate(lines, start=1):
            text = line.strip()
            if not text:
                continue
            fields = text.rsplit(delimiter, 1)
            if len(fields) != 2 or not fields[0].strip():
                problems.append((number, text, "expected 'path label'"))
                continue
            path, label_text = fields[0].strip(), fields[1].strip()
            try:
                label = int(label_text)
            except ValueError:
                problems.append((number, text, f"label {label_text!r} is not an integer"))
                continue
            if label < 0:
                problems.append((number, text, f"label {label} is negative"))
            elif class_num is not None and label >= class_num:
                problems.append((number, text, f"label {label} is not below class_num "
                                               f"{class_num}"))
            else:
                paths.append(path)
                labels.append(label)
                line_numbers.append(number)
        if problems:
            raise DataError(_problem_report(
                f"list file {list_path} has {len(problems)} bad line(s)",
                [(f"{list_path}:{number}", f"{text!r}: {why}") for number, text, why in problems]))
        if not paths:
            raise DataError(f"list file {list_path} lists no images")
        return SampleTable(paths, labels, root), np.asarray(line_numbers, dtype=np.int64)


@DATASETS.register
class ImageFolderDataset(_ImageSamples):
    """Images in a folder per class: ``image_root/<class name>/**/<image>``.

    Classes are the sub-directories of ``image_root`` (hidden ones skipped), sorted
    by name; the label of a class is its index in ``class_names``. Images are the
    files with one of ``extensions`` (any case) anywhere under a class directory.

    A class directory without images is an error, not skipped: skipping it would
    quietly shift the label of every later class and break the mapping to class
    names. Files directly in ``image_root`` are ignored.

    Args:
        image_root: the directory of class directories.
        transform_ops, skip_bad_images: as for ImageNetDataset.
        extensions: file name endings that count as images.
        holdout: with no val folder, the share of each class's images (at least one of
            a class of two or more) held out for evaluation, drawn with
            ``holdout_seed``; ``part`` says which part this dataset reads, ``train``
            (the rest) or ``val`` (the held-out images). The same three values give
            the same split on every run.

    Attributes: ``class_names``, ``samples``, ``labels``, ``bad_images``.
    """

    def __init__(self, image_root: PathName, transform_ops: TransformOps = None,
                 extensions: Sequence[str] = IMAGE_EXTENSIONS, skip_bad_images: bool = False,
                 holdout: Optional[float] = None, holdout_seed: int = 0, part: str = "train"):
        root = _check_dir(image_root, "image_root")
        if holdout is not None and (not is_number(holdout) or not 0 < holdout < 1):
            raise ConfigError(f"holdout must be a share between 0 and 1 (e.g. 0.2), got "
                              f"{holdout!r}")
        if part not in ("train", "val"):
            raise ConfigError(f"part must be 'train' or 'val', got {part!r}")
        if not is_int(holdout_seed) or holdout_seed < 0:
            raise ConfigError(f"holdout_seed must be an integer of at least 0, got "
                              f"{holdout_seed!r}")
        if (isinstance(extensions, str) or not extensions
                or not all(isinstance(e, str) for e in extensions)):
            raise ConfigError(f"extensions must be a list of file endings like ['.jpg'], "
                              f"got {extensions!r}")
        endings = tuple(e.lower() for e in extensions)
        self.root = root
        self.class_names = class_folders(root)
        if not self.class_names:
            raise DataError(f"image_root {root} has no class directories; expected "
                            f"image_root/<class name>/<image>")
        paths, labels, empty = [], [], []
        for label, name in enumerate(self.class_names):
            found = []
            for folder, subfolders, files in os.walk(os.path.join(root, name), followlinks=True):
                subfolders.sort()  # os.walk visits them in this order: keep it stable
                found += [os.path.join(folder, f) for f in sorted(files)
                          if f.lower().endswith(endings)]
            if not found:
                empty.append(name)
            paths += found
            labels += [label] * len(found)
        if empty:
            raise DataError(f"class directories without images ({', '.join(endings)}) in "
                            f"{root}: {', '.join(empty)}; remove them or add images")
        if holdout is not None:
            held = _held_out(labels, holdout, holdout_seed)
            kept = [i for i in range(len(paths)) if (i in held) == (part == "val")]
            paths, labels = [paths[i] for i in kept], [labels[i] for i in kept]
        if not skip_bad_images:
            _check_image_headers(paths, root)
        super().__init__(SampleTable(paths, labels), transform_ops, skip_bad_images)

    def describe(self, position: int) -> str:
        return f"class {self.class_names[self.labels[position]]!r}"

    def relabel(self, class_names: Sequence[str], where: str, named_by: str):
        """Label these folders by their place in ``class_names`` (the training set's,
        from ``named_by``) rather than among this set's own folders, so that a val set
        missing a class keeps the labels of the others. A folder not in
        ``class_names`` is a DataError naming it."""
        unknown = [name for name in self.class_names if name not in class_names]
        if unknown:
            raise DataError(f"{where}: class folder {os.path.join(self.root, unknown[0])} has "
                            f"no class folder of that name in {named_by}; the model only "
                            f"knows the training classes")
        position = np.asarray([list(class_names).index(name) for name in self.class_names],
                              dtype=np.int64)
        self.labels = self.samples.labels = position[self.samples.labels]
        self.class_names = list(class_names)


def _held_out(labels: Sequence[int], share: float, seed: int) -> set:
    """The positions held out for evaluation: ``share`` of each class's images, at
    least one of a class of two or more, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    held = set()
    for label in np.unique(labels):
        positions = np.flatnonzero(labels == label)
        count = max(1, round(share * len(positions))) if len(positions) > 1 else 0
        held.update(rng.choice(positions, count, replace=False).tolist())
    return held


def class_folders(root: PathName) -> List[str]:
    """The class folders of ``root`` in label order: its sub-directories, hidden ones
    left out, sorted by name."""
    return sorted(entry.name for entry in os.scandir(root)
                  if entry.is_dir() and not entry.name.startswith("."))


# The first bytes of the formats OpenCV and PIL decode here.
_IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG", b"BM", b"GIF8", b"RIFF", b"II*\x00",
                     b"MM\x00*", b"P2", b"P3", b"P5", b"P6")


def _check_image_headers(paths: Sequence[str], root: str):
    """Open every image and read its first bytes, so that an empty, unreadable or
    non-image file fails before training rather than mid-epoch: one DataError line
    naming the folder, the first such file and how many there are."""
    bad = []
    for path in paths:
        try:
            with open(path, "rb") as file:
                head = file.read(8)
        except OSError as err:
            bad.append((path, _reason(err)))
            continue
        if not head:
            bad.append((path, "empty file"))
        elif not head.startswith(_IMAGE_SIGNATURES):
            bad.append((path, "not a JPEG, PNG, BMP, GIF, WebP, TIFF or PNM image"))
    if bad:
        path, why = bad[0]
        raise DataError(f"{os.path.dirname(path)}: {len(bad)} unreadable image(s) in "
                        f"{root}, first {os.path.basename(path)} ({why}); fix or remove "
                        f"them, or set the dataset's skip_bad_images: true")


DATASETS.register(ImageFolderDataset, name="ImageFolder")  # paddle.vision's and torchvision's name
