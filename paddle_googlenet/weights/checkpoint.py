"""Checkpoints that a crash or a kill cannot half-write.

A checkpoint is a directory holding ``model.pdparams`` (the network's state dict,
loadable on its own as pretrained weights), ``model.pdopt`` (optimizer and LR
scheduler) and ``model.pdstates`` (epoch, step, best metric, random states), and with
an ``EMA`` section ``model_ema.pdparams`` (the averaged weights). It is
written under a temporary name and renamed into place whole; the run directory's
``latest`` and ``best_model`` are symbolic links switched atomically to the newest
complete directory. So whatever moment a process dies at, ``latest`` names a
directory whose three files belong to the same epoch and step.

All three files hold tensors, arrays and plain containers only, and are read with
``safe_load`` (which refuses anything else) rather than ``pickle``/``paddle.load``.

    output/GoogLeNet/
        epoch_3/  epoch_4/        full checkpoints (the newest few are kept)
        epoch_5_step_120/         a run stopped 120 batches into epoch 5 (Ctrl-C)
        best_epoch_4/             parameters of the best evaluation so far
        latest -> epoch_5_step_120   resume with -o Global.checkpoints=output/GoogLeNet/latest
        best_model -> best_epoch_4
"""

import io
import os
import re
import shutil
import warnings

import numpy as np
import paddle

from . import safe_load, writers
from ..errors import WeightsError, brief, shown
from .atomic import replace_dir, temp_dir_for
from .loading import load_weights, model_dtype

__all__ = ["save_checkpoint", "save_best", "load_checkpoint", "load_ema", "ema_file",
           "evaluated_weights", "resolve_checkpoint",
           "checkpoint_files", "checkpoint_name", "saved_best_top1", "saved_checkpoints",
           "remove_checkpoints",
           "LATEST", "BEST"]

LATEST = "latest"
BEST = "best_model"
PARAMS, OPTIMIZER, STATES = "model.pdparams", "model.pdopt", "model.pdstates"
EMA = "model_ema.pdparams"


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


