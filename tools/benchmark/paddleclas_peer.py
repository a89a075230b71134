"""PaddleClas's own code, from a checkout, for the comparisons: its data operators and
dataset (loaded into this process), and its ``tools/train.py`` (run as a command).

A checkout is a directory holding PaddleClas's ``ppcls/`` and ``tools/``: a clone of
the PaddlePaddle/PaddleClas repository, or a copy of those two folders. It is named
by ``--paddleclas DIR`` or ``$PADDLECLAS_HOME``::

    git clone <PaddlePaddle/PaddleClas on GitHub> PaddleClas
    export PADDLECLAS_HOME=$PWD/PaddleClas
    pip install -r tools/benchmark/requirements-paddleclas.txt

The last line installs what PaddleClas's code imports beyond this package's own
dependencies (``REQUIREMENTS``). None of it is a dependency of the package.

The ``ppcls``, ``ppcls.data`` and ``ppcls.utils`` package files are not run when the
operators are loaded: they import every network and the training engine, none of which
the operators use. Those three are registered as bare packages over the checkout's
folders; every module below them is PaddleClas's own file, imported as it is.
"""

import importlib
import importlib.util
import os
import re
import subprocess
import sys
import types
from typing import Any, List, Mapping, Optional, Sequence

ENV = "PADDLECLAS_HOME"
REQUIREMENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "requirements-paddleclas.txt")
_OPERATORS = os.path.join("ppcls", "data", "preprocess", "ops", "operators.py")
_BARE_PACKAGES = ("ppcls", "ppcls.data", "ppcls.utils")
# distribution names of REQUIREMENTS whose module is named otherwise
_MODULE_NAMES = {"scikit-learn": "sklearn"}


def checkout(path: Optional[str] = None) -> Optional[str]:
    """The checkout named by ``path`` or else ``$PADDLECLAS_HOME``; None when neither
    is given. A path that holds no PaddleClas data operators is a ValueError."""
    path = path or os.environ.get(ENV)
    if not path:
        return None
    path = os.path.abspath(path)
    if not os.path.isfile(os.path.join(path, _OPERATORS)):
        raise ValueError(f"{path} is not a PaddleClas checkout: it has no {_OPERATORS} "
                         f"(give the folder that holds PaddleClas's ppcls/ and tools/)")
    return path


def skip_reason() -> str:
    return (f"needs PaddleClas's own code: set {ENV} to a PaddleClas checkout "
            f"(see tools/benchmark/paddleclas_peer.py)")


def missing_modules() -> List[str]:
    """The modules of ``REQUIREMENTS`` that this Python cannot import."""
    missing = []
    with open(REQUIREMENTS, encoding="utf-8") as f:
        for line in f:
            name = re.split(r"[\s#<>=!~\[;]", line.strip(), maxsplit=1)[0]
            module = _MODULE_NAMES.get(name, name)
            if name and importlib.util.find_spec(module) is None:
                missing.append(module)
    return missing


def install_hint() -> str:
    return f"pip install -r {os.path.relpath(REQUIREMENTS)}"


def commit(root: str) -> str:
    """The PaddleClas commit of the checkout: ``git rev-parse HEAD`` where ``root`` is
    the top of a clone, else the first 40-digit hash of a ``SOURCE.md`` beside
    ``ppcls/`` (a copy that says where it came from), else 'unknown'."""
    try:
        done = subprocess.run(["git", "-C", root, "rev-parse", "--show-toplevel", "HEAD"],
                              capture_output=True, text=True, timeout=30)
        top, head = (done.stdout.split() + ["", ""])[:2]
        if (done.returncode == 0 and os.path.realpath(top) == os.path.realpath(root)
                and re.fullmatch(r"[0-9a-f]{40}", head)):
            return head
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        with open(os.path.join(root, "SOURCE.md"), encoding="utf-8") as f:
            found = re.search(r"\b[0-9a-f]{40}\b", f.read())
    except OSError:
        found = None
    return found.group(0) if found else "unknown"


def train_tool(root: str) -> str:
    """PaddleClas's ``tools/train.py`` in the checkout."""
    path = os.path.join(root, "tools", "train.py")
    if not os.path.isfile(path):
        raise ValueError(f"{root} has PaddleClas's ppcls/ but not its tools/train.py: give "
                         f"a checkout with both")
    return path


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
    try:
        return importlib.import_module("ppcls.data.preprocess")
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(f"PaddleClas's operators in {root} import {err.name!r}, "
                                  f"which is not installed: {install_hint()}") from err


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
