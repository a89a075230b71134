"""What a run leaves behind for people: a log file, per-epoch metrics and a plot."""

import contextlib
import json
import logging
import os
import sys
import warnings

import numpy as np

__all__ = ["setup_logger", "log_to_file", "warnings_logged", "append_metrics", "read_metrics",
           "metrics_figure", "plot_metrics", "plot_confusion"]

LOGGER_NAME = "paddle_googlenet"


def setup_logger(log_file: str = None, main_process: bool = True) -> logging.Logger:
    """Log to stdout and, on the main process, to ``log_file`` as plain text."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    fmt = logging.Formatter("[%(asctime)s] %(message)s", "%Y-%m-%d %H:%M:%S")
    stream = logging.StreamHandler(sys.stdout)
    stream.setFormatter(fmt)
    logger.addHandler(stream)
    if log_file and main_process:
        os.makedirs(os.path.dirname(log_file) or ".", exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    logger.propagate = False
    return logger


def log_to_file(logger: logging.Logger, message: str, level: int = logging.WARNING):
    """Write ``message`` to ``logger``'s log files only (it was shown on the console
    already, as a Python warning say)."""
    record = logger.makeRecord(logger.name, level, __file__, 0, message, None, None)
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


@contextlib.contextmanager
def warnings_logged(logger: logging.Logger):
    """Show the Python warnings raised inside as warning lines of ``logger``, so that
    they reach the log file as well as the console."""
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        logger.warning(f"{category.__name__}: {message}")

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


def append_metrics(path: str, record: dict):
    """Append one epoch's record as a JSON line."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def read_metrics(path: str):
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")  # files only: no display on servers
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: str):
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    _pyplot().close(fig)
    os.replace(tmp, path)


def metrics_figure(records, title: str = None):
    """The figure of train/eval loss and top-1 per epoch; a dashed line marks where a
    run was resumed (a record with ``"resumed": true`` is the first after it)."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in records]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for split, style in (("train", "-o"), ("eval", "-s")):
        for ax, key in ((ax_loss, "loss"), (ax_acc, "top1")):
            points = [(r["epoch"], r[f"{split}_{key}"]) for r in records
                      if r.get(f"{split}_{key}") is not None]
            if points:
                ax.plot(*zip(*points), style, label=split)
    ax_loss.set(title="loss", xlabel="epoch", ylabel="loss (mean per image)")
    ax_acc.set(title="top-1 accuracy", xlabel="epoch", ylabel="top-1 accuracy", ylim=(0, 1))
    resumes = [r["epoch"] - 0.5 for r in records if r.get("resumed")]
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for x in resumes:
            ax.axvline(x, color="grey", linestyle="--", linewidth=1,
                       label="resumed" if x == resumes[0] else None)
        if ax.lines:
            ax.legend()
        if epochs:
            ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_metrics(records, path: str, title: str = None):
    """Plot ``metrics_figure`` into a PNG (written atomically)."""
    _save(metrics_figure(records, title), path)


def plot_confusion(matrix, class_names, path: str):
    """Plot a confusion matrix (rows: true class, columns: predicted) into a PNG."""
    plt = _pyplot()
    n = len(class_names)
    side = min(max(4.0, 0.5 * n + 2), 40.0)
    fig, ax = plt.subplots(figsize=(side, side))
    ax.imshow(matrix, cmap="Blues")
    ax.set(xticks=range(n), yticks=range(n), xlabel="predicted", ylabel="true",
           title="confusion matrix")
    ax.set_xticklabels(class_names, rotation=90)
    ax.set_yticklabels(class_names)
    if n <= 30:  # counts stay readable
        peak = matrix.max() or 1
        for (i, j), count in np.ndenumerate(matrix):
            ax.text(j, i, int(count), ha="center", va="center",
                    color="white" if count > peak / 2 else "black", fontsize=8)
    fig.tight_layout()
    _save(fig, path)
