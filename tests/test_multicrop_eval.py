"""Multi-crop and ensemble evaluation end to end on two tiny images: ensembles of
one, probabilities averaged over models, the Table 3 pass, tools/eval.py's flags."""

import json
import os
import re

import numpy as np
import paddle
import pytest

from helpers import random_weights, separable_weights
from paddle_googlenet.cli import eval_main
from paddle_googlenet.config import load_config
from paddle_googlenet.engine import Engine
from paddle_googlenet.engine.multicrop import evaluate_crops, weights_files
from paddle_googlenet.errors import WeightsError
from paddle_googlenet.models import build_model
from tiny import DEFAULT_CONFIG, tiny_overrides


@pytest.fixture(scope="module")
def two_images(tiny_data, tmp_path_factory):
    """The tiny set's evaluation list cut to two images, and two sets of weights
    that disagree."""
    root = tmp_path_factory.mktemp("two_images")
    lines = open(os.path.join(tiny_data, "val_list.txt")).read().splitlines()[:2]
    val_list = root / "val_list.txt"
    val_list.write_text("\n".join(lines) + "\n")
    options = tiny_overrides(tiny_data, str(root / "out"), **{
        "DataLoader.Eval.dataset.cls_label_path": str(val_list),
        "Infer.PostProcess.class_id_map_file": os.path.join(tiny_data, "label_list.txt")})
    one = root / "one_image.txt"
    one.write_text(lines[0] + "\n")
    return {"options": options, "one_image": str(one),
            "a": separable_weights(str(root / "a.pdparams")),
            "b": random_weights(str(root / "b.pdparams"))}


def config_of(two_images, *extra):
    return load_config(DEFAULT_CONFIG, two_images["options"] + list(extra))


def scores(row):
    return row.images, row.top1, row.top5


def test_weights_files_reads_one_path_a_list_and_an_overrides_brackets():
    assert weights_files("a/best_model") == ["a/best_model"]
    assert weights_files("[a/best_model, b/epoch_2]") == ["a/best_model", "b/epoch_2"]
    assert weights_files(["x", "y"]) == ["x", "y"]


def figures_of(report):
    """The scores of a report, without the loss (averaged probabilities have none)."""
    return {k: v for k, v in report.figures.items() if k != "loss"}


def test_an_ensemble_of_one_is_the_single_model_and_two_average_probabilities(two_images):
    config = config_of(two_images)
    a, b = two_images["a"], two_images["b"]
    # one crop of one model through the crop loader: the plain evaluation's report,
    # scored by the same metrics, per class too
    engine = Engine(config_of(two_images, f"Global.pretrained_model={a}"), mode="eval")
    plain = engine.evaluation_report()
    one = evaluate_crops(config, [a], crops=1)
    assert one.figures["loss"] is None and plain.figures["loss"] is not None
    assert set(one.figures) == set(plain.figures)
    assert figures_of(one) == pytest.approx(figures_of(plain))
    assert (one.confusion == plain.confusion).all()
    assert (one.weights, one.crops, one.table, one.protocol) == ([a], 1, [], None)
    # the same model twice is the model once, crops included
    ten = evaluate_crops(config, a, crops=10)
    twice = evaluate_crops(config, [a, a], crops=10)
    assert (twice.weights, twice.crops) == ([a, a], 10)
    assert twice.protocol == "64-pixel crops (resize_short 72 for 10 crops), bilinear interpolation"
    assert figures_of(twice) == pytest.approx(figures_of(ten))
    # two models: the mean of their softmax probabilities, computed here by hand
    other = build_model(config["Arch"])
    other.set_state_dict(paddle.load(b))
    other.eval()
    hits, images = 0, 0
    with paddle.no_grad():
        for inputs, labels in engine.eval_loader:
            mean = sum(paddle.nn.functional.softmax(n(inputs)[0], axis=-1).numpy()
                       for n in (engine.network, other)) / 2
            hits += int((mean.argmax(axis=1) == labels.numpy().reshape(-1)).sum())
            images += len(mean)
    pair = evaluate_crops(config, [a, b], crops=1)
    assert pair.figures["images"] == images
    assert pair.figures["top1"] == pytest.approx(hits / images)
    assert int(pair.confusion.trace()) == hits


