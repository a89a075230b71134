"""Export the main head as a Paddle Inference model that deploys on its own.

``Global.save_inference_dir`` receives:

- ``inference.json`` + ``inference.pdiparams``: the program and weights written by
  ``paddle.jit.save`` with PIR (Paddle 3). Only the main path is traced, so the aux
  heads' operators and parameters are not in them.
- ``inference.yml``: what deployment needs besides the model: input shape, the
  ``Infer`` transforms, whether a softmax is appended, top-k and the class names.
  It is written as JSON, which is also YAML, so a deployment host reads it with
  the standard library alone.
- with ``onnx=True``, ``inference.onnx``: the same program converted by paddle2onnx
  (the ``onnx`` extra), checked against Paddle Inference with ONNX Runtime before
  it is kept.
- for each of ``precisions`` (entries of ``deploy.precisions.PRECISIONS`` with files
  of their own), the files its ``export`` writes, recorded in ``inference.yml`` under
  its name. For int8 that is ``inference_int8.pdmodel`` + ``.pdiparams``: the program
  quantized to int8 (``quantize``), calibrated on training images and kept only if
  its top-1 agrees with float32 on enough of the Eval images, with that agreement.

The directory is written under a temporary name and swapped into place, so an
interrupted export never leaves a half-written model where an old one was.
"""

import json
import os
import shutil
from typing import Any, Dict, Iterable, Optional

import numpy as np
import paddle

from .config import required_weights
from .data import build_dataloader, read_class_id_map
from .deploy import ONNX_FILE, OnnxModel, PaddleModel, Preprocess
from .deploy.infer import native_stderr_held_back
from .deploy.precisions import (INT8_CALIBRATION_IMAGES, INT8_MIN_AGREEMENT, PRECISIONS,
                                 precision_named)
from .errors import ConfigError, UserError
from .fileio import replace_dir, temp_dir_for
from .models import build_main_head

__all__ = ["export_inference_model", "convert_to_onnx", "quantize_to_int8", "dataset_images",
           "MODEL_FILES", "DEPLOY_CONFIG", "INT8_CALIBRATION_IMAGES", "INT8_MIN_AGREEMENT"]

MODEL_FILES = ("inference.json", "inference.pdiparams")
DEPLOY_CONFIG = "inference.yml"
ONNX_OPSET = 13
ONNX_TOLERANCE = 1e-4  # max abs difference from Paddle Inference on a check batch
INT8_CHECK_IMAGES = 1000  # at most this many Eval images for that check


def _deploy_config(config: dict, softmax: bool) -> dict:
    infer = config.get("Infer")
    if not infer:
        raise ConfigError("Infer: needed to export (its transforms are the deployment's "
                          "preprocessing)")
    post = infer.get("PostProcess") or {}
    id_map = post.get("class_id_map_file")
    names = read_class_id_map(id_map) if id_map else {}
    # the deployment side must be able to run these transforms
    Preprocess(infer["transforms"], where="Infer.transforms")
    return {
        "model": config["Arch"]["name"],
        "input_shape": config["Global"]["image_shape"],
        "softmax": softmax,
        "transforms": infer["transforms"],
        "topk": post.get("topk", 5),
        "class_names": {str(k): v for k, v in sorted(names.items())},
    }


