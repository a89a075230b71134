"""Command-line entry points behind ``tools/*.py``.

Each ``*_main(argv)`` parses its arguments, does its work through the package and
returns an exit code; ``cli.runner.run_tool`` turns a ``UserError`` (bad config,
path, weights, data) into one plain message and exit code 2 (an interrupted
training run: 128 + the signal's number); ``--debug`` shows the traceback as well.
A config key an error names is located: ``file:line`` when it comes from the config
file, the ``-o`` option when an override set it. Each is an installed console
script (setup.py) as well as a ``tools/*.py`` file.
"""

import argparse
import os
import shlex
import shutil
import sys
from typing import List, Optional

from .runner import print_results, results_progress, run_tool
from ..errors import ConfigError, UserError

__all__ = ["run", "train_main", "eval_main", "export_main", "predict_main", "summary_main", "make_demo_data_main",
           "config_arguments"]


def config_arguments(parser: argparse.ArgumentParser, required: bool = True):
    """The ``-c CONFIG -o KEY=VALUE`` arguments every tool shares, and ``--debug``."""
    parser.add_argument("-c", "--config", required=required, help="YAML config file")
    parser.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. -o Global.epochs=3 (repeatable)")
    parser.add_argument("--debug", action="store_true",
                        help="print the full traceback of an error")


def parse_with_config(argv, description: str, add_arguments=None):
    """Parse ``-c -o --debug`` (plus what ``add_arguments(parser)`` adds); return the
    arguments and the loaded, validated config."""
    from ..config import load_config

    parser = argparse.ArgumentParser(description=description)
    config_arguments(parser)
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args(argv)
    return args, load_config(args.config, args.override)


def _config_source(argv):
    """The ``-c`` file and ``-o`` options in ``argv`` (None, [] when there are none)."""
    parser = argparse.ArgumentParser(add_help=False)
    config_arguments(parser, required=False)
    known, _ = parser.parse_known_args(argv)
    return known.config, known.override


def _locate_config_key(err: UserError, argv: List[str]) -> str:
    """The message, with the config file line or ``-o`` option of a key it names."""
    if not isinstance(err, ConfigError):
        return str(err)
    from ..config import locate_key

    return locate_key(str(err), *_config_source(argv))


def run(main, argv: Optional[List[str]] = None) -> int:
    """Call ``main(argv)`` as a tool does (``cli.runner.run_tool``), locating config keys."""
    return run_tool(main, argv, explain=_locate_config_key)


LAUNCHER_MODULE = "paddle.distributed.launch"


def _parent_cmdline() -> Optional[List[str]]:
    """The parent process's command line (Linux's /proc), or None where it cannot be read."""
    try:
        with open(f"/proc/{os.getppid()}/cmdline", "rb") as f:
            return [arg.decode(errors="replace") for arg in f.read().split(b"\0") if arg]
    except OSError:
        return None


