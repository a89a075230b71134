"""``googlenet-make-demo-data`` (``tools/make_demo_data.py``): write the demo
shape-classification dataset."""

import argparse

from .options import run

__all__ = ["main"]


def _make_demo_data(argv):
    from ..data.demo import DEMO_DEFAULTS, ensure_demo_dataset

    parser = argparse.ArgumentParser(
        description="Generate the demo shape-classification dataset (see data/demo.py).")
    parser.add_argument("--root", default="dataset/googlenet_demo",
                        help="directory to write (default: %(default)s)")
    for option in ("num_classes", "train_per_class", "eval_per_class", "image_size", "seed"):
        parser.add_argument("--" + option.replace("_", "-"), type=int,
                            default=DEMO_DEFAULTS[option], help="default: %(default)s")
    parser.add_argument("--force", action="store_true",
                        help="regenerate even if a matching dataset exists")
    parser.add_argument("--debug", action="store_true", help="print the full traceback of an error")
    args = vars(parser.parse_args(argv))
    args.pop("debug")
    demo = ensure_demo_dataset(args.pop("root"), **args)
    action = "wrote" if demo.generated else "up to date, kept"
    print(f"{action} {demo.root}: {demo.num_train} training and {demo.num_eval} evaluation "
          f"images of {len(demo.class_names)} classes ({', '.join(demo.class_names)})")
    print(f"  lists: {demo.train_list}, {demo.val_list}; labels: {demo.label_list}")


def main(argv=None) -> int:
    return run(_make_demo_data, argv)