def _publish(run_dir: str, name: str, files: dict, link: str) -> str:
    """Write ``files`` ({filename: writer(f)}) as directory ``run_dir/name`` and point
    the symlink ``run_dir/link`` at it; at no moment does ``link`` dangle or name a
    partly written directory."""
    final = os.path.join(run_dir, name)
    tmp = temp_dir_for(final)
    try:
        for filename, write in files.items():
            _write_file(os.path.join(tmp, filename), write)
        _fsync_dir(tmp)
        if _linked(run_dir, link) == name:
            _replace_linked(run_dir, name, tmp, link)
        else:
            replace_dir(tmp, final)
    except BaseException:
        if _linked(run_dir, link) != os.path.basename(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(run_dir)
    _point(run_dir, link, name)
    shutil.rmtree(tmp, ignore_errors=True)  # left only by _replace_linked
    return final


def _replace_linked(run_dir: str, name: str, tmp: str, link: str):
    """Replace the directory ``link`` names (a resumed run redoing an epoch) with the
    complete ``tmp``: the link names ``tmp`` while a hard-linked copy of it is
    renamed into place, so it never names a missing directory."""
    _point(run_dir, link, os.path.basename(tmp))
    final = os.path.join(run_dir, name)
    copy = temp_dir_for(final)
    for filename in os.listdir(tmp):
        os.link(os.path.join(tmp, filename), os.path.join(copy, filename))
    _fsync_dir(copy)
    replace_dir(copy, final)


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


def _remove(path: str):
    if os.path.islink(path) or os.path.isfile(path):
        os.remove(path)
    else:
        shutil.rmtree(path, ignore_errors=True)


def _prune(run_dir: str, pattern: str, keep: int) -> list:
    """Remove all but the newest ``keep`` directories matching ``pattern`` (never a
    linked one), and temporary leftovers of interrupted writes; return the names of
    the directories removed, oldest first."""
    protected = {_linked(run_dir, LATEST), _linked(run_dir, BEST)}
    numbered = sorted((int(m.group(1)), name) for name in os.listdir(run_dir)
                      if (m := re.fullmatch(pattern, name)))
    removed = []
    for _, name in numbered[:-keep] if keep else numbered:
        if name not in protected:
            _remove(os.path.join(run_dir, name))
            removed.append(name)
    for name in os.listdir(run_dir):
        if (name.startswith(".") and (".tmp-" in name or ".old-" in name)
                and name not in protected):
            _remove(os.path.join(run_dir, name))
    return removed


def _plain(obj):
    data = writers.dumps_plain(obj)  # checked now, so that resuming cannot refuse it
    return lambda f: f.write(data)


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


def _portable(saved: dict) -> bool:
    return isinstance(saved.get("format"), str) and saved["format"] == _STRUCTURED


def local_optimizer_state(saved: dict, network) -> dict:
    if not _portable(saved):
        return saved  # a plain paddle optimizer state dict
    names = {structured: p.name for structured, p in network.named_parameters()}
    return _rename_optimizer_state(saved["state"], names)


def checkpoint_name(epoch: int, step: int = 0) -> str:
    """``epoch_<epoch>``, or ``epoch_<epoch + 1>_step_<step>`` for ``step`` batches into
    the next epoch."""
    return f"epoch_{epoch + 1}_step_{step}" if step else f"epoch_{epoch}"


def save_checkpoint(run_dir: str, epoch: int, network, optimizer, states: dict,
                    keep: int = 2, step: int = 0, ema_state: dict = None) -> tuple:
    """Write the full checkpoint after ``epoch`` epochs and ``step`` batches of the
    next one, and point ``latest`` at it; return its path and the names of the epoch
    checkpoints removed to keep the newest ``keep``.

    The directory is ``checkpoint_name(epoch, step)``; mid-epoch checkpoints are
    removed once a newer checkpoint is written. ``states`` gets ``epoch`` and ``step``;
    ``ema_state``, the averaged weights, goes in a file of its own.
    """
    states = dict(states, epoch=epoch, step=step)
    name = checkpoint_name(epoch, step)
    files = {PARAMS: _paddle(network.state_dict()),
             OPTIMIZER: _paddle(portable_optimizer_state(optimizer, network)),
             STATES: _plain(states)}
    if ema_state is not None:
        files[EMA] = _paddle(ema_state)
    _publish(run_dir, name, files, LATEST)
    pruned = _prune(run_dir, r"epoch_(\d+)", keep)
    _prune(run_dir, r"epoch_(\d+)_step_\d+", 0)
    return os.path.join(run_dir, name), pruned


def save_best(run_dir: str, epoch: int, weights: dict, states: dict) -> str:
    """Write ``weights`` (a state dict), evaluated at ``epoch``, as the best model and
    point ``best_model`` at it."""
    name = f"best_epoch_{epoch}"
    _publish(run_dir, name, {PARAMS: _paddle(weights),
                             STATES: _plain(dict(states, epoch=epoch))}, BEST)
    _prune(run_dir, r"best_epoch_(\d+)", 1)
    return os.path.join(run_dir, name)


def saved_best_top1(run_dir: str) -> float:
    """The top-1 of the run's ``best_model`` (-1 when there is none), so that a resumed
    run replaces it only with a strictly better one, whichever checkpoint it resumed."""
    path = os.path.join(run_dir, BEST, STATES)
    if not os.path.isfile(path):
        return -1.0
    try:
        return float(safe_load.load(path).get("best_top1", -1.0))
    except (WeightsError, AttributeError, TypeError, ValueError):
        return -1.0


_CHECKPOINT_DIR = re.compile(r"(best_)?epoch_\d+(_step_\d+)?")


def saved_checkpoints(run_dir: str) -> list:
    """The checkpoint directories and links in ``run_dir``, sorted (none if it is missing)."""
    if not os.path.isdir(run_dir):
        return []
    return sorted(name for name in os.listdir(run_dir)
                  if name in (LATEST, BEST) or _CHECKPOINT_DIR.fullmatch(name))


def remove_checkpoints(run_dir: str):
    """Remove a run's checkpoints and links (``Global.overwrite``), ``latest`` first so
    that a kill half-way never leaves it naming another run's checkpoint."""
    for link in (LATEST, BEST):
        if os.path.lexists(os.path.join(run_dir, link)):
            os.remove(os.path.join(run_dir, link))
    for name in os.listdir(run_dir):
        if _CHECKPOINT_DIR.fullmatch(name) or (
                name.startswith(".") and (".tmp-" in name or ".old-" in name)):
            _remove(os.path.join(run_dir, name))


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


def _arrays_to_tensors(value):
    """The optimizer state as ``paddle.load`` returns it: tensors, not arrays (Paddle
    keeps master weights as they are given)."""
    if isinstance(value, np.ndarray):
        return paddle.to_tensor(value)
    if isinstance(value, dict):
        return {k: _arrays_to_tensors(v) for k, v in value.items()}
    return value


def ema_file(path: str) -> str:
    """Where the checkpoint at ``path`` keeps its averaged weights."""
    if os.path.isdir(path):
        return os.path.join(path, EMA)
    prefix = path[: -len(".pdparams")] if path.endswith(".pdparams") else path
    return f"{prefix}_ema.pdparams"


def evaluated_weights(path: str, averaged: bool) -> str:
    """The weights to evaluate, predict or export by for ``path``: with ``averaged``
    (the config has an ``EMA`` section) a checkpoint's averaged weights when it keeps
    them, which is what the training run evaluated and chose its best model by;
    otherwise ``path`` itself. (``best_model`` holds the averaged weights already.)"""
    if averaged and os.path.isfile(ema_file(path)):
        return ema_file(path)
    return path


def load_ema(path: str):
    """The averaged weights of the checkpoint at ``path``, or None if it has none."""
    file = ema_file(path)
    if not os.path.isfile(file):
        return None
    saved = safe_load.load(file)
    if not isinstance(saved, dict):
        raise WeightsError(f"{shown(file)}: not averaged weights (expected a dict of "
                           f"tensors, found {type(saved).__name__})")
    for name, value in saved.items():
        if type(name) is not str or not isinstance(value, np.ndarray):
            raise WeightsError(f"{shown(file)}: not averaged weights: entry {brief(name)} "
                               f"is {brief(value)}, not a tensor")
    return saved


def _is_int(value, low: int = 0) -> bool:
    return type(value) is int and value >= low


def _is_number(value) -> bool:
    if type(value) is int:
        return -2**63 < value < 2**63
    return type(value) in (float, np.float32, np.float64) and bool(np.isfinite(value))


def _is_sequence(value, length: int = None) -> bool:
    return type(value) in (list, tuple) and (length is None or len(value) == length)


def _generator_problem(saved, current) -> str:
    """What is wrong with one saved Paddle generator state (device, seed, offset, engine
    text as ``runtime.rng_state`` keeps it) beside ``current``'s, or ''."""
    if not (_is_sequence(saved, 4) and all(type(n) is int for n in saved[:3])
            and type(saved[3]) is str):
        return "is not (device, seed, offset, engine state)"
    device, seed, offset, engine = saved
    if device != current[0]:
        return f"is for device {brief(device)}, this process's for {current[0]}"
    if not (0 <= seed < 2**64 and 0 <= offset < 2**64):
        return f"has seed {brief(seed)} and offset {brief(offset)}; both are 64-bit counts"
    words = len(bytes(current[3]).split())
    if len(engine) > 25 * words or not re.fullmatch(r"[0-9]+( [0-9]+)*", engine):
        return "has an engine state that is not a list of numbers"
    numbers = engine.split(" ")
    if len(numbers) != words or not all(int(n) < 2**64 for n in numbers):
        return f"has an engine state of {len(numbers)} numbers, not {words} 64-bit ones"
    return ""


def _rng_problem(rng) -> str:
    """What is wrong with a checkpoint's random states (``runtime.rng_state``), or ''."""
    if not isinstance(rng, dict) or set(rng) != {"paddle", "numpy", "python"}:
        return "'rng' is not a dict of 'paddle', 'numpy' and 'python' random states"
    generators, current = rng["paddle"], paddle.get_rng_state()
    if not _is_sequence(generators) or len(generators) != len(current):
        return (f"'rng.paddle' is not a list of {len(current)} Paddle generator states "
                f"(one per device of this process): {brief(generators)}")
    for index, (saved, now) in enumerate(zip(generators, current)):
        problem = _generator_problem(saved, now.__getstate__())
        if problem:
            return (f"'rng.paddle' is not this process's generator states: item {index} "
                    f"{problem}")
    numpy_state = rng["numpy"]
    if not (_is_sequence(numpy_state, 5) and isinstance(numpy_state[0], str)
            and numpy_state[0] == "MT19937"
            and isinstance(numpy_state[1], np.ndarray) and numpy_state[1].shape == (624,)
            and numpy_state[1].dtype == np.uint32 and _is_int(numpy_state[2])
            and numpy_state[2] <= 624 and _is_int(numpy_state[3]) and numpy_state[3] <= 1
            and type(numpy_state[4]) is float):
        return "'rng.numpy' is not a NumPy MT19937 state"
    python_state = rng["python"]
    if not (_is_sequence(python_state, 3) and _is_int(python_state[0])
            and python_state[0] == 3
            and _is_sequence(python_state[1], 625)
            and all(_is_int(n) and n < 2**32 for n in python_state[1])
            and python_state[1][-1] <= 624
            and (python_state[2] is None or type(python_state[2]) is float)):
        return "'rng.python' is not a state of Python's random module"
    return ""


def _progress_problem(progress, step: int) -> str:
    """What is wrong with a mid-epoch checkpoint's ``progress``, or ''."""
    if not isinstance(progress, dict):
        return "'progress' is not a dict"
    if not _is_int(progress.get("step"), 1) or not _is_int(progress.get("seen")):
        return "'progress' lacks a positive 'step' or a count 'seen'"
    if progress["step"] != step:
        return f"'progress.step' is {brief(progress['step'])}, the checkpoint's 'step' {step}"
    if not _is_number(progress.get("seconds")) or progress["seconds"] < 0:
        return "'progress.seconds' is not a duration"
    losses = progress.get("losses")
    if not _is_sequence(losses) or not all(
            _is_sequence(pair, 2) and _is_number(pair[0]) and _is_int(pair[1])
            for pair in losses):
        return "'progress.losses' is not a list of (loss, batch size) pairs"
    metrics = progress.get("metrics")
    if not _is_sequence(metrics) or not all(
            isinstance(m, dict) and all(isinstance(k, str) for k in m) for m in metrics):
        return "'progress.metrics' is not a list of metric states"
    return ""


def validate_states(states, file: str) -> dict:
    """``states`` (a ``.pdstates`` file's contents) if it is what ``save_checkpoint``
    writes; WeightsError naming ``file`` and the first key at fault otherwise."""
    def refuse(problem):
        raise WeightsError(f"{shown(file)}: not a checkpoint's .pdstates file: {problem}")

    if not isinstance(states, dict):
        refuse(f"expected a dict, found {type(states).__name__}")
    for key in ("epoch", "rng"):
        if key not in states:
            refuse(f"no {key!r}")
    for key, low in (("epoch", 0), ("step", 0), ("epochs", 1), ("steps_per_epoch", 1)):
        if key in states and not (_is_int(states[key], low) and states[key] < 2**63):
            refuse(f"{key!r} is {brief(states[key])}, not an integer of at least {low}")
    if "best_top1" in states and not _is_number(states["best_top1"]):
        refuse(f"'best_top1' is {brief(states['best_top1'])}, not a number")
    if "metrics" in states and not (isinstance(states["metrics"], dict) and all(
            type(k) is str for k in states["metrics"])):
        refuse(f"'metrics' is {brief(states['metrics'])}, not a dict of metric names")
    # A mid-epoch checkpoint carries on with its progress; others do not read it.
    problem = _rng_problem(states["rng"]) or (
        _progress_problem(states.get("progress"), states["step"])
        if states.get("step") else "")
    if problem:
        refuse(problem)
    return states


def _scheduler_state_problem(state) -> bool:
    # An LR scheduler's state holds numbers, and the states of schedulers it wraps.
    pending = [state]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.values())
        elif not (value is None or type(value) is bool or _is_number(value)
                  or isinstance(value, (np.ndarray, str, list, tuple))):
            return True
    return False


