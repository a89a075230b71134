"""``googlenet-eval`` (``tools/eval.py``): top-k, loss and per-class accuracy of the
main head on the Eval split, and optionally the confusion matrix; with ``Eval.crops``
10 or 144, several weights or ``--table``, the multi-crop and ensemble evaluation of
``cli.multicrop``, reported the same way."""

import json

from . import multicrop
from .options import parse_with_config, run

__all__ = ["main"]


def _arguments(parser):
    parser.add_argument("--confusion-matrix", metavar="PNG",
                        help="also write the confusion matrix, labelled with class names")
    parser.add_argument("--json", action="store_true",
                        help="print the report as one JSON object")
    multicrop.add_arguments(parser)


def _eval(argv):
    args, config = parse_with_config(
        argv, "Evaluate the main head on the Eval split: top-k, loss, per-class accuracy; "
              "with Eval.crops 10 or 144, several weights or --table, averaged over crops "
              "and models.", _arguments)
    from ..engine.report import plot_confusion
    from ..engine.runtime import is_main_process
    from ..progress import Progress

    if multicrop.wants_multi_crop(args, config):
        report = multicrop.multi_crop_report(args, config, Progress)
    else:
        from ..engine import Engine

        engine = Engine(config, mode="eval")
        loader = engine.eval_loader  # this process's share of the images, when shared out
        images = getattr(loader.batch_sampler, "num_samples", None) or len(loader.dataset)
        with Progress(images, "eval") as progress:
            report = engine.evaluation_report(progress)
    # Every process of a launch holds the same totals and prints them; one writes
    # the picture, before the report names it.
    if args.confusion_matrix and is_main_process():
        plot_confusion(report.confusion, report.class_names, args.confusion_matrix)
    if args.json:
        result = report.as_dict()
        if args.confusion_matrix:
            result["confusion_matrix_png"] = args.confusion_matrix
        print(json.dumps(result, allow_nan=False))
        return
    print("\n".join(report.lines()))
    if args.confusion_matrix:
        print(f"confusion matrix: {args.confusion_matrix}")


def main(argv=None) -> int:
    return run(_eval, argv)