def test_crops_are_cut_in_the_loaders_workers(two_images, monkeypatch):
    """With DataLoader.Eval.loader.num_workers, the decoding and cutting happen in
    the worker processes (none in this one), and the report is the same."""
    from paddle_googlenet.data.multicrop import MultiCropTransform

    cut_here = []
    cut = MultiCropTransform.__call__

    def recorded(self, data):
        cut_here.append(os.getpid())  # a worker appends to its own copy of the list
        return cut(self, data)

    monkeypatch.setattr(MultiCropTransform, "__call__", recorded)
    a = two_images["a"]
    alone = evaluate_crops(config_of(two_images), [a], crops=10)
    assert cut_here == [os.getpid()] * 2
    cut_here.clear()
    shared = evaluate_crops(config_of(two_images, "DataLoader.Eval.loader.num_workers=2"),
                            [a], crops=10)
    assert cut_here == []
    assert shared.figures == alone.figures and (shared.confusion == alone.confusion).all()


def test_eval_prints_the_ensembles_report(two_images, capsys):
    a, b = two_images["a"], two_images["b"]
    argv = ["-c", DEFAULT_CONFIG]
    for option in two_images["options"] + [f"Global.pretrained_model=[{a},{b}]"]:
        argv += ["-o", option]
    capsys.readouterr()
    assert eval_main(argv) == 0
    printed = capsys.readouterr().out
    assert f"weights 1: {a}\nweights 2: {b}\n" in printed
    assert re.search(r"^images: 2  loss: -  top1: [\d.]+  top5: [\d.]+", printed, re.M)
    assert len(re.findall(r"^\s+\d+  \S+\s+\d+\s+(?:[\d.]+|-)$", printed, re.M)) == 6
    assert eval_main(argv + ["-o", "Eval.crops=7"]) == 2
    assert "Eval.crops: 7 is not a crop count" in capsys.readouterr().err
    assert eval_main(argv + ["--ensemble", a]) == 2
    assert "--ensemble: names the weights of --table's ensemble rows" in capsys.readouterr().err
    assert eval_main(argv + ["--table", "--ensemble", a]) == 2
    assert f"ensemble: {a} alone is no ensemble" in capsys.readouterr().err
    assert eval_main(argv + ["--table", "--ensemble", "[]"]) == 2
    assert "error: --ensemble: no weights file in" in capsys.readouterr().err


def test_figures_per_class_and_table_agree_when_every_class_ties(two_images, tmp_path):
    """A head of zeros gives every class the same probability: the figures, the
    per-class counts and the table's row of the same evaluation pick one class."""
    tied = build_model({"name": "GoogLeNet", "class_num": 6, "adaptive_pool": True})
    for name, parameter in tied.named_parameters():
        if name.startswith("head.fc"):
            parameter.set_value(np.zeros(parameter.shape, "float32"))
    path = str(tmp_path / "tied.pdparams")
    paddle.save(tied.state_dict(), path)
    report = evaluate_crops(config_of(two_images), [path], table=True)
    row = report.table[0]
    assert (row.models, row.crops) == (1, 1)
    assert (report.figures["top1"], report.figures["top5"]) == (row.top1, row.top5)
    assert report.confusion.trace() == round(row.top1 * row.images)
    assert np.count_nonzero(report.confusion.sum(axis=0)) == 1  # one class for every image


def test_json_is_strict_and_names_the_confusion_matrix(two_images, tmp_path, capsys):
    """Weights that give NaN: the loss is null in the JSON (which stays valid), and
    the picture's path goes into it rather than after it."""
    broken = build_model({"name": "GoogLeNet", "class_num": 6, "adaptive_pool": True})
    weight = broken.head.fc.weight
    weight.set_value(np.full(weight.shape, np.nan, "float32"))
    path = str(tmp_path / "nan.pdparams")
    paddle.save(broken.state_dict(), path)
    picture = str(tmp_path / "confusion.png")
    argv = ["-c", DEFAULT_CONFIG, "--json", "--confusion-matrix", picture]
    for option in two_images["options"] + [f"Global.pretrained_model={path}"]:
        argv += ["-o", option]
    capsys.readouterr()
    assert eval_main(argv) == 0
    out = capsys.readouterr().out.strip()
    report = json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert report["figures"]["loss"] is None and report["figures"]["images"] == 2
    assert report["confusion_matrix_png"] == picture and os.path.getsize(picture) > 0
    assert len(out.splitlines()) == 1


def test_weights_of_another_class_count_are_refused_in_an_ensemble(two_images, tmp_path):
    ten_classes = str(tmp_path / "ten.pdparams")
    paddle.save(build_model({"name": "GoogLeNet", "class_num": 10,
                             "adaptive_pool": True}).state_dict(), ten_classes)
    with pytest.raises(WeightsError, match="10"):
        evaluate_crops(config_of(two_images), [two_images["a"], ten_classes], crops=10)
    with pytest.raises(WeightsError, match=r"^ensemble: .*10"):
        evaluate_crops(config_of(two_images), [two_images["a"]], table=True,
                       ensemble=[two_images["b"], ten_classes])


