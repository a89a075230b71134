"""Build a model by name from a PaddleClas-style ``Arch`` mapping.

    Arch:
      name: GoogLeNet
      class_num: 1000          # PaddleClas's spelling; num_classes works too
      pretrained: false        # or a path to a .pdparams file (never downloaded)
      adaptive_pool: true      # any other key is a constructor argument

Each architecture registers its factory (a ``Classifier`` subclass or a function
returning one) with ``register_model``, together with the input size and the
normalisation its weights expect; ``model_info(name)`` returns them.
"""

from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence, Tuple, Union

from ..errors import ConfigError
from ..constants import IMAGENET_MEAN, IMAGENET_STD
from ..registry import Registry, check_value
from ..validators import closest, pretrained_path
from ..weights.loading import HEAD_POLICIES, load_weights
from .base import MainHeadOnly

__all__ = ["MODELS", "ModelInfo", "model_info", "register_model", "build_model",
           "build_main_head"]


@dataclass(frozen=True)
class ModelInfo:
    """What a registered architecture expects of its input."""

    name: str
    factory: Callable
    input_size: Tuple[int, int, int]  # C, H, W the fixed heads and the weights are for
    mean: Tuple[float, ...]           # per-channel normalisation of RGB in [0, 1]
    std: Tuple[float, ...]
    summary: str


class ModelRegistry(Registry):
    """The model registry: factories by name, each with its ``ModelInfo``."""

    def __init__(self):
        super().__init__("model")
        self._info = {}

    def register(self, obj: Callable = None, name: Optional[str] = None, *,
                 input_size: Sequence[int] = (3, 224, 224),
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 summary: str = ""):
        """Register a factory under ``name`` (default: its ``__name__``) with the
        input size and normalisation it expects; a decorator too."""
        def add(target):
            key = name or target.__name__
            Registry.register(self, target, key)
            self._info[key] = ModelInfo(key, target, tuple(input_size), tuple(mean),
                                        tuple(std), summary)
            return target
        return add(obj) if obj is not None else add

    def info(self, name: str, where: str = "Arch.name") -> ModelInfo:
        self.get(name, where)
        return self._info[name]


MODELS = ModelRegistry()
register_model = MODELS.register


def model_info(name: str) -> ModelInfo:
    """Input size and normalisation of the architecture registered as ``name``."""
    return MODELS.info(name)


def build_model(arch: Union[Mapping, str], where: str = "Arch"):
    """Build the model that ``arch`` names (an ``Arch`` mapping, or a registered name
    alone), loading ``pretrained`` weights if given (classifier heads of another class
    count are re-initialised: fine-tuning).

    ``where`` names the mapping in error messages (a config section, say).
    """
    arch = {"name": arch} if isinstance(arch, str) else dict(arch)
    name = arch.pop("name", None)
    MODELS.get(name, f"{where}.name")
    unknown = [k for k in arch if k not in ("class_num", "pretrained")
               and k not in MODELS.arguments(name)]
    if unknown:
        valid = ["class_num", "pretrained"] + list(MODELS.arguments(name))
        raise ConfigError(f"{where}.{unknown[0]}: {name} has no such argument"
                          f"{closest(unknown[0], valid)}; valid: {', '.join(valid)}")
    if "class_num" in arch:
        if "num_classes" in arch:
            raise ConfigError(f"{where}: give class_num or num_classes, not both")
        check_value(arch["class_num"], int, f"{where}.class_num")
        arch["num_classes"] = arch.pop("class_num")
    pretrained = pretrained_path(arch.pop("pretrained", False), f"{where}.pretrained")
    model = MODELS.build(name, arch, where)
    if pretrained:
        load_weights(model, pretrained, heads="reinit")
    return model


def build_main_head(arch: Mapping, weights: str, softmax: bool,
                    heads: str = "strict") -> MainHeadOnly:
    """The model ``arch`` names with ``weights`` loaded, wrapped to return the main
    head only (with a softmax if asked), in eval mode: for prediction and export.

    With ``heads="strict"`` (the default) weights whose heads do not fit ``arch``
    are refused, since re-initialised heads would predict noise. ``arch``'s own
    ``pretrained`` is not loaded: ``weights`` replace every parameter.
    """
    if heads not in HEAD_POLICIES:
        raise ValueError(f"heads must be one of {', '.join(HEAD_POLICIES)}, got {heads!r}")
    arch = {k: v for k, v in arch.items() if k != "pretrained"}
    network = build_model(arch)
    load_weights(network, weights, heads=heads)
    main_head = MainHeadOnly(network, softmax=softmax)
    main_head.eval()
    return main_head
