"""How every command-line tool ends: an exit code, and one plain line for a user's mistake.

``run_tool(main, argv)`` calls ``main(argv)``. A ``UserError`` is printed as
``error: <message>`` and exits 2 (an error may carry its own ``label`` and
``exit_code``: an interrupted training run exits 128 + the signal's number);
``--debug`` in ``argv`` prints the traceback as well. Ctrl-C exits 130. A missing
Paddle is named with what to install. Any other exception is a bug and keeps its
traceback. This module imports neither Paddle nor the training code, so
deployment's tool uses it too.

Before ``main`` runs (and so before Paddle is first imported), ``quiet_native_logs``
turns off glog's INFO lines: Paddle's C++ side logs them for its own bookkeeping
(e.g. the TCP store ``paddle.distributed.launch`` sets up), and a tool's output is
its results. A user's own ``GLOG_minloglevel`` or ``GLOG_v`` is kept. Paddle's "No
ccache found" warning is ignored while ``main`` runs: a compiler cache only matters for
building custom C++ operators, which no tool does.
"""

import os
import sys
import traceback
import warnings
from typing import Callable, Iterable, List, Optional

from ..errors import PADDLE_MISSING, UserError, shown

__all__ = ["run_tool", "quiet_native_logs", "print_results"]

# glog severities: 0 INFO (VLOG(n) lines too), 1 WARNING, 2 ERROR, 3 FATAL
GLOG_QUIET_LEVEL = "1"


def quiet_native_logs(environ=os.environ):
    """Set glog's minimum level to WARNING in ``environ`` unless the user chose a level
    or asked for verbose logs (``GLOG_v``). glog reads it when Paddle's library loads,
    so this must run before ``import paddle``; the launcher's workers inherit it."""
    if "GLOG_minloglevel" not in environ and "GLOG_v" not in environ:
        environ["GLOG_minloglevel"] = GLOG_QUIET_LEVEL


def _missing_paddle(err: ImportError) -> bool:
    return (err.name or "").split(".")[0] == "paddle"


def run_tool(main: Callable[[List[str]], Optional[int]], argv: Optional[List[str]] = None,
             explain: Optional[Callable[[UserError, List[str]], str]] = None) -> int:
    """Call ``main(argv)`` (default: the command line) and return its exit code.

    ``explain(error, argv)``, when given, returns the message to print for a
    UserError (the training tools use it to locate a config key).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    quiet_native_logs()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)
        warnings.showwarning = _show_warning
        return _run_main(main, argv, explain)


def _run_main(main, argv: List[str], explain) -> int:
    try:
        return main(argv) or 0
    except UserError as err:
        if "--debug" in argv:
            traceback.print_exc()
        message = explain(err, argv) if explain else str(err)
        # A message may list lines of its own, but nothing in it drives the terminal.
        print(f"{getattr(err, 'label', 'error')}: {shown(message, keep=chr(10))}",
              file=sys.stderr)
        return getattr(err, "exit_code", 2)
    except ImportError as err:
        if not _missing_paddle(err):
            raise
        if "--debug" in argv:
            traceback.print_exc()
        print(f"error: {PADDLE_MISSING}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of the output went away (``| head``): stop quietly, as a shell tool
        # does, with what SIGPIPE would have given; later writes go nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """A Python warning as the tools print one: ``warning: <message>``, one line, without
    the source line Python echoes (training logs its own through the run's logger)."""
    print(f"warning: {shown(str(message))}", file=file or sys.stderr)


def results_progress(count: int, what: str):
    """A ``progress.Progress`` over ``count`` images when standard output goes to a
    file or a pipe (on a terminal the result lines show how far the work is); else
    None."""
    if sys.stdout.isatty():
        return None
    from ..progress import Progress

    return Progress(count, what)


def print_results(results: Iterable[dict], show: Callable[[dict], str], count: int,
                  what: str, progress=None) -> int:
    """Print ``show(result)`` for each of ``results`` as it comes (one line per image);
    return 0 when every image was ``what`` (classified, predicted), else 1 with how many
    were not on stderr. ``progress``, the one ``results`` reports to, is closed at the
    end."""
    failed = 0
    try:
        for result in results:
            failed += "error" in result
            print(show(result), flush=True)
    finally:
        if progress is not None:
            progress.close()
    if failed:
        print(f"{failed} of {count} images could not be {what}", file=sys.stderr)
        return 1
    return 0
