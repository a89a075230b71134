"""``tools/paddleclas_census.py``: which of a folder of PaddleClas configs this package
can train (``paddle_googlenet.census`` does the work)."""

import argparse
import json
import os
import sys
import tempfile
from typing import Dict

from ..errors import UserError
from ..progress import Progress, optional_progress
from ..census import find_configs, format_line, format_report, run_census
from ..weights.atomic import write_file_atomically
from .runner import run_tool

__all__ = ["main"]


def _data_args(args, scratch: str) -> Dict:
    given = [args.image_root, args.train_list, args.val_list]
    if any(given):
        if not all(given) or args.class_num is None:
            raise UserError("--image-root, --train-list, --val-list and --class-num go "
                            "together (or give none, for the generated demo dataset)")
        for path in given:
            if not os.path.exists(path):
                raise UserError(f"{path}: not found")
        return {"image_root": args.image_root, "train_list": args.train_list,
                "val_list": args.val_list, "class_num": args.class_num}
    from ..data import ensure_demo_dataset

    # Large enough for any recipe's batch even with drop_last, small enough to make
    # in seconds; the pixels do not matter here.
    demo = ensure_demo_dataset(args.demo_root or os.path.join(scratch, "demo"),
                               train_per_class=86, eval_per_class=2)
    return {"image_root": demo.root, "train_list": demo.train_list,
            "val_list": demo.val_list, "class_num": len(demo.class_names)}


def _write_json(path: str, report: Dict):
    text = json.dumps(report, indent=1).encode("utf-8")
    try:
        write_file_atomically(path, lambda f: f.write(text))
    except OSError as err:
        raise UserError(f"--json {path}: cannot write: {err}") from None


def _census(argv) -> int:
    parser = argparse.ArgumentParser(
        description="Which PaddleClas configs (a folder, searched for *.yaml) this package "
                    "can train, with GoogLeNet and a small dataset swapped in. Builds each "
                    "run up to its first step.")
    parser.add_argument("folder", help="folder of PaddleClas configs, e.g. ppcls/configs/ImageNet")
    parser.add_argument("--json", metavar="OUT", help="write every config's result here")
    parser.add_argument("--top", type=int, default=10, help="refusal reasons to list")
    parser.add_argument("--quiet", action="store_true", help="only the counts")
    parser.add_argument("--image-root", help="dataset root (default: a generated demo set)")
    parser.add_argument("--train-list", help="Train cls_label_path")
    parser.add_argument("--val-list", help="cls_label_path of the other splits")
    parser.add_argument("--class-num", type=int, help="classes of that dataset")
    parser.add_argument("--demo-root", help="where to generate (or reuse) the demo set")
    parser.add_argument("--debug", action="store_true", help="tracebacks of errors")
    args = parser.parse_args(argv)
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        raise UserError(f"--json {args.json}: its folder does not exist")
    configs = find_configs(args.folder)  # an empty or missing folder fails before any work
    # per-config lines show how far it is on a terminal; else a progress line on stderr
    make = Progress if args.quiet or not sys.stdout.isatty() else None
    with tempfile.TemporaryDirectory(prefix="paddleclas_census-") as scratch, \
            optional_progress(make, len(configs), "census", "configs") as shown:
        data = _data_args(args, scratch)

        def progress(result):
            if shown is not None:
                shown.update()
            if not args.quiet:
                print(format_line(result), flush=True)
        report = run_census(args.folder, data, os.path.join(scratch, "output"), progress)
    print(format_report(report, args.top))
    if args.json:
        _write_json(args.json, report)
    return 0


def main(argv=None) -> int:
    return run_tool(_census, argv)