def export_inference_model(config: dict, save_dir: str = None, onnx: bool = False,
                           precisions: Iterable[str] = (),
                           options: Optional[Dict[str, Any]] = None) -> dict:
    """Export the configured model with ``Global.pretrained_model``'s weights; with
    ``onnx`` an ONNX copy of it, and the files of each of ``precisions`` (names in
    ``PRECISIONS``, e.g. ``("int8",)``). ``options`` holds values for the precisions'
    ``export_options`` by name; those missing take their defaults.

    Returns ``{"dir": ..., "files": [...]}``, plus ``"onnx_max_diff"`` with ``onnx``
    and, under each precision's name, what its ``export`` returned. Nothing is
    written unless every part succeeds.
    """
    g = config["Global"]
    weights = required_weights(config, "export")
    save_dir = os.path.normpath(save_dir or g["save_inference_dir"])
    softmax = g["export_softmax"]
    deploy = _deploy_config(config, softmax)  # checked before anything is written
    if onnx:
        _import_paddle2onnx()
    options = dict(options or {})
    exports = [_precision_export(name, options) for name in precisions]
    unknown = set(options) - {o.name for p, _ in exports for o in p.export_options}
    if unknown:
        raise UserError(f"export options {sorted(unknown)} belong to none of the precisions "
                        f"exported ({list(precisions)})")
    for precision, values in exports:
        precision.check_export(config, values)

    main_head = build_main_head(config["Arch"], weights, softmax, heads="strict")
    _check_image_shape(main_head.net, g["image_shape"])
    spec = [paddle.static.InputSpec([None] + list(g["image_shape"]), "float32", name="x")]

    tmp = temp_dir_for(save_dir)
    result = {"dir": save_dir}
    try:
        # Paddle 3.3 logs "PIR not support input out tensor" (a glog warning from its
        # C++ side) on every save; what the save writes there is shown only if it fails.
        with native_stderr_held_back():
            paddle.jit.save(main_head, os.path.join(tmp, "inference"), input_spec=spec)
        missing = [f for f in MODEL_FILES if not os.path.isfile(os.path.join(tmp, f))]
        if missing:  # e.g. a Paddle with PIR off writes inference.pdmodel instead
            raise ConfigError(f"paddle.jit.save did not write {', '.join(missing)}; this "
                              f"export needs Paddle 3 with PIR (FLAGS_enable_pir_api=1)")
        if onnx:
            result["onnx_max_diff"] = convert_to_onnx(tmp, [2] + list(g["image_shape"]))
        for precision, values in exports:
            result[precision.name] = deploy[precision.name] = precision.export(
                config, weights, tmp, values)
        with open(os.path.join(tmp, DEPLOY_CONFIG), "w", encoding="utf-8") as f:
            json.dump(deploy, f, indent=2)
        replace_dir(tmp, save_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result["files"] = sorted(os.listdir(save_dir))
    return result


def _precision_export(name: str, options: Dict[str, Any]):
    """``(precision, its option values)`` for exporting ``name``."""
    precision = precision_named(name)
    if not precision.export_flag:
        exportable = [p.name for p in PRECISIONS.values() if p.export_flag]
        raise UserError(f"precision {name!r} has no files of its own to export (the float32 "
                        f"model serves it); those that do: {exportable}")
    return precision, {o.name: options.get(o.name, o.default)
                       for o in precision.export_options}


def _check_image_shape(network, image_shape):
    """The network's own shape error for ``Global.image_shape``, before tracing: a
    traced forward would bury it in a dump of the transformed code."""
    if hasattr(network, "check_input"):
        try:
            network.check_input(paddle.zeros([1] + list(image_shape)))
        except UserError as err:
            raise ConfigError(f"Global.image_shape: {err}") from err


def check_int8_request(config: dict, calibration_images: int, min_agreement: float):
    """Raise ConfigError unless ``config`` and the values can export int8."""
    loaders = config.get("DataLoader") or {}
    for split, purpose in (("Train", "calibration"), ("Eval", "the agreement check")):
        if split not in loaders:
            raise ConfigError(f"DataLoader.{split}: needed by --int8 ({purpose} images)")
    if isinstance(calibration_images, bool) or not isinstance(calibration_images, int) \
            or calibration_images < 1:
        raise ConfigError(f"--calibration_images must be a positive integer, got "
                          f"{calibration_images!r}")
    if not 0.0 <= min_agreement <= 1.0:
        raise ConfigError(f"--int8_min_agreement must be between 0 and 1, got {min_agreement!r}")


def dataset_images(config: dict, split: str, limit: Optional[int] = None, seed: int = 0):
    """``(images, labels)`` of ``DataLoader.<split>``'s list prepared as deployment
    prepares them (the ``Infer`` transforms), as float32 ``[N, C, H, W]``.

    With ``limit``, that many images drawn in a ``seed``-shuffled order (so from
    every class of a list sorted by class); without, the whole list in order.
    """
    section = json.loads(json.dumps(config["DataLoader"][split]))
    section["dataset"]["transform_ops"] = config["Infer"]["transforms"]
    # Batch operators (Mixup, Cutmix) are training augmentation: deployment sees
    # single images with their own labels.
    section["dataset"].pop("batch_transform_ops", None)
    section["sampler"] = {"name": "BatchSampler", "batch_size": 64, "drop_last": False,
                          "shuffle": limit is not None}
    section["loader"] = {"num_workers": 0}
    images, labels, count = [], [], 0
    for x, y in build_dataloader(section, seed=seed, distributed=False,
                                 where=f"DataLoader.{split}"):
        images.append(np.asarray(x, dtype="float32"))
        labels.append(np.asarray(y).reshape(-1))
        count += len(images[-1])
        if limit and count >= limit:
            break
    return np.concatenate(images)[:limit], np.concatenate(labels)[:limit]


def quantize_to_int8(config: dict, weights: str, model_dir: str,
                     calibration_images: int = INT8_CALIBRATION_IMAGES,
                     min_agreement: float = INT8_MIN_AGREEMENT) -> dict:
    """Write the int8 model beside the float32 one in ``model_dir`` and check it.

    Activation ranges come from ``calibration_images`` training images; then the int8
    and float32 models classify up to ``INT8_CHECK_IMAGES`` Eval images. A top-1
    agreement below ``min_agreement`` removes the int8 files and raises. Returns
    ``{"calibration_images", "algo", "check_images", "top1_agreement", "files"}``,
    which ``inference.yml`` records as its ``int8`` entry.
    """
    from .quantize import DEFAULT_ALGO, INT8_FILES, export_int8

    g = config["Global"]
    calibration, _ = dataset_images(config, "Train", calibration_images)
    written = export_int8(config["Arch"], weights, g["image_shape"], calibration, model_dir,
                          softmax=g["export_softmax"])
    check, _ = dataset_images(config, "Eval", INT8_CHECK_IMAGES)
    # keep_memory off: a one-off check should not change how this process allocates
    fp32_model = PaddleModel(model_dir, keep_memory=False)
    int8_model = PaddleModel(model_dir, precision="int8", keep_memory=False)
    agree = [int8_model(batch).argmax(1) == fp32_model(batch).argmax(1)
             for batch in np.array_split(check, -(-len(check) // 32))]
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


def _import_paddle2onnx():
    try:
        import onnxruntime  # noqa: F401
        import paddle2onnx
    except ImportError as err:
        raise UserError(f"--onnx needs paddle2onnx and onnxruntime ({err}); install them "
                        f"with pip install -e \".[onnx]\"") from None
    return paddle2onnx


def convert_to_onnx(model_dir: str, check_shape) -> float:
    """Write ``model_dir/inference.onnx`` from the Paddle model there, run both on a
    random batch of ``check_shape`` and return the max abs difference; a difference
    above ``ONNX_TOLERANCE`` removes the file and raises."""
    paddle2onnx = _import_paddle2onnx()
    # save_file=None returns the model instead of running paddle2onnx's optional
    # optimizers, one of which (polygraphy) pip-installs packages at run time.
    try:
        model = paddle2onnx.export(os.path.join(model_dir, MODEL_FILES[0]),
                                   os.path.join(model_dir, MODEL_FILES[1]), None,
                                   opset_version=ONNX_OPSET, auto_upgrade_opset=True,
                                   enable_onnx_checker=True)
    except Exception as err:  # it logs the cause, then fails on its own unset result
        model = err
    if not isinstance(model, bytes):
        raise UserError(f"paddle2onnx {paddle2onnx.__version__} could not convert the model "
                        f"with Paddle {paddle.__version__}: {model!r} (its log above says why)")
    path = os.path.join(model_dir, ONNX_FILE)
    with open(path, "wb") as f:
        f.write(model)
    batch = np.random.RandomState(0).rand(*check_shape).astype(np.float32)
    reference = PaddleModel(model_dir, onednn=False, keep_memory=False)(batch)
    difference = float(np.abs(OnnxModel(model_dir)(batch) - reference).max())
    if not difference <= ONNX_TOLERANCE:
        os.remove(path)
        raise UserError(f"the ONNX model differs from the Paddle model by {difference:.3g} "
                        f"(more than {ONNX_TOLERANCE}); it was not kept")
    return difference
