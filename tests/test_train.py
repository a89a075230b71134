"""Training end to end on a tiny generated dataset: outputs, resume, fine-tuning."""

import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

from paddle_googlenet.weights.checkpoint import load_checkpoint
from paddle_googlenet.config import load_config
from paddle_googlenet.engine import Engine
from paddle_googlenet.errors import ConfigError
from helpers import assert_same_params, copy_run, params_of, read_records
from tiny import DEFAULT_CONFIG, ROOT, tiny_overrides



def tiny_config(data, out, epochs=2, **extra):
    return load_config(DEFAULT_CONFIG, tiny_overrides(data, out, epochs, **extra))


@pytest.mark.slow
def test_train_tool_writes_every_output(tiny_data, tmp_path):
    out = str(tmp_path / "out")
    proc = subprocess.run(
        [sys.executable, "tools/train.py", "-c", "configs/googlenet.yaml",
         *sum((["-o", o] for o in tiny_overrides(tiny_data, out)), [])],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = os.path.join(out, "GoogLeNet")
    for name in ("latest/model.pdparams", "latest/model.pdopt", "latest/model.pdstates",
                 "best_model/model.pdparams", "config.yaml", "train.log", "metrics.jsonl",
                 "metrics.png"):
        assert os.path.isfile(os.path.join(run, name)), name
    assert os.path.realpath(os.path.join(run, "latest")).endswith("epoch_2")
    records = read_records(run)
    assert [r["epoch"] for r in records] == [1, 2]
    for r in records:
        assert np.isfinite(r["train_loss"]) and 0 <= r["eval_top1"] <= 1
        assert r["eval_images"] == 6
    with open(os.path.join(run, "metrics.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    log = open(os.path.join(run, "train.log")).read()
    assert "device: cpu" in log and "CPU threads" in log and "[Eval][Epoch 2]" in log
    saved = load_config(os.path.join(run, "config.yaml"))
    assert saved["Global"]["epochs"] == 2 and saved["Arch"]["class_num"] == 6
    # The resolved config is in config.yaml; the log points there instead of printing it.
    assert f"resolved config (defaults and -o overrides applied): {run}/config.yaml" in proc.stdout
    assert "transform_ops" not in proc.stdout


@pytest.mark.slow
def test_same_seed_same_loss_curve(tiny_data, tmp_path):
    curves = []
    for name in ("a", "b"):
        cfg = tiny_config(tiny_data, str(tmp_path / name))
        Engine(cfg).train()
        records = read_records(str(tmp_path / name / "GoogLeNet"))
        curves.append([(r["train_loss"], r["eval_loss"]) for r in records])
    assert curves[0] == curves[1]


@pytest.mark.slow
def test_resume_equals_uninterrupted_run(tiny_data, tmp_path):
    straight = str(tmp_path / "straight")
    Engine(tiny_config(tiny_data, straight, epochs=2)).train()

    split = str(tmp_path / "split")
    Engine(tiny_config(tiny_data, split, epochs=1)).train()
    first = os.path.join(split, "GoogLeNet", "latest")
    assert os.path.realpath(first).endswith("epoch_1")
    # Epochs must be raised to continue; the schedule is built for the final count.
    resumed = tiny_config(tiny_data, split, epochs=2,
                          **{"Global.checkpoints": first})
    Engine(resumed).train()

    a = params_of(os.path.join(straight, "GoogLeNet", "latest", "model.pdparams"))
    b = params_of(os.path.join(split, "GoogLeNet", "latest", "model.pdparams"))
    assert_same_params(a, b)
    records = read_records(os.path.join(split, "GoogLeNet"))
    assert [r["epoch"] for r in records] == [1, 2]


def test_resume_restores_optimizer_and_epoch(tiny_data, trained_run, tmp_path):
    engine = Engine(tiny_config(tiny_data, str(tmp_path / "run"), epochs=3))
    states = load_checkpoint(os.path.join(trained_run, "latest"), engine.network,
                             engine.optimizer)
    assert states["epoch"] == 1
    opt_state = engine.optimizer.state_dict()
    assert opt_state["LR_Scheduler"]["last_epoch"] == 3  # 3 steps of 4 images in epoch 1
    moments = [v for k, v in opt_state.items() if "moment1" in k]  # Adam, as configured
    assert moments and any(float(paddle.abs(v).sum()) > 0 for v in moments)


@pytest.mark.slow
def test_new_run_refuses_to_overwrite_checkpoints(tiny_data, trained_run, tmp_path):
    out = str(tmp_path / "run")
    copy_run(trained_run, out)  # a finished 1-epoch run
    with pytest.raises(ConfigError, match="earlier run's checkpoints.*Global.checkpoints="):
        Engine(tiny_config(tiny_data, out, epochs=1)).train()
    Engine(tiny_config(tiny_data, out, epochs=1, **{"Global.overwrite": True})).train()


@pytest.mark.slow
def test_finetune_with_another_class_count(tiny_data, trained_run_10_classes, tmp_path):
    weights = os.path.join(trained_run_10_classes, "latest")
    cfg = tiny_config(tiny_data, str(tmp_path / "tuned"), epochs=1,
                      **{"Global.pretrained_model": weights})
    with pytest.warns(UserWarning, match="left at initialisation"):
        engine = Engine(cfg)
    trained = params_of(os.path.join(weights, "model.pdparams"))
    np.testing.assert_array_equal(engine.network.inception3a.branch1[0].weight.numpy(),
                                  trained["inception3a.branch1.0.weight"])
    assert engine.network.head.fc.weight.shape == [1024, 6]
    assert engine.train()["last_eval_top1"] is not None


def test_labels_beyond_class_count_are_caught_before_training(tiny_data, tmp_path):
    with pytest.raises(Exception, match="class"):
        Engine(tiny_config(tiny_data, str(tmp_path / "x"), **{"Arch.class_num": 3}))
    assert not os.path.exists(tmp_path / "x")


@pytest.mark.slow
def test_googlenet_loss_without_aux_heads_is_a_config_error(tiny_data, tmp_path):
    with pytest.raises(ConfigError, match="GoogLeNetLoss needs the aux heads"):
        Engine(tiny_config(tiny_data, str(tmp_path / "x"), **{"Arch.aux_logits": False}))
    cfg = tiny_config(tiny_data, str(tmp_path / "y"), epochs=1,
                      **{"Arch.aux_logits": False, "Loss.Train": "[{'CELoss': {'epsilon': 0.1}}]",
                         "Loss.Eval": "[{'CELoss': None}]"})
    assert Engine(cfg).train()["last_eval_top1"] is not None


def test_amp_on_cpu_warns_and_trains_in_float32(tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, str(tmp_path / "amp"), epochs=1, **{"AMP.use_amp": True})
    with pytest.warns(UserWarning, match="AMP is off"):
        engine = Engine(cfg)
    assert engine.amp_configs is None


def test_visualdl_without_the_package_is_a_clear_error(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "visualdl", None)
    with pytest.raises(ConfigError, match="Global.use_visualdl.*pip install visualdl"):
        Engine(tiny_config(tiny_data, str(tmp_path / "v"), **{"Global.use_visualdl": True}))


@pytest.mark.slow
def test_paddleclas_googlenet_yaml_trains_unmodified(tiny_data, tmp_path):
    config = os.path.join(ROOT, "tests", "data", "paddleclas_GoogLeNet.yaml")
    out = str(tmp_path / "out")
    overrides = ["Global.epochs=1", f"Global.output_dir={out}"]
    for split, listing in (("Train", "train_list.txt"), ("Eval", "val_list.txt")):
        overrides += [f"DataLoader.{split}.dataset.image_root={tiny_data}",
                      f"DataLoader.{split}.dataset.cls_label_path={tiny_data}/{listing}"]
    proc = subprocess.run(
        [sys.executable, "tools/train.py", "-c", str(config), *sum((["-o", o] for o in overrides), [])],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Global.device is gpu but" in proc.stderr  # this machine has no GPU
    run = os.path.join(out, "GoogLeNet")
    records = read_records(run)
    assert len(records) == 1 and records[0]["eval_images"] == 6
    assert paddle.load(os.path.join(run, "latest", "model.pdparams"))["head.fc.weight"].shape == [1024, 1000]


@pytest.mark.slow
def test_two_cpu_processes_through_paddles_launcher(tiny_data, tmp_path):
    """Data-parallel on CPU (gloo): each rank reads half the data, rank 0 writes."""
    out = str(tmp_path / "out")
    logs = str(tmp_path / "logs")
    # The demo set is generated by rank 0 alone while rank 1 waits (it trains on tiny_data).
    demo = str(tmp_path / "demo")
    overrides = tiny_overrides(tiny_data, out, epochs=1, **{"Global.demo_dataset": demo})
    proc = subprocess.run(
        [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
         "--log_dir", logs, "tools/train.py", "-c", "configs/googlenet.yaml",
         *sum((["-o", o] for o in overrides), [])],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    worker_logs = {name: open(os.path.join(logs, name)).read() for name in os.listdir(logs)
                   if name.startswith("workerlog")}
    assert proc.returncode == 0, proc.stderr[-2000:] + "\n".join(worker_logs.values())[-3000:]
    rank0 = worker_logs["workerlog.0"]
    # 12 training images, 4 per batch and process, 2 processes: 2 steps per epoch each.
    assert "2 process(es)" in rank0 and "2 steps per epoch" in rank0
    assert "2 steps per epoch" in worker_logs["workerlog.1"]
    run = os.path.join(out, "GoogLeNet")
    records = read_records(run)
    assert len(records) == 1  # written once, by rank 0
    assert records[0]["eval_images"] == 6
    assert os.path.isfile(os.path.join(run, "latest", "model.pdparams"))
    assert os.path.isfile(os.path.join(demo, "manifest.json"))
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".demo") or "tmp" in n]


def _step_losses(run_dir):
    import re
    log = open(os.path.join(run_dir, "GoogLeNet", "train.log")).read()
    return [float(x) for x in re.findall(r"\[Iter \d+/\d+\] lr: \S+ loss: (\S+)", log)]


@pytest.mark.slow
def test_to_static_trains_as_dygraph_does(tiny_data, tmp_path):
    from paddle.jit.dy2static.program_translator import StaticFunction
    losses, evals = {}, {}
    for static in (False, True):
        out = str(tmp_path / f"static_{static}")
        engine = Engine(tiny_config(tiny_data, out, epochs=2, **{
            "Global.to_static": static, "DataLoader.Train.sampler.batch_size": 2,
            "Arch.dropout": 0, "Arch.aux_dropout": 0,
            # The same kernels in both (tracing leaves out the dygraph GEMM bias path).
            "Global.cpu_fast_paths": False}))
        assert isinstance(engine.network.forward, StaticFunction) == static
        engine.train()
        losses[static] = _step_losses(out)
        evals[static] = [r["eval_loss"] for r in read_records(os.path.join(out, "GoogLeNet"))]
    assert len(losses[True]) == 12  # 6 batches of 2 per epoch
    np.testing.assert_allclose(losses[True], losses[False], atol=1e-4, rtol=0)
    np.testing.assert_allclose(evals[True], evals[False], atol=1e-4, rtol=0)
    log = open(tmp_path / "static_True" / "GoogLeNet" / "train.log").read()
    assert "Global.to_static: the network runs through paddle.jit.to_static" in log


@pytest.mark.slow
def test_paddleclas_global_keys_are_accepted_or_refused_by_name(tiny_data, tmp_path):
    out = str(tmp_path / "run")
    Engine(tiny_config(tiny_data, out, epochs=1, **{
        "Global.use_dali": True, "Global.image_channel": 3,
        "Global.eval_mode": "classification"})).train()
    log = open(os.path.join(out, "GoogLeNet", "train.log")).read()
    assert log.count("Global.use_dali: NVIDIA DALI is not used") == 1
    for key, value, message in (
            ("Global.image_channel", 4, "GoogLeNet takes 3-channel images"),
            ("Global.train_mode", "progressive", "not supported"),
            ("Global.eval_mode", "retrieval", "Global.eval_mode")):
        with pytest.raises(ConfigError, match=message):
            tiny_config(tiny_data, out, **{key: value})
