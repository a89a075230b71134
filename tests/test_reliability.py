"""Reliability as a user meets it: bad input gets one clear message before work
starts, and no error, signal or kill costs a run its checkpoints."""

import itertools
import json
import logging
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import paddle
import pytest
from PIL import Image

from paddle_googlenet import GoogLeNet, checkpoint, safe_load
from paddle_googlenet.cli import train_main
from paddle_googlenet.config import load_config
from paddle_googlenet.data import build_dataloader
from paddle_googlenet.engine import Engine, NonFiniteLoss
from paddle_googlenet.engine.callbacks import BestModel, Evaluation
from paddle_googlenet.engine.rundir import load_resume_point
from paddle_googlenet.engine.state import RunState
from paddle_googlenet.runtime import rng_state
from tiny import DEFAULT_CONFIG, ROOT, tiny_overrides

# Runs the interruption tests compare: 3 epochs of 3 steps, evaluated after the last only.
EPOCHS = 3
QUICK = {"Global.eval_interval": 100}


def argv_of(options):
    return ["-c", DEFAULT_CONFIG, *itertools.chain.from_iterable(["-o", o] for o in options)]


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
    return {k: v.numpy() for k, v in paddle.load(os.path.join(path, "model.pdparams")).items()}


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


# ------------------------------------------------------------------ config on the command line

CONFIG_WITH_A_TYPE_ERROR = open(DEFAULT_CONFIG).read().replace("use_visualdl: False",
                                                               "use_visualdl: sometimes")


@pytest.mark.parametrize("config_text, options, expected", [
    (None, ["Globl.epochs=1"], r"unknown section 'Globl' \(did you mean 'Global'\?\)"),
    (None, ["Global.epoch=1"], r"Global\.epoch: unknown key \(did you mean 'epochs'\?\).* "
                               r"\(set by -o Global\.epoch=1\)$"),
    (None, ["Global.epochs=many"], r"Global\.epochs: expected int, got 'many' .*\(set by -o "),
    (None, ["Global.epochs"], r"override 'Global\.epochs': expected Section\.key=value"),
    (None, ["epochs=3"], r"^error: override 'epochs=3' needs a section: did you mean "
                         r"Global\.epochs\?$"),
    (None, ["Optimizer.lr.learning_rat=0.1"],
     r"Optimizer\.lr\.learning_rat: Cosine has no such argument \(did you mean "
     r"'learning_rate'\?\)"),
    (None, ["DataLoader.Train.sampler.batch_size=64", "DataLoader.Train.sampler.drop_last=True"],
     r"batch_size 64 is larger than the 12 samples .*drop_last.*\(set by -o "),
    ("", [], r"config file not found: .*c\.yaml$"),
    ("Global:\n  epochs: [1\nArch: {name: GoogLeNet}\n", [], r"c\.yaml:3:\d+: YAML syntax error"),
    (CONFIG_WITH_A_TYPE_ERROR, [], r"c\.yaml:18: Global\.use_visualdl: expected bool, got "
                                   r"'sometimes'"),
], ids=["unknown-section", "unknown-key", "wrong-type", "bad-override", "no-section",
        "unknown-nested-key",
        "batch-larger-than-data", "missing-file", "yaml-syntax", "wrong-type-in-file"])
def test_config_errors_are_one_located_line(tiny_data, tmp_path, capfd, config_text, options,
                                            expected):
    """``config_text``: None for configs/googlenet.yaml, "" for a missing file."""
    config = DEFAULT_CONFIG if config_text is None else str(tmp_path / "c.yaml")
    if config_text:
        with open(config, "w") as f:
            f.write(config_text)
    out = str(tmp_path / "out")
    capfd.readouterr()
    code = train_main(["-c", config, *itertools.chain.from_iterable(
        ["-o", o] for o in tiny_overrides(tiny_data, out) + options)])
    assert code == 2
    assert re.search(expected, one_error(capfd.readouterr().err))
    assert not os.path.exists(out)


