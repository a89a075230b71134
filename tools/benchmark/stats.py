"""The benchmark's statistics: every measured figure is a summary ``{"median", "n",
"min", "max"}`` of its samples; a ratio of two figures measured in the same rounds is
taken per round, then summarised."""

import statistics
from typing import Sequence


def summary(values: Sequence[float]) -> dict:
    """``{"median", "n", "min", "max"}`` of a figure's samples."""
    values = [float(v) for v in values]
    return {"median": statistics.median(values), "n": len(values), "min": min(values),
            "max": max(values)}


def paired(numerators: Sequence[float], denominators: Sequence[float]) -> dict:
    """Summary of the per-round ratios of two figures measured in the same rounds."""
    return summary([a / b for a, b in zip(numerators, denominators)])


def spread(figure: dict, fmt: str = ".2f") -> str:
    """``median (n=N, min-max)``."""
    return (f"{figure['median']:{fmt}} (n={figure['n']}, "
            f"{figure['min']:{fmt}}-{figure['max']:{fmt}})")
