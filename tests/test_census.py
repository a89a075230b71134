"""tools/paddleclas_census.py on a few configs written in PaddleClas's spelling."""

import json
import os
import subprocess
import sys

from paddle_googlenet.census import main

from tiny import ROOT

CONFIGS = os.path.join(os.path.dirname(__file__), "data", "census")


def data_args(data):
    return ["--image-root", data, "--train-list", os.path.join(data, "train_list.txt"),
            "--val-list", os.path.join(data, "val_list.txt"), "--class-num", "6"]


def test_census_counts_accepts_refuses_and_skips(tiny_data, tmp_path, capsys):
    out = tmp_path / "census.json"
    assert main([CONFIGS, "--json", str(out), *data_args(tiny_data)]) == 0
    printed = capsys.readouterr().out
    lines = {line.split()[1].rstrip(":"): line for line in printed.splitlines()
             if line.split() and line.split()[0] in ("accepted", "refused", "skipped")}

    assert lines["ResNet/ResNet18_accepted.yaml"].startswith("accepted")
    to_static = os.path.join(CONFIGS, "ResNet", "ResNet34_to_static.yaml")
    assert lines["ResNet/ResNet34_to_static.yaml"].startswith(
        f"refused  ResNet/ResNet34_to_static.yaml: {to_static}:11: Global.to_static: unknown key")
    assert "Optimizer.centered: RMSProp has no such argument" in \
        lines["ResNet/ResNet50_rmsprop_centered.yaml"]
    ema = os.path.join(CONFIGS, "ResNet", "ResNet50_ema.yaml")
    assert lines["ResNet/ResNet50_ema.yaml"].endswith(f"{ema}: unknown section 'EMA'; valid "
                                                       f"sections: Global, AMP, Arch, Loss, "
                                                       f"Optimizer, DataLoader, Infer, Metric")
    assert lines["Distillation/res2net_distill.yaml"].endswith(
        "distillation model (Arch.name: DistillationModel)")
    assert lines["Distillation/dml_loss_only.yaml"].endswith("distillation loss (Loss.Train: DML*)")

    assert "total 6: accepted 1, refused 3, skipped 2" in printed
    assert "  skipped 1: distillation model (Arch.name: DistillationModel)" in printed
    assert "top refusal reasons (3 of 3):" in printed
    # each Optimizer section is also built alone, whatever refused the config first
    assert "Optimizer sections built on their own: 3 of 4" in printed
    assert "[Optimizer alone: Optimizer.centered: RMSProp has no such argument" in \
        lines["ResNet/ResNet50_rmsprop_centered.yaml"]

    report = json.loads(out.read_text())
    assert report["counts"] == {"total": 6, "accepted": 1, "refused": 3, "skipped": 2}
    reasons = {r["message"].split(":")[0]: r["count"] for r in report["refusal_reasons"]}
    # grouped without the file's path, which some messages start with
    assert reasons == {"Global.to_static": 1, "Optimizer.centered": 1,
                       "unknown section 'EMA'; valid sections": 1}
    assert report["optimizer_sections"]["tried"] == 4
    assert report["optimizer_sections"]["built"] == 3
    assert report["optimizer_sections"]["refusal_reasons"][0]["message"].startswith(
        "Optimizer.centered: RMSProp has no such argument")
    accepted = next(c for c in report["configs"] if c["status"] == "accepted")
    assert "Arch={'name': 'GoogLeNet', 'class_num': 6}" in accepted["overrides"]
    # the recipe's Piecewise learning_rate rule gives its own lists: nothing to warn about
    assert not any("Piecewise" in w for w in accepted["warnings"])
    assert any(w.startswith("Optimizer.multi_precision:") for w in accepted["warnings"])


def test_census_tool_reports_a_missing_folder_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "paddleclas_census.py"),
                             str(tmp_path / "nowhere")], capture_output=True, text=True,
                            cwd=str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nowhere'}: not a folder of PaddleClas configs"]
