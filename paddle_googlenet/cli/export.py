"""``googlenet-export`` (``tools/export_model.py``): the main head as a Paddle
Inference model, and the precisions and ONNX file asked for."""

from .options import parse_with_config, run

__all__ = ["main"]


def _export(argv):
    from ..export import export_inference_model
    from ..export.exporters import EXPORTERS
    from ..image_io import set_opencv_threads
    from ..progress import Progress

    # precisions with files of their own to write: each brings its flag and its options
    def add_arguments(parser):
        parser.add_argument(
            "--onnx", action="store_true",
            help="also write inference.onnx (needs the onnx extra: paddle2onnx, onnxruntime)")
        parser.add_argument(
            "--uint8-input", action="store_true",
            help="the model takes uint8 pixels and applies the Infer transforms' final "
                 "NormalizeImage itself, so a client sends bytes (float32 and ONNX only)")
        for exporter in EXPORTERS.values():
            parser.add_argument(exporter.flag, action="store_true",
                                dest=f"export_{exporter.name}", help=exporter.help)
        for exporter in EXPORTERS.values():
            for option in exporter.options:
                parser.add_argument(f"--{option.name}", type=option.type, default=option.default,
                                    help=f"{option.help} (default {option.default})")

    args, config = parse_with_config(
        argv, "Export the main head as a Paddle Inference model to Global.save_inference_dir.",
        add_arguments)
    set_opencv_threads()  # calibration and the checks decode images
    chosen = [e for e in EXPORTERS.values() if getattr(args, f"export_{e.name}")]
    options = {o.name: getattr(args, o.name) for e in chosen for o in e.options}
    result = export_inference_model(config, onnx=args.onnx,
                                    precisions=[e.name for e in chosen], options=options,
                                    uint8_input=args.uint8_input, progress=Progress)
    print(f"exported to {result['dir']}: {', '.join(result['files'])}")
    if args.onnx:
        print(f"ONNX Runtime matches Paddle Inference to {result['onnx_max_diff']:.2g}")
    for exporter in chosen:
        print(exporter.line(result[exporter.name]))


def main(argv=None) -> int:
    return run(_export, argv)
