"""What a user sees in the first hour of runs: overwrite never deletes the weights it
reads, resume and pruning say what they did, a quiet log that still holds warnings,
absolute data paths, and a readable plot."""

import os
import re
import warnings

import pytest

from paddle_googlenet.cli import train_main
from paddle_googlenet.config import load_config
from paddle_googlenet.data import ensure_demo_dataset
from paddle_googlenet.engine import Engine, components
from paddle_googlenet.engine.report import metrics_figure
from paddle_googlenet.engine.rundir import ResumePoint
from helpers import QUICK, argv_of, contents_of, copy_run, read_records
from tiny import DEFAULT_CONFIG, tiny_overrides


@pytest.fixture(scope="module")
def trained(trained_run_10_classes):
    """A finished 1-epoch run of 10 classes (the tiny set has 6): its output and run dir."""
    return os.path.dirname(trained_run_10_classes), trained_run_10_classes


# ------------------------------------------------------------------ overwrite and weights

@pytest.mark.parametrize("key, relative", [("Global.pretrained_model", "best_model"),
                                           ("Arch.pretrained", "best_model/model.pdparams")])
@pytest.mark.slow
def test_overwrite_refuses_to_delete_the_weights_it_fine_tunes_from(tiny_data, trained, capfd,
                                                                    key, relative):
    out, run = trained
    before = contents_of(run), sorted(os.listdir(run))
    capfd.readouterr()
    code = train_main(argv_of(tiny_overrides(tiny_data, out, epochs=1, **{
        key: os.path.join(run, relative), "Global.overwrite": True})))
    err = capfd.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"error: {key}: {os.path.join(run, relative)} is the earlier run's best_" in err
    assert "Global.overwrite=True deletes" in err and "-o Global.output_dir=" in err
    assert (contents_of(run), sorted(os.listdir(run))) == before


@pytest.mark.slow
def test_fine_tuning_logs_the_weights_and_the_warning_in_train_log(tiny_data, trained,
                                                                   tmp_path):
    _, run = trained
    out = str(tmp_path / "tuned")
    config = load_config(DEFAULT_CONFIG, tiny_overrides(tiny_data, out, epochs=1, **{
        **QUICK, "Global.pretrained_model": os.path.join(run, "latest")}))
    with pytest.warns(UserWarning, match="left at initialisation"):
        engine = Engine(config)
    engine.train()
    log = open(os.path.join(out, "GoogLeNet", "train.log")).read()
    assert re.search(r"UserWarning: .*head parameters left at initialisation", log)
    assert (f"Global.pretrained_model: loaded {len(engine.parts.weights_report['loaded'])} "
            f"parameter tensors from {os.path.join(run, 'latest', 'model.pdparams')}") in log
    # Said once, by the warning, which names the heads.
    assert log.count("left at initialisation") == 1
    assert re.search(r"left at initialisation .*: head\.fc\.weight", log)
    assert engine.network.head.fc.weight.shape == [1024, 6]


@pytest.mark.slow
def test_overwrite_logs_what_it_removed(tiny_data, trained_run, tmp_path):
    copy = str(tmp_path / "copy")
    copy_run(trained_run, copy)  # a finished 1-epoch run
    Engine(load_config(DEFAULT_CONFIG, tiny_overrides(
        tiny_data, copy, epochs=1, **{**QUICK, "Global.overwrite": True}))).train()
    log = open(os.path.join(copy, "GoogLeNet", "train.log")).read()
    assert ("Global.overwrite: removed the earlier run's best_epoch_1, best_model, epoch_1, "
            "latest, metrics.jsonl, metrics.png") in log
    # every step line ends with the time left, PaddleClas-style; the last one with none
    steps = re.findall(r"\[Iter (\d+)/(\d+)\] .* eta: (\d+):(\d\d):(\d\d)$", log, re.M)
    assert steps and steps[-1][0] == steps[-1][1] and steps[-1][2:] == ("0", "00", "00")


