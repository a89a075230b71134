"""Export the main head as a Paddle Inference model that deploys on its own.

``Global.save_inference_dir`` receives:

- ``inference.json`` + ``inference.pdiparams``: the program and weights written by
  ``paddle.jit.save`` with PIR (Paddle 3). Only the main path is traced, so the aux
  heads' operators and parameters are not in them.
- ``inference.yml``: what deployment needs besides the model: input shape, the
  ``Infer`` transforms, whether a softmax is appended, top-k and the class names.
  It is written as JSON, which is also YAML, so a deployment host reads it with
  the standard library alone.

The directory is written under a temporary name and swapped into place, so an
interrupted export never leaves a half-written model where an old one was.
"""

import json
import os
import shutil

import paddle

from .config import required_weights
from .data import read_class_id_map
from .errors import ConfigError
from .fileio import replace_dir, temp_dir_for
from .models import build_main_head

__all__ = ["export_inference_model", "MODEL_FILES", "DEPLOY_CONFIG"]

MODEL_FILES = ("inference.json", "inference.pdiparams")
DEPLOY_CONFIG = "inference.yml"


def _deploy_config(config: dict, softmax: bool) -> dict:
    infer = config.get("Infer")
    if not infer:
        raise ConfigError("Infer: needed to export (its transforms are the deployment's "
                          "preprocessing)")
    post = infer.get("PostProcess") or {}
    id_map = post.get("class_id_map_file")
    names = read_class_id_map(id_map) if id_map else {}
    return {
        "model": config["Arch"]["name"],
        "input_shape": config["Global"]["image_shape"],
        "softmax": softmax,
        "transforms": infer["transforms"],
        "topk": post.get("topk", 5),
        "class_names": {str(k): v for k, v in sorted(names.items())},
    }


def export_inference_model(config: dict, save_dir: str = None) -> dict:
    """Export the configured model with ``Global.pretrained_model``'s weights.

    Returns ``{"dir": ..., "files": [...]}``.
    """
    g = config["Global"]
    weights = required_weights(config, "export")
    save_dir = os.path.normpath(save_dir or g["save_inference_dir"])
    softmax = g["export_softmax"]
    deploy = _deploy_config(config, softmax)  # checked before anything is written

    main_head = build_main_head(config["Arch"], weights, softmax)
    spec = [paddle.static.InputSpec([None] + list(g["image_shape"]), "float32", name="x")]

    tmp = temp_dir_for(save_dir)
    try:
        paddle.jit.save(main_head, os.path.join(tmp, "inference"), input_spec=spec)
        missing = [f for f in MODEL_FILES if not os.path.isfile(os.path.join(tmp, f))]
        if missing:  # e.g. a Paddle with PIR off writes inference.pdmodel instead
            raise ConfigError(f"paddle.jit.save did not write {', '.join(missing)}; this "
                              f"export needs Paddle 3 with PIR (FLAGS_enable_pir_api=1)")
        with open(os.path.join(tmp, DEPLOY_CONFIG), "w", encoding="utf-8") as f:
            json.dump(deploy, f, indent=2)
        replace_dir(tmp, save_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"dir": save_dir, "files": sorted(os.listdir(save_dir))}