def _scheduler_field_problem(saved, current, field: str) -> str:
    """What is wrong with a saved LR scheduler state beside ``current`` (this run's
    scheduler's ``state_dict()``): each field it holds must have the kind of value the
    scheduler keeps there. '' if nothing."""
    pending = [(saved, current, field)]
    while pending:
        saved, current, field = pending.pop()
        if isinstance(current, dict):
            if not isinstance(saved, dict):
                return f"{field!r} is {brief(saved)}, not a dict"
            pending += [(saved[k], current[k], f"{field}.{k}") for k in current if k in saved]
        elif type(current) is int and type(saved) is not int:
            return f"{field!r} is {brief(saved)}, not an integer"
        elif type(current) is float and not _is_number(saved):
            return f"{field!r} is {brief(saved)}, not a number"
        elif isinstance(current, (list, tuple)) and not (
                _is_sequence(saved, len(current)) and all(_is_number(v) for v in saved)):
            return f"{field!r} is {brief(saved)}, not a list of {len(current)} numbers"
        elif isinstance(current, str) and type(saved) is not str:
            return f"{field!r} is {brief(saved)}, not text"
    return ""


def _numpy_dtype(dtype: str) -> np.dtype:
    # Paddle stores bfloat16 as uint16.
    return np.dtype("uint16" if dtype == "bfloat16" else dtype)


