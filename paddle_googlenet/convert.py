"""Convert weights between ``.pdparams`` (``paddle.save``'s pickle) and ``.safetensors``.

``python tools/convert_weights.py IN OUT [--force]``. The input (a weights file, a
PaddleClas prefix or a checkpoint directory) is read through ``safe_load``, so
converting a file never runs code from it; the output's format follows its suffix.
A ``.safetensors`` file holds only tensors, which makes it the format to share.
"""

import argparse
import os

from . import safe_load
from .errors import WeightsError
from .models.weights import read_state_dict

__all__ = ["convert_weights", "main"]

FORMATS = (".pdparams", ".safetensors")


def _save_pdparams(state: dict, path: str):
    # The layout paddle.save writes for a state dict (protocol 4): arrays and a table
    # of tensor names, which paddle.load gives the tensors it returns.
    safe_load.save_pickle({**state, "StructuredToParameterName@@": {k: k for k in state}},
                          path)


def convert_weights(source: str, target: str, force: bool = False) -> dict:
    """Write the state dict in ``source`` to ``target`` in the format its suffix names,
    atomically; an existing ``target`` is replaced only with ``force``. Returns
    ``{"source", "target", "tensors"}``."""
    suffix = os.path.splitext(target)[1]
    if suffix not in FORMATS:
        raise WeightsError(f"{target}: the output must end in {' or '.join(FORMATS)} (it "
                           f"names the format to write)")
    if os.path.exists(target) and not force:
        raise WeightsError(f"{target}: exists; pass --force to replace it")
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise WeightsError(f"{target}: no such directory {folder!r}")
    state = read_state_dict(source)
    if suffix == ".safetensors":
        safe_load.save_safetensors(state, target)
    else:
        _save_pdparams(state, target)
    return {"source": source, "target": target, "tensors": len(state)}


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
    from .cli import run

    return run(_convert, argv)
