"""``googlenet-predict`` (``tools/predict.py``): the top-k classes of images with the
dynamic-graph model."""

import sys

from .options import parse_with_config, run
from .runner import print_results, results_progress

__all__ = ["main"]


def _predict(argv):
    from ..deploy import format_result
    from ..engine.predict import Predictor, expand_images
    from ..image_io import set_opencv_threads

    def add_arguments(parser):
        parser.add_argument("images", nargs="*", metavar="IMAGE",
                            help="image files, folders (searched recursively) or globs "
                                 "(default: Infer.infer_imgs)")
        parser.add_argument("--json", action="store_true", help="print JSON lines, one per image")

    args, config = parse_with_config(
        argv, "Predict the top-k classes of images with the dynamic-graph model.",
        add_arguments)
    set_opencv_threads()
    predictor = Predictor(config)
    if predictor.names_note:
        print(predictor.names_note, file=sys.stderr)
    if args.images:
        paths = expand_images(args.images, where="IMAGE arguments")
    else:
        paths = expand_images(config["Infer"]["infer_imgs"])
    progress = results_progress(len(paths), "predict")
    return print_results(predictor.predict(paths, progress),
                         lambda r: format_result(r, args.json), len(paths), "predicted",
                         progress)


def main(argv=None) -> int:
    return run(_predict, argv)
