"""tools/infer.py and paddle_googlenet.deploy: Paddle Inference (oneDNN on and off),
ONNX Runtime, the legacy .pdmodel layout, and agreement with tools/predict.py."""

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from paddle_googlenet.cli import export_main, predict_main
from paddle_googlenet.config import load_config
from paddle_googlenet.data import build_transforms
from paddle_googlenet.cli import infer
from paddle_googlenet.deploy import (PRECISIONS, DeployError, PaddleModel, Preprocess,
                                     bf16_supported)
from paddle_googlenet.export.exporters import EXPORTERS
from helpers import odd_images, separable_weights
from tiny import DEFAULT_CONFIG, ROOT, tiny_overrides

TOLERANCE = 1e-4


def config_argv(tiny_data, weights, **extra):
    options = tiny_overrides(tiny_data, "unused", **{
        "Global.pretrained_model": weights,
        "Infer.PostProcess.class_id_map_file": os.path.join(tiny_data, "label_list.txt"),
        **extra})
    return ["-c", DEFAULT_CONFIG, *sum((["-o", o] for o in options), [])]


@pytest.fixture(scope="module")
def deployed(tiny_data, tmp_path_factory):
    """Weights whose classifier separates the classes clearly (so top-5 order is not
    decided by rounding), exported with ONNX; plus a folder of test images."""
    root = tmp_path_factory.mktemp("deploy")
    weights = separable_weights(str(root / "model.pdparams"))
    model_dir = str(root / "inference")
    argv = config_argv(tiny_data, weights, **{"Global.save_inference_dir": model_dir})
    assert export_main(argv + ["--onnx"]) == 0
    images = str(root / "images")
    odd_images(tiny_data, images)  # gray, RGBA, palette, 16-bit, CMYK, junk, truncated
    for name in sorted(os.listdir(os.path.join(tiny_data, "images", "val"))):
        shutil.copy(os.path.join(tiny_data, "images", "val", name), images)
    return {"weights": weights, "dir": model_dir, "images": images}


def assert_same_top5(want, got, where):
    """Same probability per class within TOLERANCE, and the same top-5 classes in the
    same order, except that classes whose probabilities the reference cannot tell
    apart (closer than TOLERANCE, e.g. two at 1e-28 for a trained model) may swap."""
    want_scores = {t["class_id"]: t["score"] for t in want}
    got_scores = {t["class_id"]: t["score"] for t in got}
    assert set(want_scores) == set(got_scores), where  # all classes are listed
    for class_id, score in want_scores.items():
        assert abs(got_scores[class_id] - score) <= TOLERANCE, (where, class_id)
    for w, g in zip(want[:5], got[:5]):
        assert w["class_id"] == g["class_id"] or abs(
            want_scores[w["class_id"]] - want_scores[g["class_id"]]) < TOLERANCE, where
        assert g["label"] == want[[t["class_id"] for t in want].index(g["class_id"])]["label"]


def json_lines(text):
    return {os.path.basename(r["file"]): r for r in map(json.loads, text.splitlines())}


