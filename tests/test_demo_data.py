"""The generated demo dataset: format, determinism, regeneration, and non-triviality."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from paddle_googlenet.data import (DEMO_DEFAULTS, SHAPES, ImageNetDataset, ensure_demo_dataset,
                                   make_demo_dataset, read_manifest)
from paddle_googlenet.errors import ConfigError, DataError

SMALL = {"num_classes": 3, "train_per_class": 2, "eval_per_class": 1, "image_size": 40}
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_list(path):
    with open(path) as file:
        return [(p, int(label)) for p, label in (line.split() for line in file)]


def load_split(root, list_name):
    entries = read_list(os.path.join(root, list_name))
    images = np.stack([np.asarray(Image.open(os.path.join(root, p))) for p, _ in entries])
    return images, np.array([label for _, label in entries])


def all_files(root):
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as file:
                found[os.path.relpath(path, root)] = file.read()
    return found


@pytest.fixture(scope="module")
def default_demo(tmp_path_factory):
    """The dataset with its default parameters, as training uses it (a few seconds)."""
    return ensure_demo_dataset(str(tmp_path_factory.mktemp("demo") / "googlenet_demo"))


@pytest.mark.slow
def test_default_layout_and_paddleclas_files(default_demo):
    root = default_demo.root
    assert default_demo.generated
    assert default_demo.class_names == SHAPES[:6] == ("circle", "square", "triangle", "cross",
                                                      "ring", "star")
    assert (default_demo.num_train, default_demo.num_eval) == (1500, 600)
    with open(default_demo.label_list) as file:
        assert file.read().splitlines() == [f"{i} {name}" for i, name in enumerate(SHAPES[:6])]
    train = read_list(default_demo.train_list)
    assert train[1] == ("images/train/square_00001.jpg", 1)
    assert {os.path.dirname(p) for p, _ in train} == {"images/train"}
    assert {os.path.dirname(p) for p, _ in read_list(default_demo.val_list)} == {"images/val"}
    first = Image.open(os.path.join(root, train[0][0]))
    assert (first.format, first.mode, first.size) == ("JPEG", "RGB", (72, 72))
    dataset = ImageNetDataset(root, default_demo.val_list, class_num=6)
    assert len(dataset) == 600 and dataset[0][0].shape == (3, 72, 72)


def test_classes_are_exactly_balanced(default_demo):
    for list_path, per_class in ((default_demo.train_list, 250), (default_demo.val_list, 100)):
        labels = [label for _, label in read_list(list_path)]
        assert np.bincount(labels).tolist() == [per_class] * 6


def colour_histograms(images, bins=4):
    """Joint RGB histogram per image, ``bins`` levels per channel, normalised."""
    levels = (images // (256 // bins)).astype(np.int64)
    codes = (levels[..., 0] * bins + levels[..., 1]) * bins + levels[..., 2]
    codes = codes.reshape(len(images), -1)
    return np.stack([np.bincount(c, minlength=bins ** 3) for c in codes]) / codes.shape[1]


@pytest.mark.parametrize("bins", [4, 8])
def test_colour_histograms_do_not_solve_it(default_demo, bins):
    """Nearest class-centroid on colour histograms must stay near chance (1/6)."""
    train_x, train_y = load_split(default_demo.root, "train_list.txt")
    eval_x, eval_y = load_split(default_demo.root, "val_list.txt")
    train_h, eval_h = colour_histograms(train_x, bins), colour_histograms(eval_x, bins)
    centroids = np.stack([train_h[train_y == c].mean(axis=0) for c in range(6)])
    distances = ((eval_h[:, None, :] - centroids[None]) ** 2).sum(axis=2)
    accuracy = (distances.argmin(axis=1) == eval_y).mean()
    assert accuracy < 0.30, accuracy  # chance is 0.167; 90% is what training must reach
    # ... and the constant predictor scores exactly chance, by the balance above.
    assert (eval_y == np.bincount(train_y).argmax()).mean() == pytest.approx(1 / 6)


def test_foreground_colour_is_unrelated_to_class(default_demo):
    """The shape's colour (the median of each image's lightest 2% of pixels; the shape
    is always lighter than its background) has the same mean in every class, up to
    sampling noise."""
    images, labels = load_split(default_demo.root, "train_list.txt")
    pixels = images.reshape(len(images), -1, 3).astype(np.float64)
    luminance = pixels @ [0.299, 0.587, 0.114]
    lightest = np.argsort(luminance, axis=1)[:, -pixels.shape[1] // 50:]
    shape_colour = np.median(np.take_along_axis(pixels, lightest[:, :, None], axis=1), axis=1)
    class_means = np.stack([shape_colour[labels == c].mean(axis=0) for c in range(6)])
    standard_error = shape_colour.std(axis=0) / np.sqrt(250)
    assert (shape_colour.std(axis=0) > 30).all()  # the colours do vary a lot...
    assert (np.ptp(class_means, axis=0) < 6 * standard_error).all()  # ...but not by class


def test_same_seed_same_bytes(tmp_path):
    make_demo_dataset(str(tmp_path / "a"), seed=3, **SMALL)
    make_demo_dataset(str(tmp_path / "b"), seed=3, **SMALL)
    make_demo_dataset(str(tmp_path / "c"), seed=4, **SMALL)
    a, b, c = (all_files(str(tmp_path / name)) for name in "abc")
    assert len(a) == 3 * 2 + 3 * 1 + 4 and a == b
    images = [name for name in a if name.endswith(".jpg")]
    assert all(a[name] != c[name] for name in images)


def test_train_and_eval_images_differ(tmp_path):
    demo = make_demo_dataset(str(tmp_path / "d"), **SMALL)
    train, _ = load_split(demo.root, "train_list.txt")
    val, _ = load_split(demo.root, "val_list.txt")
    assert not any(np.array_equal(t, v) for t in train for v in val)


def test_make_refuses_non_empty_root(tmp_path):
    (tmp_path / "something.txt").write_text("mine")
    with pytest.raises(DataError, match="not an empty directory"):
        make_demo_dataset(str(tmp_path), **SMALL)


@pytest.mark.parametrize("kwargs", [{"num_classes": 1}, {"num_classes": 9},
                                    {"train_per_class": 0}, {"image_size": 16},
                                    {"seed": -1}, {"eval_per_class": 1.5}])
def test_bad_parameters(tmp_path, kwargs):
    with pytest.raises(ConfigError):
        ensure_demo_dataset(str(tmp_path / "x"), **{**SMALL, **kwargs})


def test_ensure_reuses_then_regenerates(tmp_path):
    root = str(tmp_path / "demo")
    first = ensure_demo_dataset(root, **SMALL)
    assert first.generated and read_manifest(root)["params"] == {**SMALL, "seed": 0}
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(root).st_mode & 0o777 == 0o777 & ~umask  # not left private like a temp dir
    assert not ensure_demo_dataset(root, **SMALL).generated

    # different parameters: regenerated with them
    bigger = ensure_demo_dataset(root, **{**SMALL, "train_per_class": 3})
    assert bigger.generated and bigger.num_train == 9 and len(read_list(bigger.train_list)) == 9

    # a file gone (as after an interrupted copy): regenerated
    os.remove(os.path.join(root, read_list(bigger.train_list)[0][0]))
    assert ensure_demo_dataset(root, **{**SMALL, "train_per_class": 3}).generated

    # no manifest (half-written by make_demo_dataset): regenerated
    os.remove(os.path.join(root, "manifest.json"))
    assert ensure_demo_dataset(root, **SMALL).generated

    # a corrupt manifest: regenerated; force: regenerated even when current
    with open(os.path.join(root, "manifest.json"), "w") as file:
        file.write("{not json")
    assert ensure_demo_dataset(root, **SMALL).generated
    assert ensure_demo_dataset(root, force=True, **SMALL).generated
    assert not ensure_demo_dataset(root, **SMALL).generated
    assert os.listdir(str(tmp_path)) == ["demo"]  # no temporary directories left behind


def test_ensure_never_replaces_foreign_directories(tmp_path):
    root = tmp_path / "mine"
    root.mkdir()
    (root / "thesis.tex").write_text("precious")
    with pytest.raises(DataError, match="not part of a demo dataset"):
        ensure_demo_dataset(str(root), **SMALL)
    assert (root / "thesis.tex").read_text() == "precious"


def test_manifest_records_parameters(tmp_path):
    demo = ensure_demo_dataset(str(tmp_path / "m"), seed=7, **SMALL)
    with open(os.path.join(demo.root, "manifest.json")) as file:
        manifest = json.load(file)
    assert manifest["params"] == {**SMALL, "seed": 7}
    assert manifest["counts"] == {"train": 6, "val": 3}
    assert manifest["class_names"] == ["circle", "square", "triangle"]


def test_tool_writes_and_reports(tmp_path, capsys):
    from paddle_googlenet.cli import make_demo_data_main

    root = str(tmp_path / "tool")
    argv = ["--root", root, "--num-classes", "4", "--train-per-class", "2",
            "--eval-per-class", "1", "--image-size", "32"]
    assert make_demo_data_main(argv) == 0
    assert "wrote" in capsys.readouterr().out
    assert len(read_list(os.path.join(root, "train_list.txt"))) == 8
    assert make_demo_data_main(argv) == 0
    assert "up to date" in capsys.readouterr().out
    assert make_demo_data_main(argv + ["--num-classes", "20"]) == 2
    assert "num_classes" in capsys.readouterr().err
    assert DEMO_DEFAULTS["num_classes"] == 6
