"""The environment of the processes the benchmark starts and times."""

import os
from typing import Dict

# Set in the benchmark's own process by importing Paddle (OMP_NUM_THREADS=1, which
# would also pin NumPy's BLAS in a child) or by the benchmark for one of its rows
# (MKL's kernels), not by the user's shell: a child chooses its own.
NOT_INHERITED = ("OMP_NUM_THREADS", "MKL_DEBUG_CPU_TYPE")


def child_environment(**settings: str) -> Dict[str, str]:
    """This process's environment without ``NOT_INHERITED``, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env.update(settings)
    return env
