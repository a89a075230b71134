"""tools/predict.py: top-k per image, odd image modes and bad files (its agreement
with the exported model is in test_deploy.py)."""

import json
import os

import pytest

from paddle_googlenet.cli import predict_main
from helpers import odd_images, random_weights
from tiny import DEFAULT_CONFIG, tiny_overrides


def argv_for(tiny_data, out, **extra):
    options = tiny_overrides(tiny_data, out, epochs=1, **{
        "Global.pretrained_model": os.path.join(out, "GoogLeNet", "latest"),
        "Infer.PostProcess.class_id_map_file": os.path.join(tiny_data, "label_list.txt"),
        **extra})
    return ["-c", DEFAULT_CONFIG, *sum((["-o", o] for o in options), [])]


def test_predict_handles_modes_and_bad_files(tiny_data, trained_run, tmp_path, capsys):
    folder = str(tmp_path / "images")
    odd_images(tiny_data, folder)
    capsys.readouterr()
    code = predict_main(argv_for(tiny_data, str(tmp_path / "out"), **{
        "Global.pretrained_model": os.path.join(trained_run, "latest"),
        "Infer.infer_imgs": folder}) + ["--json"])
    assert code == 1  # some files failed; the rest were still predicted
    results = {os.path.basename(r["file"]): r
               for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(results) == {"gray.png", "rgba.png", "palette.png", "deep.png", "cmyk.jpg",
                            "junk.jpg", "cut.jpg"}
    for name in ("gray.png", "rgba.png", "palette.png", "deep.png", "cmyk.jpg"):
        top = results[name]["topk"]
        assert len(top) == 5 and top[0]["label"] in ("circle", "square", "triangle",
                                                     "cross", "ring", "star")
        assert 0 < sum(t["score"] for t in top) <= 1.0 + 1e-6
    assert "not an image" in results["junk.jpg"]["error"]
    assert "cut.jpg" in results["cut.jpg"]["error"]


@pytest.mark.slow
def test_images_given_as_arguments_replace_infer_imgs_and_each_miss_is_its_own_error(
        tiny_data, tmp_path, capsys):
    weights = random_weights(str(tmp_path / "random.pdparams"))
    val = os.path.join(tiny_data, "images", "val")
    names = sorted(os.listdir(val))
    empty = tmp_path / "empty"
    empty.mkdir()
    images = [os.path.join(val, names[0]),                    # a file
              val,                                            # a folder
              os.path.join(val, "circle_*.jpg"),              # a glob
              str(tmp_path / "nothing" / "*.png"),            # a glob that matches nothing
              str(tmp_path / "missing.jpg"),                  # a file that does not exist
              str(empty)]                                     # a folder without images
    argv = argv_for(tiny_data, str(tmp_path), **{
        "Global.pretrained_model": weights,
        "Infer.infer_imgs": str(tmp_path / "not-used.jpg")}) + ["--json", *images]
    capsys.readouterr()
    assert predict_main(argv) == 1  # some could not be predicted; the others were
    captured = capsys.readouterr()
    results = [json.loads(line) for line in captured.out.splitlines()]
    files = [r["file"] for r in results]
    # each image once: the folder adds those not named before it, the glob none
    assert files == [images[0], *sorted(os.path.join(val, n) for n in names[1:]),
                     *images[3:]]
    assert all("topk" in r for r in results[:-3])
    errors = {r["file"]: r["error"] for r in results[-3:]}
    assert errors[images[3]] == f"no file matches {images[3]}"
    assert "cannot read" in errors[images[4]] and "No such file" in errors[images[4]]
    assert errors[images[5]].startswith(f"no images in folder {images[5]}")
    assert captured.err.strip().splitlines()[-1] == \
        f"3 of {len(results)} images could not be predicted"


def test_an_image_named_alone_and_in_its_folder_is_listed_once(tmp_path):
    from paddle_googlenet.image_io import expand_images

    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("a.jpg", "b.png"):
        (folder / name).write_bytes(b"")
    alone = str(folder / "b.png")
    paths = expand_images([alone, str(folder), str(folder / "*.jpg")])
    assert paths == [alone, str(folder / "a.jpg")]


def test_predict_normalizes_each_batch_with_the_per_image_numbers(tiny_data, trained_run):
    """The Infer list runs without its final NormalizeImage per image; the uint8 batch
    is normalized at once and scored as the whole list run per image would be."""
    import numpy as np
    import paddle

    from paddle_googlenet import image_io, pixels
    from paddle_googlenet.config import load_config
    from paddle_googlenet.data import build_transforms
    from paddle_googlenet.engine.predict import Predictor

    config = load_config(DEFAULT_CONFIG, tiny_overrides(tiny_data, "unused", **{
        "Global.pretrained_model": os.path.join(trained_run, "best_model"),
        "Infer.PostProcess.class_id_map_file": os.path.join(tiny_data, "label_list.txt")}))
    predictor = Predictor(config)
    assert predictor.normalize is not None
    folder = os.path.join(tiny_data, "images", "val")
    images = [os.path.join(folder, n) for n in sorted(os.listdir(folder))]
    assert predictor._prepare(images[0]).dtype == np.uint8
    whole = build_transforms(config["Infer"]["transforms"])
    batch = np.stack([pixels.model_input(image_io.read_image_file(p, whole), whole.output_layout)
                      for p in images])
    with paddle.no_grad():
        expected = predictor.model(paddle.to_tensor(batch)).numpy()
    scores = {r["file"]: r["topk"][0]["score"] for r in predictor.predict(images)}
    top = expected.max(axis=1)
    np.testing.assert_allclose([scores[p] for p in images], top, rtol=1e-6)
