"""``googlenet-train`` (``tools/train.py``): train from a config; an interrupted run
says how to resume it."""

from .launch import quiet_flags_banner, resume_command
from .options import parse_with_config, run

__all__ = ["main"]


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
        quiet_flags_banner()
    try:
        train(config)
    except TrainingInterrupted as stop:
        stop.args = (f"{stop}; resume with: {resume_command(argv, stop.checkpoint)}",)
        raise


def main(argv=None) -> int:
    return run(_train, argv)
