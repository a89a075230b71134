"""On a GPU (``pytest -m gpu``): mixed-precision training at AMP levels O1 and O2, and
Paddle Inference on the GPU agreeing with the CPU. Skipped, with the reason, where
Paddle has no CUDA or no GPU is visible (see conftest.py)."""

import math
import os

import numpy as np
import paddle
import pytest

from paddle_googlenet.cli import export_main
from paddle_googlenet.config import load_config
from paddle_googlenet.deploy import ImageClassifier
from paddle_googlenet.engine import Engine
from helpers import QUICK, read_records, separable_weights
from tiny import DEFAULT_CONFIG, tiny_overrides

pytestmark = pytest.mark.gpu

# One batch of the same four images each epoch: a network that learns at all lowers
# its loss on them within a few steps, whatever the precision.
STEPS = 10


@pytest.fixture
def device_restored():
    """Engine(Global.device=gpu) sets Paddle's device for the process: put it back."""
    before = paddle.get_device()
    yield
    paddle.set_device(before)


@pytest.mark.parametrize("level", ["O1", "O2"])
def test_amp_trains_with_a_finite_falling_loss(tiny_data, tmp_path, device_restored, level):
    four = tmp_path / "four.txt"
    four.write_text("".join(open(os.path.join(tiny_data, "train_list.txt")).readlines()[:4]))
    out = str(tmp_path / "out")
    engine = Engine(load_config(DEFAULT_CONFIG, tiny_overrides(tiny_data, out, epochs=STEPS, **{
        **QUICK, "Global.device": "gpu", "AMP.use_amp": True, "AMP.level": level,
        "DataLoader.Train.dataset.cls_label_path": str(four),
        "Optimizer.lr.learning_rate": 0.001, "Optimizer.lr.warmup_epoch": 0,
        "Arch.dropout": 0, "Arch.aux_dropout": 0})))
    assert engine.amp_configs is not None and engine.amp_configs["level"] == level
    assert paddle.get_device().startswith("gpu")
    engine.train()
    losses = [record["train_loss"] for record in read_records(os.path.join(out, "GoogLeNet"))]
    assert len(losses) == STEPS and all(math.isfinite(loss) for loss in losses), losses
    assert np.mean(losses[-3:]) < np.mean(losses[:3]), losses


@pytest.fixture(scope="module")
def exported_model(tiny_data, tmp_path_factory):
    """An exported model whose classifier separates the classes clearly, so top-1 is
    not decided by rounding."""
    root = tmp_path_factory.mktemp("gpu_export")
    weights = separable_weights(str(root / "model.pdparams"))
    model_dir = str(root / "inference")
    options = tiny_overrides(tiny_data, str(root / "out"), **{
        "Global.pretrained_model": weights, "Global.save_inference_dir": model_dir,
        "Infer.PostProcess.class_id_map_file": os.path.join(tiny_data, "label_list.txt")})
    assert export_main(["-c", DEFAULT_CONFIG, *sum((["-o", o] for o in options), [])]) == 0
    return model_dir


def test_gpu_inference_agrees_with_the_cpu(tiny_data, exported_model, device_restored):
    val = os.path.join(tiny_data, "images", "val")
    images = [os.path.join(val, name) for name in sorted(os.listdir(val))]
    results = {device: list(ImageClassifier(exported_model, topk=6, device=device)
                            .classify(images))
               for device in ("cpu", "gpu")}
    assert len(results["gpu"]) == len(images) == 6
    for cpu, gpu in zip(results["cpu"], results["gpu"]):
        assert gpu["file"] == cpu["file"]
        assert gpu["topk"][0]["class_id"] == cpu["topk"][0]["class_id"], cpu["file"]
        cpu_scores = {t["class_id"]: t["score"] for t in cpu["topk"]}
        for t in gpu["topk"]:
            assert abs(t["score"] - cpu_scores[t["class_id"]]) < 1e-4, (cpu["file"], t)


@pytest.mark.parametrize("precision, tolerance", [("fp32", 1e-3), ("fp16", 2e-2)])
def test_tensorrt_inference_agrees_with_the_cpu(tiny_data, exported_model, device_restored,
                                                 precision, tolerance):
    import paddle.inference

    if tuple(paddle.inference.get_trt_compile_version()) == (0, 0, 0):
        pytest.skip("this Paddle build has no TensorRT")
    val = os.path.join(tiny_data, "images", "val")
    images = [os.path.join(val, name) for name in sorted(os.listdir(val))]
    cpu = list(ImageClassifier(exported_model, topk=6, device="cpu").classify(images))
    trt = list(ImageClassifier(exported_model, topk=6, device="gpu", tensorrt=True,
                               tensorrt_precision=precision, max_batch_size=8)
               .classify(images))
    assert len(trt) == len(cpu) == 6
    for expected, got in zip(cpu, trt):
        assert got["topk"][0]["class_id"] == expected["topk"][0]["class_id"], got["file"]
        scores = {t["class_id"]: t["score"] for t in expected["topk"]}
        for t in got["topk"]:
            assert abs(t["score"] - scores[t["class_id"]]) < tolerance, (got["file"], t)


def test_batch_normalization_on_the_gpu_gives_the_cpu_numbers(device_restored):
    """On a GPU the loader copies the uint8 batch there and normalizes it with Paddle;
    the numbers are the table's on the CPU (within float32 rounding of the division)."""
    from paddle_googlenet.data.loader import BatchNormalize
    from paddle_googlenet.pixels import NormalizeImage

    normalize = BatchNormalize(NormalizeImage(order=""))
    batch = np.random.default_rng(0).integers(0, 256, (4, 3, 16, 16), dtype=np.uint8)
    paddle.set_device("cpu")
    on_cpu = normalize(paddle.to_tensor(batch)).numpy()
    paddle.set_device("gpu")
    on_gpu = normalize(paddle.to_tensor(batch, place=paddle.CPUPlace()))
    assert on_gpu.place.is_gpu_place()
    np.testing.assert_allclose(on_gpu.numpy(), on_cpu, rtol=1e-6, atol=1e-6)
    channels_last = BatchNormalize(NormalizeImage(order=""), "hwc")(
        paddle.to_tensor(batch.transpose(0, 2, 3, 1), place=paddle.CPUPlace()))
    assert channels_last.place.is_gpu_place()
    np.testing.assert_allclose(channels_last.numpy(), on_cpu, rtol=1e-6, atol=1e-6)
