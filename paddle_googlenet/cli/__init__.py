"""Command-line entry points behind ``tools/*.py`` and the console scripts, one
module per command, each with ``main(argv=None) -> int``:

    train, eval, predict, export, summary, make_demo_data   (config-driven: options)
    infer, convert, census

``main`` parses its arguments, does its work through the package and returns an exit
code; ``runner.run_tool`` turns a ``UserError`` (bad config, path, weights, data)
into one plain message and exit code 2 (an interrupted training run: 128 + the
signal's number); ``--debug`` shows the traceback as well. A config key an error
names is located (``options.run``): ``file:line`` when it comes from the config
file, the ``-o`` option when an override set it. ``launch`` holds what a run under
``paddle.distributed.launch`` needs.

Nothing is imported here, so that ``runner`` loads alone (deployment's tool uses
it); ``paddle_googlenet.cli.train_main`` and the other ``*_main`` names, ``run`` and
``config_arguments`` are found on first use.
"""

import importlib

__all__ = ["train_main", "eval_main", "predict_main", "export_main", "summary_main",
           "make_demo_data_main", "run", "config_arguments", "parse_with_config"]

_COMMANDS = {"train_main": "train", "eval_main": "eval", "predict_main": "predict",
             "export_main": "export", "summary_main": "summary",
             "make_demo_data_main": "make_demo_data"}


def __getattr__(name):
    if name in _COMMANDS:
        return importlib.import_module(f"{__name__}.{_COMMANDS[name]}").main
    if name in ("run", "config_arguments", "parse_with_config"):
        return getattr(importlib.import_module(f"{__name__}.options"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
