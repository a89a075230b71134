"""The machine: the processor's name and feature flags, usable cores, and keeping
freed memory; from the standard library alone.

One reader for the whole package: deployment checks a precision against it before
building a predictor, training (``fast_paths``, ``runtime``) picks MKL's kernels
and its thread count with it. Feature flags come from Linux's ``/proc/cpuinfo``;
elsewhere they are empty, and only what needs no flag is offered.
"""

import ctypes
import ctypes.util
import os
from typing import Dict

__all__ = ["read_cpuinfo", "usable_cores", "bf16_supported", "processor",
           "keep_freed_memory", "BF16_FLAGS", "FEATURE_FLAGS"]

# oneDNN's bfloat16 kernels need one of these; without them it emulates bf16, slowly.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
# The processor flags that decide which fast kernels exist (names as in /proc/cpuinfo).
FEATURE_FLAGS = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni",
                 "avx512_bf16", "amx_bf16", "amx_int8", "amx_tile")


def read_cpuinfo() -> Dict:
    """``{"vendor", "model", "flags": set}`` of the first processor in /proc/cpuinfo."""
    info = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    break  # end of the first processor's block
                key, _, value = line.partition(":")
                info[key.strip()] = value.strip()
    except OSError:
        pass
    return {"vendor": info.get("vendor_id", "unknown"), "model": info.get("model name", "unknown"),
            "flags": set(info.get("flags", "").split())}


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask), at least 1."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def bf16_supported() -> bool:
    """Whether the processor has bfloat16 arithmetic (AVX-512 BF16 or AMX)."""
    return bool(read_cpuinfo()["flags"] & set(BF16_FLAGS))


def processor() -> Dict:
    """``{"vendor", "model", "cores", "flags": {flag: bool}, "bf16"}``: the first
    processor, the cores this process may use, which of ``FEATURE_FLAGS`` it has and
    whether it has bfloat16 arithmetic."""
    info = read_cpuinfo()
    return {"vendor": info["vendor"], "model": info["model"], "cores": usable_cores(),
            "flags": {name: name in info["flags"] for name in FEATURE_FLAGS},
            "bf16": bool(info["flags"] & set(BF16_FLAGS))}


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_kept = None


def keep_freed_memory() -> bool:
    """Let this process reuse the memory it frees instead of handing it back to the
    system; returns whether that is in force (glibc only).

    Paddle frees a step's activations after each step (tens of MB each); glibc
    serves blocks that large with mmap and unmaps them on free, so the next step
    page-faults all of it in again, zeroed, which costs a good share of a step's
    time (docs/benchmarks.md, "Freed memory kept for reuse"). With mmap off and no trimming, freed blocks stay in
    the heap for the next step. Nothing computed changes; resident memory stays
    near its peak instead of falling between steps. Affects the whole process, for
    allocations made from then on.
    """
    global _kept
    if _kept is None:
        _kept = False
        name = ctypes.util.find_library("c")
        try:
            libc = ctypes.CDLL(name) if name else None
            mallopt = libc.mallopt if libc is not None else None
        except (OSError, AttributeError):  # not glibc (musl, macOS, Windows)
            mallopt = None
        if mallopt is not None:
            mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            _kept = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    return _kept
