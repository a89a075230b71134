"""Multi-crop and ensemble evaluation end to end on two tiny images: ensembles of
one, probabilities averaged over models, the Table 3 pass, tools/eval.py's flags."""

import json
import os
import re

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


def test_an_ensemble_of_one_is_the_single_model_and_two_average_probabilities(two_images):
    config = config_of(two_images)
    a, b = two_images["a"], two_images["b"]
    # one crop of one model through the crop loader: the plain evaluation's figures
    engine = Engine(config_of(two_images, f"Global.pretrained_model={a}"), mode="eval")
    plain = engine.evaluate()
    one = evaluate_crops(config, [a], crops=1).rows
    assert [(r.models, r.crops, r.forward_passes) for r in one] == [(1, 1, 1)]
    assert scores(one[0]) == (plain["images"], pytest.approx(plain["top1"]),
                              pytest.approx(plain["top5"]))
    # the same model twice is the model once, crops included
    ten = evaluate_crops(config, a, crops=10).rows[0]
    twice = evaluate_crops(config, [a, a], crops=10).rows[0]
    assert (twice.models, twice.forward_passes) == (2, 20)
    assert scores(twice) == scores(ten)
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
    pair = evaluate_crops(config, [a, b], crops=1).rows[0]
    assert pair.top1 == pytest.approx(hits / images)


def test_eval_prints_the_ensembles_row(two_images, capsys):
    a, b = two_images["a"], two_images["b"]
    argv = ["-c", DEFAULT_CONFIG]
    for option in two_images["options"] + [f"Global.pretrained_model=[{a},{b}]"]:
        argv += ["-o", option]
    capsys.readouterr()
    assert eval_main(argv) == 0
    printed = capsys.readouterr().out.splitlines()
    assert f"weights 2: {b}" in printed
    assert re.search(r"^\s+2\s+1\s+2\s+\d+\.\d\d%", "\n".join(printed), re.M)
    assert eval_main(argv + ["-o", "Eval.crops=7"]) == 2
    assert "Eval.crops: 7 is not a crop count" in capsys.readouterr().err


def test_weights_of_another_class_count_are_refused_in_an_ensemble(two_images, tmp_path):
    ten_classes = str(tmp_path / "ten.pdparams")
    paddle.save(build_model({"name": "GoogLeNet", "class_num": 10,
                             "adaptive_pool": True}).state_dict(), ten_classes)
    with pytest.raises(WeightsError, match="10"):
        evaluate_crops(config_of(two_images), [two_images["a"], ten_classes], crops=10)


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
    rows = {(r["models"], r["crops"]): r for r in report["rows"]}
    assert sorted(rows) == [(1, 1), (1, 10), (1, 144), (2, 1), (2, 10), (2, 144)]
    assert [rows[k]["forward_passes"] for k in sorted(rows)] == [1, 10, 144, 2, 20, 288]
    for key, row in rows.items():
        assert row["images"] == 1
        assert row["top1_error"] == pytest.approx(1 - row["top1"])
    alone = evaluate_crops(config_of(two_images, one_image), [a, b], crops=10).rows[0]
    assert (rows[2, 10]["top1"], rows[2, 10]["top5"]) == (pytest.approx(alone.top1),
                                                          pytest.approx(alone.top5))


@pytest.mark.slow
def test_table_of_a_runs_best_model_and_its_checkpoints(two_images, trained_run, capsys):
    """As on the demo: the run's best model, then it with the last checkpoint."""
    best, last = (os.path.join(trained_run, name) for name in ("best_model", "latest"))
    argv = ["-c", DEFAULT_CONFIG, "--table"]
    for option in two_images["options"] + [
            f"Global.pretrained_model=[{best},{last}]",
            f"DataLoader.Eval.dataset.cls_label_path={two_images['one_image']}"]:
        argv += ["-o", option]
    capsys.readouterr()
    assert eval_main(argv) == 0
    printed = capsys.readouterr().out
    assert f"weights 1: {best}" in printed and f"weights 2: {last}" in printed
    rows = re.findall(r"^\s+(\d)\s+(\d+)\s+(\d+)\s+[\d.]+%", printed, re.M)
    assert rows == [("1", "1", "1"), ("1", "10", "10"), ("1", "144", "144"),
                    ("2", "1", "2"), ("2", "10", "20"), ("2", "144", "288")]
