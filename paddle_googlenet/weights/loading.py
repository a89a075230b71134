"""Load a ``.pdparams`` file into a model, explaining every mismatch.

Only the heads may differ, and only as the caller's ``heads`` policy allows:
``"reinit"`` (fine-tuning) leaves heads of another class count, or missing from the
file, at initialisation with a warning; ``"strict"`` (evaluating, predicting,
exporting, resuming) refuses them, naming both class counts. Anything else that
does not fit is an error naming the first parameter at fault.
"""

import os
import warnings

import numpy as np

from . import safe_load
from ..errors import WeightsError

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


def read_state_dict(path: str) -> dict:
    """Read a state dict (parameter name -> NumPy array) from a ``.pdparams`` file
    written by ``paddle.save`` or a ``.safetensors`` file. The file is read as data:
    one that asks to call anything but array reconstruction is refused unrun."""
    path = resolve_weights_path(path)
    state = safe_load.load(path)
    if not isinstance(state, dict) or not state or not all(
            isinstance(v, np.ndarray) for v in state.values()):
        raise WeightsError(f"{path}: not a model state dict (parameter name -> tensor)")
    return state


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

    matched, reinitialised = {}, []
    for name, value in state.items():
        if name not in own:
            continue
        want, got = list(own[name].shape), list(value.shape)
        if want == got:
            matched[name] = value
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
    if reinitialised:
        warnings.warn(f"{path}: head parameters left at initialisation (class count or "
                      f"heads differ): {', '.join(reinitialised)}", stacklevel=2)
    # Parameters kept at initialisation are passed back as they are, so Paddle does
    # not warn about each one on top of the single warning above.
    model.set_state_dict({**{k: own[k] for k in reinitialised}, **matched})
    return {"path": path, "loaded": sorted(matched), "reinitialised": reinitialised,
            "ignored": [k for k in unexpected if is_head(k)]}