def _same_file(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _shown_python(python: str) -> str:
    """Plain "python" where that is the same interpreter as ``python``."""
    on_path = shutil.which("python")
    return "python" if on_path and _same_file(on_path, shutil.which(python) or python) \
        else python


def _launcher_command(environ, parent_cmdline: Optional[List[str]], script: str) -> List[str]:
    """The part before the training script of the ``python -m paddle.distributed.launch``
    command that started this process; [] when it was not started by the launcher.

    The launcher gives its workers ``PADDLE_TRAINERS_NUM`` and friends, and is their
    parent: its own command line keeps every option the user gave it. Where that
    cannot be read, the launcher command is rebuilt from its variables."""
    if "PADDLE_TRAINERS_NUM" not in environ:
        return []
    command = parent_cmdline or []
    if LAUNCHER_MODULE in command:
        for i in range(command.index(LAUNCHER_MODULE) + 1, len(command)):
            if _same_file(command[i], script):
                return [_shown_python(command[0]), *command[1:i]]
    nodes = environ.get("PADDLE_NNODES", "1")
    per_node = environ.get("PADDLE_LOCAL_SIZE") or str(
        int(environ["PADDLE_TRAINERS_NUM"]) // max(int(nodes), 1))
    launcher = ["python", "-m", LAUNCHER_MODULE, "--nproc_per_node", per_node]
    if nodes != "1":
        launcher += ["--nnodes", nodes]
        if environ.get("PADDLE_MASTER"):
            launcher += ["--master", environ["PADDLE_MASTER"]]
    return launcher


def _resume_command(argv, checkpoint: str, environ=None,
                    parent_cmdline: Optional[List[str]] = None) -> str:
    """The command line that ran this training, resuming from ``checkpoint`` (an
    earlier ``Global.checkpoints`` is dropped; a later ``-o`` wins in any case).
    Under ``paddle.distributed.launch`` it is the launcher's command, with the
    launcher's options; ``environ`` and ``parent_cmdline`` default to this
    process's environment and its parent's command line."""
    kept, options = [], iter(argv)
    for option in options:
        value = next(options, "") if option in ("-o", "--override") else None
        if value is None:
            kept.append(option)
        elif not value.startswith("Global.checkpoints="):
            kept += [option, value]
    script = sys.argv[0] if os.path.basename(sys.argv[0]) == "train.py" else "tools/train.py"
    resume = [script, *kept, "-o", f"Global.checkpoints={checkpoint}"]
    environ = os.environ if environ is None else environ
    if "PADDLE_TRAINERS_NUM" in environ:
        if parent_cmdline is None:
            parent_cmdline = _parent_cmdline()
        launcher = _launcher_command(environ, parent_cmdline, script)
        return shlex.join([*launcher, *resume])
    return shlex.join([_shown_python(sys.executable), *resume])


def _quiet_flags_banner():
    """Under the launcher, ``paddle.distributed.init_parallel_env`` prints every flag
    whose value differs from its built-in default. Paddle 3 itself sets
    ``FLAGS_enable_pir_in_executor``, so the banner appears in every run and says
    nothing; keep it for the flags the user set in the environment."""
    from paddle.distributed import parallel

    print_flags = getattr(parallel, "_print_modified_flags", None)
    if print_flags is None or getattr(print_flags, "user_flags_only", False):
        return

    def print_user_flags(flags):
        print_flags([flag for flag in flags if flag.name in os.environ])

    print_user_flags.user_flags_only = True
    parallel._print_modified_flags = print_user_flags


def _train(argv):
    from ..config import dump_config
    from ..engine import TrainingInterrupted, train
    from ..engine.runtime import world_size

    args, config = parse_with_config(
        argv, "Train GoogLeNet from a PaddleClas-style config.",
        lambda parser: parser.add_argument(
            "--show-config", action="store_true",
            help="print the resolved config (defaults and -o overrides applied) before "
                 "training; it is always written to <run dir>/config.yaml"))
    if args.show_config:
        print(dump_config(config), flush=True)
    if world_size() > 1:
        _quiet_flags_banner()
    try:
        train(config)
    except TrainingInterrupted as stop:
        stop.args = (f"{stop}; resume with: {_resume_command(argv, stop.checkpoint)}",)
        raise


def _eval(argv):
    from ..engine import Engine
    from ..engine.report import plot_confusion
    from ..engine.runtime import is_main_process

    from . import multicrop

    def add_arguments(parser):
        parser.add_argument("--confusion-matrix", metavar="PNG",
                            help="also write the confusion matrix, labelled with class names")
        multicrop.add_arguments(parser)

    args, config = parse_with_config(
        argv, "Evaluate the main head on the Eval split: top-k, loss, per-class accuracy; "
              "with Eval.crops 10 or 144, several weights or --table, averaged over crops "
              "and models.", add_arguments)
    if multicrop.wants_multi_crop(args, config):
        return multicrop.multi_crop_eval(args, config)
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


def _export(argv):
    from ..export import export_inference_model
    from ..export.exporters import EXPORTERS
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


def _predict(argv):
    from ..deploy import format_result
    from ..engine.predict import Predictor, expand_images

    def add_arguments(parser):
        parser.add_argument("images", nargs="*", metavar="IMAGE",
                            help="image files, folders (searched recursively) or globs "
                                 "(default: Infer.infer_imgs)")
        parser.add_argument("--json", action="store_true", help="print JSON lines, one per image")

    args, config = parse_with_config(
        argv, "Predict the top-k classes of images with the dynamic-graph model.",
        add_arguments)
    predictor = Predictor(config)
    if args.images:
        paths = expand_images(args.images, where="IMAGE arguments")
    else:
        paths = expand_images(config["Infer"]["infer_imgs"])
    progress = results_progress(len(paths), "predict")
    return print_results(predictor.predict(paths, progress),
                         lambda r: format_result(r, args.json), len(paths), "predicted",
                         progress)


def _summary(argv):
    parser = argparse.ArgumentParser(
        description="Print the paddle.summary table, parameter and multiply-accumulate "
                    "counts of the configured (or default) model.")
    config_arguments(parser, required=False)
    parser.add_argument("--input-size", type=int, nargs="+", metavar="SIDE",
                        help="input H [W] (default: the config's Global.image_shape, or 224)")
    parser.add_argument("--expect", type=int, metavar="N",
                        help="exit 1 unless the total parameter count is N")
    args = parser.parse_args(argv)

    import paddle

    from ..models.analysis import count_macs, count_parameters
    from ..config import load_config
    from ..models import GoogLeNet, build_model

    if args.config:
        config = load_config(args.config, args.override)
        network = build_model(config["Arch"])
        shape = config["Global"]["image_shape"]
    else:
        network, shape = GoogLeNet(), [3, 224, 224]
    if args.input_size:
        side = args.input_size
        shape = [3, side[0], side[-1]]
    if hasattr(network, "check_input"):  # a clear error before paddle.summary's own
        network.check_input(paddle.zeros([1] + shape))
    paddle.summary(network, input_size=(None, *shape))
    params = count_parameters(network)
    macs = count_macs(network, shape)
    print(f"Input: {shape}")
    print(f"Total params: {params['total']:,}")
    print(f"Trainable params: {params['trainable']:,}")
    print(f"Multiply-accumulates per image: {macs['total']:,} "
          f"({macs['total'] / 1e9:.3f} G; conv {macs['by_type']['Conv2D']:,}, "
          f"linear {macs['by_type']['Linear']:,})")
    if args.expect is not None and params["total"] != args.expect:
        print(f"error: expected {args.expect:,} parameters, the model has "
              f"{params['total']:,}", file=sys.stderr)
        return 1
    return 0


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


def make_demo_data_main(argv=None) -> int:
    return run(_make_demo_data, argv)


def export_main(argv=None) -> int:
    return run(_export, argv)


def predict_main(argv=None) -> int:
    return run(_predict, argv)


def eval_main(argv=None) -> int:
    return run(_eval, argv)


def train_main(argv=None) -> int:
    return run(_train, argv)


def summary_main(argv=None) -> int:
    return run(_summary, argv)
