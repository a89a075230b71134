"""``googlenet-eval`` (``tools/eval.py``): top-k, loss and per-class accuracy of the
main head on the Eval split, and optionally the confusion matrix; with ``Eval.crops``
10 or 144, several weights or ``--table``, the multi-crop and ensemble evaluation of
``cli.multicrop``."""

from . import multicrop
from .options import parse_with_config, run

__all__ = ["main"]


def _arguments(parser):
    parser.add_argument("--confusion-matrix", metavar="PNG",
                        help="also write the confusion matrix, labelled with class names")
    multicrop.add_arguments(parser)


def _eval(argv):
    args, config = parse_with_config(
        argv, "Evaluate the main head on the Eval split: top-k, loss, per-class accuracy; "
              "with Eval.crops 10 or 144, several weights or --table, averaged over crops "
              "and models.", _arguments)
    if multicrop.wants_multi_crop(args, config):
        return multicrop.multi_crop_eval(args, config)
    from ..engine import Engine
    from ..engine.report import plot_confusion
    from ..engine.runtime import is_main_process
    from ..progress import Progress

    engine = Engine(config, mode="eval")
    loader = engine.eval_loader  # this process's share of the images, when shared out
    images = getattr(loader.batch_sampler, "num_samples", None) or len(loader.dataset)
    with Progress(images, "eval") as progress:
        report = engine.evaluation_report(progress)
    figures = report.figures
    print(f"weights: {config['Global']['pretrained_model']}")
    print(f"images: {figures['images']}  loss: {figures['loss']:.5f}  "
          + "  ".join(f"{k}: {v:.5f}" for k, v in figures.items()
                      if k not in ("images", "loss")))
    width = max(len(n) for n in report.class_names)
    print(f"{'class':<{width + 6}} {'images':>7} {'accuracy':>9}")
    for i, (name, images, accuracy) in enumerate(report.per_class()):
        shown = f"{accuracy:.4f}" if accuracy is not None else "-"
        print(f"{i:>4}  {name:<{width}} {images:>7} {shown:>9}")
    # Every process of a launch holds the same totals; one writes the picture.
    if args.confusion_matrix and is_main_process():
        plot_confusion(report.confusion, report.class_names, args.confusion_matrix)
        print(f"confusion matrix: {args.confusion_matrix}")


def main(argv=None) -> int:
    return run(_eval, argv)
