"""tools/export_model.py: a Paddle Inference model of the main head, and its YAML."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import paddle
import pytest
import yaml

from paddle_googlenet.cli import export_main
from paddle_googlenet.config import load_config
from paddle_googlenet.deploy import PaddleModel
from paddle_googlenet.models import MainHeadOnly, build_model, load_weights
from helpers import random_weights
from tiny import DEFAULT_CONFIG, ROOT, tiny_overrides


def exported(tiny_data, trained_run, tmp_path, **extra):
    out = str(tmp_path / "out")
    weights = os.path.join(trained_run, "latest")
    target = str(tmp_path / "inference")
    options = tiny_overrides(tiny_data, out, epochs=1, **{
        "Global.pretrained_model": weights, "Global.save_inference_dir": target,
        "Infer.PostProcess.class_id_map_file": os.path.join(tiny_data, "label_list.txt"),
        **extra})
    assert export_main(["-c", DEFAULT_CONFIG, *sum((["-o", o] for o in options), [])]) == 0
    return weights, target


@pytest.mark.slow
def test_export_writes_a_main_head_model_that_matches_dygraph(tiny_data, trained_run,
                                                               tmp_path):
    weights, target = exported(tiny_data, trained_run, tmp_path)
    assert sorted(os.listdir(target)) == ["inference.json", "inference.pdiparams", "inference.yml"]
    net = build_model({"name": "GoogLeNet", "class_num": 6, "adaptive_pool": True})
    load_weights(net, weights)
    net.eval()
    x = np.random.RandomState(0).rand(3, 3, 64, 64).astype("float32")
    expected = MainHeadOnly(net, softmax=True)(paddle.to_tensor(x)).numpy()
    for onednn in (True, False):
        out = PaddleModel(target, onednn=onednn)(x)
        assert out.shape == (3, 6)
        np.testing.assert_allclose(out, expected, atol=1e-5)
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)  # softmax appended
    # Only the main path: the parameters file holds the trunk and main head, not the
    # aux heads (about 5.3 M of the network's 10.3 M parameters at 6 classes).
    main_bytes = 4 * sum(int(p.numel()) for n, p in net.named_parameters()
                         if not n.startswith(("aux1.", "aux2.")))
    aux_bytes = 4 * sum(int(p.numel()) for n, p in net.named_parameters()
                        if n.startswith(("aux1.", "aux2.")))
    size = os.path.getsize(os.path.join(target, "inference.pdiparams"))
    assert main_bytes <= size < main_bytes + aux_bytes / 100


@pytest.mark.slow
def test_export_yaml_records_preprocessing_and_labels(tiny_data, trained_run, tmp_path):
    _, target = exported(tiny_data, trained_run, tmp_path)
    text = open(os.path.join(target, "inference.yml")).read()
    deploy = json.loads(text)
    assert yaml.safe_load(text) == deploy  # JSON is YAML too
    assert deploy["input_shape"] == [3, 64, 64] and deploy["softmax"] is True
    assert [list(op)[0] for op in deploy["transforms"]] == [
        "DecodeImage", "ResizeImage", "CropImage", "NormalizeImage", "ToCHWImage"]
    assert deploy["class_names"]["0"] == "circle" and len(deploy["class_names"]) == 6


@pytest.mark.slow
def test_export_without_softmax_and_over_an_old_export(tiny_data, trained_run, tmp_path):
    _, target = exported(tiny_data, trained_run, tmp_path)
    _, target = exported(tiny_data, trained_run, tmp_path, **{"Global.export_softmax": False})
    assert json.load(open(os.path.join(target, "inference.yml")))["softmax"] is False
    out = PaddleModel(target)(np.zeros((1, 3, 64, 64), dtype="float32"))
    assert not np.allclose(out.sum(axis=1), 1.0)  # logits now
    leftovers = [n for n in os.listdir(tmp_path) if n.startswith(".")]
    assert leftovers == []


def test_export_without_weights_is_a_clear_error(tiny_data, tmp_path, capsys):
    options = tiny_overrides(tiny_data, str(tmp_path), **{
        "Global.save_inference_dir": str(tmp_path / "inference")})
    assert export_main(["-c", DEFAULT_CONFIG, *sum((["-o", o] for o in options), [])]) == 2
    assert "Global.pretrained_model: give the weights to export" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "inference")


def export_argv(tiny_data, tmp_path, **extra):
    options = tiny_overrides(tiny_data, str(tmp_path), **{
        "Global.pretrained_model": random_weights(str(tmp_path / "random.pdparams")),
        "Global.save_inference_dir": str(tmp_path / "inference"),
        "Infer.PostProcess.class_id_map_file": os.path.join(tiny_data, "label_list.txt"),
        **extra})
    return ["-c", DEFAULT_CONFIG, *sum((["-o", o] for o in options), [])]


@pytest.mark.slow
def test_export_at_a_size_fixed_pool_heads_cannot_take_is_the_one_line_shape_error(
        tiny_data, tmp_path, capsys):
    from paddle_googlenet.models import InputShapeError

    argv = export_argv(tiny_data, tmp_path, **{"Arch.adaptive_pool": False,
                                               "Global.image_shape": "[3,64,64]"})
    capsys.readouterr()
    assert export_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "transformed code" not in err
    fixed = build_model({"name": "GoogLeNet", "class_num": 6, "adaptive_pool": False})
    try:
        fixed.check_input(paddle.zeros([1, 3, 64, 64]))
    except InputShapeError as shape_error:  # the network's own words, as train and eval say
        assert err == (f"error: Global.image_shape: {shape_error} "
                       f"(set by -o Global.image_shape=[3,64,64])")
    else:
        raise AssertionError("64x64 should not fit the fixed-pool heads")
    assert not os.path.exists(tmp_path / "inference")


@pytest.mark.slow
def test_export_tool_prints_only_its_result(tiny_data, tmp_path):
    """No Paddle warning about the traced program, no glog lines: the one result line."""
    script = os.path.join(ROOT, "tools", "export_model.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLOG_", "FLAGS_"))}
    env["OMP_NUM_THREADS"] = "1"  # another value is a warning Paddle rightly prints
    done = subprocess.run([sys.executable, script, *export_argv(tiny_data, tmp_path)],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "PIR not support" not in output
    assert not re.search(r"^[IW]\d{4} ", output, re.M), output
    assert output.strip().splitlines() == [
        f"exported to {tmp_path / 'inference'}: inference.json, inference.pdiparams, "
        f"inference.yml"]


def test_export_api_refuses_a_precision_or_option_it_cannot_export(tiny_data, tmp_path):
    """export_inference_model takes precisions by registry name; one that has no files
    of its own, an unknown name, or an option none of them takes is refused before
    anything is written."""
    import pytest

    from paddle_googlenet.errors import UserError
    from paddle_googlenet.export import export_inference_model

    argv = export_argv(tiny_data, tmp_path)
    config = load_config(DEFAULT_CONFIG, [argv[i + 1] for i in range(2, len(argv), 2)])
    for precisions, options, message in (
            (("fp32",), {}, "'fp32' has no files of its own to export"),
            (("int4",), {}, "precision must be one of"),
            ((), {"calibration_images": 8}, "['calibration_images'] belong to none"),
            (("int8",), {"calibration_images": 0}, "--calibration_images must be a positive")):
        with pytest.raises(UserError, match=re.escape(message)):
            export_inference_model(config, precisions=precisions, options=options)
    assert not os.path.exists(tmp_path / "inference")


@pytest.mark.slow
def test_uint8_input_export_takes_pixels_and_classifies_as_the_float_one(tiny_data, trained_run,
                                                                         tmp_path):
    """--uint8-input: the model normalizes its uint8 input itself; Paddle Inference and
    ONNX Runtime give the float32 export's probabilities for the same images."""
    from paddle_googlenet.deploy import ImageClassifier

    argv = export_argv(tiny_data, tmp_path, **{"Global.pretrained_model":
                                               os.path.join(trained_run, "latest")})
    float_dir = str(tmp_path / "inference")
    assert export_main(argv + ["--onnx"]) == 0
    uint8_dir = str(tmp_path / "inference_uint8")
    assert export_main(argv + ["-o", f"Global.save_inference_dir={uint8_dir}", "--onnx",
                               "--uint8-input"]) == 0
    with open(os.path.join(uint8_dir, "inference.yml")) as f:
        assert yaml.safe_load(f)["input_dtype"] == "uint8"
    images = [os.path.join(tiny_data, "images", "val", name)
              for name in sorted(os.listdir(os.path.join(tiny_data, "images", "val")))]
    for backend in ("paddle", "onnxruntime"):
        classifier = ImageClassifier(uint8_dir, backend=backend, threads=1)
        pixels = classifier.preprocess.read(images[0])
        assert pixels.dtype == np.uint8 and pixels.shape == (3, 64, 64)
        reference = ImageClassifier(float_dir, backend=backend, threads=1)
        batch = np.stack([classifier.preprocess.read(p) for p in images])
        float_batch = np.stack([reference.preprocess.read(p) for p in images])
        np.testing.assert_allclose(classifier.probabilities(batch),
                                   reference.probabilities(float_batch), atol=1e-5)
        ranked = [[t["class_id"] for t in r["topk"]] for r in classifier.classify(images)]
        assert ranked == [[t["class_id"] for t in r["topk"]] for r in reference.classify(images)]


def test_uint8_input_export_needs_a_final_normalize_and_no_other_precision(tiny_data,
                                                                           tmp_path, capsys):
    from paddle_googlenet.errors import UserError
    from paddle_googlenet.export import export_inference_model

    argv = export_argv(tiny_data, tmp_path)
    config = load_config(DEFAULT_CONFIG, [argv[i + 1] for i in range(2, len(argv), 2)])
    config["Infer"]["transforms"] = [{"DecodeImage": {}}, {"ResizeImage": {"size": 64}},
                                     {"ToCHWImage": {}}]
    with pytest.raises(UserError, match="ends with NormalizeImage"):
        export_inference_model(config, uint8_input=True)
    capsys.readouterr()
    assert export_main(argv + ["--uint8-input", "--int8"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "without it" in err and "--int8" in err
    assert not os.path.exists(tmp_path / "inference")
