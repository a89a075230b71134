"""Checkpoints that a crash or a kill cannot half-write.

A checkpoint is a directory holding ``model.pdparams`` (the network's state dict,
loadable on its own as pretrained weights), ``model.pdopt`` (optimizer and LR
scheduler) and ``model.pdstates`` (epoch, best metric, random states). It is
written under a temporary name and renamed into place whole; the run directory's
``latest`` and ``best_model`` are symbolic links switched atomically to the newest
complete directory. So whatever moment a process dies at, ``latest`` names a
directory whose three files belong to the same epoch.

    output/GoogLeNet/
        epoch_3/  epoch_4/        full checkpoints (the newest few are kept)
        best_epoch_4/             parameters of the best evaluation so far
        latest -> epoch_4         resume with  -o Global.checkpoints=output/GoogLeNet/latest
        best_model -> best_epoch_4
"""

import io
import os
import pickle
import re
import shutil

import paddle

from .errors import WeightsError
from .fileio import replace_dir, temp_dir_for
from .models.weights import load_weights

__all__ = ["save_checkpoint", "save_best", "load_checkpoint", "resolve_checkpoint",
           "checkpoint_files", "LATEST", "BEST"]

LATEST = "latest"
BEST = "best_model"
PARAMS, OPTIMIZER, STATES = "model.pdparams", "model.pdopt", "model.pdstates"