@pytest.mark.slow
def test_table_scores_every_protocol_from_one_pass_as_separate_runs_would(two_images,
                                                                          capsys):
    a, b = two_images["a"], two_images["b"]
    one_image = f"DataLoader.Eval.dataset.cls_label_path={two_images['one_image']}"
    argv = ["-c", DEFAULT_CONFIG, "--table", "--json"]
    for option in two_images["options"] + [f"Global.pretrained_model={a}",
                                           f"Global.pretrained_model={b}", one_image]:
        argv += ["-o", option]  # a repeated -o adds to the ensemble
    capsys.readouterr()
    assert eval_main(argv) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = {(r["models"], r["crops"]): r for r in report["table"]}
    assert sorted(rows) == [(1, 1), (1, 10), (1, 144), (2, 1), (2, 10), (2, 144)]
    assert [rows[k]["forward_passes"] for k in sorted(rows)] == [1, 10, 144, 2, 20, 288]
    assert [rows[k]["weights"] for k in sorted(rows)] == [[a]] * 3 + [[a, b]] * 3
    for key, row in rows.items():
        assert row["images"] == 1
        assert row["top1_error"] == pytest.approx(1 - row["top1"])
    config = config_of(two_images, one_image)
    alone = evaluate_crops(config, [a, b], crops=10)
    assert (rows[2, 10]["top1"], rows[2, 10]["top5"]) == (pytest.approx(alone.figures["top1"]),
                                                          pytest.approx(alone.figures["top5"]))
    # the evaluation asked for (Eval.crops 1, both weights) heads the report
    assert (report["weights"], report["crops"]) == ([a, b], 1)
    assert report["figures"]["top1"] == pytest.approx(rows[2, 1]["top1"])
    assert report["figures"]["loss"] is None and report["figures"]["images"] == 1
    assert sum(sum(r) for r in report["confusion"]) == 1
    assert [c["images"] for c in report["per_class"]].count(1) == 1


@pytest.fixture(scope="module")
def two_epoch_run(tiny_data, tmp_path_factory):
    """A 2-epoch run of the default config on 12 training images, keeping both epoch
    checkpoints: ``best_model``, ``epoch_1``, ``epoch_2``, as the demo's run leaves."""
    root = tmp_path_factory.mktemp("two_epoch_run")
    lines = open(os.path.join(tiny_data, "train_list.txt")).read().splitlines()[:12]
    (root / "train.txt").write_text("\n".join(lines) + "\n")
    Engine(load_config(DEFAULT_CONFIG, tiny_overrides(tiny_data, str(root), epochs=2, **{
        "DataLoader.Train.dataset.cls_label_path": str(root / "train.txt"),
        "Global.keep_checkpoints": 2}))).train()
    return os.path.join(str(root), "GoogLeNet")


@pytest.mark.slow
def test_table_of_a_runs_best_model_and_an_ensemble_of_its_last_two_checkpoints(
        two_images, two_epoch_run, capsys):
    """As on the demo: the 1-model rows are the best model's, the 2-model rows the
    last two checkpoints' (``--ensemble``, repeated: it adds up), each file read once."""
    best, first, second = (os.path.join(two_epoch_run, name)
                           for name in ("best_model", "epoch_1", "epoch_2"))
    one_image = f"DataLoader.Eval.dataset.cls_label_path={two_images['one_image']}"
    argv = ["-c", DEFAULT_CONFIG, "--table", "--ensemble", first, "--ensemble", second]
    for option in two_images["options"] + [f"Global.pretrained_model={best}", one_image]:
        argv += ["-o", option]
    capsys.readouterr()
    assert eval_main(argv) == 0
    printed = capsys.readouterr().out
    assert f"weights: {best}\n" in printed
    rows = re.findall(r"^\s+(\d)\s+(\d+)\s+(\d+)\s+([\d.]+)%\s+([\d.]+)%", printed, re.M)
    assert [row[:3] for row in rows] == [
        ("1", "1", "1"), ("1", "10", "10"), ("1", "144", "144"),
        ("2", "1", "2"), ("2", "10", "20"), ("2", "144", "288")]
    assert f"1 model: {best}\n2 models: {first}, {second}" in printed
    ensemble = evaluate_crops(config_of(two_images, one_image), [first, second], crops=10)
    assert float(rows[4][3]) == pytest.approx(100 * ensemble.figures["top1"], abs=0.006)
    assert float(rows[4][4]) == pytest.approx(100 * ensemble.figures["top5"], abs=0.006)
