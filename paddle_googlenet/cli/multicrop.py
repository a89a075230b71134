"""``tools/eval.py``'s multi-crop, ensemble and Table 3 evaluation (see
``engine.multicrop``): the flags it adds, when it takes over, and the report."""

import argparse
from typing import List

from ..errors import ConfigError

__all__ = ["add_arguments", "weights_overrides", "wants_multi_crop", "multi_crop_report"]

WEIGHTS_KEY = "Global.pretrained_model"


def add_arguments(parser: argparse.ArgumentParser):
    parser.add_argument(
        "--table", action="store_true",
        help="add a table like the paper's Table 3: 1, 10 and 144 crops for the first "
             "weights alone and for an ensemble, in one pass over the images")
    parser.add_argument(
        "--ensemble", nargs="+", action="extend", metavar="WEIGHTS", default=[],
        help="with --table: the weights of the ensemble rows, two or more (say a run's "
             "last checkpoints beside its best model); a repeated flag adds to them; "
             "default: all the weights given")


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


def _weights(args, config: dict) -> List[str]:
    """The weights to evaluate: the ``-o`` options' (in order), else the config's."""
    from ..engine.multicrop import weights_files

    return weights_overrides(args.override) or weights_files(
        config["Global"]["pretrained_model"])


def wants_multi_crop(args, config: dict) -> bool:
    """Whether the evaluation is more than the list's one crop of one model. When it
    is not, ``Global.pretrained_model`` is left naming the one file (``[a]`` is ``a``)."""
    from ..engine.multicrop import crop_count

    if args.ensemble and not args.table:
        raise ConfigError(f"--ensemble: names the weights of --table's ensemble rows; to "
                          f"evaluate an ensemble on its own, give -o {WEIGHTS_KEY}=[a,b]")
    weights = _weights(args, config)
    if args.table or crop_count(config) != 1 or len(weights) > 1:
        return True
    config["Global"]["pretrained_model"] = weights[0] if weights else None
    return False


def multi_crop_report(args, config: dict, progress=None):
    """``engine.multicrop.evaluate_crops``'s report for the weights, crops and table
    the options ask for."""
    from ..engine.multicrop import evaluate_crops, weights_files

    weights = _weights(args, config)
    if not weights:
        raise ConfigError(f"{WEIGHTS_KEY}: give the weights to evaluate, e.g. "
                          f"-o {WEIGHTS_KEY}=output/GoogLeNet/best_model")
    ensemble = [path for value in args.ensemble for path in weights_files(value, "--ensemble")]
    return evaluate_crops(config, weights, table=args.table, ensemble=ensemble or None,
                          progress=progress)
