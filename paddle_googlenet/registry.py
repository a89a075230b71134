"""Name -> class registries that build objects from config mappings, with checks.

Every configurable part (models, losses, metrics, optimizers, LR schedules,
transforms, datasets) is looked up by name in a ``Registry``. ``build`` checks the
keyword arguments against the constructor's signature and type annotations, so a
misspelt key or a value of the wrong type is reported with its config path before
any work starts, instead of as a TypeError from deep inside Paddle.
"""

import collections.abc
import inspect
import typing
from typing import Any, Callable, Dict, List, Mapping, Optional

from .errors import ConfigError, UserError
from .validators import closest, is_int, is_number

__all__ = ["Registry", "check_value"]


def _describe(hint) -> str:
    origin = typing.get_origin(hint)
    if origin is typing.Union:
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    if origin in (list, tuple, collections.abc.Sequence):
        args = typing.get_args(hint)
        return f"list of {_describe(args[0])}" if args else "list"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if hint is type(None):
        return "null"
    return getattr(hint, "__name__", str(hint))


def _matches(value, hint) -> bool:
    if hint is Any or hint is inspect.Parameter.empty:
        return True
    origin = typing.get_origin(hint)
    if origin is typing.Union:
        return any(_matches(value, a) for a in typing.get_args(hint))
    if origin in (list, tuple, collections.abc.Sequence):
        if not isinstance(value, (list, tuple)):
            return False
        args = typing.get_args(hint)
        return not args or all(_matches(v, args[0]) for v in value)
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if hint is type(None):
        return value is None
    if hint is float:
        return is_number(value)
    if hint is int:
        return is_int(value)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def check_value(value, hint, where: str):
    """Raise ConfigError unless ``value`` fits the type annotation ``hint``."""
    if not _matches(value, hint):
        raise ConfigError(f"{where}: expected {_describe(hint)}, got {value!r} "
                          f"({type(value).__name__})")


class Registry:
    """Classes or factories of one kind, by name."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: Dict[str, Callable] = {}

    def register(self, obj: Callable = None, name: Optional[str] = None):
        """Register ``obj`` under ``name`` (default: its ``__name__``); a decorator too."""
        def add(target):
            key = name or target.__name__
            if key in self._items:
                raise ValueError(f"{self.kind} {key!r} is registered already")
            self._items[key] = target
            return target
        return add(obj) if obj is not None else add

    def names(self) -> List[str]:
        return sorted(self._items)

    def __contains__(self, name) -> bool:
        return name in self._items

    def __iter__(self):
        """The registered names, sorted: ``for name in MODELS``, ``list(MODELS)``."""
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)

    def get(self, name, where: str) -> Callable:
        if name not in self._items:
            raise ConfigError(f"{where}: unknown {self.kind} {name!r}{closest(name, self._items)};"
                              f" valid: {', '.join(self.names())}")
        return self._items[name]

    def arguments(self, name: str) -> Dict[str, inspect.Parameter]:
        target = self._items[name]
        sig = inspect.signature(target.__init__ if inspect.isclass(target) else target)
        return {k: p for k, p in sig.parameters.items()
                if k != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}

    def check_kwargs(self, name: str, kwargs: Mapping, where: str,
                     extra: Mapping[str, Any] = None):
        """Check ``kwargs`` against ``name``'s signature; ``extra`` holds names the
        caller fills in itself (they may not come from the config)."""
        target = self.get(name, where)
        params = self.arguments(name)
        try:
            hints = typing.get_type_hints(target.__init__ if inspect.isclass(target) else target)
        except Exception:  # unresolvable annotations: check names only
            hints = {}
        settable = [k for k in params if not extra or k not in extra]
        for key, value in kwargs.items():
            if key not in params or (extra and key in extra):
                raise ConfigError(f"{where}.{key}: {name} has no such argument{closest(key, settable)}"
                                  f"; valid: {', '.join(settable) or '(none)'}")
            if key in hints:
                check_value(value, hints[key], f"{where}.{key}")
        missing = [k for k, p in params.items() if p.default is p.empty
                   and k not in kwargs and not (extra and k in extra)]
        if missing:
            raise ConfigError(f"{where}: {name} needs {', '.join(missing)}")

    def build(self, name, kwargs: Optional[Mapping], where: str, **extra):
        """Build ``name(**kwargs, **extra)`` after checking ``kwargs``."""
        kwargs = dict(kwargs or {})
        self.check_kwargs(name, kwargs, where, extra)
        try:
            return self._items[name](**kwargs, **extra)
        except UserError as err:
            # The constructor's own explanation (a bad value, a missing file): keep
            # its type and say which config entry it comes from.
            raise type(err)(f"{where}: {err}") from None
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{where}: cannot build {name}: {err}") from None
