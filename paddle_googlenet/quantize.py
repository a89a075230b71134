"""Int8 export of the main head for CPU inference with oneDNN, and CPU predictors.

Paddle 3.3.1's ``paddle.static.quantization.PostTrainingQuantization`` works on the
legacy (non-PIR) program format only: the model must be saved with
``FLAGS_enable_pir_api=0`` (giving ``inference.pdmodel``), a flag that has to be set
before paddle is imported. ``export_int8`` therefore runs the export and the
calibration in a child process (``python -m paddle_googlenet.quantize``) and returns
the directory of the quantized model. The quantized program runs through Paddle
Inference with the legacy IR passes (``enable_new_ir(False)``): the PIR oneDNN passes
of 3.3.1 reject it.

    from paddle_googlenet.quantize import export_int8, create_cpu_predictor
    export_int8(config["Arch"], "output/GoogLeNet/best_model", [3, 64, 64],
                calibration_images, "inference_int8")
    run = create_cpu_predictor("inference_int8", "int8")
    logits = run(images)  # float32 [N, 3, 64, 64] -> [N, num_classes]

Whether int8 is worth offering depends on the weights: check its top-1 agreement
with float32 on held-out images first (tools/benchmark.py reports it).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Callable, Mapping, Sequence

import numpy as np

from .errors import UserError

__all__ = ["export_int8", "create_cpu_predictor", "INT8_FILES", "PRECISIONS"]

INT8_FILES = ("inference.pdmodel", "inference.pdiparams")
PRECISIONS = ("fp32", "bf16", "int8")
# Weights quantized per output channel, activations per tensor from a histogram of
# the calibration images ("hist" kept the demo model's top-1 best of PTQ's methods).
DEFAULT_ALGO = "hist"
_QUANTIZABLE_OPS = ["conv2d", "matmul", "matmul_v2", "mul"]
_CALIBRATION_BATCH = 16


class QuantizationError(UserError):
    """The int8 export failed."""


def export_int8(arch: Mapping, weights: str, image_shape: Sequence[int],
                calibration_images: np.ndarray, save_dir: str, algo: str = DEFAULT_ALGO,
                num_threads: int = None) -> str:
    """Export the main head of ``arch`` with ``weights`` as an int8 model in ``save_dir``.

    ``calibration_images`` are float32 ``[N, 3, H, W]`` images prepared as for
    inference (a few hundred from the training set are plenty); activation ranges
    are measured on them. Returns ``save_dir``, which holds ``INT8_FILES``.
    """
    images = np.ascontiguousarray(calibration_images, dtype="float32")
    if images.ndim != 4 or images.shape[0] == 0:
        raise QuantizationError(f"calibration_images: expected a non-empty [N, 3, H, W] "
                                f"array, got shape {images.shape}")
    work = tempfile.mkdtemp(prefix="int8-export-")
    try:
        np.save(os.path.join(work, "calibration.npy"), images)
        job = {"arch": dict(arch), "weights": weights, "image_shape": list(image_shape),
               "work": work, "save_dir": os.path.abspath(save_dir), "algo": algo,
               "num_threads": num_threads}
        env = dict(os.environ, FLAGS_enable_pir_api="0")
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        done = subprocess.run([sys.executable, "-m", "paddle_googlenet.quantize",
                               json.dumps(job)], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise QuantizationError("int8 export failed:\n" + _last_lines(done.stderr))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return save_dir


def _last_lines(text: str, count: int = 15) -> str:
    # PTQ draws progress bars with carriage returns; keep real lines only.
    lines = [line for line in text.replace("\r", "\n").splitlines() if "|" not in line]
    return "\n".join(lines[-count:])


def _export_and_quantize(job: dict):
    """The child process's work: legacy export, then post-training quantization."""
    import paddle
    from paddle.static.quantization import PostTrainingQuantization

    from .models import build_main_head
    from .runtime import set_cpu_threads

    set_cpu_threads(job["num_threads"])
    legacy_dir = os.path.join(job["work"], "fp32")
    main_head = build_main_head(job["arch"], job["weights"], softmax=False)
    spec = [paddle.static.InputSpec([None] + job["image_shape"], "float32", name="x")]
    paddle.jit.save(main_head, os.path.join(legacy_dir, "inference"), input_spec=spec)

    images = np.load(os.path.join(job["work"], "calibration.npy"))

    def calibration_batches():
        for start in range(0, len(images), _CALIBRATION_BATCH):
            yield {"x": images[start:start + _CALIBRATION_BATCH]}

    paddle.enable_static()
    quantizer = PostTrainingQuantization(
        executor=paddle.static.Executor(paddle.CPUPlace()), model_dir=legacy_dir,
        model_filename=INT8_FILES[0], params_filename=INT8_FILES[1],
        data_loader=calibration_batches, batch_nums=-(-len(images) // _CALIBRATION_BATCH),
        algo=job["algo"], quantizable_op_type=_QUANTIZABLE_OPS,
        weight_quantize_type="channel_wise_abs_max")
    quantizer.quantize()
    quantizer.save_quantized_model(job["save_dir"], model_filename=INT8_FILES[0],
                                   params_filename=INT8_FILES[1])


def create_cpu_predictor(model_dir: str, precision: str = "fp32",
                         num_threads: int = None) -> Callable[[np.ndarray], np.ndarray]:
    """A Paddle Inference predictor on the CPU with oneDNN, as a function of a batch.

    ``precision``: ``fp32`` or ``bf16`` read ``inference.json`` + ``.pdiparams`` (the
    project's export); ``bf16`` needs a processor with bfloat16 support (see
    ``fast_paths.cpu_features``). ``int8`` reads ``export_int8``'s directory.
    ``num_threads`` defaults to every core.
    """
    import paddle.inference as inference

    from .fast_paths import cpu_features

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    features = cpu_features()
    if precision == "bf16" and not features["bf16"]:
        raise UserError("bf16 inference needs a processor with AVX-512 BF16 or AMX; this one "
                        f"({features['model']}) has neither")
    model_file = "inference.pdmodel" if precision == "int8" else "inference.json"
    config = inference.Config(os.path.join(model_dir, model_file),
                              os.path.join(model_dir, "inference.pdiparams"))
    config.disable_gpu()
    config.enable_mkldnn()
    if precision == "bf16":
        config.enable_mkldnn_bfloat16()
    elif precision == "int8":
        config.enable_mkldnn_int8()
        config.enable_new_ir(False)
    config.set_cpu_math_library_num_threads(num_threads or features["cores"] or 1)
    config.switch_ir_optim(True)
    config.disable_glog_info()
    predictor = inference.create_predictor(config)
    input_handle = predictor.get_input_handle(predictor.get_input_names()[0])
    output_handle = predictor.get_output_handle(predictor.get_output_names()[0])

    def run(images: np.ndarray) -> np.ndarray:
        images = np.ascontiguousarray(images, dtype="float32")
        input_handle.reshape(list(images.shape))
        input_handle.copy_from_cpu(images)
        predictor.run()
        return output_handle.copy_to_cpu()

    return run


if __name__ == "__main__":
    _export_and_quantize(json.loads(sys.argv[1]))
