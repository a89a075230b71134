"""The ``-c CONFIG -o KEY=VALUE --debug`` options of the config-driven tools, and
``run``, which runs one of them as ``runner.run_tool`` does, with the config file
line or ``-o`` option of a key an error names."""

import argparse
from typing import List, Optional

from ..errors import ConfigError, UserError
from .runner import run_tool

__all__ = ["config_arguments", "parse_with_config", "run"]


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
