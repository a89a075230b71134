"""tools/paddleclas_census.py on a few configs written in PaddleClas's spelling."""

import json
import os
import subprocess
import sys

import pytest

from paddle_googlenet.cli.census import main

from tiny import ROOT

CONFIGS = os.path.join(os.path.dirname(__file__), "data", "census")


def data_args(data):
    return ["--image-root", data, "--train-list", os.path.join(data, "train_list.txt"),
            "--val-list", os.path.join(data, "val_list.txt"), "--class-num", "6"]


@pytest.mark.slow
def test_census_counts_accepts_refuses_and_skips(tiny_data, tmp_path, capsys):
    out = tmp_path / "census.json"
    assert main([CONFIGS, "--json", str(out), *data_args(tiny_data)]) == 0
    printed = capsys.readouterr().out
    lines = {line.split()[1].rstrip(":"): line for line in printed.splitlines()
             if line.split() and line.split()[0] in ("accepted", "refused", "skipped")}

    assert lines["ResNet/ResNet18_accepted.yaml"].startswith("accepted")
    assert lines["ResNet/ResNet34_to_static.yaml"].startswith("accepted")
    ema = os.path.join(CONFIGS, "ResNet", "ResNet50_ema_misspelt.yaml")
    assert lines["ResNet/ResNet50_ema_misspelt.yaml"].endswith(
        f"{ema}:8: EMA.decy: unknown key (did you mean 'decay'?); valid keys: decay")
    progressive = os.path.join(CONFIGS, "ResNet", "ResNet34_progressive.yaml")
    assert lines["ResNet/ResNet34_progressive.yaml"].startswith(
        f"refused  ResNet/ResNet34_progressive.yaml: {progressive}:11: Global.train_mode: "
        f"'progressive' is not supported")
    assert "Optimizer.centered: RMSProp has no such argument" in \
        lines["ResNet/ResNet50_rmsprop_centered.yaml"]
    assert lines["Distillation/res2net_distill.yaml"].endswith(
        "distillation model (Arch.name: DistillationModel)")
    assert lines["Distillation/dml_loss_only.yaml"].endswith("distillation loss (Loss.Train: DML*)")

    assert "total 7: accepted 2, refused 3, skipped 2" in printed
    assert "  skipped 1: distillation model (Arch.name: DistillationModel)" in printed
    assert "top refusal reasons (3 of 3):" in printed
    # each Optimizer section is also built alone, whatever refused the config first
    assert "Optimizer sections built on their own: 4 of 5" in printed
    assert "[Optimizer alone: Optimizer.centered: RMSProp has no such argument" in \
        lines["ResNet/ResNet50_rmsprop_centered.yaml"]

    report = json.loads(out.read_text())
    assert report["counts"] == {"total": 7, "accepted": 2, "refused": 3, "skipped": 2}
    reasons = {r["message"].split(":")[0]: r["count"] for r in report["refusal_reasons"]}
    # grouped without the file's path, which some messages start with
    assert reasons == {"Global.train_mode": 1, "Optimizer.centered": 1, "EMA.decy": 1}
    assert report["optimizer_sections"]["tried"] == 5
    assert report["optimizer_sections"]["built"] == 4
    assert report["optimizer_sections"]["refusal_reasons"][0]["message"].startswith(
        "Optimizer.centered: RMSProp has no such argument")
    accepted = next(c for c in report["configs"] if c["status"] == "accepted")
    assert "Arch={'name': 'GoogLeNet', 'class_num': 6}" in accepted["overrides"]
    # the recipe's Piecewise learning_rate rule gives its own lists: nothing to warn about
    assert not any("Piecewise" in w for w in accepted["warnings"])
    assert any(w.startswith("Optimizer.multi_precision:") for w in accepted["warnings"])


@pytest.mark.slow
def test_census_tool_reports_a_missing_folder_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "paddleclas_census.py"),
                             str(tmp_path / "nowhere")], capture_output=True, text=True,
                            cwd=str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nowhere'}: not a folder of PaddleClas configs"]


@pytest.mark.slow
def test_census_gives_other_input_sizes_the_adaptive_heads(tiny_data, tmp_path, capsys):
    import yaml

    from paddle_googlenet.census import image_sides, needs_adaptive_heads

    with open(os.path.join(CONFIGS, "ResNet", "ResNet18_accepted.yaml")) as f:
        recipe = yaml.safe_load(f)
    assert image_sides(recipe) == [224] and not needs_adaptive_heads(recipe)
    # an Inception-v3-like recipe: 299 crops, log-uniform aspect, random interpolation
    train_ops = recipe["DataLoader"]["Train"]["dataset"]["transform_ops"]
    train_ops[1]["RandCropImage"].update(size=299, use_log_aspect=True, interpolation="random")
    eval_ops = recipe["DataLoader"]["Eval"]["dataset"]["transform_ops"]
    eval_ops[1]["ResizeImage"]["resize_short"] = 320
    eval_ops[2]["CropImage"]["size"] = 299
    assert image_sides(recipe) == [299] and needs_adaptive_heads(recipe)
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "Inception_299.yaml").write_text(yaml.safe_dump(recipe))
    recipe["DataLoader"]["Train"]["sampler"] = {"name": "MultiScaleSampler", "first_bs": 4,
                                                "scales": [224, 256], "divided_factor": 32}
    recipe["DataLoader"]["Train"]["dataset"]["name"] = "MultiScaleDataset"
    train_ops[1]["RandCropImage"]["size"] = 224
    eval_ops[2]["CropImage"]["size"] = 224
    assert image_sides(recipe) == [224, 256]  # the sampler's scales count too
    (folder / "MultiScale_224_256.yaml").write_text(yaml.safe_dump(recipe))

    out = tmp_path / "census.json"
    assert main([str(folder), "--json", str(out), *data_args(tiny_data)]) == 0
    printed = capsys.readouterr().out
    assert "total 2: accepted 2, refused 0, skipped 0" in printed
    assert "GoogLeNet with adaptive-pool heads (images not 209-224 a side): 2 configs, " \
           "2 accepted" in printed
    report = json.loads(out.read_text())
    assert report["adaptive_pool"] == {"tried": 2, "accepted": 2}
    for config in report["configs"]:
        assert config["adaptive_pool"]
        assert "Arch={'name': 'GoogLeNet', 'class_num': 6, 'adaptive_pool': True}" in \
            config["overrides"]
