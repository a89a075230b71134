"""Evaluation split across processes counts every image once: two CPU processes under
Paddle's launcher report the loss, accuracy, image count and confusion matrix of a
single process, on an evaluation set (7 images) the two cannot share evenly; so does
the multi-crop evaluation with its table."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import paddle
import pytest

from paddle_googlenet.config import load_config
from paddle_googlenet.data.loader import (DistributedBatchSampler, EvalShardBatchSampler,
                                          build_dataloader)
from helpers import argv_of, read_records
from paddle_googlenet.engine.multicrop import evaluate_crops
from tiny import DEFAULT_CONFIG, ROOT, tiny_overrides

# The loss as printed, nan or inf included, so that the test's finiteness check sees it.
EVAL_LINE = re.compile(r"images: (\d+)\s+loss: (\S+)\s+(.*)")
CLASS_LINE = re.compile(r"^\s*(\d+)\s+\S+\s+(\d+)\s+(\S+)$", re.M)


@pytest.mark.parametrize("nranks", [1, 2, 3, 8])
@pytest.mark.parametrize("shuffle", [False, True])
def test_eval_shards_hold_each_image_once(nranks, shuffle):
    dataset = list(range(7))
    shards = [EvalShardBatchSampler(dataset, batch_size=3, shuffle=shuffle,
                                    num_replicas=nranks, rank=rank) for rank in range(nranks)]
    for sampler in shards:
        sampler.set_epoch(5)  # every rank draws the same order
    seen = [i for sampler in shards for batch in sampler for i in batch]
    assert sorted(seen) == dataset
    assert [len(list(s)) for s in shards] == [len(s) for s in shards]
    assert sum(s.num_samples for s in shards) == 7
    assert [s.splits_across_ranks for s in shards] == [nranks > 1] * nranks


def test_only_evaluation_data_is_split_without_repeats(tiny_data, monkeypatch):
    # Rank 3 of 4, as Paddle's launcher sets it (the ranks are not started).
    monkeypatch.setenv("PADDLE_TRAINERS_NUM", "4")
    monkeypatch.setenv("PADDLE_TRAINER_ID", "3")
    # Paddle caches the environment's ranks on first use: read them afresh here, and
    # let later tests read their own again.
    monkeypatch.setattr(paddle.distributed.parallel, "_global_parallel_env", None)
    section = {"dataset": {"name": "ImageNetDataset", "image_root": tiny_data,
                           "cls_label_path": os.path.join(tiny_data, "val_list.txt")},
               "sampler": {"name": "DistributedBatchSampler", "batch_size": 4}}
    evaluation = build_dataloader(section, where="DataLoader.Eval", training=False).batch_sampler
    training = build_dataloader(section, where="DataLoader.Train").batch_sampler
    assert isinstance(evaluation, EvalShardBatchSampler)
    assert [len(b) for b in evaluation] == [1]  # 6 images: ranks 0 and 1 hold 2, 2 and 3 one
    assert isinstance(training, DistributedBatchSampler)
    assert [len(b) for b in training] == [2]  # padded: 8 images in all


def _eval_set(tiny_data, tmp_path):
    """The 6 evaluation images and one training image: 7, uneven over 2 ranks."""
    listing = tmp_path / "val7.txt"
    lines = open(os.path.join(tiny_data, "val_list.txt")).read().split("\n")[:6]
    lines.append(open(os.path.join(tiny_data, "train_list.txt")).readline().strip())
    listing.write_text("\n".join(line for line in lines if line) + "\n")
    assert len(listing.read_text().split()) == 14
    return str(listing)


def _command(tool, launch, logs=None):
    if not launch:
        return [sys.executable, tool]
    return [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
            "--log_dir", logs, tool]


def _run(argv, logs=None):
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    worker_logs = {}
    if logs:
        worker_logs = {name: open(os.path.join(logs, name)).read()
                       for name in sorted(os.listdir(logs)) if name.startswith("workerlog")}
    assert proc.returncode == 0, proc.stderr[-2000:] + "\n".join(worker_logs.values())[-3000:]
    return proc.stdout, worker_logs


def _parse_eval(text):
    """``{"images", "loss", "top1", ...}`` and the per-class image counts of an eval."""
    found = EVAL_LINE.search(text)
    assert found, text[-2000:]
    result = {"images": int(found.group(1)), "loss": float(found.group(2))}
    for key, value in re.findall(r"(\w+): ([\d.]+)", found.group(3)):
        result[key] = float(value)
    per_class = [int(count) for _, count, _ in CLASS_LINE.findall(text)]
    return result, per_class


@pytest.mark.slow
def test_two_processes_evaluate_as_one(tiny_data, tmp_path):
    """Evaluation during 2-process training and tools/eval.py under the launcher give
    a single process's numbers for the same weights."""
    out, logs = str(tmp_path / "out"), str(tmp_path / "logs")
    listing = _eval_set(tiny_data, tmp_path)
    # Batches of 3: rank 0 holds 4 images (batches of 3 and 1), rank 1 holds 3 (one batch).
    overrides = tiny_overrides(tiny_data, out, epochs=1, **{
        "DataLoader.Eval.dataset.cls_label_path": listing,
        "DataLoader.Eval.sampler.batch_size": 3,
        "Infer.PostProcess.class_id_map_file": os.path.join(tiny_data, "label_list.txt")})
    _run(_command("tools/train.py", True, logs) + argv_of(overrides), logs)
    run = os.path.join(out, "GoogLeNet")
    record, = read_records(run)

    weights = ["-o", f"Global.pretrained_model={os.path.join(run, 'latest')}"]
    alone, _ = _run(_command("tools/eval.py", False) + argv_of(overrides, *weights))
    expected, expected_classes = _parse_eval(alone)
    assert expected["images"] == 7 and sum(expected_classes) == 7
    assert expected_classes == [2, 1, 1, 1, 1, 1]  # the training image is of class 0

    # Evaluation during training (rank 0 writes the record).
    assert record["eval_images"] == 7
    assert record["eval_loss"] == pytest.approx(expected["loss"], abs=2e-5)
    for key in ("top1", "top5"):
        assert record[f"eval_{key}"] == pytest.approx(expected[key], abs=1e-5)

    # tools/eval.py under the launcher: both ranks print the totals of both.
    eval_logs = str(tmp_path / "eval_logs")
    _, worker_logs = _run(_command("tools/eval.py", True, eval_logs)
                          + argv_of(overrides, *weights), eval_logs)
    assert len(worker_logs) == 2
    for name, text in worker_logs.items():
        result, per_class = _parse_eval(text)
        assert result["images"] == 7, name
        assert per_class == expected_classes, name
        assert result["loss"] == pytest.approx(expected["loss"], abs=2e-5), name
        for key in ("top1", "top5", "mean_class_acc"):
            assert result[key] == pytest.approx(expected[key], abs=1e-5), (name, key)
    assert np.isfinite(expected["loss"])

    # Ten crops and the table under the launcher: every rank reports the crops of all
    # 7 images, as one process does.
    crops_logs = str(tmp_path / "crops_logs")
    _, worker_logs = _run(_command("tools/eval.py", True, crops_logs) + argv_of(
        overrides, *weights, "-o", "Eval.crops=10", "--table", "--json"), crops_logs)
    latest = os.path.join(run, "latest")
    single = evaluate_crops(load_config(DEFAULT_CONFIG, overrides), [latest], table=True,
                            crops=10)
    for name, text in worker_logs.items():
        report = json.loads([line for line in text.splitlines() if line.startswith("{")][-1])
        assert report["figures"]["images"] == 7, name
        assert report["confusion"] == single.confusion.tolist(), name
        for key in ("top1", "top5", "mean_class_acc"):
            assert report["figures"][key] == pytest.approx(single.figures[key]), (name, key)
        assert [(r["crops"], r["images"], r["top1"], r["top5"]) for r in report["table"]] == [
            (r.crops, 7, pytest.approx(r.top1), pytest.approx(r.top5)) for r in single.table]