def test_debug_shows_the_traceback(tiny_data, tmp_path, capfd):
    code = train_main(argv_of(tiny_overrides(tiny_data, str(tmp_path))
                              + ["Global.epochs=many"]) + ["--debug"])
    err = capfd.readouterr().err
    assert code == 2 and "Traceback" in err and "Global.epochs: expected int" in err


# ------------------------------------------------------------------ data on the command line

def write_list(tmp_path, tiny_data, edit):
    """The tiny training list with ``edit(lines)`` applied; returns its path."""
    lines = open(os.path.join(tiny_data, "train_list.txt")).read().splitlines()
    path = tmp_path / "list.txt"
    path.write_text("\n".join(edit(lines)) + "\n")
    return str(path)


@pytest.mark.parametrize("edit, expected", [
    (lambda lines: lines[:2] + [lines[2].split()[0]] + lines[3:],
     r"list\.txt has 1 bad line\(s\):\n  .*list\.txt:3: .*expected 'path label'"),
    (lambda lines: lines[:1] + [lines[1].split()[0] + " one"] + lines[2:],
     r"list\.txt:2: .*label 'one' is not an integer"),
    (lambda lines: lines[:1] + [lines[1].split()[0] + " -1"] + lines[2:],
     r"list\.txt:2: .*label -1 is negative"),
    (lambda lines: [], r"list file .*list\.txt lists no images"),
    # class_num is 6: seven labels too big; the first five lines and the count reported
    (lambda lines: [f"{line.split()[0]} {6 + i % 3}" if i % 2 else line
                    for i, line in enumerate(lines + lines[:2])],
     r"DataLoader\.Train\.dataset: 7 label\(s\) not below Arch\.class_num 6 \(the largest is "
     r"8; Arch\.class_num must be at least 9\) \(first 5 shown\):\n"
     r"(  .*list\.txt:\d+: .* [678]\n){4}  .*list\.txt:10: .* [678]$"),
], ids=["not-path-label", "label-not-integer", "negative-label", "empty-list",
        "labels-beyond-class-num"])
def test_list_file_errors_before_training(tiny_data, tmp_path, capfd, edit, expected):
    listing = write_list(tmp_path, tiny_data, edit)
    out = str(tmp_path / "out")
    code, err = train_cli(capfd, tiny_overrides(
        tiny_data, out, **{"DataLoader.Train.dataset.cls_label_path": listing}))
    assert code == 2 and "Traceback" not in err
    assert re.search(expected, err, re.M), err
    assert not os.path.exists(out)


@pytest.mark.parametrize("extra, expected", [
    ({"DataLoader.Train.dataset.image_root": "/nonexistent/images"},
     r"DataLoader\.Train\.dataset: image_root /nonexistent/images does not exist"),
    ({"Arch.adaptive_pool": False},
     r"DataLoader\.Train\.dataset\.transform_ops \(images of shape \[3, 64, 64\]\): GoogLeNet "
     r"with fixed-pool heads expects \[N, 3, 224, 224\].*adaptive_pool=True"),
    ({"Global.output_dir": "{tmp}/a_file/out"},
     r"Global\.output_dir: cannot write to .*/a_file/out/GoogLeNet: Not a directory"),
    ({"Global.pretrained_model": "/nonexistent/weights"},
     r"Global\.pretrained_model: weights file not found: '/nonexistent/weights'"),
    ({"Global.checkpoints": "/nonexistent/epoch_3"},
     r"Global\.checkpoints: checkpoint '/nonexistent/epoch_3' is incomplete or missing"),
], ids=["missing-image-root", "input-size", "unwritable-output-dir", "missing-pretrained",
        "missing-checkpoint"])
