"""paddle_googlenet: GoogLeNet (Inception v1) for PaddlePaddle.

    import paddle_googlenet as pg
    net = pg.GoogLeNet(num_classes=1000)     # forward -> (out, out1, out2)
    net = pg.create_model("googlenet", num_classes=10)    # by name, as timm does
    net = pg.googlenet(pretrained="w.pdparams")           # as paddle.vision does

Paddle is imported where the model and training code are first used, not here:
``paddle_googlenet.deploy`` with ONNX Runtime runs on a host without Paddle. Importing
the package changes nothing of the process (imports, warning filters, OpenCV): the
tools and the engine set those up where a process starts (``cli.runner``,
``engine.process``).
"""

import importlib
from typing import TYPE_CHECKING

from .errors import (PADDLE_MISSING, ConfigError, DataError, DeployError, UserError,
                     WeightsError)

__version__ = "0.1.0"

# The models (``pg.GoogLeNet``, ``pg.create_model``, everything ``paddle_googlenet.models``
# exports) are loaded on first use, by ``__getattr__`` below, so that
# ``paddle_googlenet.deploy`` (numpy, OpenCV, PIL and an inference runtime only) can be
# imported on a deployment host without Paddle. Type checkers and IDEs read them here.
if TYPE_CHECKING:
    from .models import (CONV_BLOCKS, HEAD_POLICIES, MODELS, Classifier, GoogLeNet,
                         GoogLeNetPaddleClas, HeadMismatchError, Inception, InputShapeError,
                         MainHeadOnly, ModelInfo, build_main_head, build_model, conv_bn_relu,
                         conv_relu, create_model, googlenet, list_models, load_weights,
                         model_info, read_state_dict, register_model)
    from .engine.runtime import set_cpu_threads

__all__ = ["UserError", "ConfigError", "DataError", "WeightsError", "DeployError",
           "__version__", "require_paddle",
           # the model zoo (paddle_googlenet.models), loaded on first use
           "create_model", "list_models", "googlenet", "build_model", "build_main_head",
           "GoogLeNet", "GoogLeNetPaddleClas", "Inception", "Classifier", "MainHeadOnly",
           "InputShapeError", "MODELS", "ModelInfo", "model_info", "register_model",
           "load_weights", "read_state_dict", "HEAD_POLICIES", "HeadMismatchError",
           "conv_relu", "conv_bn_relu", "CONV_BLOCKS",
           # process setup, as the tools do it
           "set_cpu_threads"]

# Names ``__getattr__`` loads from a module other than ``models``.
_FROM_ENGINE = {"set_cpu_threads": "engine.runtime"}


def require_paddle():
    """Import and return ``paddle``; an ImportError that says what to install if it is
    missing."""
    try:
        import paddle
    except ImportError as err:
        raise ImportError(PADDLE_MISSING) from err
    return paddle


def __getattr__(name):
    # Only the model-zoo names: any other (a submodule not imported yet, which
    # ``from paddle_googlenet import pixels`` asks about first) is no attribute yet.
    if name not in __all__:
        raise AttributeError(f"module 'paddle_googlenet' has no attribute {name!r}")
    require_paddle()
    module = _FROM_ENGINE.get(name, "models")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
