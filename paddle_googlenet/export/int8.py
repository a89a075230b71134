"""Int8 (post-training quantization) of the main head for CPU inference with oneDNN.

Paddle 3.3.1's ``paddle.static.quantization.PostTrainingQuantization`` works on the
legacy (non-PIR) program format only: the model must be saved with
``FLAGS_enable_pir_api=0`` (giving a ``.pdmodel``), a flag that has to be set before
paddle is imported. ``export_int8`` therefore runs the export and the calibration in
a child process (``python -m paddle_googlenet.export.int8``). It writes ``INT8_FILES``
into a model directory, beside the float32 model; ``deploy.PaddleModel(...,
precision="int8")`` runs them with the legacy IR passes, since the PIR oneDNN passes
of 3.3.1 reject a quantized program.

``tools/export_model.py --int8`` is the way in (``quantize_to_int8``, through the
``int8`` entry of ``exporters.EXPORTERS``): it calibrates on training images, checks
top-1 agreement with float32 on the Eval images and keeps the int8 files only when
that agreement is high enough.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import List, Mapping, Optional, Sequence

import numpy as np

from ..deploy import PaddleModel
from ..deploy.precisions import PRECISIONS
from ..errors import ConfigError, UserError
from ..validators import positive_int
from ..progress import optional_progress
from .images import dataset_images

__all__ = ["export_int8", "quantize_to_int8", "check_int8_request", "INT8_FILES",
           "DEFAULT_ALGO", "INT8_CALIBRATION_IMAGES", "INT8_MIN_AGREEMENT"]

INT8_CALIBRATION_IMAGES = 128
INT8_MIN_AGREEMENT = 0.99  # top-1 agreement with float32 that int8 must keep
INT8_CHECK_IMAGES = 1000  # at most this many Eval images for that check

# Weights are quantized per output channel; activation ranges are the average of
# the calibration batches' maxima ("avg" kept the demo model's top-1 best of PTQ's
# methods: docs/benchmarks.md).
DEFAULT_ALGO = "avg"
# where deployment's int8 precision looks for the model
INT8_FILES = PRECISIONS["int8"].files
_QUANTIZABLE_OPS = ["conv2d", "matmul", "matmul_v2", "mul"]
_CALIBRATION_BATCH = 16


class QuantizationError(UserError):
    """The int8 export failed."""


def export_int8(arch: Mapping, weights: str, image_shape: Sequence[int],
                calibration_images: np.ndarray, save_dir: str, softmax: bool = False,
                algo: str = DEFAULT_ALGO, num_threads: Optional[int] = None,
                progress=None) -> List[str]:
    """Write the main head of ``arch`` with ``weights``, quantized to int8, into
    ``save_dir`` as ``INT8_FILES`` (with a softmax appended if ``softmax``).

    ``calibration_images`` are float32 ``[N, 3, H, W]`` images prepared as for
    inference (a hundred or two from the training set are plenty); activation
    ranges are measured on them. ``progress`` (``progress.Progress`` or a function
    like it) is told of each calibrated batch. Returns the paths written.
    """
    images = np.ascontiguousarray(calibration_images, dtype="float32")
    if images.ndim != 4 or images.shape[0] == 0:
        raise QuantizationError(f"calibration_images: expected a non-empty [N, 3, H, W] "
                                f"array, got shape {images.shape}")
    work = tempfile.mkdtemp(prefix="int8-export-")
    try:
        np.save(os.path.join(work, "calibration.npy"), images)
        job = {"arch": dict(arch), "weights": weights, "image_shape": list(image_shape),
               "softmax": softmax, "work": work, "save_dir": os.path.abspath(save_dir),
               "algo": algo, "num_threads": num_threads}
        env = dict(os.environ, FLAGS_enable_pir_api="0")
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        with open(os.path.join(work, "stderr.txt"), "w+") as errors, \
                optional_progress(progress, len(images), "int8 calibration") as shown:
            child = subprocess.Popen([sys.executable, "-m", "paddle_googlenet.export.int8",
                                      json.dumps(job)], env=env, stdout=subprocess.PIPE,
                                     stderr=errors, text=True)
            with child:
                for line in child.stdout:  # the child's count of calibrated images
                    if shown is not None and line.startswith(_CALIBRATED):
                        shown.update(int(line[len(_CALIBRATED):]))
            if child.returncode != 0:
                errors.seek(0)
                raise QuantizationError("int8 export failed:\n" + _last_lines(errors.read()))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [os.path.join(save_dir, name) for name in INT8_FILES]


_CALIBRATED = "calibrated "


def _last_lines(text: str, count: int = 15) -> str:
    # PTQ draws progress bars with carriage returns; keep real lines only.
    lines = [line for line in text.replace("\r", "\n").splitlines() if "|" not in line]
    return "\n".join(lines[-count:])


def _export_and_quantize(job: dict):
    """The child process's work: legacy export, then post-training quantization."""
    import paddle
    from paddle.static.quantization import PostTrainingQuantization

    from ..models import build_main_head
    from ..engine.runtime import set_cpu_threads

    set_cpu_threads(job["num_threads"])
    legacy_dir = os.path.join(job["work"], "fp32")
    main_head = build_main_head(job["arch"], job["weights"], softmax=job["softmax"])
    spec = [paddle.static.InputSpec([None] + job["image_shape"], "float32", name="x")]
    paddle.jit.save(main_head, os.path.join(legacy_dir, "inference"), input_spec=spec)

    images = np.load(os.path.join(job["work"], "calibration.npy"))

    def calibration_batches():
        for start in range(0, len(images), _CALIBRATION_BATCH):
            batch = images[start:start + _CALIBRATION_BATCH]
            # the parent shows the count (PTQ may not ask again after its last batch)
            print(f"{_CALIBRATED}{len(batch)}", flush=True)
            yield {"x": batch}

    paddle.enable_static()
    quantizer = PostTrainingQuantization(
        executor=paddle.static.Executor(paddle.CPUPlace()), model_dir=legacy_dir,
        model_filename="inference.pdmodel", params_filename="inference.pdiparams",
        data_loader=calibration_batches, batch_nums=-(-len(images) // _CALIBRATION_BATCH),
        algo=job["algo"], quantizable_op_type=_QUANTIZABLE_OPS,
        weight_quantize_type="channel_wise_abs_max")
    quantizer.quantize()
    quantizer.save_quantized_model(job["save_dir"], model_filename=INT8_FILES[0],
                                   params_filename=INT8_FILES[1])




def check_int8_request(config: dict, calibration_images: int, min_agreement: float):
    """Raise ConfigError unless ``config`` and the values can export int8."""
    loaders = config.get("DataLoader") or {}
    for split, purpose in (("Train", "calibration"), ("Eval", "the agreement check")):
        if split not in loaders:
            raise ConfigError(f"DataLoader.{split}: needed by --int8 ({purpose} images)")
    positive_int(calibration_images, "--calibration_images")
    if not 0.0 <= min_agreement <= 1.0:
        raise ConfigError(f"--int8_min_agreement must be between 0 and 1, got {min_agreement!r}")


def quantize_to_int8(config: dict, weights: str, model_dir: str,
                     calibration_images: int = INT8_CALIBRATION_IMAGES,
                     min_agreement: float = INT8_MIN_AGREEMENT, progress=None) -> dict:
    """Write the int8 model beside the float32 one in ``model_dir`` and check it.

    Activation ranges come from ``calibration_images`` training images; then the int8
    and float32 models classify up to ``INT8_CHECK_IMAGES`` Eval images. A top-1
    agreement below ``min_agreement`` removes the int8 files and raises. Returns
    ``{"calibration_images", "algo", "check_images", "top1_agreement", "files"}``,
    which ``inference.yml`` records as its ``int8`` entry. ``progress``
    (``progress.Progress`` or a function like it) shows the calibration and the check.
    """
    g = config["Global"]
    calibration, _ = dataset_images(config, "Train", calibration_images)
    written = export_int8(config["Arch"], weights, g["image_shape"], calibration, model_dir,
                          softmax=g["export_softmax"], progress=progress)
    check, _ = dataset_images(config, "Eval", INT8_CHECK_IMAGES)
    # keep_memory off: a one-off check should not change how this process allocates
    fp32_model = PaddleModel(model_dir, keep_memory=False)
    int8_model = PaddleModel(model_dir, precision="int8", keep_memory=False)
    agree = []
    with optional_progress(progress, len(check), "int8 agreement check") as shown:
        for batch in np.array_split(check, -(-len(check) // 32)):
            agree.append(int8_model(batch).argmax(1) == fp32_model(batch).argmax(1))
            if shown is not None:
                shown.update(len(batch))
    agreement = float(np.concatenate(agree).mean())
    if agreement < min_agreement:
        for path in written:
            os.remove(path)
        raise UserError(f"int8 agrees with float32 on the top-1 class of only {agreement:.2%} "
                        f"of {len(check)} DataLoader.Eval images (needs {min_agreement:.0%}, "
                        f"--int8_min_agreement); nothing was written. The agreement follows the "
                        f"float32 model's margins: a longer-trained model agrees more. Deploy "
                        f"the float32 model, or accept the difference knowingly with a lower "
                        f"--int8_min_agreement")
    return {"calibration_images": int(len(calibration)), "algo": DEFAULT_ALGO,
            "check_images": int(len(check)), "top1_agreement": agreement,
            "files": list(INT8_FILES)}


if __name__ == "__main__":
    _export_and_quantize(json.loads(sys.argv[1]))
