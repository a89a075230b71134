"""PaddleClas's list files from an ILSVRC2012 folder.

    ILSVRC2012/
      train/<wnid>/<image>.JPEG           a folder per class
      val/<wnid>/<image>.JPEG             a folder per class, or
      val/<image>.JPEG + a ground-truth file naming each image's class

``write_imagenet_lists`` writes ``train_list.txt`` and ``val_list.txt`` (lines
``train/n01440764/n01440764_10026.JPEG 0``, paths relative to the root) and
``label_list.txt`` (lines ``0 n01440764``, or ``0 n01440764 tench, Tinca tinca``
when the root holds ``LOC_synset_mapping.txt`` or ``synset_words.txt``). Labels are
the training folders in sorted order, the order PaddleClas's lists use.

A ground-truth file has a line per image, ``<image file> <wnid>`` (a text file) or
``<image id>,<wnid> ...`` (Kaggle's ``LOC_val_solution.csv``, with its header).
The devkit's ``ILSVRC2012_validation_ground_truth.txt`` numbers the classes in the
order of its ``meta.mat``, not by folder name, and is not read: convert it first.
"""

import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ..errors import DataError
from ..image_io import IMAGE_EXTENSIONS

__all__ = ["write_imagenet_lists", "ImageNetLists", "SYNSET_WORDS"]

SYNSET_WORDS = ("LOC_synset_mapping.txt", "synset_words.txt")


@dataclass
class ImageNetLists:
    root: str
    classes: int
    train_images: int
    val_images: int
    files: List[str]


def _images(folder: str) -> List[str]:
    found = []
    for parent, _, names in os.walk(folder):
        found += [os.path.join(parent, n) for n in names
                  if n.lower().endswith(IMAGE_EXTENSIONS)]
    return sorted(found)


def _class_folders(folder: str) -> List[str]:
    return sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))


def _by_folder(root: str, split: str, label_of: Dict[str, int]) -> List[Tuple[str, int]]:
    lines = []
    for name in _class_folders(os.path.join(root, split)):
        if name not in label_of:
            raise DataError(f"{os.path.join(root, split, name)}: a class folder that "
                            f"train/ does not have; the classes are the folders of train/")
        images = _images(os.path.join(root, split, name))
        lines += [(os.path.relpath(p, root), label_of[name]) for p in images]
    return lines


def _ground_truth(path: str) -> Dict[str, str]:
    """``{image file name without extension: wnid}`` from a ground-truth file."""
    truth = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            text = line.strip()
            if not text or text.lower().startswith("imageid,"):
                continue
            if "," in text:
                image, _, rest = text.partition(",")
                fields = [image, *rest.split()[:1]]
            else:
                fields = text.split()
            if len(fields) < 2 or fields[1].isdigit():
                raise DataError(f"{path}:{number}: expected '<image> <wnid>' or Kaggle's "
                                f"'<image id>,<wnid> ...', got {text!r} (numbered classes "
                                f"are the devkit's meta.mat order: convert them to wnids)")
            truth[os.path.splitext(os.path.basename(fields[0]))[0]] = fields[1]
    return truth


def _by_ground_truth(root: str, split: str, truth_path: str,
                     label_of: Dict[str, int]) -> List[Tuple[str, int]]:
    truth = _ground_truth(truth_path)
    lines = []
    for path in _images(os.path.join(root, split)):
        key = os.path.splitext(os.path.basename(path))[0]
        if key not in truth:
            raise DataError(f"{truth_path}: no class for {path}")
        if truth[key] not in label_of:
            raise DataError(f"{truth_path}: {key} is of class {truth[key]!r}, which train/ "
                            f"has no folder for")
        lines.append((os.path.relpath(path, root), label_of[truth[key]]))
    return lines


def _names(root: str) -> Dict[str, str]:
    for name in SYNSET_WORDS:
        path = os.path.join(root, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                pairs = (line.strip().partition(" ") for line in f if line.strip())
                return {wnid: words.strip() for wnid, _, words in pairs}
    return {}


def _write(path: str, lines: List[str]):
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
    os.replace(path + ".tmp", path)


def write_imagenet_lists(root: str, val_ground_truth: Optional[str] = None,
                         train: str = "train", val: str = "val") -> ImageNetLists:
    """Write ``train_list.txt``, ``val_list.txt`` and ``label_list.txt`` into ``root``
    from its ``train`` and ``val`` folders (see the module's docstring)."""
    train_dir, val_dir = os.path.join(root, train), os.path.join(root, val)
    for folder in (train_dir, val_dir):
        if not os.path.isdir(folder):
            raise DataError(f"{os.path.abspath(folder)} does not exist; expected "
                            f"{os.path.abspath(root)}/{{{train},{val}}}/")
    classes = _class_folders(train_dir)
    if not classes:
        raise DataError(f"{os.path.abspath(train_dir)} has no class folders "
                        f"(train/<wnid>/<image>.JPEG)")
    label_of = {name: i for i, name in enumerate(classes)}
    train_lines = _by_folder(root, train, label_of)
    if val_ground_truth:
        val_lines = _by_ground_truth(root, val, val_ground_truth, label_of)
    elif _class_folders(val_dir):
        val_lines = _by_folder(root, val, label_of)
    else:
        raise DataError(f"{os.path.abspath(val_dir)} has no class folders; give the "
                        f"ground-truth file of its images (--val-ground-truth)")
    for split, lines in ((train, train_lines), (val, val_lines)):
        if not lines:
            raise DataError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) under "
                            f"{os.path.join(os.path.abspath(root), split)}")
    words = _names(root)
    files = [os.path.join(root, n) for n in ("train_list.txt", "val_list.txt",
                                             "label_list.txt")]
    _write(files[0], [f"{p} {label}" for p, label in train_lines])
    _write(files[1], [f"{p} {label}" for p, label in val_lines])
    _write(files[2], [f"{i} {name} {words[name]}".rstrip() if name in words else f"{i} {name}"
                      for i, name in enumerate(classes)])
    return ImageNetLists(root, len(classes), len(train_lines), len(val_lines), files)