def test_paths_and_sizes_fail_before_anything_is_written(tiny_data, tmp_path, capfd, extra,
                                                          expected):
    (tmp_path / "a_file").write_text("a file, not a directory")
    out = str(tmp_path / "out")
    extra = {key: value.format(tmp=tmp_path) if isinstance(value, str) else value
             for key, value in extra.items()}
    code, err = train_cli(capfd, tiny_overrides(tiny_data, out, **extra))
    assert code == 2
    assert re.search(expected, one_error(err))
    assert not os.path.exists(out) and not os.path.exists(tmp_path / "a_file" / "out")


def test_checkpoint_of_another_network_names_parameter_and_shapes(tiny_data, tmp_path, capfd):
    ten_classes = GoogLeNet(num_classes=10, adaptive_pool=True)
    optimizer = paddle.optimizer.Adam(parameters=ten_classes.parameters())
    saved = checkpoint.save_checkpoint(str(tmp_path), 1, ten_classes, optimizer, {"rng": None})
    run = os.path.join(str(tmp_path / "six"), "GoogLeNet")
    code, err = train_cli(capfd, tiny_overrides(tiny_data, str(tmp_path / "six"),
                                                **{"Global.checkpoints": saved}))
    assert code == 2
    assert re.search(r"Global\.checkpoints: .*parameter 'head\.fc\.weight' has shape "
                     r"\[1024, 10\] in the file but \[1024, 6\] in the model", one_error(err))
    assert not os.path.exists(run)


# ------------------------------------------------------------------ images met while training

