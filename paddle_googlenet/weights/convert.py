"""Convert weights between ``.pdparams`` (``paddle.save``'s pickle) and ``.safetensors``.

``python tools/convert_weights.py IN OUT [--force]`` (``cli/convert.py``). The input (a weights file, a
PaddleClas prefix or a checkpoint directory) is read through ``safe_load``, so
converting a file never runs code from it; the output's format follows its suffix.
A ``.safetensors`` file holds only tensors, which makes it the format to share.

The tensors are read once and written one at a time (``writers``), so converting needs
about the input file's size in memory. The output appears whole or not at all.
"""

import os

from ..errors import WeightsError, shown
from . import writers
from .loading import read_state_dict

__all__ = ["convert_weights"]

FORMATS = writers.FORMATS
_WRITERS = {".pdparams": writers.save_pdparams, ".safetensors": writers.save_safetensors}


def _check_target(target: str, force: bool):
    where = shown(target)
    suffix = os.path.splitext(target)[1]
    if suffix not in FORMATS:
        raise WeightsError(f"{where}: the output must end in {' or '.join(FORMATS)} (it "
                           f"names the format to write)")
    if "\0" in target:
        raise WeightsError(f"{where}: a path holds no NUL character")
    if os.path.isdir(target):
        raise WeightsError(f"{where}: is a directory; give the name of the file to write")
    if os.path.lexists(target) and not force:
        raise WeightsError(f"{where}: exists; pass --force to replace it")
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise WeightsError(f"{where}: no such directory {shown(folder)!r}")


def convert_weights(source: str, target: str, force: bool = False) -> dict:
    """Write the state dict in ``source`` to ``target`` in the format its suffix names,
    atomically; an existing ``target`` is replaced only with ``force``. Returns
    ``{"source", "target", "tensors"}``."""
    _check_target(target, force)
    suffix = os.path.splitext(target)[1]
    state = read_state_dict(source)
    writers.check_state_dict_writable(state, suffix, shown(source))
    try:
        _WRITERS[suffix](state, target)
    except OSError as err:
        raise WeightsError(f"{shown(target)}: cannot be written "
                           f"({err.strerror or err})") from None
    return {"source": source, "target": target, "tensors": len(state)}
