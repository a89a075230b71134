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

The directory is written under a temporary name and swapped into place, so an
interrupted export never leaves a half-written model where an old one was.
"""

import json
import os
import shutil

import numpy as np
import paddle

from .config import required_weights
from .data import read_class_id_map
from .deploy import ONNX_FILE, DeployError, OnnxModel, PaddleModel, Preprocess
from .errors import ConfigError, UserError
from .fileio import replace_dir, temp_dir_for
from .models import build_main_head

__all__ = ["export_inference_model", "convert_to_onnx", "MODEL_FILES", "DEPLOY_CONFIG"]

MODEL_FILES = ("inference.json", "inference.pdiparams")
DEPLOY_CONFIG = "inference.yml"
ONNX_OPSET = 13
ONNX_TOLERANCE = 1e-4  # max abs difference from Paddle Inference on a check batch


def _deploy_config(config: dict, softmax: bool) -> dict:
    infer = config.get("Infer")
    if not infer:
        raise ConfigError("Infer: needed to export (its transforms are the deployment's "
                          "preprocessing)")
    post = infer.get("PostProcess") or {}
    id_map = post.get("class_id_map_file")
    names = read_class_id_map(id_map) if id_map else {}
    try:  # the deployment side must be able to run these transforms
        Preprocess(infer["transforms"], where="Infer.transforms")
    except DeployError as err:
        raise ConfigError(str(err)) from None
    return {
        "model": config["Arch"]["name"],
        "input_shape": config["Global"]["image_shape"],
        "softmax": softmax,
        "transforms": infer["transforms"],
        "topk": post.get("topk", 5),
        "class_names": {str(k): v for k, v in sorted(names.items())},
    }


def export_inference_model(config: dict, save_dir: str = None, onnx: bool = False) -> dict:
    """Export the configured model with ``Global.pretrained_model``'s weights, and
    with ``onnx`` an ONNX copy of it.

    Returns ``{"dir": ..., "files": [...]}`` (plus ``"onnx_max_diff"`` with ``onnx``).
    """
    g = config["Global"]
    weights = required_weights(config, "export")
    save_dir = os.path.normpath(save_dir or g["save_inference_dir"])
    softmax = g["export_softmax"]
    deploy = _deploy_config(config, softmax)  # checked before anything is written
    if onnx:
        _import_paddle2onnx()

    main_head = build_main_head(config["Arch"], weights, softmax)
    spec = [paddle.static.InputSpec([None] + list(g["image_shape"]), "float32", name="x")]

    tmp = temp_dir_for(save_dir)
    result = {"dir": save_dir}
    try:
        paddle.jit.save(main_head, os.path.join(tmp, "inference"), input_spec=spec)
        missing = [f for f in MODEL_FILES if not os.path.isfile(os.path.join(tmp, f))]
        if missing:  # e.g. a Paddle with PIR off writes inference.pdmodel instead
            raise ConfigError(f"paddle.jit.save did not write {', '.join(missing)}; this "
                              f"export needs Paddle 3 with PIR (FLAGS_enable_pir_api=1)")
        with open(os.path.join(tmp, DEPLOY_CONFIG), "w", encoding="utf-8") as f:
            json.dump(deploy, f, indent=2)
        if onnx:
            result["onnx_max_diff"] = convert_to_onnx(tmp, [2] + list(g["image_shape"]))
        replace_dir(tmp, save_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result["files"] = sorted(os.listdir(save_dir))
    return result


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
    difference = float(np.abs(OnnxModel(model_dir)(batch)
                              - PaddleModel(model_dir, onednn=False)(batch)).max())
    if not difference <= ONNX_TOLERANCE:
        os.remove(path)
        raise UserError(f"the ONNX model differs from the Paddle model by {difference:.3g} "
                        f"(more than {ONNX_TOLERANCE}); it was not kept")
    return difference
