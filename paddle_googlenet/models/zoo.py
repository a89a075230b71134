"""The model-zoo entry points, as timm and paddle.vision spell them.

    import paddle_googlenet as pg
    pg.list_models()                               # ['GoogLeNet', 'GoogLeNetPaddleClas']
    net = pg.create_model("googlenet", num_classes=10)             # timm
    net = pg.googlenet(pretrained="weights.pdparams")              # paddle.vision
    net = pg.build_model({"name": "GoogLeNet", "class_num": 10})   # a config's Arch

All three build from the one registry (``MODELS``). ``pretrained`` is the path of a
``.pdparams`` or ``.safetensors`` file; nothing is downloaded.
"""

import fnmatch
import re
from typing import List, Optional

from ..errors import ConfigError
from ..validators import closest
from .base import Classifier
from .registry import MODELS, build_model

__all__ = ["list_models", "create_model", "googlenet"]


def _folded(name: str) -> str:
    """``GoogLeNet``, ``googlenet`` and ``google_net`` alike: case, ``_`` and ``-`` dropped."""
    return re.sub(r"[_-]", "", name).lower()


def list_models(pattern: Optional[str] = None) -> List[str]:
    """The registered architectures, sorted; ``pattern`` is a shell-style wildcard
    matched regardless of case (``"googlenet*"``)."""
    if pattern is None:
        return list(MODELS)
    return [name for name in MODELS if fnmatch.fnmatch(name.lower(), pattern.lower())]


def _registered_name(name: str) -> str:
    """The registry's spelling of ``name``, which may be timm's (lowercase, with
    ``_``): ``googlenet`` is ``GoogLeNet``, ``googlenet_paddleclas`` is
    ``GoogLeNetPaddleClas``."""
    if not isinstance(name, str):
        raise ConfigError(f"model name: expected a string such as 'googlenet', got {name!r}")
    found = [known for known in MODELS if _folded(known) == _folded(name)]
    if not found:
        suggestion = closest(name.lower(), [known.lower() for known in MODELS])
        raise ConfigError(f"model name: unknown model {name!r}{suggestion}; "
                          f"valid: {', '.join(MODELS)} (any case, with or without '_')")
    return found[0]


def create_model(name: str, pretrained: Optional[str] = None,
                 num_classes: Optional[int] = None, **kwargs) -> Classifier:
    """Build the architecture ``name`` (timm's spelling or the registry's), as timm's
    ``create_model`` does.

    Args:
        name: a name ``list_models()`` gives, in any case, with or without ``_``.
        pretrained: the path of a ``.pdparams`` or ``.safetensors`` file to load;
            classifier heads of another class count are left at initialisation with
            a warning (fine-tuning). None or False: no weights. True is an error:
            nothing is downloaded.
        num_classes: classes of the classifier (the architecture's default if None;
            0 builds no classifier and returns pooled features).
        **kwargs: the architecture's constructor arguments (``aux_logits``,
            ``dropout``, ``adaptive_pool``... for GoogLeNet).
    """
    arch = {"name": _registered_name(name), "pretrained": pretrained, **kwargs}
    if num_classes is not None:
        arch["num_classes"] = num_classes
    return build_model(arch, where="create_model")


def googlenet(pretrained=False, **kwargs) -> Classifier:
    """This package's GoogLeNet with ``paddle.vision.models.googlenet``'s signature.

    ``pretrained`` is False or the path of a weights file (paddle.vision's True, a
    download, is an error); ``kwargs`` are ``GoogLeNet``'s arguments (``num_classes``,
    ``aux_logits``...). paddle.vision's own architecture, whose weights load unchanged,
    is ``create_model("googlenet_paddleclas")``.
    """
    return create_model("GoogLeNet", pretrained=pretrained, **kwargs)