def _fsync_dir(path: str):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: str, write):
    with open(path, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def _publish(run_dir: str, name: str, files: dict) -> str:
    """Write ``files`` ({filename: writer(f)}) as directory ``run_dir/name``, atomically."""
    final = os.path.join(run_dir, name)
    tmp = temp_dir_for(final)
    try:
        for filename, write in files.items():
            _write_file(os.path.join(tmp, filename), write)
        _fsync_dir(tmp)
        replace_dir(tmp, final)  # a rewrite of the same epoch replaces it whole
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(run_dir)
    return final


def _point(run_dir: str, link: str, target: str):
    """Make ``run_dir/link`` a symlink to ``target`` in one atomic rename."""
    tmp = os.path.join(run_dir, f".{link}.tmp-{os.getpid()}")
    if os.path.lexists(tmp):
        os.remove(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, os.path.join(run_dir, link))
    _fsync_dir(run_dir)


def _linked(run_dir: str, link: str):
    path = os.path.join(run_dir, link)
    return os.readlink(path) if os.path.islink(path) else None


def _prune(run_dir: str, pattern: str, keep: int):
    """Remove all but the newest ``keep`` directories matching ``pattern`` (never a
    linked one), and temporary leftovers of interrupted writes."""
    protected = {_linked(run_dir, LATEST), _linked(run_dir, BEST)}
    numbered = sorted((int(m.group(1)), name) for name in os.listdir(run_dir)
                      if (m := re.fullmatch(pattern, name)))
    for _, name in numbered[:-keep] if keep else numbered:
        if name not in protected:
            shutil.rmtree(os.path.join(run_dir, name), ignore_errors=True)
    for name in os.listdir(run_dir):
        if name.startswith(".") and (".tmp-" in name or ".old-" in name):
            shutil.rmtree(os.path.join(run_dir, name), ignore_errors=True)


def _pickle(obj):
    return lambda f: pickle.dump(obj, f, protocol=4)


def _paddle(obj):
    def write(f):
        buffer = io.BytesIO()  # paddle.save takes a path or BytesIO, not an open file
        paddle.save(obj, buffer)
        f.write(buffer.getvalue())
    return write


# Paddle keys optimizer state by parameter *names* such as "conv2d_57.w_0", which
# count up per process: the same network built later, or after another one, gets
# other names. Checkpoints key it by the network's own structured names instead.
_STRUCTURED = "structured-parameter-names"


def _rename_optimizer_state(state: dict, mapping: dict) -> dict:
    """Rename keys ``<param name>_<accumulator>`` and ``master_weights`` entries."""
    prefixes = sorted(mapping, key=len, reverse=True)

    def rename(key):
        for prefix in prefixes:
            if key == prefix or key.startswith(prefix + "_"):
                return mapping[prefix] + key[len(prefix):]
        return key

    renamed = {}
    for key, value in state.items():
        if key == "master_weights" and isinstance(value, dict):
            renamed[key] = {rename(k): v for k, v in value.items()}
        elif key == "LR_Scheduler":
            renamed[key] = value
        else:
            renamed[rename(key)] = value
    return renamed


def portable_optimizer_state(optimizer, network) -> dict:
    names = {p.name: structured for structured, p in network.named_parameters()}
    return {"format": _STRUCTURED,
            "state": _rename_optimizer_state(optimizer.state_dict(), names)}


def local_optimizer_state(saved: dict, network) -> dict:
    if saved.get("format") != _STRUCTURED:
        return saved  # a plain paddle optimizer state dict
    names = {structured: p.name for structured, p in network.named_parameters()}
    return _rename_optimizer_state(saved["state"], names)


def save_checkpoint(run_dir: str, epoch: int, network, optimizer, states: dict,
                    keep: int = 2) -> str:
    """Write the full checkpoint of ``epoch`` and point ``latest`` at it."""
    states = dict(states, epoch=epoch)
    name = f"epoch_{epoch}"
    _publish(run_dir, name, {PARAMS: _paddle(network.state_dict()),
                             OPTIMIZER: _paddle(portable_optimizer_state(optimizer, network)),
                             STATES: _pickle(states)})
    _point(run_dir, LATEST, name)
    _prune(run_dir, r"epoch_(\d+)", keep)
    return os.path.join(run_dir, name)


def save_best(run_dir: str, epoch: int, network, states: dict) -> str:
    """Write the parameters of ``epoch`` as the best model and point ``best_model`` at it."""
    name = f"best_epoch_{epoch}"
    _publish(run_dir, name, {PARAMS: _paddle(network.state_dict()),
                             STATES: _pickle(dict(states, epoch=epoch))})
    _point(run_dir, BEST, name)
    _prune(run_dir, r"best_epoch_(\d+)", 1)
    return os.path.join(run_dir, name)


def checkpoint_files(path: str) -> dict:
    """The files of the checkpoint at ``path``: a checkpoint directory (or a link to
    one) or a PaddleClas-style prefix (``path.pdparams``, ``.pdopt``, ``.pdstates``)."""
    if os.path.isdir(path):
        return {ext: os.path.join(path, f"model.{ext}") for ext in ("pdparams", "pdopt", "pdstates")}
    prefix = path[: -len(".pdparams")] if path.endswith(".pdparams") else path
    return {ext: f"{prefix}.{ext}" for ext in ("pdparams", "pdopt", "pdstates")}


def resolve_checkpoint(path: str) -> dict:
    files = checkpoint_files(path)
    missing = [f for f in files.values() if not os.path.isfile(f)]
    if missing:
        raise WeightsError(f"checkpoint {path!r} is incomplete or missing: no {missing[0]}; "
                           f"give a checkpoint directory such as output/GoogLeNet/latest")
    return files


def load_checkpoint(path: str, network, optimizer) -> dict:
    """Load a full checkpoint into ``network`` and ``optimizer``; return its states."""
    files = resolve_checkpoint(path)
    try:
        with open(files["pdstates"], "rb") as f:
            states = pickle.load(f)
        opt_state = paddle.load(files["pdopt"])
    except Exception as err:
        raise WeightsError(f"checkpoint {path!r} cannot be read ({type(err).__name__}: "
                           f"{err})") from None
    report = load_weights(network, files["pdparams"], strict=True)
    optimizer.set_state_dict(local_optimizer_state(opt_state, network))
    states["loaded"] = report
    return states