@pytest.mark.slow
def test_infer_agrees_with_predict_and_onnx_runtime(tiny_data, deployed, capsys):
    assert sorted(os.listdir(deployed["dir"])) == [
        "inference.json", "inference.onnx", "inference.pdiparams", "inference.yml"]
    capsys.readouterr()
    argv = config_argv(tiny_data, deployed["weights"], **{"Infer.infer_imgs": deployed["images"],
                                                          "Infer.PostProcess.topk": 6})
    assert predict_main(argv + ["--json"]) == 1  # junk.jpg and cut.jpg fail
    dygraph = json_lines(capsys.readouterr().out)
    valid = [name for name, r in dygraph.items() if "topk" in r]
    assert len(valid) == 11 and set(dygraph) - set(valid) == {"junk.jpg", "cut.jpg"}

    runs = {"oneDNN on": [], "oneDNN off": ["--onednn", "off"],
            "ONNX Runtime": ["--backend", "onnxruntime"]}
    for label, extra in runs.items():
        # images as --image (PaddleClas's spelling) or, for ONNX Runtime, as arguments
        images = [deployed["images"]] if extra else ["--image", deployed["images"]]
        code = infer.main(["--model_dir", deployed["dir"], *images,
                           "--json", "--batch_size", "4", "--topk", "6", *extra])
        captured = capsys.readouterr()
        assert code == 1, label
        assert "2 of 13 images could not be classified" in captured.err
        deployed_results = json_lines(captured.out)
        assert set(deployed_results) == set(dygraph)
        assert "not an image" in deployed_results["junk.jpg"]["error"]
        for name in valid:
            assert_same_top5(dygraph[name]["topk"], deployed_results[name]["topk"],
                             f"{label} {name}")
    # The classes are far enough apart for the comparison to mean something.
    gaps = [r["topk"][0]["score"] - r["topk"][1]["score"] for r in dygraph.values() if "topk" in r]
    assert max(gaps) > 0.05


@pytest.mark.slow
def test_infer_tool_does_not_import_training_code(deployed):
    """tools/infer.py runs with the training modules, yaml and matplotlib unimportable."""
    allowed = (DEPLOY_MODULES | {"paddle_googlenet.deploy"}) - {"paddle_googlenet"}
    script = f"""
import runpy, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        ours = name.startswith("paddle_googlenet.") and name not in {allowed!r}
        if ours or top in ("yaml", "matplotlib"):
            raise ImportError("blocked for this test: " + name)
sys.meta_path.insert(0, Block())
sys.argv = ["infer.py", "--model_dir", {deployed['dir']!r}, "--image",
            {os.path.join(deployed['images'], 'rgba.png')!r}]
runpy.run_path({os.path.join(ROOT, 'tools', 'infer.py')!r}, run_name="__main__")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    line, = done.stdout.strip().splitlines()
    assert line.startswith(os.path.join(deployed["images"], "rgba.png") + ": ")
    assert line.count("(") == 5  # five classes with ids


# What deployment may import from the package: the deploy modules and the leaves
# they share with training. Nothing else (no model, config, data or engine code).
DEPLOY_MODULES = {"paddle_googlenet", "paddle_googlenet.errors", "paddle_googlenet.pixels",
                  "paddle_googlenet.image_io", "paddle_googlenet.constants",
                  "paddle_googlenet.validators", "paddle_googlenet.progress",
                  "paddle_googlenet.hardware", "paddle_googlenet.registry",
                  "paddle_googlenet.cli", "paddle_googlenet.cli.runner",
                  "paddle_googlenet.cli.infer", "paddle_googlenet.deploy.infer",
                  "paddle_googlenet.deploy.precisions", "paddle_googlenet.deploy.preprocess"}

NO_PADDLE = """
import sys
class NoPaddle:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("paddle", "paddle2onnx"):
            # what Python raises on a host where the module is not installed
            raise ModuleNotFoundError("No module named " + repr(name), name=name)
sys.meta_path.insert(0, NoPaddle())
"""


@pytest.mark.slow
def test_onnx_runtime_deployment_works_without_paddle(deployed):
    """On a host without Paddle, paddle_googlenet.deploy imports and classifies with
    ONNX Runtime, and the training API and tools say what to install."""
    image = os.path.join(deployed["images"], "rgba.png")
    script = NO_PADDLE + f"""
import json
import paddle_googlenet.deploy as deploy
from paddle_googlenet.cli import infer
from paddle_googlenet.deploy import ImageClassifier
classifier = ImageClassifier({deployed['dir']!r}, backend="onnxruntime", threads=1)
result, = classifier.classify([{image!r}])
code = infer.main(["--model_dir", {deployed['dir']!r}, "--image", {image!r},
                   "--backend", "onnxruntime", "--json"])
loaded = sorted(m for m in sys.modules if m.startswith("paddle_googlenet"))
import paddle_googlenet
try:
    paddle_googlenet.GoogLeNet
    missing = None