def test_training_eta_counts_the_steps_left_at_this_epochs_pace():
    import time

    from paddle_googlenet.engine.callbacks import training_eta
    from paddle_googlenet.engine.state import RunState

    state = RunState(epochs=7, steps_per_epoch=47, epoch=2, started=time.time() - 20)
    # 2 s a step so far; 37 steps of this epoch and 5 epochs of 47 left: 272 steps
    assert training_eta(state, 10) == "0:09:04"
    resumed = RunState(epochs=2, steps_per_epoch=10, epoch=2, steps_before=4,
                       seconds_before=8, started=time.time() - 4)
    assert training_eta(resumed, 6) == "0:00:08"  # 2 s a step, 4 steps left


# ------------------------------------------------------------------ resume and pruning

@pytest.mark.slow
def test_resume_with_other_epochs_warns_and_pruning_is_logged(tiny_data, tmp_path):
    out = str(tmp_path / "out")
    run = os.path.join(out, "GoogLeNet")
    Engine(load_config(DEFAULT_CONFIG, tiny_overrides(
        tiny_data, out, epochs=2, **{**QUICK, "Global.keep_checkpoints": 1}))).train()
    assert sorted(n for n in os.listdir(run) if n.startswith("epoch_")) == ["epoch_2"]
    Engine(load_config(DEFAULT_CONFIG, tiny_overrides(tiny_data, out, epochs=3, **{
        **QUICK, "Global.checkpoints": os.path.join(run, "latest")}))).train()
    log = open(os.path.join(run, "train.log")).read()
    assert "removed older checkpoint(s) epoch_1: Global.keep_checkpoints keeps the newest 1" in log
    warning = "the LR schedule was built for 2 epochs, now 3: from epoch 3 on"
    assert warning in log
    assert log.index(warning) < log.index("[Train][Epoch 3/3]")
    # the default keeps two
    assert sorted(n for n in os.listdir(run) if n.startswith("epoch_")) == ["epoch_2", "epoch_3"]
    assert [r.get("resumed", False) for r in read_records(run)] == [False, False, True]


def test_schedule_warning_only_when_the_schedule_changed():
    point = ResumePoint(start_epoch=2, path="x", schedule=(5, 10))
    assert point.schedule_warning(5, 10) is None
    assert ResumePoint(start_epoch=2, path="x").schedule_warning(7, 10) is None  # older file
    assert point.schedule_warning(7, 10).startswith(
        "the LR schedule was built for 5 epochs, now 7: from epoch 3 on")
    assert "for 10 steps per epoch, now 12" in point.schedule_warning(5, 12)


# ------------------------------------------------------------------ the log

@pytest.mark.slow
def test_config_goes_to_its_file_with_a_pointer_and_data_paths_are_absolute(
        tiny_data, tmp_path, capfd, monkeypatch):
    monkeypatch.chdir(tmp_path)
    relative = os.path.relpath(tiny_data, tmp_path)
    options = tiny_overrides(tiny_data, "out", epochs=1, **{
        **QUICK, "DataLoader.Train.dataset.image_root": relative,
        "DataLoader.Train.dataset.cls_label_path": os.path.join(relative, "train_list.txt")})
    capfd.readouterr()
    assert train_main(argv_of(options)) == 0
    stdout = capfd.readouterr().out
    run = os.path.join("out", "GoogLeNet")
    pointer = (f"resolved config (defaults and -o overrides applied): {run}/config.yaml "
               f"(--show-config prints it)")
    assert pointer in stdout
    assert "transform_ops" not in stdout and "transform_ops" in open(f"{run}/config.yaml").read()
    line = next(line for line in stdout.splitlines() if "] data: " in line)
    assert f"data: Train {tiny_data}, {tiny_data}/train_list.txt;" in line
    assert f"relative paths in the config resolve against the working directory, {tmp_path}" in line

    assert train_main(argv_of(options + ["Global.overwrite=True"], "--show-config")) == 0
    stdout = capfd.readouterr().out
    assert stdout.startswith("Global:\n") and "transform_ops:" in stdout


@pytest.mark.slow
def test_a_warning_raised_while_training_is_in_train_log(tiny_data, tmp_path):
    out = str(tmp_path / "out")
    engine = Engine(load_config(DEFAULT_CONFIG, tiny_overrides(tiny_data, out, epochs=1,
                                                               **QUICK)))
    compute = engine.loss.forward

    def forward(*args):
        warnings.warn("a warning from inside a training step")
        return compute(*args)

    engine.loss.forward = forward
    engine.train()
    log = open(os.path.join(out, "GoogLeNet", "train.log")).read()
    assert "UserWarning: a warning from inside a training step" in log


