"""``tools/infer.py``: classify images with an exported model, without the training code.

It imports the deployment side only (``deploy``: numpy, OpenCV, PIL and Paddle Inference or
ONNX Runtime), so it runs where Paddle is not installed.
"""

import argparse
from typing import List, Optional

from ..deploy.infer import BACKENDS, DEFAULT_BACKEND, ImageClassifier, format_result
from ..deploy.precisions import PRECISIONS
from ..errors import DeployError
from ..image_io import expand_images, set_opencv_threads
from .runner import print_results, results_progress, run_tool

__all__ = ["main"]


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Classify images with an exported GoogLeNet (Paddle Inference or "
                    "ONNX Runtime); preprocessing and labels come from inference.yml.")
    parser.add_argument("--model_dir", required=True,
                        help="directory written by tools/export_model.py")
    parser.add_argument("images", nargs="*", metavar="IMAGE",
                        help="image files, folders (searched recursively) or globs")
    parser.add_argument("--image", nargs="+", default=[],
                        help="more images, as PaddleClas's deploy scripts pass them")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--topk", type=int, default=None,
                        help="classes per image (default: inference.yml's topk)")
    parser.add_argument("--backend", choices=list(BACKENDS), default=DEFAULT_BACKEND,
                        help="paddle (default): Paddle Inference; onnxruntime: inference.onnx "
                             "under ONNX Runtime (fp32 only); tools/benchmark.py measures "
                             "their speed (docs/benchmarks.md)")
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads (default: one per core)")
    parser.add_argument("--onednn", choices=["on", "off"], default="on",
                        help="oneDNN kernels on the CPU (default on)")
    parser.add_argument("--precision", choices=list(PRECISIONS), default="fp32",
                        help="; ".join(f"{p.name}: {p.summary}" for p in PRECISIONS.values()))
    parser.add_argument("--keep_memory", choices=["on", "off"], default="on",
                        help="CPU: reuse freed memory instead of returning it to the system "
                             "(faster; resident memory stays at its peak; default on)")
    parser.add_argument("--gpu_id", type=int, default=0)
    parser.add_argument("--gpu_memory_mb", type=int, default=500)
    parser.add_argument("--use_tensorrt", action="store_true",
                        help="TensorRT subgraphs (GPU builds with TensorRT)")
    parser.add_argument("--tensorrt_precision", choices=["fp32", "fp16"], default="fp32")
    parser.add_argument("--json", action="store_true", help="print JSON lines, one per image")
    parser.add_argument("--debug", action="store_true",
                        help="print the full traceback of an error")
    return parser


def _infer(argv: List[str]) -> int:
    args = _arguments().parse_args(argv)
    if args.batch_size < 1 or (args.threads is not None and args.threads < 1):
        raise DeployError("--batch_size and --threads must be positive integers")
    if args.backend == "onnxruntime" and not PRECISIONS[args.precision].onnx:
        raise DeployError(f"--precision {args.precision} needs --backend paddle; the ONNX "
                          f"model is fp32")
    options = {} if args.backend == "onnxruntime" else dict(
        device=args.device, onednn=args.onednn == "on", precision=args.precision,
        keep_memory=args.keep_memory == "on",
        gpu_id=args.gpu_id, gpu_memory_mb=args.gpu_memory_mb, tensorrt=args.use_tensorrt,
        tensorrt_precision=args.tensorrt_precision, max_batch_size=args.batch_size)
    if not args.images and not args.image:  # before the predictor is built: that is slow
        raise DeployError("no images given: name image files, folders or globs after the "
                          "options (or with --image)")
    paths = expand_images(args.images + args.image, where="the image arguments")
    set_opencv_threads()
    classifier = ImageClassifier(args.model_dir, args.backend, args.topk,
                                 threads=args.threads, **options)
    progress = results_progress(len(paths), "infer")
    return print_results(classifier.classify(paths, args.batch_size, progress),
                         lambda r: format_result(r, args.json), len(paths), "classified",
                         progress)


def main(argv: Optional[List[str]] = None) -> int:
    """``tools/infer.py``: 0 when every image was classified, 1 when some could not
    be read, 2 for a bad model directory or argument."""
    return run_tool(_infer, argv)
