"""Global.update_freq: gradient accumulation with PaddleClas's semantics."""

import os
import signal

import numpy as np
import paddle
import pytest

from paddle_googlenet.weights.checkpoint import load_checkpoint
from paddle_googlenet.config import load_config
from paddle_googlenet.engine import Engine, TrainingInterrupted
from paddle_googlenet.engine.callbacks import StopOnSignal, TrainingStopped
from paddle_googlenet.engine.state import RunState
from paddle_googlenet.errors import ConfigError
from helpers import assert_same_params, params_of
from tiny import DEFAULT_CONFIG, tiny_overrides

NO_DROPOUT = {"Arch.dropout": 0, "Arch.aux_dropout": 0, "Global.eval_during_train": False}
# Plain momentum, no warm-up: a step proportional to the gradient (Adam's first step
# would hide a gradient N times too large).
SGD = {"Optimizer.name": "Momentum", "Optimizer.momentum": 0.9,
       "Optimizer.lr.warmup_epoch": 0, "Optimizer.lr.learning_rate": 0.05}


def config(data, out, epochs=1, **extra):
    return load_config(DEFAULT_CONFIG, tiny_overrides(data, out, epochs,
                                                      **{**NO_DROPOUT, **extra}))


@pytest.mark.slow
def test_n_batches_of_b_step_as_one_batch_of_n_times_b(tiny_data, tmp_path):
    # 12 training images: three batches of 4 accumulated, or one batch of 12. Both
    # take one optimizer step on the same images with the same LR schedule.
    accumulated, whole = str(tmp_path / "acc"), str(tmp_path / "whole")
    Engine(config(tiny_data, accumulated, **SGD, **{
        "Global.update_freq": 3, "DataLoader.Train.sampler.batch_size": 4})).train()
    Engine(config(tiny_data, whole, **SGD, **{
        "DataLoader.Train.sampler.batch_size": 12})).train()
    a = params_of(os.path.join(accumulated, "GoogLeNet", "latest"))
    b = params_of(os.path.join(whole, "GoogLeNet", "latest"))
    start = Engine(config(tiny_data, str(tmp_path / "start"))).network.state_dict()
    moved = max(np.abs(b[k] - start[k].numpy()).max() for k in b)
    assert moved > 1e-4  # a step was taken, so the comparison means something
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=1e-5, rtol=0, err_msg=key)


@pytest.mark.slow
def test_schedule_counts_optimizer_steps_and_epochs_use_whole_groups(tiny_data, tmp_path):
    out = str(tmp_path / "run")
    # 12 images in batches of 4: 3 batches, 2 of them a whole group of 2.
    Engine(config(tiny_data, out, epochs=2, **{"Global.update_freq": 2,
                                               "DataLoader.Train.sampler.batch_size": 4})).train()
    run = os.path.join(out, "GoogLeNet")
    log = open(os.path.join(run, "train.log")).read()
    assert "[Iter 2/2]" in log and "[Iter 3/" not in log
    assert "the optimizer steps every 2 batches" in log
    engine = Engine(config(tiny_data, str(tmp_path / "other"), epochs=2))
    states = load_checkpoint(os.path.join(run, "latest"), engine.network, engine.optimizer)
    assert states["steps_per_epoch"] == 2
    assert engine.optimizer.state_dict()["LR_Scheduler"]["last_epoch"] == 2  # 1 per epoch


def test_update_freq_above_the_batches_of_an_epoch_falls_back_to_1(tiny_data, tmp_path):
    with pytest.warns(UserWarning, match="update_freq"):
        engine = Engine(config(tiny_data, str(tmp_path), **{"Global.update_freq": 5}))
    assert engine.update_freq == 1 and engine.steps_per_epoch == 3


def test_update_freq_must_be_positive(tiny_data, tmp_path):
    with pytest.raises(ConfigError, match="Global.update_freq"):
        config(tiny_data, str(tmp_path), **{"Global.update_freq": 0})


def test_a_stop_waits_for_the_end_of_the_accumulation_group():
    state = RunState(epochs=1, steps_per_epoch=6, update_freq=3, epoch=1)
    saved = []
    stop = StopOnSignal(state, requested=lambda: True, save_now=lambda step: saved.append(step)
                        or f"ckpt{step}")
    stop.on_train_batch_begin(1)  # one batch of the group done: keep going
    stop.on_train_batch_begin(2)
    assert saved == []
    with pytest.raises(TrainingStopped) as stopped:
        stop.on_train_batch_begin(3)
    assert saved == [3] and stopped.value.step == 3


class _SignalAfterFirstBatch(paddle.callbacks.Callback):
    """Sends this process SIGTERM after the first batch, inside a group of two."""

    def on_train_batch_end(self, step, logs=None):
        if step == 0:
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.slow
def test_stop_mid_epoch_then_resume_equals_an_uninterrupted_run(tiny_data, tmp_path):
    # 6 batches of 2 per epoch in groups of 2, with EMA: a stop asked for after
    # batch 1 waits for batch 2, and resuming there ends where a straight run does.
    # At SGD's 0.05, batches of 2 sit at the edge of divergence: a pixel's rounding
    # decides whether a straight run ends in NaN. 0.01 keeps it finite.
    options = {**SGD, "Global.update_freq": 2, "DataLoader.Train.sampler.batch_size": 2,
               "EMA.decay": 0.5, "Optimizer.lr.learning_rate": 0.01}
    straight = str(tmp_path / "straight")
    Engine(config(tiny_data, straight, epochs=2, **options)).train()

    split = str(tmp_path / "split")
    engine = Engine(config(tiny_data, split, epochs=2, **options))
    engine.extra_callbacks.append(_SignalAfterFirstBatch())
    with pytest.raises(TrainingInterrupted) as stopped:
        engine.train()
    saved = stopped.value.checkpoint
    assert os.path.basename(saved) == "epoch_1_step_2"
    with pytest.raises(ConfigError, match="inside a group of Global.update_freq=3"):
        Engine(config(tiny_data, split, epochs=2, **{**options, "Global.update_freq": 3},
                      **{"Global.checkpoints": saved})).train()
    Engine(config(tiny_data, split, epochs=2, **options,
                  **{"Global.checkpoints": saved})).train()
    for name in ("model.pdparams", "model_ema.pdparams"):
        assert_same_params(params_of(os.path.join(straight, "GoogLeNet", "latest", name)),
                           params_of(os.path.join(split, "GoogLeNet", "latest", name)))
