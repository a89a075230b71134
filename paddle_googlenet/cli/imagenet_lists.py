"""``tools/make_imagenet_lists.py``: PaddleClas's list files from an ILSVRC2012 folder."""

import argparse

from ..data.imagenet_lists import write_imagenet_lists
from . import run

__all__ = ["main"]


def _make_lists(argv):
    parser = argparse.ArgumentParser(
        description="Write train_list.txt, val_list.txt and label_list.txt into an "
                    "ILSVRC2012 folder: train/<wnid>/ class folders, val/ either class "
                    "folders or images with a ground-truth file.")
    parser.add_argument("root", nargs="?", default="./dataset/ILSVRC2012",
                        help="the folder holding train/ and val/ (default: %(default)s)")
    parser.add_argument("--val-ground-truth", metavar="FILE",
                        help="val/'s classes: lines '<image> <wnid>', or Kaggle's "
                             "LOC_val_solution.csv")
    parser.add_argument("--debug", action="store_true", help="print the full traceback of an error")
    args = parser.parse_args(argv)
    done = write_imagenet_lists(args.root, args.val_ground_truth)
    print(f"wrote {', '.join(done.files)}: {done.classes} classes, {done.train_images} "
          f"training and {done.val_images} validation images")


def main(argv=None) -> int:
    return run(_make_lists, argv)
