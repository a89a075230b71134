"""Load a ``.pdparams`` file into a model, explaining every mismatch.

Only the classifier heads (the layers whose shape depends on the class count) may
differ: that is fine-tuning, and they are left at initialisation with a warning.
Anything else that does not fit is an error naming the first parameter at fault.
"""

import os
import warnings

import numpy as np

from .. import safe_load
from ..errors import WeightsError


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


def _is_aux(name: str) -> bool:
    return name.startswith(("aux1.", "aux2."))


def load_weights(model, path: str, strict: bool = False) -> dict:
    """Load the weights at ``path`` into ``model``.

    With ``strict`` (resuming a run) every parameter must fit; otherwise classifier
    heads of another shape are left at initialisation with a warning.

    Returns a report: ``{"path", "loaded", "reinitialised", "ignored"}`` (lists of
    parameter names). Raises WeightsError for a missing file, a file of another
    network, or a mismatch outside the classifier heads.
    """
    path = resolve_weights_path(path)
    state = read_state_dict(path)
    own = model.state_dict()
    heads = set(getattr(model, "classifier_parameter_names", lambda: [])())
    net = type(model).__name__

    unexpected = [k for k in state if k not in own]
    missing = [k for k in own if k not in state]
    if len(unexpected) + len(missing) > len(own) // 2:
        first = (unexpected or missing)[0]
        raise WeightsError(
            f"{path}: does not hold {net} weights: {len(missing)} of the model's "
            f"{len(own)} parameters are not in the file and {len(unexpected)} of the file's "
            f"are unknown to the model (first: {first!r})")
    # Aux heads may be absent on either side: a model built with aux_logits=False
    # ignores them, and a model with aux heads keeps its own initialisation.
    for names, side in ((unexpected, "file"), (missing, "model")):
        foreign = [k for k in names if not _is_aux(k)]
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
        elif name in heads and not strict:
            reinitialised.append(name)
        else:
            raise WeightsError(f"{path}: parameter {name!r} has shape {got} in the file but "
                               f"{want} in the model")
    reinitialised += [k for k in missing if _is_aux(k)]
    if strict and reinitialised:
        raise WeightsError(f"{path}: parameter {reinitialised[0]!r} is in the model but not "
                           f"in the file")
    if reinitialised:
        warnings.warn(f"{path}: classifier head parameters left at initialisation (class "
                      f"count or aux heads differ): {', '.join(reinitialised)}", stacklevel=2)
    # Parameters kept at initialisation are passed back as they are, so Paddle does
    # not warn about each one on top of the single warning above.
    model.set_state_dict({**{k: own[k] for k in reinitialised}, **matched})
    return {"path": path, "loaded": sorted(matched), "reinitialised": reinitialised,
            "ignored": [k for k in unexpected if _is_aux(k)]}
