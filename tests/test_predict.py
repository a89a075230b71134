"""tools/predict.py: top-k per image, odd image modes, bad files, and agreement with
the exported model run through Paddle Inference."""

import json
import os

import numpy as np
import paddle.inference as paddle_infer
from PIL import Image

from paddle_googlenet.cli import export_main, predict_main
from paddle_googlenet.config import load_config
from paddle_googlenet.data import build_transforms
from paddle_googlenet.engine import Engine
from tiny import DEFAULT_CONFIG, tiny_overrides


def argv_for(tiny_data, out, **extra):
    options = tiny_overrides(tiny_data, out, epochs=1, **{
        "Global.pretrained_model": os.path.join(out, "GoogLeNet", "latest"),
        "Infer.PostProcess.class_id_map_file": os.path.join(tiny_data, "label_list.txt"),
        **extra})
    return ["-c", DEFAULT_CONFIG, *sum((["-o", o] for o in options), [])]


def odd_images(tiny_data, folder):
    """The first eval image saved as grayscale, RGBA, palette, 16-bit and CMYK, plus a
    non-image and a truncated JPEG."""
    os.makedirs(folder)
    source = Image.open(os.path.join(tiny_data, "images", "val", "circle_00000.jpg"))
    source.convert("L").save(os.path.join(folder, "gray.png"))
    source.convert("RGBA").save(os.path.join(folder, "rgba.png"))
    source.convert("P").save(os.path.join(folder, "palette.png"))
    Image.fromarray((np.asarray(source.convert("L"), dtype=np.uint16) * 257)).save(
        os.path.join(folder, "deep.png"))
    source.convert("CMYK").save(os.path.join(folder, "cmyk.jpg"))
    with open(os.path.join(folder, "junk.jpg"), "w") as f:
        f.write("not an image")
    whole = open(os.path.join(tiny_data, "images", "val", "circle_00000.jpg"), "rb").read()
    with open(os.path.join(folder, "cut.jpg"), "wb") as f:
        f.write(whole[: len(whole) // 3])


def test_predict_handles_modes_and_bad_files(tiny_data, tmp_path, capsys):
    out = str(tmp_path / "out")
    Engine(load_config(DEFAULT_CONFIG, tiny_overrides(tiny_data, out, epochs=1))).train()
    folder = str(tmp_path / "images")
    odd_images(tiny_data, folder)
    capsys.readouterr()
    code = predict_main(argv_for(tiny_data, out, **{"Infer.infer_imgs": folder}) + ["--json"])
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


def test_predict_agrees_with_paddle_inference(tiny_data, tmp_path, capsys):
    out = str(tmp_path / "out")
    Engine(load_config(DEFAULT_CONFIG, tiny_overrides(tiny_data, out, epochs=1))).train()
    images = os.path.join(tiny_data, "images", "val")
    target = str(tmp_path / "inference")
    assert export_main(argv_for(tiny_data, out, **{"Global.save_inference_dir": target})) == 0
    capsys.readouterr()
    assert predict_main(argv_for(tiny_data, out, **{"Infer.infer_imgs": images}) + ["--json"]) == 0
    dygraph = {r["file"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}

    transform = build_transforms(load_config(DEFAULT_CONFIG)["Infer"]["transforms"])
    paths = sorted(dygraph)
    batch = np.stack([transform(open(p, "rb").read()) for p in paths])
    for onednn in (True, False):
        config = paddle_infer.Config(os.path.join(target, "inference.json"),
                                     os.path.join(target, "inference.pdiparams"))
        config.disable_gpu()
        config.enable_mkldnn() if onednn else config.disable_mkldnn()
        predictor = paddle_infer.create_predictor(config)
        predictor.get_input_handle(predictor.get_input_names()[0]).copy_from_cpu(batch)
        predictor.run()
        probs = predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()
        for path, p in zip(paths, probs):
            top = dygraph[path]["topk"]
            assert [t["class_id"] for t in top] == list(np.argsort(-p)[:5])
            np.testing.assert_allclose([t["score"] for t in top], np.sort(p)[::-1][:5],
                                       atol=1e-4)
