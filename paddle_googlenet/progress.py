"""Progress of long work that would otherwise print nothing until it is done.

On a terminal a tqdm bar, which is gone when the work is; in a log or a pipe a
plain line every ``every`` seconds (``eval: 640/1000 images (64%), 21.3 images/s,
0:00:17 left``), and none for work that takes less. The tools make one and hand it
to the library, whose functions take ``progress=None`` and stay quiet without one.
"""

import contextlib
import datetime
import sys
import time
from typing import Callable, Optional, TextIO

__all__ = ["Progress", "optional_progress"]


class Progress:
    """``with Progress(total, "eval") as progress: ...; progress.update(n)``.

    Args:
        total: how many ``unit`` the work has.
        what: what the work is, first on the line.
        unit: what is counted.
        stream: where to write (standard error by default, so that results on
            standard output stay clean for a pipe).
        every: seconds between plain lines.
    """

    def __init__(self, total: int, what: str, unit: str = "images",
                 stream: Optional[TextIO] = None, every: float = 10.0):
        self.total, self.what, self.unit = int(total), what, unit
        self.stream = stream or sys.stderr
        self.every = every
        self.done = 0
        self.started = self.last = time.monotonic()
        self.bar = None
        if _is_terminal(self.stream):
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, desc=what, unit=f" {unit}", file=self.stream,
                            leave=False, dynamic_ncols=True)

    def update(self, count: int = 1) -> None:
        self.done += count
        if self.bar is not None:
            self.bar.update(count)
            return
        now = time.monotonic()
        if now - self.last >= self.every and self.done < self.total:
            self.last = now
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()

    def line(self, now: Optional[float] = None) -> str:
        """``what: done/total unit (percent), rate unit/s, time left``."""
        elapsed = max((now or time.monotonic()) - self.started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate else 0.0
        return (f"{self.what}: {self.done}/{self.total} {self.unit} "
                f"({self.done / max(self.total, 1):.0%}), {rate:.1f} {self.unit}/s, "
                f"{datetime.timedelta(seconds=round(left))} left")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def optional_progress(make: Optional[Callable[..., "Progress"]], total: int, what: str,
                      unit: str = "images"):
    """``make(total, what, unit)`` (``Progress`` or a function like it) for a ``with``
    block, or, when ``make`` is None, a stand-in that gives None: work that shows
    progress only when its caller asks."""
    return make(total, what, unit) if make is not None else contextlib.nullcontext()


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False
