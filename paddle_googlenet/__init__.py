"""paddle_googlenet: GoogLeNet (Inception v1) for PaddlePaddle.

    import paddle_googlenet as pg
    net = pg.GoogLeNet(num_classes=1000)     # forward -> (out, out1, out2)

Paddle is imported where the model and training code are first used, not here:
``paddle_googlenet.deploy`` with ONNX Runtime runs on a host without Paddle.
"""

import importlib.abc
import importlib.machinery
import sys
import warnings

# Paddle warns "No ccache found" when it is imported on a machine without ccache; a
# compiler cache only matters for building custom C++ operators, which this package
# never does. The warning is raised while the module below is first executed, so
# that one execution runs with it ignored, whoever imports Paddle and whatever
# warning filters are in force then (pytest, for one, resets them for every test).
# The user's own warning filters are left as they are.
_CCACHE_CHECK_MODULE = "paddle.utils.cpp_extension.cpp_extension"


class _WithoutCcacheWarning(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)
            self.loader.exec_module(module)
        module.__loader__ = module.__spec__.loader = self.loader  # as if loaded as usual


class _CcacheCheckFinder(importlib.abc.MetaPathFinder):
    """Finds ``_CCACHE_CHECK_MODULE`` as usual and loads it through
    ``_WithoutCcacheWarning``; then leaves the import system."""

    def find_spec(self, name, path, target=None):
        if name != _CCACHE_CHECK_MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _WithoutCcacheWarning(spec.loader)
        return spec


if _CCACHE_CHECK_MODULE not in sys.modules and not any(
        isinstance(finder, _CcacheCheckFinder) for finder in sys.meta_path):
    sys.meta_path.insert(0, _CcacheCheckFinder())

from typing import TYPE_CHECKING  # noqa: E402

from .errors import (PADDLE_MISSING, ConfigError, DataError, DeployError,  # noqa: E402
                     UserError, WeightsError)

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

__all__ = ["UserError", "ConfigError", "DataError", "WeightsError", "DeployError",
           "__version__", "require_paddle",
           # the model zoo (paddle_googlenet.models), loaded on first use
           "create_model", "list_models", "googlenet", "build_model", "build_main_head",
           "GoogLeNet", "GoogLeNetPaddleClas", "Inception", "Classifier", "MainHeadOnly",
           "InputShapeError", "MODELS", "ModelInfo", "model_info", "register_model",
           "load_weights", "read_state_dict", "HEAD_POLICIES", "HeadMismatchError",
           "conv_relu", "conv_bn_relu", "CONV_BLOCKS"]


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
