"""paddle_googlenet: GoogLeNet (Inception v1) for PaddlePaddle.

    import paddle_googlenet as pg
    net = pg.GoogLeNet(num_classes=1000)     # forward -> (out, out1, out2)
"""

import warnings

# Paddle warns about a missing compiler cache on every import; it only matters for
# building custom C++ operators, which this package never does.
warnings.filterwarnings("ignore", message="No ccache found")

try:
    import paddle  # noqa: F401  (checked here so the message can say what to install)
except ImportError as _err:
    raise ImportError(
        "paddle_googlenet needs PaddlePaddle, which is not installed. It comes in two "
        "distributions that both provide the 'paddle' module: 'paddlepaddle' (CPU) and "
        "'paddlepaddle-gpu' (CUDA). Install one, e.g. `pip install paddle_googlenet[cpu]` "
        "(or `pip install paddlepaddle`) for CPU; for GPU, install the paddlepaddle-gpu "
        "build for your CUDA version as PaddlePaddle's install guide describes, then "
        "`pip install paddle_googlenet`.") from _err

from .errors import ConfigError, DataError, UserError, WeightsError

__version__ = "0.1.0"

# The model names are loaded on first use, so that ``paddle_googlenet.deploy``
# (numpy, PIL and an inference runtime only) can be imported on a deployment host
# without pulling in the training code.
_MODEL_NAMES = ("GoogLeNet", "Inception", "MainHeadOnly", "InputShapeError", "MODELS",
                "build_model", "register_model", "load_weights")

__all__ = [*_MODEL_NAMES, "UserError", "ConfigError", "DataError", "WeightsError",
           "__version__"]


def __getattr__(name):
    if name in _MODEL_NAMES:
        from . import models
        return getattr(models, name)
    raise AttributeError(f"module 'paddle_googlenet' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_MODEL_NAMES))
