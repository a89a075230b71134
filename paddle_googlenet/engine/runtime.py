"""Device, CPU threads and seeds: the process-wide settings a run starts with."""

import ctypes
import os
import random
import warnings
from typing import Optional

import numpy as np
import paddle

from ..hardware import usable_cores

__all__ = ["select_device", "set_cpu_threads", "seed_everything", "is_main_process",
           "world_size", "rng_state", "set_rng_state"]


def select_device(requested: str = "auto") -> str:
    """Set Paddle's device from ``auto|cpu|gpu`` and return the one in use.

    A GPU asked for on a machine or Paddle build without one falls back to the CPU
    with a warning, so a config written for a GPU server still runs on a laptop.
    """
    has_gpu = paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
    if requested == "gpu" and not has_gpu:
        why = ("this Paddle build has no CUDA (install paddlepaddle-gpu)"
               if not paddle.is_compiled_with_cuda() else "no GPU is visible")
        warnings.warn(f"Global.device is gpu but {why}; running on the CPU")
    device = "gpu" if has_gpu and requested in ("auto", "gpu") else "cpu"
    if device == "gpu":
        # One process per GPU under paddle.distributed.launch: use this rank's card.
        device = f"gpu:{paddle.distributed.ParallelEnv().device_id}"
    paddle.set_device(device)
    return device


def _openmp_libraries():
    """The OpenMP runtimes Paddle's CPU kernels use (Intel's, bundled, and GNU's)."""
    libs_dir = os.path.join(os.path.dirname(paddle.__file__), "libs")
    for path in (os.path.join(libs_dir, "libiomp5.so"), "libgomp.so.1"):
        try:
            yield ctypes.CDLL(path)
        except OSError:
            continue


def set_cpu_threads(num_threads: Optional[int] = None) -> int:
    """Let Paddle's CPU kernels use ``num_threads`` (default: every core) and return
    the number set. Public as ``paddle_googlenet.set_cpu_threads``.

    Paddle pins OMP_NUM_THREADS to 1 when it is imported unless the variable was set
    before, so a script runs on one core; the tools call this at start, and a script
    that trains or predicts should too (docs/model.md). Training is faster with every
    core (docs/benchmarks.md). Under a multi-process launch each process gets its
    share of the cores.
    """
    if num_threads is None:
        num_threads = max(1, usable_cores() // max(world_size(), 1))
    for lib in _openmp_libraries():
        lib.omp_set_num_threads(int(num_threads))
    os.environ["OMP_NUM_THREADS"] = str(num_threads)  # for worker processes started later
    return num_threads


def seed_everything(seed: Optional[int]):
    """Seed Paddle, NumPy and Python's ``random`` (nothing when ``seed`` is None)."""
    if seed is None:
        return
    paddle.seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def rng_state() -> dict:
    """Every random state a training step reads, to store with a checkpoint, as plain
    data (ints, strings, tuples, a NumPy array) so that a checkpoint holds no objects."""
    return {"paddle": [_generator_state_as_data(s) for s in paddle.get_rng_state()],
            "numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(state: dict):
    """Restore what ``rng_state`` returned, so a resumed run draws the same numbers."""
    paddle.set_rng_state([_generator_state_from_data(s) for s in state["paddle"]])
    np.random.set_state(tuple(state["numpy"]))
    random.setstate(_as_tuples(state["python"]))


# A Paddle generator state pickles as (device, seed, offset, engine) where the engine
# (the Mersenne Twister's state as text) is a list of character codes: kept as text.
def _generator_state_as_data(generator_state) -> tuple:
    *numbers, engine = generator_state.__getstate__()
    return (*numbers, bytes(engine).decode("ascii"))


def _generator_state_from_data(data):
    *numbers, engine = data
    generator_state = paddle.framework.core.GeneratorState.__new__(
        paddle.framework.core.GeneratorState)
    generator_state.__setstate__((*numbers, list(engine.encode("ascii"))))
    return generator_state


def _as_tuples(value):
    """``random.setstate`` wants tuples where a round trip may have made lists."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def world_size() -> int:
    return int(os.environ.get("PADDLE_TRAINERS_NUM", "1"))


def is_main_process() -> bool:
    """Rank 0 (or a single process): the one that writes files."""
    return int(os.environ.get("PADDLE_TRAINER_ID", "0")) == 0
