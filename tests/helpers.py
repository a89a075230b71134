"""Helpers several test files share: running tools/train.py's main, reading a run's
outputs, test images in odd modes, a small optimizer run, and measuring a load."""

import itertools
import json
import os
import shutil
import sys
import time
import tracemalloc

import numpy as np
import paddle
from PIL import Image

from paddle_googlenet.cli import train_main
from paddle_googlenet.errors import WeightsError
from tiny import DEFAULT_CONFIG

# Evaluated after the last epoch only: runs that need no evaluation in between.
QUICK = {"Global.eval_interval": 100}


def argv_of(options, *flags):
    """tools/train.py's arguments for the default config with ``options`` as -o."""
    return ["-c", DEFAULT_CONFIG, *itertools.chain.from_iterable(["-o", o] for o in options),
            *flags]


def train_command(options):
    """tools/train.py as a subprocess (run from the repository root)."""
    return [sys.executable, "tools/train.py", "-c", "configs/googlenet.yaml",
            *itertools.chain.from_iterable(["-o", o] for o in options)]


def train_cli(capfd, options):
    """Run tools/train.py's main in this process; return (exit code, stderr)."""
    capfd.readouterr()
    code = train_main(argv_of(options))
    return code, capfd.readouterr().err


def one_error(err):
    """The single error line of a failed run, checked to come without a traceback."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


def params_of(path):
    """Parameters of a weights file, or of a checkpoint folder's model.pdparams."""
    if os.path.isdir(path):
        path = os.path.join(path, "model.pdparams")
    return {k: v.numpy() for k, v in paddle.load(path).items()}


def assert_same_params(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=1e-6, rtol=0, err_msg=key)


def files_of(path):
    """Bytes and modification time of every file under ``path``, links resolved."""
    found = {}
    for folder, _, names in os.walk(os.path.realpath(path)):
        for name in names:
            full = os.path.join(folder, name)
            with open(full, "rb") as f:
                found[os.path.relpath(full, path)] = (f.read(), os.stat(full).st_mtime_ns)
    return found


def contents_of(path):
    """Bytes of every file under ``path``, links resolved."""
    found = {}
    for folder, _, names in os.walk(os.path.realpath(path)):
        for name in names:
            with open(os.path.join(folder, name), "rb") as f:
                found[os.path.relpath(os.path.join(folder, name), path)] = f.read()
    return found


def copy_run(run, out):
    """A copy of the run directory ``run`` as ``out``'s, links kept; returns its path.
    Cheaper than training the same 1-epoch run again for a test that changes it."""
    copy = os.path.join(out, os.path.basename(run))
    shutil.copytree(run, copy, symlinks=True)
    return copy


def read_records(run):
    """The per-epoch records of a run directory's metrics.jsonl."""
    return [json.loads(line) for line in open(os.path.join(run, "metrics.jsonl"))]


def random_weights(path):
    """A 6-class GoogLeNet's initial weights, seeded, saved at ``path``; returns it."""
    from paddle_googlenet.models import build_model

    paddle.seed(0)
    paddle.save(build_model({"name": "GoogLeNet", "class_num": 6,
                             "adaptive_pool": True}).state_dict(), path)
    return path


def separable_weights(path):
    """A 6-class GoogLeNet whose main classifier separates the classes clearly (so the
    order of the top classes is not decided by rounding), saved at ``path``."""
    from paddle_googlenet.models import build_model

    paddle.seed(7)
    net = build_model({"name": "GoogLeNet", "class_num": 6, "adaptive_pool": True})
    fc = net.head.fc.weight
    fc.set_value(np.random.RandomState(0).normal(0, 0.05, fc.shape).astype("float32"))
    paddle.save(net.state_dict(), path)
    return path


def n_params(layer):
    return sum(int(p.numel()) for p in layer.parameters())


def lr_values(schedule, steps):
    """The rate used by each of ``steps`` training steps (stepped as paddle.Model does)."""
    values = []
    for _ in range(steps):
        values.append(schedule.get_lr() if hasattr(schedule, "get_lr") else schedule)
        if hasattr(schedule, "step"):
            schedule.step()
    return values


def odd_images(tiny_data, folder):
    """The first eval image saved as grayscale, RGBA, palette, 16-bit and CMYK, plus a
    non-image and a truncated JPEG."""
    os.makedirs(folder)
    source = Image.open(os.path.join(tiny_data, "images", "val", "circle_00000.jpg"))
    source.convert("L").save(os.path.join(folder, "gray.png"))
    source.convert("RGBA").save(os.path.join(folder, "rgba.png"))
    source.convert("P").save(os.path.join(folder, "palette.png"))
    Image.fromarray((np.asarray(source.convert("L"), dtype=np.uint16) * 257)).save(
        os.path.join(folder, "deep.png"))
    source.convert("CMYK").save(os.path.join(folder, "cmyk.jpg"))
    with open(os.path.join(folder, "junk.jpg"), "w") as f:
        f.write("not an image")
    whole = open(os.path.join(tiny_data, "images", "val", "circle_00000.jpg"), "rb").read()
    with open(os.path.join(folder, "cut.jpg"), "wb") as f:
        f.write(whole[: len(whole) // 3])


def load_measured(load, *args):
    """``load(*args)``'s result or WeightsError, its peak traced memory and seconds."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        outcome = load(*args)
    except WeightsError as err:
        outcome = err
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return outcome, peak, time.perf_counter() - started


def adam_linear(steps: int = 0):
    """A Linear(3, 2) and its Adam under Paddle's warm-up around a cosine decay (the
    nested scheduler state PaddleClas's checkpoints hold), after ``steps`` steps."""
    network = paddle.nn.Linear(3, 2)
    schedule = paddle.optimizer.lr.LinearWarmup(
        paddle.optimizer.lr.CosineAnnealingDecay(0.1, T_max=4), 2, 0.0, 0.1)
    optimizer = paddle.optimizer.Adam(schedule, parameters=network.parameters())
    for _ in range(steps):
        network(paddle.ones([1, 3])).sum().backward()
        optimizer.step()
    return network, optimizer