def _accumulator_problem(state: dict, parameters: dict) -> str:
    """What is wrong with the accumulators of a ``.pdopt`` (keys ``<parameter
    name>_<accumulator>_<n>``, values arrays) beside ``parameters`` (by the names the
    file uses), or ''.
    Paddle creates its accumulators at the first step and only then compares them,
    so they are checked here: a moment has its parameter's shape, a ``*_pow_acc``
    one element; all are float32 or the parameter's own dtype."""
    prefixes = sorted(parameters, key=len, reverse=True)
    for key, value in state.items():
        if key == "LR_Scheduler":
            continue
        values = value.items() if key == "master_weights" else [(key, value)]
        if key == "master_weights" and not isinstance(value, dict):
            return f"'master_weights' is {brief(value)}, not a dict"
        for name, array in values:
            owner = name if key == "master_weights" else next(
                (p for p in prefixes if type(name) is str and name.startswith(p + "_")), None)
            field = f"master_weights.{name}" if key == "master_weights" else name
            if type(name) is not str or owner not in parameters:
                return f"{brief(field)} names no parameter of this network"
            parameter = parameters[owner]
            if not isinstance(array, np.ndarray):
                return f"{brief(field)} is {brief(array)}, not a tensor"
            shape = [1] if "_pow_acc" in name[len(owner):] else list(parameter.shape)
            dtypes = {np.dtype(np.float32), _numpy_dtype(model_dtype(parameter))}
            if array.dtype not in dtypes or list(array.shape) != shape:
                return (f"{brief(field)} is {array.dtype} of shape {list(array.shape)}; "
                        f"for parameter {owner} it must be "
                        f"{' or '.join(sorted(map(str, dtypes)))} of shape {shape}")
    return ""


