"""Load a ``.pdparams`` file into a model, explaining every mismatch.

Only the heads may differ, and only as the caller's ``heads`` policy allows:
``"reinit"`` (fine-tuning) leaves heads of another class count, or missing from the
file, at initialisation with a warning; ``"strict"`` (evaluating, predicting,
exporting, resuming) refuses them, naming both class counts. Anything else that
does not fit is an error naming the first parameter at fault.
"""

import collections
import os
import warnings

import numpy as np

from . import safe_load
from ..errors import WeightsError, brief, shown

HEAD_POLICIES = ("reinit", "strict")
_CLASSIFIER_METHODS = ("translate_state_dict", "classifier_parameter_names", "is_head_parameter")


class HeadMismatchError(WeightsError):
    """Weights whose classifier heads are for another class count than the model's.

    The counts are optional so that callers can re-raise it with a prefixed message
    (``type(err)(message)``), as the engine does."""

    def __init__(self, message: str, file_classes: int = None, model_classes: int = None):
        super().__init__(message)
        self.file_classes = file_classes
        self.model_classes = model_classes


def resolve_weights_path(path: str) -> str:
    """``path`` itself, ``path + '.pdparams'`` or ``path + '.safetensors'`` (PaddleClas
    names weights without suffix), or ``path/model.pdparams`` for a checkpoint directory."""
    for candidate in (path, path + ".pdparams", path + ".safetensors",
                      os.path.join(path, "model.pdparams")):
        if os.path.isfile(candidate):
            return candidate
    raise WeightsError(f"weights file not found: {path!r}; give the path of a .pdparams "
                       f"or .safetensors file or of a checkpoint directory")


MAX_NAME_LENGTH = 1024  # characters of a parameter name


def _name_problem(key) -> str:
    """Why ``key`` cannot be a parameter name, or ''."""
    if type(key) is not str:
        return f"a key that is {brief(key)} ({type(key).__name__}), not text"
    if key in (safe_load.NAME_TABLE, safe_load.SPLIT_TENSORS):
        return f"a tensor named {key!r}, a name .pdparams files keep for their bookkeeping"
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return f"the key {brief(key)}, which is not valid Unicode text"
    if len(key) > MAX_NAME_LENGTH or not key.isprintable():
        return (f"the key {brief(key)}, which is no parameter name (printable text of at "
                f"most {MAX_NAME_LENGTH} characters)")
    return ""


def check_state_dict(state, path: str) -> dict:
    """``state`` if it is a state dict (parameter names -> arrays); WeightsError naming
    ``path`` and the first key at fault otherwise."""
    where = shown(path)
    if not isinstance(state, dict) or not state:
        raise WeightsError(f"{where}: not a model state dict (parameter name -> tensor)")
    for key, value in state.items():
        problem = _name_problem(key)
        if problem:
            raise WeightsError(f"{where}: not a model state dict: {problem}")
        if not isinstance(value, np.ndarray):
            raise WeightsError(f"{where}: not a model state dict: {brief(key)} is "
                               f"{brief(value)}, not a tensor")
    return state


def read_state_dict(path: str) -> dict:
    """Read a state dict (parameter name -> NumPy array) from a ``.pdparams`` file
    written by ``paddle.save`` or a ``.safetensors`` file. The file is read as data:
    one that asks to call anything but array reconstruction is refused unrun."""
    path = resolve_weights_path(path)
    return check_state_dict(safe_load.load(path), path)


# Floating weights of another precision load in the model's, as torch's
# load_state_dict does: AMP O2 runs save float16 or bfloat16 weights. Paddle stores
# bfloat16 as uint16, which is how a uint16 tensor for a float parameter is read.
_FLOATS = ("float16", "bfloat16", "float32", "float64")


def _bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _float32_to_bfloat16(values: np.ndarray) -> np.ndarray:
    bits = values.astype(np.float32).view(np.uint32)
    rounding = ((bits >> 16) & 1) + 0x7FFF  # to nearest, ties to even
    return ((bits + rounding) >> 16).astype(np.uint16)


def _stored_dtype(value: np.ndarray) -> str:
    return "bfloat16" if value.dtype == np.uint16 else str(value.dtype)


def model_dtype(tensor) -> str:
    """A Paddle tensor's dtype by name: ``float32``, ``bfloat16``, ``int64``..."""
    return str(tensor.dtype).replace("paddle.", "")


def fit_dtype(value: np.ndarray, dtype: str, key: str, path: str) -> np.ndarray:
    """``value`` in ``dtype`` (a Paddle dtype name, the model's): floating weights of
    another precision are converted; anything else must match, or WeightsError names
    ``path`` and ``key``."""
    if dtype in _FLOATS and (value.dtype.kind == "f" or value.dtype == np.uint16):
        if _stored_dtype(value) == dtype:
            return value
        if value.dtype == np.uint16:
            value = _bfloat16_to_float32(value)
        return _float32_to_bfloat16(value) if dtype == "bfloat16" else value.astype(dtype)
    if dtype not in _FLOATS and str(value.dtype) == dtype:
        return value
    wanted = ("floating point (float16, bfloat16, float32 or float64)" if dtype in _FLOATS
              else dtype)
    raise WeightsError(f"{shown(path)}: tensor {brief(key)} is {value.dtype} in the file; "
                       f"the model's is {dtype}, so the file's must be {wanted}")


