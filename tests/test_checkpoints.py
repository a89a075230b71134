"""Checkpoints and the run directory: `latest` never dangles, the best model is
replaced only by a better one, and no earlier run's output is lost."""

import logging
import os

import paddle
import pytest

from paddle_googlenet.weights import checkpoint, safe_load
from paddle_googlenet.config import load_config
from paddle_googlenet.engine import Engine
from paddle_googlenet.engine.callbacks import BestModel, Evaluation
from paddle_googlenet.engine.rundir import load_resume_point
from paddle_googlenet.engine.state import RunState
from paddle_googlenet.engine.runtime import rng_state
from helpers import copy_run, files_of, one_error, train_cli
from tiny import DEFAULT_CONFIG, tiny_overrides

# ------------------------------------------------------------------ checkpoints

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

@pytest.mark.slow
def test_refused_new_run_writes_nothing(tiny_data, trained_run, tmp_path, capfd):
    out = str(tmp_path / "out")
    copy_run(trained_run, out)  # a finished 1-epoch run
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
    checkpoint.save_best(run, 2, network.state_dict(), {"best_top1": 0.5})
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
                 BestModel(state, log, str(tmp_path), paddle.nn.Linear(3, 2).state_dict)]
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


@pytest.mark.slow
def test_resume_from_an_older_checkpoint_keeps_the_better_best_model(tiny_data, tmp_path):
    out = str(tmp_path / "out")
    run = os.path.join(out, "GoogLeNet")
    engine = Engine(load_config(DEFAULT_CONFIG, tiny_overrides(tiny_data, out, epochs=3)))
    older, _ = checkpoint.save_checkpoint(run, 1, engine.network, engine.optimizer,
                                       {"rng": rng_state(), "best_top1": 0.2})
    checkpoint.save_best(run, 2, engine.network.state_dict(), {"best_top1": 0.7})
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
    checkpoint.save_best(run, 1, network.state_dict(), {"best_top1": 0.5})
    code, err = train_cli(capfd, tiny_overrides(tiny_data, out, epochs=1))
    assert code == 2
    line = one_error(err)
    assert "holds an earlier run's checkpoints (best_epoch_1, best_model)" in line
    assert "Global.overwrite=True" in line and "Global.checkpoints=" not in line
    assert sorted(os.listdir(run)) == ["best_epoch_1", "best_model"]