def _set_optimizer_state(optimizer, saved, network, file: str):
    """Load a ``.pdopt`` file's contents into ``optimizer``, or raise WeightsError
    naming ``file`` for state that is not this optimizer's."""
    if not isinstance(saved, dict) or (_portable(saved)
                                       and not isinstance(saved.get("state"), dict)):
        raise WeightsError(f"{shown(file)}: not a checkpoint's .pdopt file (expected a dict "
                           f"of optimizer state)")
    state = local_optimizer_state(saved, network)
    if _scheduler_state_problem(state.get("LR_Scheduler", {})):
        raise WeightsError(f"{shown(file)}: its 'LR_Scheduler' state holds other than numbers")
    schedule = optimizer._learning_rate
    if _portable(saved):  # checked by the names the file uses
        problem = _accumulator_problem(saved["state"], dict(network.named_parameters()))
    else:
        problem = _accumulator_problem(state, {p.name: p for p in network.parameters()})
    if not problem and "LR_Scheduler" in state and isinstance(
            schedule, paddle.optimizer.lr.LRScheduler):
        problem = _scheduler_field_problem(state["LR_Scheduler"], schedule.state_dict(),
                                           "LR_Scheduler")
    if problem:
        raise WeightsError(f"{shown(file)}: not the optimizer state of this run: {problem}")
    try:
        with warnings.catch_warnings():
            # Paddle's LinearWarmup keeps its inner schedule's state under an extra key
            # that the base class's set_state_dict reports as unused before LinearWarmup
            # loads it.
            warnings.filterwarnings("ignore",
                                    message="There are some unused values in state_dict")
            optimizer.set_state_dict(_arrays_to_tensors(state))
    except (AssertionError, KeyError, TypeError, ValueError, RuntimeError) as err:
        raise WeightsError(f"{shown(file)}: does not hold the state of this run's optimizer "
                           f"({type(optimizer).__name__}: {shown(str(err))[:200]}); resume "
                           f"with the optimizer and schedule it was saved with") from None


def load_checkpoint(path: str, network, optimizer) -> dict:
    """Load a full checkpoint into ``network`` and ``optimizer``; return its states
    (checked by ``validate_states``)."""
    files = resolve_checkpoint(path)
    states = validate_states(safe_load.load(files["pdstates"]), files["pdstates"])
    opt_state = safe_load.load(files["pdopt"])
    report = load_weights(network, files["pdparams"], strict=True)
    _set_optimizer_state(optimizer, opt_state, network, files["pdopt"])
    states["loaded"] = report
    return states
