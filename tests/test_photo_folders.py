"""Your own photos, a folder per class, with the packaged ``folders`` config: train,
evaluate, predict, export and infer all name the classes alike, from the folders,
with no labels file; the folder layout is checked before any work."""

import os

import numpy as np
import pytest

from helpers import one_error
from paddle_googlenet.cli import eval_main, export_main, predict_main, train_main
from paddle_googlenet.cli.infer import main as infer_main
from paddle_googlenet.data import photographic_jpeg

CLASSES = ("daisy", "tulip")


def write_photos(root, per_class, classes=CLASSES, seed=0, size=(60, 48)):
    """``root/<class>/<n>.jpg``: photograph-like JPEGs."""
    rng = np.random.default_rng(seed)
    for name in classes:
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for n in range(per_class):
            with open(os.path.join(root, name, f"{n}.jpg"), "wb") as f:
                f.write(photographic_jpeg(*size, rng))


def names_printed(text):
    """The class names a predict or infer line gives, ``file: name (id) score ...``."""
    names = set()
    for line in text.splitlines():
        if ": " in line and "(" in line:
            fields = line.split(": ", 1)[1].split()
            names.update(fields[i] for i in range(0, len(fields), 3))
    return names


@pytest.mark.slow
def test_photo_folders_train_eval_predict_export_with_folder_names(tmp_path, monkeypatch,
                                                                   capfd):
    monkeypatch.chdir(tmp_path)
    # The config's own roots, data/train and data/val; one override: one epoch.
    write_photos("data/train", 2)
    write_photos("data/val", 1, seed=1)
    assert train_main(["-c", "folders", "-o", "Global.epochs=1"]) == 0
    out = capfd.readouterr()
    log = open("output/GoogLeNet/train.log").read()
    assert "Arch.class_num: 2, from the class folders of ./data/train/" in log
    assert "Metric: top-1 only (2 classes" in log
    assert "finished 1 epoch in" in log
    assert "top5" not in out.out + out.err

    weights = ["-o", "Global.pretrained_model=output/GoogLeNet/best_model"]
    # No labels file, and no folders to read them from: the names come from the weights.
    os.rename("data/train", "elsewhere")
    assert eval_main(["-c", "folders", *weights]) == 0
    evaluated = capfd.readouterr().out
    for name in CLASSES:
        assert f"  {name} " in evaluated

    assert predict_main(["-c", "folders", *weights, "data/val"]) == 0
    predicted = capfd.readouterr()
    assert names_printed(predicted.out) == set(CLASSES), predicted.out
    assert "class indices" not in predicted.err

    assert export_main(["-c", "folders", *weights,
                        "-o", "Global.save_inference_dir=exported"]) == 0
    capfd.readouterr()
    assert infer_main(["--model_dir", "exported", "--image", "data/val"]) == 0
    inferred = capfd.readouterr().out
    assert names_printed(inferred) == set(CLASSES), inferred


def test_packaged_folder_config_takes_the_two_roots(tmp_path, monkeypatch):
    """The documented command: the two -o options are the train and val roots; the
    class count is the training folders'."""
    from paddle_googlenet.config import load_config
    from paddle_googlenet.engine.labels import fill_class_num

    write_photos(str(tmp_path / "photos/train"), 1, classes=("a", "b", "c"))
    config = load_config("folders", [f"DataLoader.Train.dataset.image_root={tmp_path}/photos/train",
                                     f"DataLoader.Eval.dataset.image_root={tmp_path}/photos/val"])
    assert "class_num" not in config["Arch"]
    fill_class_num(config, "Train", training=True)
    assert config["Arch"]["class_num"] == 3
    crops = [list(op.values())[0]["size"] for op in config["Infer"]["transforms"]
             if "CropImage" in op]
    assert crops == [224]


@pytest.mark.parametrize("problem, expected", [
    ("empty", "class directories without images"),
    ("val_only", "class folder"),
    ("unreadable", "unreadable image"),
])
def test_folder_layout_checked_before_training(tmp_path, monkeypatch, capfd, problem, expected):
    monkeypatch.chdir(tmp_path)
    write_photos("data/train", 1, size=(16, 16))
    write_photos("data/val", 1, size=(16, 16))
    if problem == "empty":
        os.makedirs("data/train/rose")
    elif problem == "val_only":
        write_photos("data/val", 1, classes=("rose",), size=(16, 16))
    else:
        with open("data/train/tulip/broken.jpg", "wb") as f:
            f.write(b"not a picture")
    capfd.readouterr()
    assert train_main(["-c", "folders"]) == 2
    line = one_error(capfd.readouterr().err)
    assert expected in line
    folder = {"empty": "rose", "val_only": "rose", "unreadable": "tulip"}[problem]
    assert folder in line
    assert not os.path.exists("output")


