"""Build a model by name from a PaddleClas-style ``Arch`` mapping.

    Arch:
      name: GoogLeNet
      class_num: 1000          # PaddleClas's spelling; num_classes works too
      pretrained: false        # or a path to a .pdparams file (never downloaded)
      adaptive_pool: true      # any other key is a constructor argument
"""

from typing import Mapping

from ..errors import ConfigError
from ..registry import Registry, check_value, closest
from .googlenet import GoogLeNet, MainHeadOnly
from .weights import load_weights

MODELS = Registry("model")
register_model = MODELS.register
register_model(GoogLeNet)


def build_model(arch: Mapping, where: str = "Arch"):
    """Build the model that ``arch`` names, loading ``pretrained`` weights if given.

    ``where`` names the mapping in error messages (a config section, say).
    """
    arch = dict(arch)
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
    pretrained = arch.pop("pretrained", False)
    if pretrained is True:
        raise ConfigError(f"{where}.pretrained: no weights are ever downloaded; give the path "
                          f"of a .pdparams file, or false")
    if pretrained not in (False, None, "") and not isinstance(pretrained, str):
        raise ConfigError(f"{where}.pretrained: expected a path or false, got {pretrained!r}")
    model = MODELS.build(name, arch, where)
    if pretrained:
        load_weights(model, pretrained)
    return model


def build_main_head(arch: Mapping, weights: str, softmax: bool) -> MainHeadOnly:
    """The model ``arch`` names with ``weights`` loaded, wrapped to return the main
    head only (with a softmax if asked), in eval mode: for prediction and export."""
    network = build_model(arch)
    load_weights(network, weights)
    main_head = MainHeadOnly(network, softmax=softmax)
    main_head.eval()
    return main_head
