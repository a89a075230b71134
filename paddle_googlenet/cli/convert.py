"""``tools/convert_weights.py``: weights from ``.pdparams`` to ``.safetensors`` and back."""

import argparse

from ..weights.convert import convert_weights
from .options import run

__all__ = ["main"]


def _convert(argv):
    parser = argparse.ArgumentParser(
        description="Convert model weights between .pdparams and .safetensors, reading "
                    "the input as data (a file that asks to run code is refused).")
    parser.add_argument("source", metavar="IN",
                        help=".pdparams or .safetensors file, PaddleClas prefix or "
                             "checkpoint directory")
    parser.add_argument("target", metavar="OUT", help="file to write: .pdparams or .safetensors")
    parser.add_argument("--force", action="store_true", help="replace OUT if it exists")
    parser.add_argument("--debug", action="store_true", help="print the full traceback of an error")
    args = parser.parse_args(argv)
    done = convert_weights(args.source, args.target, force=args.force)
    print(f"wrote {done['target']}: {done['tensors']} tensors from {done['source']}")


def main(argv=None) -> int:
    return run(_convert, argv)