except ImportError as err:
    missing = str(err)
from paddle_googlenet.cli import summary_main
print(json.dumps({{"result": result, "code": code, "loaded": loaded, "missing": missing,
                  "paddle": [m for m in sys.modules if m.split(".")[0] == "paddle"],
                  "summary_code": summary_main([])}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    *printed, report = done.stdout.strip().splitlines()
    report = json.loads(report)
    assert report["code"] == 0 and report["paddle"] == []
    assert set(report["loaded"]) <= DEPLOY_MODULES | {"paddle_googlenet.deploy"}
    # the same top class as Paddle Inference gives for that image
    expected = PaddleModel(deployed["dir"])(
        Preprocess(json.load(open(os.path.join(deployed["dir"], "inference.yml")))
                   ["transforms"]).read(image)[None])
    assert report["result"]["topk"][0]["class_id"] == int(expected.argmax())
    assert json.loads(printed[-1])["topk"] == report["result"]["topk"]
    assert "pip install paddlepaddle" in report["missing"]
    assert report["summary_code"] == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: paddle_googlenet needs PaddlePaddle") and "Traceback" not in done.stderr


def test_default_backend_is_the_one_the_benchmark_measured_faster(capsys):
    # tools/benchmark.py's onnxruntime_fp32 "vs Paddle fp32" ratios were at most about
    # 1 at batch 8 (the tool's default batch) and 32 (docs/benchmarks.md), so the
    # default is Paddle Inference
    assert infer.DEFAULT_BACKEND == "paddle"
    args = infer._arguments().parse_args(["--model_dir", "m", "--image", "x.jpg"])
    assert args.backend == "paddle"
    with pytest.raises(SystemExit):
        infer.main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "paddle (default)" in help_text and "tools/benchmark.py" in help_text


def test_precision_choices_are_the_registry(capsys):
    """tools/infer.py --precision offers exactly the registered precisions, each with
    its summary in --help; tools/export_model.py has the export option of each that
    writes files; the option table in docs/deployment.md names them all."""
    with pytest.raises(SystemExit):
        infer.main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    choices = re.search(r"--precision \{([^}]*)\}", help_text).group(1).split(",")
    assert choices == list(PRECISIONS)
    for precision in PRECISIONS.values():
        assert " ".join(f"{precision.name}: {precision.summary}".split()) in help_text
    with pytest.raises(SystemExit):
        export_main(["--help"])
    export_help = capsys.readouterr().out
    flags = [e.flag for e in EXPORTERS.values()]
    assert flags and all(flag in export_help for flag in flags)
    # every exporter writes the files of a precision deployment can run
    assert all(PRECISIONS[name].files for name in EXPORTERS)
    readme = open(os.path.join(ROOT, "docs", "deployment.md"), encoding="utf-8").read()
    row = re.search(r"^\| `--precision ([^`]*)` \|", readme, re.M).group(1)
    assert row.replace("\\", "").split("|") == list(PRECISIONS)


@pytest.mark.slow
def test_legacy_pdmodel_layout_loads(deployed, tmp_path):
    """A non-PIR export (Paddle 2 style inference.pdmodel) of the same weights runs
    through the same loader and gives the same outputs."""
    legacy = str(tmp_path / "legacy")
    script = f"""
import paddle
from paddle_googlenet.models import build_main_head
net = build_main_head({{"name": "GoogLeNet", "class_num": 6, "adaptive_pool": True}},
                      {deployed['weights']!r}, softmax=True)
spec = [paddle.static.InputSpec([None, 3, 64, 64], "float32", name="x")]
paddle.jit.save(net, {os.path.join(legacy, 'inference')!r}, input_spec=spec)
"""
    env = dict(os.environ, FLAGS_enable_pir_api="0")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "inference.pdmodel" in os.listdir(legacy)
    shutil.copy(os.path.join(deployed["dir"], "inference.yml"), legacy)
    batch = np.random.RandomState(1).rand(3, 3, 64, 64).astype("float32")
    expected = PaddleModel(deployed["dir"], onednn=False)(batch)
    for onednn in (True, False):
        np.testing.assert_allclose(PaddleModel(legacy, onednn=onednn)(batch), expected,
                                   atol=1e-5)
    assert infer.main(["--model_dir", legacy, "--image",
                       os.path.join(deployed["images"], "gray.png")]) == 0


IMAGE_MODES = {"L": "png", "RGBA": "png", "P": "png", "CMYK": "jpg", "RGB": "jpg"}
PIPELINES = {
    "config": load_config(DEFAULT_CONFIG)["Infer"]["transforms"],
    "fixed size, CHW normalize": [
        {"DecodeImage": {"to_rgb": False}}, {"ResizeImage": {"size": [70, 60],
                                                             "interpolation": "bicubic"}},
        {"CropImage": {"size": [56, 48]}}, {"ToCHWImage": None},
        {"NormalizeImage": {"scale": "1/255.", "mean": [0.5, 0.5, 0.5], "std": [0.2, 0.3, 0.4],
                            "order": "chw"}}],
    "ends in HWC": [{"DecodeImage": None}, {"ResizeImage": {"resize_short": 40,
                                                            "interpolation": "area"}},
                    {"CropImage": {"size": 32}}, {"NormalizeImage": {"order": ""}}],
}


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_deploy_preprocessing_equals_the_training_transforms(tiny_data, tmp_path, pipeline):
    ops = PIPELINES[pipeline]
    training, deployment = build_transforms(ops), Preprocess(ops)
    source = Image.open(os.path.join(tiny_data, "images", "val", "circle_00000.jpg"))
    source = source.resize((83, 71))  # not square, not the crop size
    for mode, ext in IMAGE_MODES.items():
        path = str(tmp_path / f"{mode}.{ext}")
        source.convert(mode).save(path)
        data = open(path, "rb").read()
        expected = training(data)
        if training.output_layout == "hwc":
            expected = expected.transpose(2, 0, 1)  # the datasets and predict.py do this
        got = deployment(data)
        assert got.dtype == np.float32 and got.shape[0] == 3
        np.testing.assert_array_equal(got, expected, err_msg=f"{pipeline}, {mode}")


def test_infer_errors_are_one_line_with_what_would_be_valid(deployed, tmp_path, capsys):
    def error_of(*argv):
        assert infer.main(list(argv)) == 2
        err = capsys.readouterr().err.strip()
        assert "Traceback" not in err and err.count("\n") == 0, err
        return err

    image = os.path.join(deployed["images"], "gray.png")
    assert "model directory not found" in error_of("--model_dir", str(tmp_path / "nope"),
                                                   "--image", image)
    assert "no images given" in error_of("--model_dir", deployed["dir"])
    # said before any model is loaded
    assert "no images given" in error_of("--model_dir", str(tmp_path / "nope"))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "inference.yml" in error_of("--model_dir", str(empty), "--image", image)
    (empty / "inference.yml").write_text(open(os.path.join(deployed["dir"],
                                                           "inference.yml")).read())
    assert "inference.json or inference.pdmodel together with inference.pdiparams" in error_of(
        "--model_dir", str(empty), "--image", image)
    assert "needs a CUDA build" in error_of("--model_dir", deployed["dir"], "--image", image,
                                            "--device", "gpu")
    if bf16_supported():
        assert infer.main(["--model_dir", deployed["dir"], "--image", image,
                           "--precision", "bf16"]) == 0
    else:
        assert "bf16 needs a processor with avx512_bf16 or amx_bf16" in error_of(
            "--model_dir", deployed["dir"], "--image", image, "--precision", "bf16")
    with pytest.raises(DeployError, match="RandCropImage is not a deployment operator"):
        Preprocess([{"DecodeImage": None}, {"RandCropImage": {"size": 64}}])


def test_export_refuses_transforms_deployment_cannot_run(tiny_data, deployed, tmp_path, capsys):
    target = str(tmp_path / "inference")
    argv = config_argv(tiny_data, deployed["weights"], **{
        "Global.save_inference_dir": target,
        "Infer.transforms": "[{'DecodeImage': None}, {'RandFlipImage': None}]"})
    assert export_main(argv) == 2
    assert "RandFlipImage is not a deployment operator" in capsys.readouterr().err
    assert not os.path.exists(target)


def test_onnx_export_without_paddle2onnx_is_a_clear_error(tiny_data, deployed, tmp_path,
                                                          capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "paddle2onnx", None)  # import now fails
    target = str(tmp_path / "inference")
    argv = config_argv(tiny_data, deployed["weights"], **{"Global.save_inference_dir": target})
    assert export_main(argv + ["--onnx"]) == 2
    assert 'pip install -e ".[onnx]"' in capsys.readouterr().err
    assert not os.path.exists(target)


@pytest.mark.slow
def test_int8_export_is_checked_recorded_and_runs_with_precision_int8(tiny_data, deployed,
                                                                    tmp_path, capsys,
                                                                    monkeypatch):
    import io

    from paddle_googlenet import progress

    shown = []

    class Recorded(progress.Progress):  # what the tool's progress lines were told
        def __init__(self, total, what, unit="images", stream=None, every=10.0):
            super().__init__(total, what, unit, io.StringIO(), every)
            shown.append(self)

    monkeypatch.setattr(progress, "Progress", Recorded)
    target = str(tmp_path / "inference")
    argv = config_argv(tiny_data, deployed["weights"], **{"Global.save_inference_dir": target})
    # 6 eval images decide nothing about a threshold; the refusal has its own test
    assert export_main(argv + ["--int8", "--calibration_images", "8",
                               "--int8_min_agreement", "0"]) == 0
    # calibration (counted by the child process) and the check each show their images
    assert [(p.what, p.done, p.total) for p in shown] == [("int8 calibration", 8, 8),
                                                          ("int8 agreement check", 6, 6)]
    out = capsys.readouterr().out
    assert "inference_int8.pdmodel" in out and "tools/infer.py --precision int8" in out
    assert {"inference_int8.pdmodel", "inference_int8.pdiparams"} <= set(os.listdir(target))
    record = json.load(open(os.path.join(target, "inference.yml")))["int8"]
    assert record["calibration_images"] == 8 and record["check_images"] == 6

    val = sorted(os.listdir(os.path.join(tiny_data, "images", "val")))
    preprocess = Preprocess(json.load(open(os.path.join(target, "inference.yml")))["transforms"])
    batch = np.stack([preprocess.read(os.path.join(tiny_data, "images", "val", name))
                      for name in val])
    fp32 = PaddleModel(target)(batch)
    int8 = PaddleModel(target, precision="int8")(batch)
    assert int8.shape == fp32.shape and np.isfinite(int8).all()
    assert not np.array_equal(int8, fp32)  # it is not the float32 program
    # the recorded agreement is what the two models give on the eval images
    assert record["top1_agreement"] == pytest.approx((int8.argmax(1) == fp32.argmax(1)).mean())
    assert np.abs(int8 - fp32).max() < 0.2  # softmax outputs: quantization error, not noise

    images = [os.path.join(tiny_data, "images", "val", name) for name in val]
    assert infer.main(["--model_dir", target, "--precision", "int8", "--json",
                       "--image", *images]) == 0
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["topk"][0]["class_id"] for r in results] == list(int8.argmax(1))


@pytest.mark.slow
def test_int8_below_the_agreement_threshold_is_refused_and_the_old_export_kept(
        tiny_data, deployed, tmp_path, capsys, monkeypatch):
    from paddle_googlenet.export import int8

    target = str(tmp_path / "inference")
    argv = config_argv(tiny_data, deployed["weights"], **{"Global.save_inference_dir": target})
    assert export_main(argv) == 0
    before = {name: open(os.path.join(target, name), "rb").read() for name in os.listdir(target)}

    class WorseInt8(PaddleModel):  # an int8 model that ranks the classes backwards
        def __call__(self, batch):
            out = super().__call__(batch)
            return -out if self.precision == "int8" else out

        def __init__(self, model_dir, precision="fp32", **options):
            super().__init__(model_dir, precision=precision, **options)
            self.precision = precision

    monkeypatch.setattr(int8, "PaddleModel", WorseInt8)
    capsys.readouterr()
    assert export_main(argv + ["--int8", "--calibration_images", "8"]) == 2
    err = capsys.readouterr().err
    assert "int8 agrees with float32 on the top-1 class of only 0.00% of 6" in err
    assert "--int8_min_agreement" in err and "Traceback" not in err
    assert "longer-trained model" in err and "Deploy the float32 model" in err  # what helps
    after = {name: open(os.path.join(target, name), "rb").read() for name in os.listdir(target)}
    assert after == before
    assert not [p for p in os.listdir(tmp_path) if p != "inference"]  # no temporary left


@pytest.mark.slow
def test_a_new_precision_exports_through_its_exporter_entry_alone(
        tiny_data, deployed, tmp_path, capsys, monkeypatch):
    """An exporter registered with its help, one option, a check, an export writing
    one file and a result line is exported by tools/export_model.py with no other
    edit: its flag and option are in --help, its check runs before anything is
    written (and a failing one leaves nothing), its file and record are kept."""
    from paddle_googlenet.errors import ConfigError
    from paddle_googlenet.export.exporters import ExportOption, Exporter

    target = str(tmp_path / "inference")
    calls = []

    class Note(Exporter):
        name = "note"
        help = "also write note.txt"
        options = (ExportOption("note_text", str, "hello", "what note.txt says"),)

        def check(self, config, options):
            calls.append(("check", options, os.path.exists(target), os.listdir(tmp_path)))
            if options["note_text"] == "refused":
                raise ConfigError("--note_text must not be 'refused'")

        def export(self, config, weights, model_dir, options, progress=None):
            calls.append(("export", sorted(os.listdir(model_dir))))
            with open(os.path.join(model_dir, "note.txt"), "w") as f:
                f.write(options["note_text"])
            return {"length": len(options["note_text"])}

        def line(self, record):
            return f"note of {record['length']} characters written"

    monkeypatch.setitem(EXPORTERS, "note", Note())
    with pytest.raises(SystemExit):
        export_main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--note also write note.txt" in help_text
    assert "--note_text NOTE_TEXT what note.txt says (default hello)" in help_text

    argv = config_argv(tiny_data, deployed["weights"], **{"Global.save_inference_dir": target})
    assert export_main(argv + ["--note", "--note_text", "refused"]) == 2
    assert "--note_text must not be 'refused'" in capsys.readouterr().err
    assert calls == [("check", {"note_text": "refused"}, False, [])]  # nothing written
    assert not os.listdir(tmp_path)

    calls.clear()
    assert export_main(argv + ["--note", "--note_text", "four"]) == 0
    out = capsys.readouterr().out
    assert calls[0] == ("check", {"note_text": "four"}, False, [])
    # its export runs in the directory being written, after the float32 model
    assert calls[1][0] == "export" and "inference.json" in calls[1][1]
    assert open(os.path.join(target, "note.txt")).read() == "four"
    assert json.load(open(os.path.join(target, "inference.yml")))["note"] == {"length": 4}
    assert "note of 4 characters written" in out and "note.txt" in out
    assert not [p for p in os.listdir(tmp_path) if p != "inference"]  # no temporary left
    # without its flag, neither its check nor its export runs
    calls.clear()
    assert export_main(argv) == 0
    assert calls == [] and "note.txt" not in os.listdir(target)


def test_int8_option_errors(tiny_data, deployed, tmp_path, capsys):
    image = os.path.join(deployed["images"], "gray.png")
    assert infer.main(["--model_dir", deployed["dir"], "--image", image,
                       "--precision", "int8"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no int8 model" in err and "tools/export_model.py --int8" in err and "\n" not in err
    assert infer.main(["--model_dir", deployed["dir"], "--image", image, "--precision", "int8",
                       "--backend", "onnxruntime"]) == 2
    assert "needs --backend paddle" in capsys.readouterr().err
    argv = config_argv(tiny_data, deployed["weights"],
                       **{"Global.save_inference_dir": str(tmp_path / "x")})
    for flag, value in (("--calibration_images", "0"), ("--int8_min_agreement", "1.5")):
        assert export_main(argv + ["--int8", flag, value]) == 2
        assert flag in capsys.readouterr().err
    assert not os.path.exists(str(tmp_path / "x"))


def test_infer_reports_an_unmatched_glob_as_its_own_error_and_classifies_the_rest(
        deployed, tmp_path, capsys):
    image = os.path.join(deployed["images"], "gray.png")
    unmatched = str(tmp_path / "*.jpg")
    capsys.readouterr()
    assert infer.main(["--model_dir", deployed["dir"], "--json", "--image", unmatched,
                       image]) == 1
    captured = capsys.readouterr()
    results = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["file"] for r in results] == [unmatched, image]
    assert results[0]["error"] == f"no file matches {unmatched}"
    assert "topk" in results[1]
    assert "Traceback" not in captured.err
    assert captured.err.strip().splitlines()[-1] == "1 of 2 images could not be classified"


def test_paddleclas_inference_yml_is_read_as_this_packages(deployed, tmp_path):
    """What PaddleClas's tools/export_model.py -o Global.export_for_fd=True writes
    beside its model: the Infer transforms without DecodeImage, and Topk's label_list."""
    import yaml

    from paddle_googlenet.deploy.infer import ImageClassifier, read_deploy_config

    ours = read_deploy_config(deployed["dir"])
    model_dir = tmp_path / "paddleclas_export"
    shutil.copytree(deployed["dir"], model_dir)
    names = [ours["class_names"][k] for k in sorted(ours["class_names"], key=int)]
    theirs = {"PreProcess": {"transform_ops": ours["transforms"][1:]},
              "PostProcess": {"Topk": {"topk": 3, "label_list": names}}}
    assert list(ours["transforms"][0]) == ["DecodeImage"]
    (model_dir / "inference.yml").write_text(yaml.safe_dump(theirs))
    read = read_deploy_config(str(model_dir))
    assert read["transforms"] == [{"DecodeImage": {"to_rgb": True, "channel_first": False}},
                                  *ours["transforms"][1:]]
    assert read["topk"] == 3 and read["class_names"] == dict(enumerate(names))
    # PaddleClas's export ends in a softmax: the scores are its outputs, not re-softmaxed
    image = os.path.join(deployed["images"], sorted(
        n for n in os.listdir(deployed["images"]) if n.endswith(".jpg"))[0])
    ranked = ImageClassifier(str(model_dir)).classify([image])
    mine = ImageClassifier(deployed["dir"]).classify([image])
    (got,), (want,) = list(ranked), list(mine)
    assert [t["label"] for t in got["topk"]] == [t["label"] for t in want["topk"][:3]]
    if ours.get("softmax", True):
        assert got["topk"][0]["score"] == pytest.approx(want["topk"][0]["score"], abs=1e-6)
    for post, match in ((None, "PostProcess must hold PaddleClas's Topk"),
                        ({"NormalizeFeatures": None}, "PostProcess must hold"),
                        ({"Topk": {"label_list": "cat dog"}}, "label_list must be a list")):
        (model_dir / "inference.yml").write_text(yaml.safe_dump(
            {"PreProcess": {"transform_ops": []}, "PostProcess": post}))
        with pytest.raises(DeployError, match=match):
            read_deploy_config(str(model_dir))
    (model_dir / "inference.yml").write_text(yaml.safe_dump({"PreProcess": [1]}))
    with pytest.raises(DeployError, match="PreProcess.transform_ops must be a list"):
        read_deploy_config(str(model_dir))
