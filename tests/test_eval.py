"""tools/eval.py: the main head's figures on the Eval split, per class too."""

import json
import os
import re

import pytest

from paddle_googlenet.cli import eval_main
from tiny import DEFAULT_CONFIG, tiny_overrides


@pytest.mark.slow
def test_eval_of_a_checkpoint_matches_the_training_runs_last_eval(tiny_data, trained_run,
                                                                  tmp_path, capsys):
    out, run = str(tmp_path / "out"), trained_run
    trained = [json.loads(line) for line in open(os.path.join(run, "metrics.jsonl"))][-1]
    png = str(tmp_path / "confusion.png")
    argv = ["-c", DEFAULT_CONFIG, "--confusion-matrix", png]
    for option in tiny_overrides(tiny_data, out, epochs=1,
                                 **{"Global.pretrained_model": os.path.join(run, "latest"),
                                    "Infer.PostProcess.class_id_map_file":
                                        os.path.join(tiny_data, "label_list.txt")}):
        argv += ["-o", option]
    capsys.readouterr()
    assert eval_main(argv) == 0
    printed = capsys.readouterr().out
    top1 = float(re.search(r"top1: ([0-9.]+)", printed).group(1))
    loss = float(re.search(r"loss: ([0-9.]+)", printed).group(1))
    assert abs(top1 - trained["eval_top1"]) < 1e-5
    assert abs(loss - trained["eval_loss"]) < 1e-4
    assert "images: 6" in printed
    # Per-class lines, labelled with the class names of the label map.
    rows = re.findall(r"^\s+(\d)\s+(\w+)\s+(\d+)\s+([0-9.]+|-)$", printed, re.M)
    assert [r[1] for r in rows] == ["circle", "square", "triangle", "cross", "ring", "star"]
    assert all(r[2] == "1" for r in rows)
    per_class = [float(r[3]) for r in rows]
    assert abs(sum(per_class) / 6 - top1) < 1e-4  # one image per class; top1 printed to 5 places
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_eval_without_weights_is_a_clear_error(tiny_data, tmp_path, capsys):
    argv = ["-c", DEFAULT_CONFIG]
    for option in tiny_overrides(tiny_data, str(tmp_path)):
        argv += ["-o", option]
    assert eval_main(argv) == 2
    err = capsys.readouterr().err
    assert "Global.pretrained_model: give the weights to evaluate" in err
    assert "Traceback" not in err