def test_demo_dataset_generation_is_announced_once(tmp_path, monkeypatch):
    said = []
    small = dict(num_classes=2, train_per_class=1, eval_per_class=1, image_size=32)
    ensure_demo_dataset(str(tmp_path / "demo"), announce=said.append, **small)
    ensure_demo_dataset(str(tmp_path / "demo"), announce=said.append, **small)
    assert said == [str(tmp_path / "demo")]
    # The engine's words for it:
    monkeypatch.setattr(components, "ensure_demo_dataset",
                        lambda root, announce=None: announce(os.path.abspath(root)))
    said.clear()
    components._ensure_demo_dataset("rel/demo", said.append)
    assert said == [f"writing the demo dataset to {os.path.abspath('rel/demo')} "
                    f"(first run only)"]


# ------------------------------------------------------------------ the plot

def test_plot_has_integer_epochs_labels_title_and_a_resume_marker():
    records = [{"epoch": e, "train_loss": 2.0 - e / 10, "train_top1": e / 10,
                **({"eval_loss": 1.5, "eval_top1": 0.3} if e % 2 == 0 else {}),
                **({"resumed": True} if e == 4 else {})} for e in range(1, 8)]
    fig = metrics_figure(records, "GoogLeNet: output/GoogLeNet")
    assert fig._suptitle.get_text() == "GoogLeNet: output/GoogLeNet"
    for ax in fig.axes:
        assert ax.get_ylabel() and ax.get_xlabel() == "epoch"
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)
        markers = [line for line in ax.lines if line.get_label() == "resumed"]
        assert len(markers) == 1 and list(markers[0].get_xdata()) == [3.5, 3.5]
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_a_signal_repeated_within_the_window_is_one_request_a_later_one_stops_at_once(monkeypatch):
    """paddle.distributed.launch sends SIGTERM up to three times 0.2 s apart: those
    repeats must not turn a graceful stop into an abort; a later signal still does."""
    import signal as signal_module
    from paddle_googlenet.engine import signals

    clock = [100.0]
    monkeypatch.setattr(signals.time, "monotonic", lambda: clock[0])
    stop = signals.StopSignal()
    with stop.installed():
        os.kill(os.getpid(), signal_module.SIGTERM)
        clock[0] += 0.2
        os.kill(os.getpid(), signal_module.SIGTERM)
        clock[0] += 0.2
        os.kill(os.getpid(), signal_module.SIGTERM)
        assert stop.signum == signal_module.SIGTERM
        clock[0] += signals.REPEAT_WINDOW
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal_module.SIGINT)


def test_callbacks_run_in_the_order_the_trainer_documents(tiny_data, tmp_path,
                                                          trained_run_10_classes):
    """training_callbacks builds the list its docstring numbers, every optional one
    included (EMA, gradient accumulation, an extra callback)."""
    import paddle

    from paddle_googlenet.engine.state import RunState

    class Extra(paddle.callbacks.Callback):
        pass

    engine = Engine(load_config(DEFAULT_CONFIG, tiny_overrides(
        tiny_data, str(tmp_path), epochs=1,
        **{"EMA.decay": 0.9, "Global.update_freq": 2, "Global.freeze_epochs": 1,
           "Global.pretrained_model": os.path.join(trained_run_10_classes, "best_model")})))
    engine.extra_callbacks = [Extra()]
    names = [type(c).__name__ for c in engine.training_callbacks(RunState(1, 3))]
    assert names == ["EpochProgress", "FrozenTrunk", "NonFiniteLossGuard", "MovingAverage", "TrainLog",
                     "Evaluation", "MetricsLog", "BestModel", "Checkpoints", "StopOnSignal",
                     "Extra", "StepLROnUpdates"]
    # the first name of each numbered item of the docstring
    documented = re.findall(r"^\s*\d+\. .*?``(\w+)``", Engine.training_callbacks.__doc__, re.M)
    assert documented == [n for n in names if n != "Extra"]
