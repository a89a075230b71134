"""The shipped configs and the ILSVRC2012 lists: every config builds and trains a
step on a tiny set laid out as ./dataset/ILSVRC2012/, which
tools/make_imagenet_lists.py lists."""

import glob
import os

import numpy as np
import pytest
import yaml
from PIL import Image

from paddle_googlenet.cli.imagenet_lists import main as make_lists_main
from paddle_googlenet.config import load_config
from paddle_googlenet.data.imagenet_lists import write_imagenet_lists
from paddle_googlenet.errors import DataError
from helpers import read_records
from tiny import ROOT

CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", "**", "*.yaml"), recursive=True))
WNIDS = ("n01440764", "n01443537")


def image(path, seed, size=(60, 44)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pixels = np.random.RandomState(seed).randint(0, 256, (size[1], size[0], 3), np.uint8)
    Image.fromarray(pixels).save(path, format="JPEG")


def ilsvrc(root, val_folders: bool):
    """Two classes: one training image each, one validation image each (in class
    folders, or flat with a ground-truth file, returned)."""
    for i, wnid in enumerate(WNIDS):
        image(os.path.join(root, "train", wnid, f"{wnid}_{i}.JPEG"), i)
        name = f"ILSVRC2012_val_0000000{i + 1}.JPEG"
        image(os.path.join(root, "val", *([wnid] if val_folders else []), name), 10 + i)
    with open(os.path.join(root, "LOC_synset_mapping.txt"), "w") as f:
        f.write(f"{WNIDS[0]} tench, Tinca tinca\n{WNIDS[1]} goldfish, Carassius auratus\n")
    if val_folders:
        return None
    truth = os.path.join(root, "LOC_val_solution.csv")
    with open(truth, "w") as f:
        f.write("ImageId,PredictionString\n"
                f"ILSVRC2012_val_00000002,{WNIDS[1]} 1 2 3 4\n"
                f"ILSVRC2012_val_00000001,{WNIDS[0]} 5 6 7 8 {WNIDS[0]} 1 1 2 2\n")
    return truth


def read(path):
    return open(path).read().splitlines()


@pytest.mark.parametrize("val_folders", [True, False])
def test_the_lists_from_class_folders_or_a_ground_truth_file(tmp_path, val_folders):
    root = str(tmp_path / "ILSVRC2012")
    truth = ilsvrc(root, val_folders)
    done = write_imagenet_lists(root, truth)
    assert (done.classes, done.train_images, done.val_images) == (2, 2, 2)
    assert read(os.path.join(root, "train_list.txt")) == [
        f"train/{WNIDS[0]}/{WNIDS[0]}_0.JPEG 0", f"train/{WNIDS[1]}/{WNIDS[1]}_1.JPEG 1"]
    val = [f"val/{WNIDS[i]}/ILSVRC2012_val_0000000{i + 1}.JPEG {i}" if val_folders
           else f"val/ILSVRC2012_val_0000000{i + 1}.JPEG {i}" for i in range(2)]
    assert read(os.path.join(root, "val_list.txt")) == val
    assert read(os.path.join(root, "label_list.txt")) == [
        f"0 {WNIDS[0]} tench, Tinca tinca", f"1 {WNIDS[1]} goldfish, Carassius auratus"]


def test_the_tool_says_what_is_missing(tmp_path, capsys):
    root = str(tmp_path / "ILSVRC2012")
    ilsvrc(root, val_folders=False)
    assert make_lists_main([root]) == 2
    assert "--val-ground-truth" in capsys.readouterr().err
    bad = tmp_path / "numbers.txt"
    bad.write_text("65\n970\n")
    with pytest.raises(DataError, match=r"numbers.txt:1: expected .*meta.mat"):
        write_imagenet_lists(root, str(bad))


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: os.path.relpath(p, ROOT))
def test_every_shipped_config_builds_and_trains_a_step(config, tmp_path, monkeypatch):
    from paddle_googlenet.engine import Engine

    monkeypatch.chdir(tmp_path)
    root = os.path.join("dataset", "ILSVRC2012")
    ilsvrc(root, val_folders=True)
    assert make_lists_main([root]) == 0
    options = {"Global.epochs": 1, "Global.output_dir": str(tmp_path / "out"),
               "Global.eval_during_train": False, "Global.demo_dataset": None,
               "DataLoader.Train.sampler.batch_size": 2,
               "DataLoader.Train.loader.num_workers": 0}
    with open(config, encoding="utf-8") as f:
        dataset = yaml.safe_load(f)["DataLoader"]["Train"]["dataset"]["name"]
    for split, listed, folder in (("Train", "train_list.txt", "train"),
                                  ("Eval", "val_list.txt", "val")):
        if dataset.startswith("ImageFolder"):  # the same layout's class folders
            options[f"DataLoader.{split}.dataset.image_root"] = os.path.join(root, folder)
        else:
            options[f"DataLoader.{split}.dataset.image_root"] = root
            options[f"DataLoader.{split}.dataset.cls_label_path"] = os.path.join(root, listed)
    engine = Engine(load_config(config, [f"{k}={v}" for k, v in options.items()]))
    assert engine.steps_per_epoch == 1
    engine.train()
    records = [r for r in read_records(engine.run_dir) if "train_loss" in r]
    assert len(records) == 1 and np.isfinite(records[0]["train_loss"])


def test_rand_crop_draws_the_papers_four_interpolations_from_a_list():
    from paddle_googlenet.data.transforms import RandCropImage
    from paddle_googlenet.errors import ConfigError

    crop = RandCropImage(8, interpolation=["bilinear", "area", "nearest", "bicubic"])
    np.random.seed(0)
    drawn = {crop.sample(40, 30)[4].name for _ in range(200)}
    assert drawn == {"bilinear", "area", "nearest", "bicubic"}
    with pytest.raises(ConfigError, match=r"interpolation must be one of .*got .sinc."):
        RandCropImage(8, interpolation=["bilinear", "sinc"])


def test_train_names_the_missing_dataset_and_how_to_list_it(tmp_path, monkeypatch, capsys):
    from paddle_googlenet.cli import train_main

    monkeypatch.chdir(tmp_path)
    paper = os.path.join(ROOT, "configs", "ImageNet", "Inception", "GoogLeNet_paper.yaml")
    assert train_main(["-c", paper, "-o", f"Global.output_dir={tmp_path / 'out'}"]) == 2
    error = capsys.readouterr().err
    assert os.path.join(str(tmp_path), "dataset", "ILSVRC2012") in error
    assert "tools/make_imagenet_lists.py" in error and "train_list.txt" in error
