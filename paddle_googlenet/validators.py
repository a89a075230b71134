"""Checks of configuration values and operator inputs, written once for the whole package.

Every operator, sampler and config section checks its arguments with these, so a
wrong value gets the same message wherever it is given: ``ConfigError`` naming the
key (``name``) and what would be valid, or ``DataError`` for an image of the wrong
form. Base layer: imports nothing of the package but its errors.
"""

import ast
import difflib
import operator
from typing import Any, Iterator, Mapping, Sequence, Tuple

import numpy as np

from .errors import ConfigError, DataError

__all__ = ["closest", "is_int", "is_number", "parse_number", "number", "probability", "count", "positive_int", "flag", "color",
           "value_range", "require_hwc", "op_entries", "op_list", "known_keys", "mapping",
           "loader_split", "LOADER_SPLIT_KEYS", "pretrained_path"]

def closest(name: Any, valid) -> str:
    """' (did you mean X?)' when a valid name is close to ``name``, else ''."""
    match = difflib.get_close_matches(str(name), [str(v) for v in valid], n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
               ast.Div: operator.truediv}


def parse_number(text: str) -> float:
    """Evaluate arithmetic such as ``'1.0/255.0'``: numbers, + - * / and parentheses.

    PaddleClas passes such strings to ``eval``; this walks the syntax tree instead
    and refuses anything else (ConfigError), so a config file cannot run code.
    """
    def evaluate(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = evaluate(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            return _ARITHMETIC[type(node.op)](evaluate(node.left), evaluate(node.right))
        raise ValueError("only numbers, + - * / and parentheses are allowed")

    try:
        return float(evaluate(ast.parse(text.strip(), mode="eval").body))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError) as err:
        raise ConfigError(f"cannot read {text!r} as a number: {err}") from None




def is_int(value: Any) -> bool:
    """An integer, Python's or NumPy's, and not a bool: True is 1 to Python, but a
    config that says true means a flag, never a count."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An int or a float, Python's or NumPy's, and not a bool (see ``is_int``)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def positive_int(value: Any, name: str) -> int:
    if not is_int(value) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    return bool(value)




def require_hwc(img: Any, op: str) -> np.ndarray:
    """Return ``img`` if it is an HWC array; say what went wrong otherwise."""
    if not isinstance(img, np.ndarray) or img.ndim != 3:
        got = (f"an array of shape {img.shape}" if isinstance(img, np.ndarray)
               else type(img).__name__)
        raise DataError(f"{op} expects an HWC image array, got {got}")
    return img




def op_entries(ops: Any, where: str) -> Iterator[Tuple[str, str, Mapping]]:
    """``(where.index, op name, arguments)`` for each entry of a PaddleClas operator
    list (transforms, batch operators, losses), raising ConfigError for a list or entry
    of the wrong form."""
    if not isinstance(ops, (list, tuple)):
        raise ConfigError(f"{where}: expected a list of one-key mappings like "
                          f"[{{DecodeImage: {{to_rgb: true}}}}, ...], got {ops!r}")
    for index, entry in enumerate(ops):
        at = f"{where}.{index}"
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise ConfigError(f"{at} must be a mapping with exactly one key, the op name, "
                              f"e.g. {{ResizeImage: {{resize_short: 256}}}}; got {entry!r}")
        (name, args), = entry.items()
        if args is not None and not isinstance(args, Mapping):
            raise ConfigError(f"{at}.{name}: arguments must be a mapping (or empty), "
                              f"got {args!r}")
        yield at, name, args or {}


def op_list(value: Any, where: str, required: bool = True) -> None:
    """A non-empty PaddleClas list of one-key mappings: ``[{Name: {args}}, ...]``; None
    too when not ``required``."""
    if value is None and not required:
        return
    if value == []:
        raise ConfigError(f"{where}: expected a list of one-key mappings like "
                          f"[{{DecodeImage: {{to_rgb: true}}}}, ...], got []")
    list(op_entries(value, where))  # checks every entry


def known_keys(section: Mapping, valid: Sequence[str], where: str) -> None:
    """Every key of ``section`` is one of ``valid``; else the first other one is named,
    with the closest valid key."""
    for key in section:
        if key not in valid:
            raise ConfigError(f"{where}.{key}: unknown key{closest(key, valid)}; valid keys: "
                              f"{', '.join(valid)}")


def mapping(value: Any, where: str, required: bool = True) -> None:
    """``value`` is a mapping (or None, when not ``required``)."""
    if value is None and not required:
        return
    if not isinstance(value, Mapping):
        what = "missing" if value is None else f"expected a mapping, got {value!r}"
        raise ConfigError(f"{where}: {what}")


LOADER_SPLIT_KEYS = ("dataset", "sampler", "loader")


def loader_split(split: Any, where: str) -> Mapping:
    """A ``DataLoader.Train``/``Eval`` section, as the config check and the loader
    builder both see it: a mapping of ``dataset`` and ``sampler`` mappings and an
    optional ``loader`` mapping; ``dataset.transform_ops``, if given, an op list."""
    if not isinstance(split, Mapping):
        raise ConfigError(f"{where}: expected a mapping with dataset, sampler and loader, "
                          f"got {split!r}")
    for key in split:
        if key not in LOADER_SPLIT_KEYS:
            raise ConfigError(f"{where}.{key}: unknown key {key!r}"
                              f"{closest(key, LOADER_SPLIT_KEYS)}; valid keys: "
                              f"{', '.join(LOADER_SPLIT_KEYS)}")
    needs = {"dataset": "at least a name", "sampler": "a name and a batch_size"}
    for key, what in needs.items():
        if split.get(key) is None:
            raise ConfigError(f"{where}.{key} is missing; it needs {what}")
        mapping(split[key], f"{where}.{key}")
    mapping(split.get("loader"), f"{where}.loader", required=False)
    op_list(split["dataset"].get("transform_ops"), f"{where}.dataset.transform_ops",
            required=False)
    return split


def number(value: Any, name: str, low: float = -np.inf, high: float = np.inf) -> float:
    """A real number in ``[low, high]``; text such as ``'1.0/3.0'`` is evaluated
    arithmetically (PaddleClas ``eval``s it)."""
    if isinstance(value, str):
        try:
            value = parse_number(value)
        except ConfigError as err:
            raise ConfigError(f"{name}: {err}") from None
    if not is_number(value) or not np.isfinite(value):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if not low <= value <= high:
        bounds = (f"between {low:g} and {high:g}" if np.isfinite(low) and np.isfinite(high)
                  else f"at least {low:g}" if np.isfinite(low) else f"at most {high:g}")
        raise ConfigError(f"{name} must be {bounds}, got {value!r}")
    return float(value)


def probability(value: Any, name: str) -> float:
    return number(value, name, 0.0, 1.0)


def count(value: Any, name: str, low: int = 1) -> int:
    if not is_int(value) or value < low:
        raise ConfigError(f"{name} must be an integer of at least {low}, got {value!r}")
    return int(value)


def color(value: Any, name: str) -> Tuple[int, int, int]:
    """An RGB fill colour: three integers in [0, 255]."""
    if (not isinstance(value, (list, tuple)) or len(value) != 3
            or not all(is_int(v) and 0 <= v <= 255 for v in value)):
        raise ConfigError(f"{name} must be three integers in [0, 255] (an RGB colour), "
                          f"got {value!r}")
    return tuple(int(v) for v in value)


def value_range(value: Any, name: str) -> Tuple[float, float]:
    """A pair ``[low, high]`` with ``0 < low <= high`` (a crop's scale or ratio range)."""
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(is_number(v) for v in value)
            or not 0 < value[0] <= value[1]):
        raise ConfigError(f"{name} must be a pair [low, high] with 0 < low <= high, "
                          f"got {value!r}")
    return float(value[0]), float(value[1])


def pretrained_path(value: Any, name: str) -> str:
    """The weights path of a ``pretrained`` argument, "" for none (False, None, "").
    Nothing is ever downloaded, so True is refused."""
    if value is True:
        raise ConfigError(f"{name}: True would download weights, but weights are read from "
                          f"a local file and never downloaded (no weights are ever downloaded "
                          f"here); give the path of a .pdparams or .safetensors file, or false")
    if value in (False, None, ""):
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected a path or false, got {value!r}")
    return value
