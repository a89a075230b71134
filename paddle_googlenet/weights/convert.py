"""Convert weights between ``.pdparams`` (``paddle.save``'s pickle) and ``.safetensors``.

``python tools/convert_weights.py IN OUT [--force]`` (``cli/convert.py``). The input (a weights file, a
PaddleClas prefix or a checkpoint directory) is read through ``safe_load``, so
converting a file never runs code from it; the output's format follows its suffix.
A ``.safetensors`` file holds only tensors, which makes it the format to share.
"""

import os

from . import safe_load
from ..errors import WeightsError
from .loading import read_state_dict

__all__ = ["convert_weights"]

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
