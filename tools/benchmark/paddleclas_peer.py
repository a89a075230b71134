"""PaddleClas's own data operators and dataset, loaded from a checkout, so that the
benchmark and the parity tests compare with PaddleClas itself in the same process.

A checkout is a directory holding ``ppcls/``: a clone of PaddleClas, or the
``paddleclas/`` folder of PyPI's ``paddleclas`` 2.2.1 wheel, the newest release
whose wheel ships ``ppcls/data`` and ``ppcls/engine`` (2.4 to 2.6 ship only
``ppcls/arch`` and ``ppcls/utils``)::

    pip download --no-deps paddleclas==2.2.1 -d peer
    python -m zipfile -e peer/paddleclas-2.2.1-py3-none-any.whl peer
    export PADDLECLAS_HOME=$PWD/peer/paddleclas

The ``ppcls``, ``ppcls.data`` and ``ppcls.utils`` package files are not run: they
import every network and the training engine's dependencies, none of which the
operators use. Those three are registered as bare packages over the checkout's
folders; every module below them is PaddleClas's own file, imported as it is.
PaddleClas's operators need OpenCV (this package's dependency) and ``six``.
"""

import importlib
import os
import sys
import types
from typing import Any, List, Mapping, Optional, Sequence

ENV = "PADDLECLAS_HOME"
_OPERATORS = os.path.join("ppcls", "data", "preprocess", "ops", "operators.py")
_BARE_PACKAGES = ("ppcls", "ppcls.data", "ppcls.utils")


def checkout(path: Optional[str] = None) -> Optional[str]:
    """The checkout named by ``path`` or else ``$PADDLECLAS_HOME``; None when neither
    is given. A path that holds no PaddleClas data operators is a ValueError."""
    path = path or os.environ.get(ENV)
    if not path:
        return None
    path = os.path.abspath(path)
    if not os.path.isfile(os.path.join(path, _OPERATORS)):
        raise ValueError(f"{path} is not a PaddleClas checkout: it has no {_OPERATORS} "
                         f"(give the folder that holds ppcls/, e.g. a clone of PaddleClas "
                         f"or the paddleclas/ folder of the paddleclas 2.2.1 wheel)")
    return path


def skip_reason() -> str:
    return (f"needs PaddleClas's own operators: set {ENV} to a checkout "
            f"(see tools/benchmark/paddleclas_peer.py)")


def _load(root: str) -> types.ModuleType:
    """``ppcls.data.preprocess`` of the checkout at ``root``."""
    loaded = sys.modules.get("ppcls")
    if loaded is not None and list(getattr(loaded, "__path__", [])) != [
            os.path.join(root, "ppcls")]:
        raise ValueError(f"another ppcls is already imported ({loaded.__path__})")
    for name in _BARE_PACKAGES:
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [os.path.join(root, *name.split("."))]
            sys.modules[name] = package
    return importlib.import_module("ppcls.data.preprocess")


def operators(root: str, op_list: Sequence[Mapping[str, Any]]) -> List[Any]:
    """PaddleClas's operator instances for a config's ``transform_ops`` list."""
    preprocess = _load(root)
    built = []
    for entry in op_list:
        (name, args), = entry.items()
        built.append(getattr(preprocess, name)(**(args or {})))
    return built


def run(ops: Sequence[Any], data: Any) -> Any:
    """What PaddleClas's ``transform(data, ops)`` does."""
    for op in ops:
        data = op(data)
    return data


def imagenet_dataset(root: str, image_root: str, cls_label_path: str,
                     transform_ops: Sequence[Mapping[str, Any]]):
    """PaddleClas's ``ImageNetDataset`` over a list file."""
    _load(root)
    module = importlib.import_module("ppcls.data.dataloader.imagenet_dataset")
    return module.ImageNetDataset(image_root=image_root, cls_label_path=cls_label_path,
                                  transform_ops=list(transform_ops))