def test_val_folders_missing_a_class_keep_the_training_labels(tmp_path):
    from paddle_googlenet.data import ImageFolderDataset
    from paddle_googlenet.engine.labels import relabel_folders

    write_photos(str(tmp_path / "train"), 1, classes=("a", "b", "c"), size=(16, 16))
    write_photos(str(tmp_path / "val"), 1, classes=("a", "c"), size=(16, 16))
    val = ImageFolderDataset(str(tmp_path / "val"))
    assert val.labels.tolist() == [0, 1]
    relabel_folders(val, ["a", "b", "c"], "DataLoader.Eval.dataset", str(tmp_path / "train"))
    assert val.labels.tolist() == [0, 2]
    assert [val[i][1] for i in range(2)] == [0, 2]


def test_missing_labels_file_names_the_key_and_line(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "mine.yaml"
    from paddle_googlenet.config import find_config
    text = open(find_config("folders")).read().replace(
        "# class_id_map_file:", "class_id_map_file: missing.txt #")
    config.write_text(text)
    line_number = next(i for i, line in enumerate(text.splitlines(), 1)
                       if line.strip().startswith("class_id_map_file"))
    capfd.readouterr()
    assert predict_main(["-c", str(config), "-o", "Global.pretrained_model=nowhere",
                         "x.jpg"]) == 2
    line = one_error(capfd.readouterr().err)
    assert f"{config}:{line_number}: Infer.PostProcess.class_id_map_file: file not found" in line


def test_class_names_come_from_one_place_in_one_order(tmp_path):
    import paddle

    from paddle_googlenet.engine.labels import class_names

    write_photos(str(tmp_path / "train"), 1, classes=("fa", "fb"), size=(16, 16))
    paddle.save({"class_names": ["sa", "sb"]}, str(tmp_path / "w.pdstates"))
    (tmp_path / "labels.txt").write_text("0 la\n1 lb\n")
    config = {"Global": {"pretrained_model": str(tmp_path / "w")},
              "Infer": {"PostProcess": {"class_id_map_file": str(tmp_path / "labels.txt")}},
              "DataLoader": {"Train": {"dataset": {"name": "ImageFolderDataset",
                                                   "image_root": str(tmp_path / "train")}}}}
    assert class_names(config, 2) == (["la", "lb"], "")                # 1. the config's file
    config["Infer"]["PostProcess"]["class_id_map_file"] = None
    assert class_names(config, 2) == (["sa", "sb"], "")                # 2. saved with weights
    assert class_names(config, 2, training=True) == (["fa", "fb"], "")  # training: its folders
    config["Global"]["pretrained_model"] = None
    assert class_names(config, 2) == (["fa", "fb"], "")                # 3. the folders
    del config["DataLoader"]
    names, note = class_names(config, 2)                               # 4. indices, a note
    assert names == ["0", "1"] and "class indices" in note


def test_no_val_folder_holds_out_a_seeded_split_recorded_in_the_config(tmp_path):
    from paddle_googlenet.config import load_config
    from paddle_googlenet.data import ImageFolderDataset
    from paddle_googlenet.engine.components import hold_out_val_split

    write_photos(str(tmp_path / "photos"), 5, size=(16, 16))
    root = str(tmp_path / "photos")
    config = load_config("folders", [f"DataLoader.Train.dataset.image_root={root}",
                                     f"DataLoader.Eval.dataset.image_root={root}"])
    assert "20% of each class held out" in hold_out_val_split(config)
    train_args, val_args = (dict(config["DataLoader"][s]["dataset"]) for s in ("Train", "Eval"))
    assert val_args["part"] == "val" and val_args["holdout_seed"] == 42
    for args in (train_args, val_args):
        del args["name"], args["transform_ops"]
    train, val = ImageFolderDataset(**train_args), ImageFolderDataset(**val_args)
    assert len(train) == 8 and len(val) == 2 and sorted(val.labels.tolist()) == [0, 1]
    assert not {path for path, _ in train.samples} & {path for path, _ in val.samples}
    # The same recorded values, the same split.
    again = ImageFolderDataset(**val_args)
    assert [p for p, _ in again.samples] == [p for p, _ in val.samples]
    assert hold_out_val_split(config) == ""  # already split: left as it is
