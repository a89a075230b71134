"""paddle_googlenet: GoogLeNet (Inception v1) for PaddlePaddle.

    import paddle_googlenet as pg
    net = pg.GoogLeNet(num_classes=1000)     # forward -> (out, out1, out2)

Paddle is imported where the model and training code are first used, not here:
``paddle_googlenet.deploy`` with ONNX Runtime runs on a host without Paddle.
"""

import importlib
import warnings

# Paddle warns about a missing compiler cache on every import; it only matters for
# building custom C++ operators, which this package never does.
warnings.filterwarnings("ignore", message="No ccache found")

from .errors import (PADDLE_MISSING, ConfigError, DataError, DeployError,  # noqa: E402
                     UserError, WeightsError)

__version__ = "0.1.0"

# The models (``pg.GoogLeNet``, ``pg.build_model``, everything ``paddle_googlenet.models``
# exports) are loaded on first use, so that ``paddle_googlenet.deploy`` (numpy, PIL and
# an inference runtime only) can be imported on a deployment host without Paddle.
__all__ = ["UserError", "ConfigError", "DataError", "WeightsError", "DeployError",
           "__version__"]


def require_paddle():
    """Import and return ``paddle``; an ImportError that says what to install if it is
    missing."""
    try:
        import paddle
    except ImportError as err:
        raise ImportError(PADDLE_MISSING) from err
    return paddle


def __getattr__(name):
    if name.startswith("_"):
        raise AttributeError(f"module 'paddle_googlenet' has no attribute {name!r}")
    require_paddle()
    models = importlib.import_module(f"{__name__}.models")
    if name in models.__all__:
        return getattr(models, name)
    raise AttributeError(f"module 'paddle_googlenet' has no attribute {name!r}")


def __dir__():
    try:
        models = importlib.import_module(f"{__name__}.models")
    except ImportError:  # no Paddle: only the deployment side is usable
        return sorted(globals())
    return sorted(set(globals()) | set(models.__all__))
