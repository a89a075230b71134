"""Memory of this process as Linux counts it (``/proc/self``), for the benchmarks."""

__all__ = ["status_kb", "pss_kb"]


def status_kb(field: str) -> int:
    """A ``/proc/self/status`` figure in kB: ``VmRSS`` now, ``VmHWM`` its peak (which,
    unlike ``ru_maxrss``, starts again at exec rather than carrying the parent's)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def pss_kb() -> int:
    """Proportional set size in kB: pages shared with other processes count in part."""
    with open("/proc/self/smaps_rollup") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
