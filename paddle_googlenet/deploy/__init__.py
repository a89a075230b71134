"""Deployment of an exported GoogLeNet: preprocessing and inference without the
training code (numpy, OpenCV, PIL and Paddle Inference or ONNX Runtime only; ONNX Runtime
needs no Paddle at all).

    from paddle_googlenet.deploy import ImageClassifier
    for result in ImageClassifier("inference/").classify(["cat.jpg"]):
        print(result["topk"][0]["label"])

``python tools/infer.py --help`` is the command-line form.
"""

from ..errors import DeployError, ImageError
from ..hardware import bf16_supported, read_cpuinfo, usable_cores
from ..image_io import expand_images
from .infer import (DEPLOY_CONFIG, ONNX_FILE, ImageClassifier, OnnxModel, PaddleModel,
                    classify_files, format_result, paddle_model_files, read_deploy_config)
from .precisions import PRECISIONS, Precision
from .preprocess import Preprocess

__all__ = ["ImageClassifier", "PaddleModel", "OnnxModel", "Preprocess", "DeployError",
           "ImageError", "expand_images", "classify_files", "format_result",
           "read_deploy_config", "paddle_model_files", "read_cpuinfo", "usable_cores",
           "bf16_supported", "PRECISIONS", "Precision", "DEPLOY_CONFIG", "ONNX_FILE"]
