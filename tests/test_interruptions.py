"""A run stopped by a non-finite loss, a signal or a kill keeps its last whole
checkpoint, and resuming it ends where an uninterrupted run does."""

import itertools
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import time

import pytest

from paddle_googlenet.weights import checkpoint, safe_load
from paddle_googlenet.config import load_config
from paddle_googlenet.engine import Engine, NonFiniteLoss
from helpers import (QUICK, argv_of, assert_same_params, copy_run, files_of, one_error,
                     params_of, read_records, train_cli, train_command)
from tiny import DEFAULT_CONFIG, ROOT, tiny_overrides

# Runs the interruption tests compare: 3 epochs of 3 steps, evaluated after the last only.
EPOCHS = 3


# ------------------------------------------------------------------ interruptions

@pytest.mark.slow
def test_non_finite_loss_is_reported_without_a_traceback(tiny_data, tmp_path, capfd):
    # A rate that overflows the weights at the first step: with 1e8 the loss could stay
    # finite at the cross-entropy's clip (102.4), depending on the tests run before.
    code, err = train_cli(capfd, tiny_overrides(tiny_data, str(tmp_path), **{
        "Optimizer.name": "Momentum", "Optimizer.momentum": 0.9,
        "Optimizer.lr.learning_rate": 1e30, "Optimizer.lr.warmup_epoch": 0}))
    assert code == 2
    assert re.search(r"loss is (nan|inf) at epoch 1, step \d; training stopped and the last "
                     r"checkpoint .* was left as it was", one_error(err))


@pytest.mark.slow
def test_non_finite_loss_leaves_the_last_checkpoint_as_it_was(tiny_data, trained_run, tmp_path,
                                                              monkeypatch):
    out = str(tmp_path / "out")
    run = copy_run(trained_run, out)  # a finished 1-epoch run
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


@pytest.fixture(scope="module")
def uninterrupted(tiny_data, tmp_path_factory):
    """Final parameters and metrics of a run nothing stops."""
    out = str(tmp_path_factory.mktemp("straight"))
    proc = subprocess.run(train_command(cli_options(tiny_data, out)), cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = os.path.join(out, "GoogLeNet")
    return params_of(os.path.join(run, "latest")), read_records(run)


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


@pytest.mark.slow
def test_signals_save_a_checkpoint_and_print_the_resume_command(tiny_data, tmp_path,
                                                                uninterrupted):
    """SIGTERM in epoch 1, then SIGINT in epoch 2 of the resumed run: each time the
    run saves a mid-epoch checkpoint and prints the command that resumes it, and
    resuming twice ends where an uninterrupted run does, metrics included."""
    out = str(tmp_path / "out")
    command = train_command(cli_options(tiny_data, out))
    stopped_at = None  # the words the last stop used for where it stopped
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
        if stopped_at:  # the resume says where it starts as the stop said where it stopped
            assert f"resumed from {stopped_at[1]} at {stopped_at[0]}" in text
        step, saved, command = match.groups()
        stopped_at = (f"epoch {epoch}, step {step} of 3", saved)
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


@pytest.mark.slow
def test_signal_handlers_are_restored_after_training(tiny_data, tmp_path):
    def mine(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    # Python's own Ctrl-C handler, set here: a pytest started in the background of a
    # shell without job control begins with SIGINT ignored.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        Engine(load_config(DEFAULT_CONFIG, tiny_overrides(
            tiny_data, str(tmp_path), epochs=1, **QUICK))).train()
        assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


KILL_DURING_CHECKPOINT = """
import os, signal, sys
from paddle_googlenet.weights import checkpoint
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


@pytest.mark.slow
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
