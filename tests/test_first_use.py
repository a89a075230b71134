"""What a new user meets first: summary's -o without a config, config errors before
any file is written, the script API at the tools' speed, and the training log's
messages (one warning each, the epoch count's grammar, progress within short epochs)."""

import os

import pytest

from helpers import one_error
from paddle_googlenet.cli import summary_main, train_main
from tiny import DEFAULT_CONFIG, tiny_overrides


def test_summary_applies_arch_overrides_to_the_default_model(capfd):
    assert summary_main(["-o", "Arch.class_num=10", "-o", "Arch.adaptive_pool=True",
                         "--input-size", "96"]) == 0
    # 10 classes: 13,378,280 - 3 * (1024 * 990 + 990)
    assert "Total params: 10,334,030" in capfd.readouterr().out


@pytest.mark.parametrize("option, expected", [
    ("Arch.nonsense=1", "Arch.nonsense: GoogLeNet has no such argument"),
    ("Global.epochs=3", "without -c only Arch.* and Global.image_shape"),
])
def test_summary_refuses_what_it_cannot_apply(capfd, option, expected):
    assert summary_main(["-o", option]) == 2
    assert expected in one_error(capfd.readouterr().err)


def test_config_error_before_the_demo_dataset_is_written(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    assert train_main(["-c", DEFAULT_CONFIG, "-o", "DataLoader.Train.dataset.foo=1"]) == 2
    assert "DataLoader.Train.dataset" in one_error(capfd.readouterr().err)
    assert os.listdir(tmp_path) == []


def test_optimizer_error_before_the_demo_dataset_is_written(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    assert train_main(["-c", DEFAULT_CONFIG, "-o", "Optimizer.name=Adamm"]) == 2
    assert "Optimizer.name" in one_error(capfd.readouterr().err)
    assert os.listdir(tmp_path) == []


def test_script_api_names():
    import paddle_googlenet as pg

    assert "set_cpu_threads" in pg.__all__
    assert pg.set_cpu_threads(1) == 1
    assert pg.set_cpu_threads() >= 1
    assert pg.build_model("GoogLeNet").num_classes == 1000
    assert "GoogLeNet" in list(pg.MODELS)


def test_one_epoch_run_log_lines(tiny_data, tmp_path, capfd, trained_run_10_classes):
    """From weights of another class count, one epoch shorter than print_batch_step:
    the re-initialisation warning once, a progress line within the epoch, and
    "finished 1 epoch"."""
    out = str(tmp_path / "out")
    options = tiny_overrides(tiny_data, out, epochs=1, **{
        "Global.print_batch_step": 10,
        "Global.pretrained_model": os.path.join(trained_run_10_classes, "best_model")})
    capfd.readouterr()
    assert train_main(["-c", DEFAULT_CONFIG, *sum((["-o", o] for o in options), [])]) == 0
    captured = capfd.readouterr()
    shown = captured.out + captured.err
    assert shown.count("left at initialisation") == 1, shown
    log = open(os.path.join(out, "GoogLeNet", "train.log")).read()
    assert "finished 1 epoch in" in log
    # 12 images in batches of 4: 3 steps, fewer than print_batch_step: a line after the first.
    assert "[Train][Epoch 1/1][Iter 1/3]" in log, log
    assert "left at initialisation" in log


def test_freeze_epochs_keeps_the_loaded_weights_while_the_new_heads_train(
        tiny_data, tmp_path, trained_run_10_classes):
    from helpers import params_of
    from paddle_googlenet.config import load_config
    from paddle_googlenet.engine import Engine

    start = os.path.join(trained_run_10_classes, "best_model")
    out = str(tmp_path / "out")
    Engine(load_config(DEFAULT_CONFIG, tiny_overrides(tiny_data, out, epochs=1, **{
        "Global.pretrained_model": start, "Global.freeze_epochs": 1}))).train()
    before, after = params_of(start), params_of(os.path.join(out, "GoogLeNet", "latest"))
    assert (before["stem.0.weight"] == after["stem.0.weight"]).all()
    assert after["head.fc.weight"].shape == (1024, 6)  # re-initialised for 6 classes, trained
    log = open(os.path.join(out, "GoogLeNet", "train.log")).read()
    assert "Global.freeze_epochs:" in log and "re-initialised heads train" in log


def test_freeze_epochs_without_new_heads_is_refused(tiny_data, tmp_path, capfd):
    options = tiny_overrides(tiny_data, str(tmp_path), epochs=1, **{"Global.freeze_epochs": 1})
    assert train_main(["-c", DEFAULT_CONFIG, *sum((["-o", o] for o in options), [])]) == 2
    assert "Global.freeze_epochs: fixes the weights" in one_error(capfd.readouterr().err)
