"""Export the main head as a Paddle Inference model that deploys on its own.

``Global.save_inference_dir`` receives:

- ``inference.json`` + ``inference.pdiparams``: the program and weights written by
  ``paddle.jit.save`` with PIR (Paddle 3). Only the main path is traced, so the aux
  heads' operators and parameters are not in them.
- ``inference.yml``: what deployment needs besides the model: input shape and dtype,
  the ``Infer`` transforms, whether a softmax is appended, top-k and the class names.
- with ``uint8_input=True``, the model takes the ``uint8`` pixels and applies the
  Infer list's final NormalizeImage itself (``uint8_input.Uint8Input``);
  ``inference.yml`` says ``input_dtype: uint8`` and deployment stops its
  preprocessing before that NormalizeImage.
  It is written as JSON, which is also YAML, so a deployment host reads it with
  the standard library alone.
- with ``onnx=True``, ``inference.onnx``: the same program converted by paddle2onnx
  (the ``onnx`` extra), checked against Paddle Inference with ONNX Runtime before
  it is kept.
- for each of ``precisions`` (names in ``exporters.EXPORTERS``: precisions with files
  of their own), the files its exporter writes, recorded in ``inference.yml`` under
  its name. For int8 that is ``inference_int8.pdmodel`` + ``.pdiparams``: the program
  quantized to int8 (``int8``), calibrated on training images and kept only if its
  top-1 agrees with float32 on enough of the Eval images, with that agreement.

The package holds what writes models: this module (float32, Paddle Inference),
``onnx``, ``int8`` and ``exporters``, the registry a new precision's export joins. It
uses ``deploy`` to check what it writes; ``deploy`` never imports it.

The directory is written under a temporary name and swapped into place, so an
interrupted export never leaves a half-written model where an old one was.
"""

import json
import os
import shutil
from typing import Any, Dict, Iterable, Optional

import paddle

from ..config import required_weights
from ..deploy import Preprocess
from ..deploy.infer import native_stderr_held_back
from ..errors import ConfigError, UserError, located
from ..engine.labels import class_id_map, class_names, fill_class_num
from ..models import build_main_head
from ..weights.atomic import replace_dir, temp_dir_for
from ..weights.checkpoint import evaluated_weights
from .exporters import EXPORTERS, exporter_named
from .files import DEPLOY_CONFIG, MODEL_FILES
from .images import dataset_images
from .onnx import convert_to_onnx, import_paddle2onnx
from .uint8_input import Uint8Input

__all__ = ["export_inference_model", "convert_to_onnx", "dataset_images", "EXPORTERS",
           "MODEL_FILES", "DEPLOY_CONFIG"]


def _deploy_config(config: dict, softmax: bool, uint8_input: bool, names: list) -> dict:
    infer = config.get("Infer")
    if not infer:
        raise ConfigError("Infer: needed to export (its transforms are the deployment's "
                          "preprocessing)")
    post = infer.get("PostProcess") or {}
    # the deployment side must be able to run these transforms
    Preprocess(infer["transforms"], where="Infer.transforms", uint8_input=uint8_input)
    return {
        "model": config["Arch"]["name"],
        "input_shape": config["Global"]["image_shape"],
        "input_dtype": "uint8" if uint8_input else "float32",
        "softmax": softmax,
        "transforms": infer["transforms"],
        "topk": post.get("topk", 5),
        "class_names": {str(i): name for i, name in enumerate(names)},
    }


def export_inference_model(config: dict, save_dir: str = None, onnx: bool = False,
                           precisions: Iterable[str] = (),
                           options: Optional[Dict[str, Any]] = None,
                           uint8_input: bool = False, progress=None) -> dict:
    """Export the configured model with ``Global.pretrained_model``'s weights; with
    ``onnx`` an ONNX copy of it, and the files of each of ``precisions`` (names in
    ``EXPORTERS``, e.g. ``("int8",)``). ``options`` holds values for the exporters'
    ``options`` by name; those missing take their defaults. ``uint8_input`` makes the
    model take ``uint8`` pixels and normalize them itself (see above). ``progress``
    (``progress.Progress`` or a function like it, ``(total, what, unit)``) is given
    to the exporters for their long steps; without it they are quiet.

    Returns ``{"dir": ..., "files": [...]}``, plus ``"onnx_max_diff"`` with ``onnx``
    and, under each precision's name, what its ``export`` returned. Nothing is
    written unless every part succeeds.
    """
    g = config["Global"]
    weights = evaluated_weights(required_weights(config, "export"), bool(config.get("EMA")))
    save_dir = os.path.normpath(save_dir or g["save_inference_dir"])
    softmax = g["export_softmax"]
    class_id_map(config)  # a labels file named there must exist
    fill_class_num(config, "Eval")
    with located("Global.pretrained_model"):
        main_head = build_main_head(config["Arch"], weights, softmax, heads="strict")
    names, _ = class_names(config, main_head.net.num_classes)
    # checked before anything is written
    deploy = _deploy_config(config, softmax, uint8_input, names)
    if uint8_input and precisions:
        raise UserError(f"--uint8-input exports the float32 model (and its ONNX copy); "
                        f"export {', '.join('--' + p for p in precisions)} without it")
    if onnx:
        import_paddle2onnx()
    options = dict(options or {})
    exports = [_exporter_with_options(name, options) for name in precisions]
    unknown = set(options) - {o.name for e, _ in exports for o in e.options}
    if unknown:
        raise UserError(f"export options {sorted(unknown)} belong to none of the precisions "
                        f"exported ({list(precisions)})")
    for exporter, values in exports:
        exporter.check(config, values)

    _check_image_shape(main_head.net, g["image_shape"])
    if uint8_input:
        normalize = Preprocess(config["Infer"]["transforms"]).pipeline.split_final_normalize()[1]
        main_head = Uint8Input(main_head, normalize)
    spec = [paddle.static.InputSpec([None] + list(g["image_shape"]), deploy["input_dtype"],
                                    name="x")]

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
            result["onnx_max_diff"] = convert_to_onnx(tmp, [2] + list(g["image_shape"]),
                                                      deploy["input_dtype"])
        for exporter, values in exports:
            result[exporter.name] = deploy[exporter.name] = exporter.export(
                config, weights, tmp, values, progress)
        with open(os.path.join(tmp, DEPLOY_CONFIG), "w", encoding="utf-8") as f:
            json.dump(deploy, f, indent=2)
        replace_dir(tmp, save_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result["files"] = sorted(os.listdir(save_dir))
    return result


def _exporter_with_options(name: str, options: Dict[str, Any]):
    """``(exporter, its option values)`` for exporting ``name``."""
    exporter = exporter_named(name)
    return exporter, {o.name: options.get(o.name, o.default) for o in exporter.options}


def _check_image_shape(network, image_shape):
    """The network's own shape error for ``Global.image_shape``, before tracing: a
    traced forward would bury it in a dump of the transformed code."""
    if hasattr(network, "check_input"):
        try:
            network.check_input(paddle.zeros([1] + list(image_shape)))
        except UserError as err:
            raise ConfigError(f"Global.image_shape: {err}") from err