def _classes(shape) -> int:
    """The class count a classifier parameter is for: a Linear's weight is
    ``[in, out]`` and its bias ``[out]`` in Paddle."""
    return int(shape[-1])


def load_weights(model, path: str, heads: str = "reinit", strict: bool = False) -> dict:
    """Load the weights at ``path`` into ``model``.

    ``heads`` says what to do with head parameters (see ``models.Classifier``)
    that do not fit:

    - ``"reinit"``: a classifier of another class count, or a head the file does
      not hold, is left at initialisation with one warning. For fine-tuning only.
    - ``"strict"``: every parameter of the model must be in the file with its
      shape; other class counts raise ``HeadMismatchError`` naming both counts.

    Heads the file holds but the model was built without (``aux_logits=False``,
    ``num_classes=0``) are ignored either way. ``strict=True`` is ``heads="strict"``.

    Returns a report: ``{"path", "loaded", "reinitialised", "ignored"}`` (lists of
    parameter names). Raises WeightsError for a missing file, a file of another
    network, or a mismatch outside the heads.
    """
    if heads not in HEAD_POLICIES:
        raise ValueError(f"heads must be one of {', '.join(HEAD_POLICIES)}, got {heads!r}")
    if strict:
        heads = "strict"
    path = resolve_weights_path(path)
    state = read_state_dict(path)
    own = model.state_dict()
    # A models.Classifier names its heads and translates other layouts' names; this
    # layer sits below the models, so it asks for those methods rather than the class.
    if all(callable(getattr(model, m, None)) for m in _CLASSIFIER_METHODS):
        state = model.translate_state_dict(state)
        classifiers = set(model.classifier_parameter_names())
        is_head = model.is_head_parameter
    else:  # any other layer: everything must fit
        classifiers, is_head = set(), lambda name: False
    net = type(model).__name__

    unexpected = [k for k in state if k not in own]
    missing = [k for k in own if k not in state]
    if len(unexpected) + len(missing) > len(own) // 2:
        first = (unexpected or missing)[0]
        raise WeightsError(
            f"{path}: does not hold {net} weights: {len(missing)} of the model's "
            f"{len(own)} parameters are not in the file and {len(unexpected)} of the file's "
            f"are unknown to the model (first: {first!r})")
    # Heads may be absent on either side: a model built without some head ignores the
    # file's, and a model with a head the file lacks keeps its initialisation (reinit).
    for names, side in ((unexpected, "file"), (missing, "model")):
        foreign = [k for k in names if not is_head(k)]
        if foreign:
            other = "model" if side == "file" else "file"
            raise WeightsError(f"{path}: parameter {foreign[0]!r} is in the {side} but not "
                               f"in the {other}; the file is not {net} weights of this layout")

    matched, reinitialised, converted = {}, [], collections.Counter()
    for name, value in state.items():
        if name not in own:
            continue
        want, got = list(own[name].shape), list(value.shape)
        if want == got:
            dtype = model_dtype(own[name])
            matched[name] = fit_dtype(value, dtype, name, path)
            if matched[name] is not value:
                converted[(_stored_dtype(value), dtype)] += 1
        elif name in classifiers and heads == "reinit":
            reinitialised.append(name)
        elif name in classifiers:
            file_classes, model_classes = _classes(got), _classes(want)
            raise HeadMismatchError(
                f"{path}: the weights' heads are for {file_classes} classes but the model "
                f"has {model_classes}: parameter {name!r} has shape {got} in the file but "
                f"{want} in the model; build the model with num_classes={file_classes} "
                f"(in a config: -o Arch.class_num={file_classes})",
                file_classes, model_classes)
        else:
            raise WeightsError(f"{path}: parameter {name!r} has shape {got} in the file but "
                               f"{want} in the model")
    absent = [k for k in missing if is_head(k)]
    if heads == "strict" and absent:
        raise WeightsError(f"{path}: parameter {absent[0]!r} is in the model but not in the "
                           f"file: the weights were saved from a network without that head; "
                           f"build the model without it (aux_logits=False, or num_classes=0 "
                           f"for the main classifier)")
    reinitialised += absent
    for (stored, dtype), count in converted.items():
        warnings.warn(f"{path}: {count} tensors stored as {stored} loaded as {dtype}, the "
                      f"model's precision", stacklevel=2)
    if reinitialised:
        warnings.warn(f"{path}: head parameters left at initialisation (class count or "
                      f"heads differ): {', '.join(reinitialised)}", stacklevel=2)
    # Parameters kept at initialisation are passed back as they are, so Paddle does
    # not warn about each one on top of the single warning above.
    model.set_state_dict({**{k: own[k] for k in reinitialised}, **matched})
    return {"path": path, "loaded": sorted(matched), "reinitialised": reinitialised,
            "ignored": [k for k in unexpected if is_head(k)]}
