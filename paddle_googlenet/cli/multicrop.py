"""``tools/eval.py``'s multi-crop, ensemble and Table 3 evaluation (see
``engine.multicrop``): the flags it adds, when it takes over, and what it prints."""

import argparse
from typing import List

from ..errors import ConfigError

__all__ = ["add_arguments", "weights_overrides", "wants_multi_crop", "multi_crop_eval"]

WEIGHTS_KEY = "Global.pretrained_model"


def add_arguments(parser: argparse.ArgumentParser):
    parser.add_argument(
        "--table", action="store_true",
        help="a table like the paper's Table 3: 1, 10 and 144 crops for the first weights "
             "alone and for all of them together, in one pass over the images")
    parser.add_argument("--json", action="store_true",
                        help="print the report as one JSON object")


def weights_overrides(overrides: List[str]) -> List[str]:
    """The weights every ``-o Global.pretrained_model=`` option names, in order: a
    repeated option adds to the ensemble, ``[a,b,c]`` names several at once."""
    from ..engine.multicrop import weights_files

    paths = []
    for option in overrides:
        key, _, value = option.partition("=")
        if key.strip() == WEIGHTS_KEY:
            paths += weights_files(value)
    return paths


def wants_multi_crop(args, config: dict) -> bool:
    """Whether the evaluation is more than the list's one crop of one model. When it
    is not, ``Global.pretrained_model`` is left naming the one file (``[a]`` is ``a``)."""
    from ..engine.multicrop import crop_count, weights_files

    weights = weights_overrides(args.override) or weights_files(
        config["Global"]["pretrained_model"])
    if args.table or args.json or crop_count(config) != 1 or len(weights) > 1:
        return True
    config["Global"]["pretrained_model"] = weights[0] if weights else None
    return False


def multi_crop_eval(args, config: dict):
    from ..engine.multicrop import evaluate_crops, weights_files
    from ..engine.runtime import is_main_process
    from ..progress import Progress

    if args.confusion_matrix:
        raise ConfigError("--confusion-matrix: drawn for one model's one crop; leave out "
                          "--table, Eval.crops and the further weights to get it")
    weights = weights_overrides(args.override) or weights_files(
        config["Global"]["pretrained_model"])
    if not weights:
        raise ConfigError(f"{WEIGHTS_KEY}: give the weights to evaluate, e.g. "
                          f"-o {WEIGHTS_KEY}=output/GoogLeNet/best_model")
    report = evaluate_crops(config, weights, table=args.table, progress=Progress)
    if not is_main_process():
        return
    if args.json:
        print(report.as_json())
        return
    for i, path in enumerate(report.weights, start=1):
        print(f"weights {i}: {path}")
    print(f"crops: {report.protocol}")
    print(report.text())
