"""Read weights, optimizer state and checkpoints as data, never as code.

``paddle.save`` writes a pickle, and unpickling calls whatever functions the file
names: a ``.pdparams`` whose ``__reduce__`` runs a shell command runs it inside
``paddle.load`` before anyone looks at the result. Every file the project reads in
that format goes through ``load`` here instead. Its unpickler resolves a global
only from a fixed table of what ``paddle.save`` (Paddle 3.x, NumPy 1.x or 2.x)
writes for tensors and plain containers, and refuses any other global before it is
called, with a WeightsError naming the file and the global:

* ``numpy.ndarray``, ``numpy.dtype`` and NumPy's ``_reconstruct`` / ``scalar``:
  arrays, dtypes and NumPy scalars;
* ``builtins.tuple`` / ``list`` / ``dict`` / ``set`` / ``frozenset`` and
  ``collections.OrderedDict``: ``paddle.save`` stores a tensor inside a container
  as ``tuple((name, array))``;
* ``_codecs.encode``: how protocol 2 pickles (older PaddleClas weights) store bytes.

(``paddle.save`` writes a static-graph ``DenseTensor`` as a call to ``builtins.eval``;
that is refused like any other ``eval``: dynamic-graph state dicts never hold one.)

Numbers, strings, None, lists, tuples and dicts need no global at all. A
``.safetensors`` file (recognised by its content, whatever its name) holds nothing
but tensors and is read with the ``safetensors`` package.

What ``load`` returns is plain data with NumPy arrays where the file had tensors:
``paddle.save``'s ``(name, array)`` tensor tuples become arrays, and the bookkeeping
keys of a saved state dict (the parameter name table, tensors split into slices
below 4 GB for protocols 2 and 3) are undone as ``paddle.load`` undoes them.

This module imports neither Paddle nor anything from the project but its errors
(and ``safetensors`` when it meets such a file): resolving a global never imports.
"""

import collections
import io
import pickle
import struct

import numpy as np

from .errors import WeightsError
from .fileio import write_file_atomically

__all__ = ["load", "dumps_plain", "save_pickle", "save_safetensors", "is_safetensors",
           "ALLOWED_GLOBALS"]

try:  # NumPy 2 moved the array internals to numpy._core; files name either module
    from numpy._core import multiarray as _multiarray
except ImportError:  # NumPy 1
    from numpy.core import multiarray as _multiarray


def _latin1_bytes(text, encoding="utf-8"):
    """``_codecs.encode`` as protocol 2 uses it: text to bytes with latin-1, nothing else
    (no codec is even looked up by a name the file chose)."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "iso-8859-1"):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r}")
    return text.encode("latin-1")


_NUMPY_INTERNALS = {"_reconstruct": _multiarray._reconstruct, "scalar": _multiarray.scalar}

# (module, name) -> the object itself: resolving a name never imports a module.
ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    **{(module, name): obj for module in ("numpy.core.multiarray", "numpy._core.multiarray")
       for name, obj in _NUMPY_INTERNALS.items()},
    ("builtins", "tuple"): tuple,
    ("builtins", "list"): list,
    ("builtins", "dict"): dict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("_codecs", "encode"): _latin1_bytes,
}
# The Python 2 names protocol 2 files use for the same builtins.
ALLOWED_GLOBALS.update({("__builtin__", name): obj for (module, name), obj
                        in list(ALLOWED_GLOBALS.items()) if module == "builtins"})

_NAME_TABLE = "StructuredToParameterName@@"
_SPLIT_TENSORS = "UnpackBigParamInfor@@"  # sic: the key paddle.save writes


class _RefusedGlobal(pickle.UnpicklingError):
    def __init__(self, qualified_name: str):
        super().__init__(qualified_name)
        self.qualified_name = qualified_name


class _DataUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals in ``ALLOWED_GLOBALS``."""

    def find_class(self, module, name):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except (KeyError, TypeError):  # TypeError: an unhashable name from a crafted file
            raise _RefusedGlobal(f"{module}.{name}") from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent references are not data")


def is_safetensors(head: bytes) -> bool:
    """Whether a file starting with ``head`` (at least 9 bytes) is a safetensors file:
    an 8-byte little-endian header length followed by a JSON object."""
    return len(head) >= 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] > 1


