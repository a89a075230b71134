"""Write weights and training state in the formats ``safe_load`` reads back.

- ``dumps_plain`` / ``save_pickle``: plain data (a checkpoint's ``.pdstates``),
  pickled with protocol 4 as ``paddle.save`` does and read back before it is used, so
  that nothing is written that resuming would refuse.
- ``save_pdparams``: a state dict of arrays laid out as ``paddle.save`` writes one.
- ``save_safetensors``: a state dict of arrays as a ``.safetensors`` file.

The two state-dict writers stream: each array goes to the file on its own, so writing
needs the state dict's memory and at most one array more, never a second copy of the
whole. Every file is written under a new temporary name and renamed into place
(``atomic.write_file_atomically``); an OSError is the caller's to name.
"""

import io
import json
import pickle
import struct

import numpy as np

from ..errors import WeightsError, shown
from . import safe_load
from .atomic import write_file_atomically

__all__ = ["dumps_plain", "save_pickle", "save_pdparams", "save_safetensors",
           "check_state_dict_writable", "FORMATS"]

FORMATS = (".pdparams", ".safetensors")
_SAFETENSORS_NAMES = {np.dtype(code): name
                      for name, code in safe_load.SAFETENSORS_DTYPES.items() if name != "BF16"}


def dumps_plain(obj) -> bytes:
    """``obj`` pickled with protocol 4 like ``paddle.save``, checked to hold only what
    ``load`` admits (TypeError otherwise: the caller passed an object, not data)."""
    data = pickle.dumps(obj, protocol=4)
    try:
        safe_load.read_pickle(io.BytesIO(data), len(data), "data to save")
    except WeightsError as err:
        raise TypeError(f"not plain data: {err}") from None
    return data


def save_pickle(obj, path: str):
    """Write plain data (``load`` reads it back) atomically; arrays must be NumPy arrays."""
    data = dumps_plain(obj)
    write_file_atomically(path, lambda f: f.write(data))


def check_state_dict_writable(state: dict, suffix: str, where: str):
    """WeightsError naming ``where`` and the first tensor of ``state`` that a file of
    ``suffix`` (``.pdparams`` or ``.safetensors``) cannot hold, with what it can."""
    for name, array in state.items():
        if suffix == ".safetensors" and array.dtype not in _SAFETENSORS_NAMES:
            raise WeightsError(
                f"{where}: tensor {safe_load.brief(name)} has dtype {array.dtype}, which "
                f".safetensors cannot hold; it holds "
                f"{', '.join(str(d) for d in _SAFETENSORS_NAMES)}")
        if suffix == ".pdparams" and (array.dtype not in safe_load.PLAIN_DTYPES.values()
                                      or array.ndim > safe_load.MAX_DIMS):
            raise WeightsError(
                f"{where}: tensor {safe_load.brief(name)} ({array.dtype}, {array.ndim} "
                f"dimensions) is not one .pdparams holds: at most {safe_load.MAX_DIMS} "
                f"dimensions of {', '.join(safe_load.PLAIN_DTYPES)}")


def _native(array: np.ndarray) -> np.ndarray:
    # Both formats store little-endian, C-ordered bytes.
    return np.ascontiguousarray(array, array.dtype.newbyteorder("<"))


def _write_pdparams(state: dict, f):
    # The layout paddle.save writes for a state dict (protocol 4): arrays and a table
    # of tensor names, which paddle.load gives the tensors it returns. Without a memo
    # (fast mode) the pickler keeps no array's bytes once they are written.
    pickler = pickle.Pickler(f, protocol=4)
    pickler.fast = True
    pickler.dump({**{name: _native(array) for name, array in state.items()},
                  safe_load.NAME_TABLE: {name: name for name in state}})


def save_pdparams(state: dict, path: str):
    """Write a state dict of NumPy arrays as ``paddle.save`` would, atomically."""
    check_state_dict_writable(state, ".pdparams", shown(path))
    write_file_atomically(path, lambda f: _write_pdparams(state, f))


def _write_safetensors(state: dict, f):
    header, offset = {}, 0
    for name, array in state.items():
        header[name] = {"dtype": _SAFETENSORS_NAMES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned, as the format asks
    f.write(struct.pack("<Q", len(text)) + text)
    for array in state.values():
        f.write(_native(array).reshape(-1).view(np.uint8))


def save_safetensors(state: dict, path: str):
    """Write a state dict of NumPy arrays as a safetensors file, atomically."""
    check_state_dict_writable(state, ".safetensors", shown(path))
    write_file_atomically(path, lambda f: _write_safetensors(state, f))
