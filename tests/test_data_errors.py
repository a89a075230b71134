"""Bad data: list files with bad lines are refused before training; images that
cannot be read stop training naming them, or are skipped and counted."""

import os
import re
import shutil
import subprocess

import numpy as np
import paddle
import pytest
from PIL import Image

from paddle_googlenet.config import load_config
from paddle_googlenet.data import build_dataloader
from paddle_googlenet.engine import Engine
from helpers import QUICK, one_error, read_records, train_cli, train_command
from tiny import DEFAULT_CONFIG, ROOT, tiny_overrides

# ------------------------------------------------------------------ data on the command line

def write_list(tmp_path, tiny_data, edit):
    """The tiny training list with ``edit(lines)`` applied; returns its path."""
    lines = open(os.path.join(tiny_data, "train_list.txt")).read().splitlines()
    path = tmp_path / "list.txt"
    path.write_text("\n".join(edit(lines)) + "\n")
    return str(path)


@pytest.mark.parametrize("edit, expected", [
    (lambda lines: lines[:2] + [lines[2].split()[0]] + lines[3:],
     r"list\.txt has 1 bad line\(s\):\n  .*list\.txt:3: .*expected 'path label'"),
    (lambda lines: lines[:1] + [lines[1].split()[0] + " one"] + lines[2:],
     r"list\.txt:2: .*label 'one' is not an integer"),
    (lambda lines: lines[:1] + [lines[1].split()[0] + " -1"] + lines[2:],
     r"list\.txt:2: .*label -1 is negative"),
    (lambda lines: [], r"list file .*list\.txt lists no images"),
    # class_num is 6: seven labels too big; the first five lines and the count reported
    (lambda lines: [f"{line.split()[0]} {6 + i % 3}" if i % 2 else line
                    for i, line in enumerate(lines + lines[:2])],
     r"DataLoader\.Train\.dataset: 7 label\(s\) not below Arch\.class_num 6 \(the largest is "
     r"8; Arch\.class_num must be at least 9\) \(first 5 shown\):\n"
     r"(  .*list\.txt:\d+: .* [678]\n){4}  .*list\.txt:10: .* [678]$"),
], ids=["not-path-label", "label-not-integer", "negative-label", "empty-list",
        "labels-beyond-class-num"])
def test_list_file_errors_before_training(tiny_data, tmp_path, capfd, edit, expected):
    listing = write_list(tmp_path, tiny_data, edit)
    out = str(tmp_path / "out")
    code, err = train_cli(capfd, tiny_overrides(
        tiny_data, out, **{"DataLoader.Train.dataset.cls_label_path": listing}))
    assert code == 2 and "Traceback" not in err
    assert re.search(expected, err, re.M), err
    assert not os.path.exists(out)


# ------------------------------------------------------------------ images met while training

@pytest.fixture(scope="module")
def data_with_bad_images(tmp_path_factory, tiny_data):
    """The tiny set with three training images not an image, truncated and missing."""
    root = tmp_path_factory.mktemp("bad") / "data"
    shutil.copytree(tiny_data, root)
    lines = (root / "train_list.txt").read_text().splitlines()
    (root / "notes.jpg").write_text("not an image")
    whole = (root / lines[4].split()[0]).read_bytes()
    (root / "cut.jpg").write_bytes(whole[:len(whole) // 3])
    for number, name in ((1, "notes.jpg"), (4, "cut.jpg"), (7, "gone.jpg")):
        lines[number] = f"{name} {lines[number].split()[1]}"
    (root / "train_list.txt").write_text("\n".join(lines) + "\n")
    return str(root)


def bad_image_options(tiny_data, data, out, **extra):
    return tiny_overrides(tiny_data, out, **{
        "DataLoader.Train.dataset.image_root": data,
        "DataLoader.Train.dataset.cls_label_path": os.path.join(data, "train_list.txt"),
        **extra})


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.slow
def test_bad_image_stops_training_naming_it(tiny_data, data_with_bad_images, tmp_path,
                                            workers):
    """Read in Paddle's loader thread or in worker processes, an unreadable image
    stops the run with its name: no hang, no worker traceback."""
    options = bad_image_options(tiny_data, data_with_bad_images, str(tmp_path / "out"),
                                epochs=1, **{"DataLoader.Train.loader.num_workers": workers})
    proc = subprocess.run(train_command(options), cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    line = one_error(proc.stderr)
    assert re.search(r"DataLoader\.Train\.dataset: cannot read image .*/(notes|cut|gone)\.jpg "
                     r"\(.*train_list\.txt:[258]\): .*skip_bad_images: true", line), line
    assert not os.path.exists(tmp_path / "out" / "GoogLeNet" / "latest")


@pytest.mark.slow
def test_skipped_images_are_counted_each_epoch(tiny_data, data_with_bad_images, tmp_path):
    out = str(tmp_path / "out")
    config = load_config(DEFAULT_CONFIG, bad_image_options(
        tiny_data, data_with_bad_images, out, epochs=2, **{
            "DataLoader.Train.dataset.skip_bad_images": True,
            "DataLoader.Train.loader.num_workers": 2, **QUICK}))
    Engine(config).train()
    run = os.path.join(out, "GoogLeNet")
    # Counted by the worker processes, reported by the main one, for each epoch.
    assert [r["train_skipped_images"] for r in read_records(run)] == [3, 3]
    log = open(os.path.join(run, "train.log")).read()
    assert re.search(r"\[Train\]\[Epoch 2\] skipped 3 unreadable image\(s\) \(skip_bad_images "
                     r"is true\): .*/notes\.jpg, .*/cut\.jpg, .*/gone\.jpg", log)


def test_every_image_mode_is_trained_on_as_rgb(tmp_path):
    """Grayscale, RGBA, palette, 16-bit and CMYK files all reach the network as RGB."""
    pixels = np.random.default_rng(0).integers(0, 256, (56, 56, 3), dtype=np.uint8)
    rgb = Image.fromarray(pixels)
    images = {"gray.png": rgb.convert("L"), "rgba.png": rgb.convert("RGBA"),
              "palette.png": rgb.convert("P"), "cmyk.jpg": rgb.convert("CMYK"),
              "sixteen.png": Image.fromarray((pixels[..., 0].astype(np.uint16) * 257))}
    for name, image in images.items():
        image.save(tmp_path / name)
    (tmp_path / "list.txt").write_text("".join(f"{n} {i}\n" for i, n in enumerate(images)))
    config = load_config(DEFAULT_CONFIG)["DataLoader"]["Train"]
    config["dataset"].update(image_root=str(tmp_path), cls_label_path=str(tmp_path / "list.txt"))
    config["dataset"]["transform_ops"][1]["RandCropImage"]["size"] = 56
    config["sampler"].update(batch_size=5, shuffle=False)
    config["loader"]["num_workers"] = 0
    (batch, labels), = list(build_dataloader(config, seed=1))
    assert batch.shape == [5, 3, 56, 56] and labels.tolist() == [0, 1, 2, 3, 4]
    assert bool(paddle.isfinite(batch).all())
