"""Networks, and a registry that builds them by name from an ``Arch`` mapping.

Every network subclasses ``Classifier`` (``base.py``), the interface the engine,
the tools and the weights loader rely on, and registers itself in its own module;
importing a module here is what makes its architecture available by name.
"""

from .base import Classifier, InputShapeError, MainHeadOnly
from .registry import (MODELS, ModelInfo, build_main_head, build_model, model_info,
                       register_model)
from ..weights.loading import (HEAD_POLICIES, HeadMismatchError, load_weights,
                               read_state_dict)

# Architectures (each registers itself on import).
from .googlenet import CONV_BLOCKS, GoogLeNet, Inception, conv_bn_relu, conv_relu
from .googlenet_paddleclas import GoogLeNetPaddleClas
from .zoo import create_model, googlenet, list_models

__all__ = ["Classifier", "GoogLeNet", "GoogLeNetPaddleClas", "Inception", "InputShapeError",
           "MainHeadOnly", "MODELS", "ModelInfo", "model_info", "build_model", "build_main_head",
           "register_model", "load_weights", "read_state_dict", "HEAD_POLICIES",
           "HeadMismatchError", "conv_relu", "conv_bn_relu", "CONV_BLOCKS", "create_model",
           "list_models", "googlenet"]