@pytest.fixture(scope="module")
def data_with_bad_images(tmp_path_factory, tiny_data):
    """The tiny set with three training images not an image, truncated and missing."""
    root = tmp_path_factory.mktemp("bad") / "data"
    shutil.copytree(tiny_data, root)
    lines = (root / "train_list.txt").read_text().splitlines()
    (root / "notes.jpg").write_text("not an image")
    whole = (root / lines[4].split()[0]).read_bytes()
    (root / "cut.jpg").write_bytes(whole[:len(whole) // 3])
    for number, name in ((1, "notes.jpg"), (4, "cut.jpg"), (7, "gone.jpg")):
        lines[number] = f"{name} {lines[number].split()[1]}"
    (root / "train_list.txt").write_text("\n".join(lines) + "\n")
    return str(root)


def bad_image_options(tiny_data, data, out, **extra):
    return tiny_overrides(tiny_data, out, **{
        "DataLoader.Train.dataset.image_root": data,
        "DataLoader.Train.dataset.cls_label_path": os.path.join(data, "train_list.txt"),
        **extra})


@pytest.mark.parametrize("workers", [0, 2])
def test_bad_image_stops_training_naming_it(tiny_data, data_with_bad_images, tmp_path,
                                            workers):
    """Read in Paddle's loader thread or in worker processes, an unreadable image
    stops the run with its name: no hang, no worker traceback."""
    options = bad_image_options(tiny_data, data_with_bad_images, str(tmp_path / "out"),
                                epochs=1, **{"DataLoader.Train.loader.num_workers": workers})
    proc = subprocess.run(train_command(options), cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    line = one_error(proc.stderr)
    assert re.search(r"DataLoader\.Train\.dataset: cannot read image .*/(notes|cut|gone)\.jpg "
                     r"\(.*train_list\.txt:[258]\): .*skip_bad_images: true", line), line
    assert not os.path.exists(tmp_path / "out" / "GoogLeNet" / "latest")


def test_skipped_images_are_counted_each_epoch(tiny_data, data_with_bad_images, tmp_path):
    out = str(tmp_path / "out")
    config = load_config(DEFAULT_CONFIG, bad_image_options(
        tiny_data, data_with_bad_images, out, epochs=2, **{
            "DataLoader.Train.dataset.skip_bad_images": True,
            "DataLoader.Train.loader.num_workers": 2, **QUICK}))
    Engine(config).train()
    run = os.path.join(out, "GoogLeNet")
    # Counted by the worker processes, reported by the main one, for each epoch.
    assert [r["train_skipped_images"] for r in read_records(run)] == [3, 3]
    log = open(os.path.join(run, "train.log")).read()
    assert re.search(r"\[Train\]\[Epoch 2\] skipped 3 unreadable image\(s\) \(skip_bad_images "
                     r"is true\): .*/notes\.jpg, .*/cut\.jpg, .*/gone\.jpg", log)


def test_every_image_mode_is_trained_on_as_rgb(tmp_path):
    """Grayscale, RGBA, palette, 16-bit and CMYK files all reach the network as RGB."""
    pixels = np.random.default_rng(0).integers(0, 256, (56, 56, 3), dtype=np.uint8)
    rgb = Image.fromarray(pixels)
    images = {"gray.png": rgb.convert("L"), "rgba.png": rgb.convert("RGBA"),
              "palette.png": rgb.convert("P"), "cmyk.jpg": rgb.convert("CMYK"),
              "sixteen.png": Image.fromarray((pixels[..., 0].astype(np.uint16) * 257))}
    for name, image in images.items():
        image.save(tmp_path / name)
    (tmp_path / "list.txt").write_text("".join(f"{n} {i}\n" for i, n in enumerate(images)))
    config = load_config(DEFAULT_CONFIG)["DataLoader"]["Train"]
    config["dataset"].update(image_root=str(tmp_path), cls_label_path=str(tmp_path / "list.txt"))
    config["dataset"]["transform_ops"][1]["RandCropImage"]["size"] = 56
    config["sampler"].update(batch_size=5, shuffle=False)
    config["loader"]["num_workers"] = 0
    (batch, labels), = list(build_dataloader(config, seed=1))
    assert batch.shape == [5, 3, 56, 56] and labels.tolist() == [0, 1, 2, 3, 4]
    assert bool(paddle.isfinite(batch).all())


# ------------------------------------------------------------------ interruptions

def test_non_finite_loss_is_reported_without_a_traceback(tiny_data, tmp_path, capfd):
    # A rate that overflows the weights at the first step: with 1e8 the loss could stay
    # finite at the cross-entropy's clip (102.4), depending on the tests run before.
    code, err = train_cli(capfd, tiny_overrides(tiny_data, str(tmp_path), **{
        "Optimizer.name": "Momentum", "Optimizer.momentum": 0.9,
        "Optimizer.lr.learning_rate": 1e30, "Optimizer.lr.warmup_epoch": 0}))
    assert code == 2
    assert re.search(r"loss is (nan|inf) at epoch 1, step \d; training stopped and the last "
                     r"checkpoint .* was left as it was", one_error(err))


def test_non_finite_loss_leaves_the_last_checkpoint_as_it_was(tiny_data, tmp_path, monkeypatch):
    out = str(tmp_path / "out")
    Engine(load_config(DEFAULT_CONFIG, tiny_overrides(tiny_data, out, epochs=1))).train()
    run = os.path.join(out, "GoogLeNet")
    before = files_of(os.path.join(run, "latest")), os.readlink(os.path.join(run, "latest"))
    engine = Engine(load_config(DEFAULT_CONFIG, tiny_overrides(
        tiny_data, out, epochs=2, **{"Global.checkpoints": os.path.join(run, "latest")})))
    calls, compute = itertools.count(1), engine.loss.forward
    monkeypatch.setattr(engine.loss, "forward",
                        lambda *a: compute(*a) * (float("nan") if next(calls) == 2 else 1.0))
    with pytest.raises(NonFiniteLoss, match=r"loss is nan at epoch 2, step 2;"):
        engine.train()
    assert (files_of(os.path.join(run, "latest")),
            os.readlink(os.path.join(run, "latest"))) == before
    assert not [n for n in os.listdir(run) if n.startswith("epoch_2")]


def cli_options(data, out, **extra):
    return tiny_overrides(data, out, epochs=EPOCHS, **{**QUICK, **extra})


def train_command(options):
    return [sys.executable, "tools/train.py", "-c", "configs/googlenet.yaml",
            *itertools.chain.from_iterable(["-o", o] for o in options)]


@pytest.fixture(scope="module")
def uninterrupted(tiny_data, tmp_path_factory):
    """Final parameters and metrics of a run nothing stops."""
    out = str(tmp_path_factory.mktemp("straight"))
    proc = subprocess.run(train_command(cli_options(tiny_data, out)), cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = os.path.join(out, "GoogLeNet")
    return params_of(os.path.join(run, "latest")), read_records(run)


def read_records(run):
    return [json.loads(line) for line in open(os.path.join(run, "metrics.jsonl"))]


def start_training(command, log_path):
    log = open(log_path, "w")
    return subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)


def wait_for(log_path, pattern, process, timeout=120):
    """Wait until the training log matches ``pattern`` (or the process ended)."""
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if re.search(pattern, open(log_path).read()):
            return True
        time.sleep(0.05)
    return False


def test_signals_save_a_checkpoint_and_print_the_resume_command(tiny_data, tmp_path,
                                                                uninterrupted):
    """SIGTERM in epoch 1, then SIGINT in epoch 2 of the resumed run: each time the
    run saves a mid-epoch checkpoint and prints the command that resumes it, and
    resuming twice ends where an uninterrupted run does, metrics included."""
    out = str(tmp_path / "out")
    command = train_command(cli_options(tiny_data, out))
    for signum, epoch in ((signal.SIGTERM, 1), (signal.SIGINT, 2)):
        log = str(tmp_path / f"{signum}.log")
        process = start_training(command, log)
        assert wait_for(log, rf"\[Epoch {epoch}/{EPOCHS}\]\[Iter 1/3\]", process)
        process.send_signal(signum)
        assert process.wait(timeout=120) == 128 + signum
        text = open(log).read()
        assert "Traceback" not in text
        match = re.search(rf"^stopped: training interrupted by {signum.name} at epoch {epoch}, "
                          rf"step ([12]) of 3; saved a resumable checkpoint: (\S+); resume "
                          rf"with: (.*)$", text, re.M)
        assert match, text[-3000:]
        step, saved, command = match.groups()
        assert saved == os.path.join(out, "GoogLeNet", f"epoch_{epoch}_step_{step}")
        assert os.readlink(os.path.join(out, "GoogLeNet", "latest")) == os.path.basename(saved)
        command = shlex.split(command)
        assert command[-2:] == ["-o", f"Global.checkpoints={saved}"]
        assert command[2:-2] == train_command(cli_options(tiny_data, out))[2:]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = os.path.join(out, "GoogLeNet")
    params, records = uninterrupted
    assert_same_params(params_of(os.path.join(run, "latest")), params)
    resumed = read_records(run)
    assert [r["epoch"] for r in resumed] == [1, 2, 3]
    for mine, theirs in zip(resumed, records):
        for key in ("train_loss", "train_top1", "lr"):
            assert mine[key] == pytest.approx(theirs[key], rel=1e-5), key
    assert not [n for n in os.listdir(run) if "_step_" in n]  # superseded, removed


def test_signal_handlers_are_restored_after_training(tiny_data, tmp_path):
    def mine(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        Engine(load_config(DEFAULT_CONFIG, tiny_overrides(
            tiny_data, str(tmp_path), epochs=1, **QUICK))).train()
        assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, previous)


KILL_DURING_CHECKPOINT = """
import os, signal, sys
from paddle_googlenet import checkpoint
from paddle_googlenet.cli import train_main

write = checkpoint._write_file

def write_then_die(path, writer):
    if ".epoch_2.tmp-" in path and path.endswith(checkpoint.OPTIMIZER):
        with open(path, "wb") as f:
            f.write(b"half an optimizer state")
        os.kill(os.getpid(), signal.SIGKILL)
    write(path, writer)

checkpoint._write_file = write_then_die
sys.exit(train_main(sys.argv[1:]))
"""


def check_latest_loads(run):
    """``latest``, if any, names a whole checkpoint whose states match its name."""
    latest = os.path.join(run, "latest")
    if not os.path.lexists(latest):
        return None
    name = os.readlink(latest)
    states = safe_load.load(os.path.join(latest, "model.pdstates"))
    assert name == checkpoint.checkpoint_name(states["epoch"], states.get("step", 0))
    assert safe_load.load(os.path.join(latest, "model.pdparams"))
    assert safe_load.load(os.path.join(latest, "model.pdopt"))
    return states


def test_sigkill_at_any_moment_then_resume_equals_an_uninterrupted_run(tiny_data, tmp_path,
                                                                        uninterrupted):
    out = str(tmp_path / "out")
    run = os.path.join(out, "GoogLeNet")
    options = cli_options(tiny_data, out)
    # First, killed in the middle of writing epoch 2's checkpoint.
    proc = subprocess.run([sys.executable, "-c", KILL_DURING_CHECKPOINT, *argv_of(options)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert check_latest_loads(run)["epoch"] == 1
    assert [n for n in os.listdir(run) if n.startswith(".epoch_2.tmp-")]  # the half-written one

    # Then killed at random moments, resuming from `latest` each time.
    delays = random.Random(2024)
    for kill in range(3):
        resume = [f"Global.checkpoints={os.path.join(run, 'latest')}"]
        log = str(tmp_path / f"kill{kill}.log")
        process = start_training(train_command(options + resume), log)
        wait_for(log, r"\[Train\]", process)
        time.sleep(delays.uniform(0, 3))
        process.kill()
        process.wait(timeout=60)
        states = check_latest_loads(run)
        assert states is not None and states["epoch"] >= 1
        if states["epoch"] == EPOCHS:
            break  # it finished before the kill

    if check_latest_loads(run)["epoch"] < EPOCHS:
        proc = subprocess.run(train_command(options + resume), cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
    params, records = uninterrupted
    assert_same_params(params_of(os.path.join(run, "latest")), params)
    assert [r["epoch"] for r in read_records(run)] == [1, 2, 3]
    assert not [n for n in os.listdir(run) if ".tmp-" in n or ".old-" in n]


def test_rewriting_the_checkpoint_latest_names_never_leaves_it_dangling(tmp_path, monkeypatch):
    network = paddle.nn.Linear(3, 2)
    optimizer = paddle.optimizer.Adam(parameters=network.parameters())
    run = str(tmp_path)
    checkpoint.save_checkpoint(run, 4, network, optimizer, {"rng": None})

    def fail(tmp, final):
        assert os.path.isfile(os.path.join(run, "latest", "model.pdparams"))
        raise KeyboardInterrupt  # as a kill would stop it, half-way through the swap

    monkeypatch.setattr(checkpoint, "replace_dir", fail)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save_checkpoint(run, 4, network, optimizer, {"rng": None})
    latest = os.path.join(run, "latest")
    assert os.readlink(latest).startswith(".epoch_4.tmp-")  # the new, complete copy
    assert safe_load.load(os.path.join(latest, "model.pdstates"))["epoch"] == 4
    monkeypatch.undo()
    checkpoint.save_checkpoint(run, 5, network, optimizer, {"rng": None})
    assert sorted(os.listdir(run)) == ["epoch_4", "epoch_5", "latest"]


# ------------------------------------------------------------------ output never lost

def test_refused_new_run_writes_nothing(tiny_data, tmp_path, capfd):
    out = str(tmp_path / "out")
    Engine(load_config(DEFAULT_CONFIG, tiny_overrides(tiny_data, out, epochs=1, **QUICK))).train()
    before = files_of(out)
    code, err = train_cli(capfd, tiny_overrides(tiny_data, out, epochs=1))
    assert code == 2 and "holds an earlier run's checkpoints" in one_error(err)
    assert files_of(out) == before


def test_overwrite_drops_the_earlier_runs_checkpoints_first(tiny_data, tmp_path):
    """A run started over never leaves `latest` naming the earlier run's checkpoint."""
    out = str(tmp_path / "out")
    run = os.path.join(out, "GoogLeNet")
    os.makedirs(run)
    network = paddle.nn.Linear(3, 2)
    optimizer = paddle.optimizer.SGD(parameters=network.parameters())
    for epoch in (1, 2):
        checkpoint.save_checkpoint(run, epoch, network, optimizer, {"rng": None})
    checkpoint.save_best(run, 2, network, {"best_top1": 0.5})
    (tmp_path / "out" / "GoogLeNet" / "metrics.jsonl").write_text('{"epoch": 1}\n')
    engine = Engine(load_config(DEFAULT_CONFIG, tiny_overrides(
        tiny_data, out, epochs=1, **{"Global.overwrite": True})))
    engine.run.prepare(resuming=False, overwrite=True)
    assert os.listdir(run) == []


def test_best_model_is_replaced_only_by_a_strictly_better_one(tmp_path):
    state = RunState(epochs=10, steps_per_epoch=1)
    log = logging.getLogger("test")
    results = iter([0.5, 0.5, 0.4, 0.7, 0.7])
    # Evaluation judges the result, BestModel saves it: in this order, as in training.
    callbacks = [Evaluation(state, log, lambda: {"loss": 1.0, "top1": next(results)},
                            due=lambda epoch: True),
                 BestModel(state, log, str(tmp_path), paddle.nn.Linear(3, 2))]
    best = []
    for epoch in range(1, 6):
        state.epoch, state.record = epoch, {"epoch": epoch, "train_loss": 1.0}
        for callback in callbacks:
            callback.on_epoch_end(epoch - 1)
        best.append(os.readlink(os.path.join(str(tmp_path), "best_model")))
    assert best == ["best_epoch_1"] * 3 + ["best_epoch_4"] * 2
    assert state.best_top1 == 0.7 and state.record["eval_top1"] == 0.7
    # A run resumed from an older checkpoint keeps the better best model on disk.
    assert checkpoint.saved_best_top1(str(tmp_path)) == 0.7


def test_resume_from_an_older_checkpoint_keeps_the_better_best_model(tiny_data, tmp_path):
    out = str(tmp_path / "out")
    run = os.path.join(out, "GoogLeNet")
    engine = Engine(load_config(DEFAULT_CONFIG, tiny_overrides(tiny_data, out, epochs=3)))
    older = checkpoint.save_checkpoint(run, 1, engine.network, engine.optimizer,
                                       {"rng": rng_state(), "best_top1": 0.2})
    checkpoint.save_best(run, 2, engine.network, {"best_top1": 0.7})
    resumed = Engine(load_config(DEFAULT_CONFIG, tiny_overrides(
        tiny_data, out, epochs=3, **{"Global.checkpoints": older})))
    point = load_resume_point(older, resumed.network, resumed.optimizer, 3,
                              resumed.steps_per_epoch, run)
    assert (point.start_epoch, point.best_top1) == (1, 0.7)


def test_checkpoints_without_latest_are_kept_too(tiny_data, tmp_path, capfd):
    out = str(tmp_path / "out")
    run = os.path.join(out, "GoogLeNet")
    os.makedirs(run)
    network = paddle.nn.Linear(3, 2)
    checkpoint.save_best(run, 1, network, {"best_top1": 0.5})
    code, err = train_cli(capfd, tiny_overrides(tiny_data, out, epochs=1))
    assert code == 2
    line = one_error(err)
    assert "holds an earlier run's checkpoints (best_epoch_1, best_model)" in line
    assert "Global.overwrite=True" in line and "Global.checkpoints=" not in line
    assert sorted(os.listdir(run)) == ["best_epoch_1", "best_model"]