def load(path: str):
    """The contents of ``path`` (a ``paddle.save`` pickle or a safetensors file) as
    plain data with NumPy arrays for tensors. Raises WeightsError for a missing or
    unreadable file and for a file naming any global outside ``ALLOWED_GLOBALS``."""
    try:
        with open(path, "rb") as f:
            head = f.read(9)
            if is_safetensors(head):
                return _load_safetensors(path)
            if not head.startswith(b"\x80"):  # every pickle paddle.save writes (protocol 2-4)
                raise WeightsError(f"{path}: not a file written by paddle.save (nor a "
                                   f".safetensors file)")
            f.seek(0)
            obj = _DataUnpickler(f, encoding="latin1").load()
    except OSError as err:
        raise WeightsError(f"{path}: cannot be read ({err.strerror or err})") from None
    except _RefusedGlobal as err:
        raise WeightsError(
            f"{path}: refused: the file asks for {err.qualified_name}, which is no tensor or "
            f"plain data (a pickle can run code, so only arrays and plain containers are "
            f"admitted; a .safetensors file holds nothing else)") from None
    except WeightsError:
        raise
    except Exception as err:  # a truncated or corrupt pickle fails in many ways
        raise WeightsError(f"{path}: not a readable paddle.save file ({type(err).__name__}: "
                           f"{err})") from None
    return _as_plain_data(_join_split_tensors(obj, path), path)


def _load_safetensors(path: str) -> dict:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(path)
    except (SafetensorError, ValueError, TypeError) as err:
        raise WeightsError(f"{path}: not a readable .safetensors file ({err})") from None


def _join_split_tensors(obj, path: str):
    """Undo what ``paddle.save`` does to a state dict: drop its parameter name table
    and join tensors it split into slices (protocols 2 and 3 cannot hold 4 GB)."""
    if not isinstance(obj, dict):
        return obj
    obj = dict(obj)
    obj.pop(_NAME_TABLE, None)
    split = obj.pop(_SPLIT_TENSORS, None)
    if split is None:
        return obj
    try:
        for key, info in split.items():
            slices = [obj.pop(part) for part in info["slices"]]
            obj[key] = np.concatenate(slices).reshape(tuple(int(n) for n in info["OriginShape"]))
    except Exception as err:
        raise WeightsError(f"{path}: its list of split tensors does not match its contents "
                           f"({type(err).__name__}: {err})") from None
    return obj


def _is_tensor_tuple(obj) -> bool:
    # paddle.save writes a tensor inside a container as (tensor name, array)
    return (type(obj) is tuple and len(obj) == 2 and isinstance(obj[0], str)
            and isinstance(obj[1], np.ndarray))


def _as_plain_data(obj, path: str):
    """``obj`` with tensor tuples replaced by their arrays; refuses arrays of Python
    objects, which are no tensor."""
    if _is_tensor_tuple(obj):
        obj = obj[1]
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise WeightsError(f"{path}: holds an array of Python objects, not a tensor")
        return obj
    if isinstance(obj, dict):  # OrderedDict stays an OrderedDict
        return type(obj)((k, _as_plain_data(v, path)) for k, v in obj.items())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return type(obj)(_as_plain_data(v, path) for v in obj)
    return obj


def dumps_plain(obj) -> bytes:
    """``obj`` pickled with protocol 4 like ``paddle.save``, checked to hold only what
    ``load`` admits (TypeError otherwise: the caller passed an object, not data)."""
    data = pickle.dumps(obj, protocol=4)
    try:
        _DataUnpickler(io.BytesIO(data)).load()
    except _RefusedGlobal as err:
        raise TypeError(f"not plain data: it holds a {err.qualified_name}") from None
    return data


def save_pickle(obj, path: str):
    """Write plain data (``load`` reads it back) atomically; arrays must be NumPy arrays."""
    data = dumps_plain(obj)
    write_file_atomically(path, lambda f: f.write(data))


def save_safetensors(state: dict, path: str):
    """Write a state dict of NumPy arrays as a safetensors file, atomically."""
    from safetensors.numpy import save as safetensors_bytes

    arrays = {name: np.ascontiguousarray(value) for name, value in state.items()}
    write_file_atomically(path, lambda f: f.write(safetensors_bytes(arrays)))
