"""PaddleClas-style YAML configs: loading, ``-o`` overrides and validation.

A config has the sections ``Global``, ``AMP``, ``EMA``, ``Arch``, ``Loss``,
``Optimizer``, ``DataLoader``, ``Infer`` and ``Metric``, as in PaddleClas. This module
checks the sections, the ``Global``/``AMP``/``EMA``/``Infer`` keys and the shape of the others; the
names inside ``Arch``, ``Loss``, ``Optimizer``, ``DataLoader`` and ``Metric`` (a
loss, an op, a schedule) are checked by the registries that build them, which the
engine calls before any work starts.

Overrides follow PaddleClas: ``Section.key.sub=value``, where a numeric part indexes
a list (``DataLoader.Train.dataset.transform_ops.1.RandCropImage.size=192``) and the
value is a Python literal where it parses as one and a string otherwise.
"""

import ast
import copy
import os
import re
from typing import List, Literal, Mapping, Optional, Sequence, Union

import yaml

from .errors import ConfigError
from .registry import check_value
from .validators import closest, known_keys, loader_split, mapping, op_list

__all__ = ["load_config", "apply_overrides", "parse_value", "validate_config",
           "dump_config", "required_weights", "locate_key", "find_config", "packaged_configs",
           "SECTIONS"]

# key: (type, default). A default of ... means the key is required.
GLOBAL_KEYS = {
    "checkpoints": (Optional[str], None),        # resume from this checkpoint prefix
    "pretrained_model": (Optional[str], None),   # start from these weights
    "output_dir": (str, "./output/"),
    "device": (Literal["auto", "cpu", "gpu"], "auto"),
    "class_num": (Optional[int], None),          # PaddleClas passes it on to Arch
    "save_interval": (int, 1),
    "keep_checkpoints": (int, 2),                # newest epoch_N checkpoints kept
    "eval_during_train": (bool, True),
    "eval_interval": (int, 1),
    "epochs": (int, ...),
    "print_batch_step": (int, 10),
    "use_visualdl": (bool, False),
    "image_shape": (List[int], [3, 224, 224]),
    "save_inference_dir": (str, "./inference"),
    "export_softmax": (bool, True),              # append a softmax to the exported model
    "seed": (Optional[int], None),
    "num_threads": (Optional[int], None),        # CPU threads; None: every core
    "cpu_fast_paths": (bool, True),              # engine/fast_paths (same numbers)
    "overwrite": (bool, False),                  # allow a new run over old checkpoints
    "demo_dataset": (Optional[str], None),       # generate the demo dataset here if absent
    "update_freq": (int, 1),                     # batches per optimizer step (accumulation)
    "to_static": (bool, False),                  # train through paddle.jit.to_static
    "use_dali": (bool, False),                   # no DALI here: the OpenCV/numpy loader runs
    "image_channel": (Optional[int], None),      # PaddleClas's YAML anchor; must match image_shape
    "eval_mode": (Literal["classification"], "classification"),
    "train_mode": (Optional[str], None),         # PaddleClas's progressive resizing: refused
    "freeze_epochs": (int, 0),                   # epochs the loaded weights stay fixed
}
AMP_KEYS = {
    "use_amp": (bool, False),
    "level": (Literal["O1", "O2", "o1", "o2"], "O1"),
    "scale_loss": (float, 65536.0),
    "use_dynamic_loss_scaling": (bool, True),
    "use_promote": (bool, False),
    "use_fp16_test": (bool, False),
}
EMA_KEYS = {
    "decay": (float, 0.9999),                    # shadow = decay * shadow + (1 - decay) * weight
}
EVAL_KEYS = {
    "crops": (int, 1),                           # 1, 10 or 144 crops an image (data.crop_geometry)
}
INFER_KEYS = {
    "infer_imgs": (Union[str, List[str]], None),
    "batch_size": (int, 10),
    "transforms": (list, ...),
    "PostProcess": (dict, {"name": "Topk", "topk": 5}),
}
_POSITIVE_GLOBAL = ("epochs", "save_interval", "keep_checkpoints", "eval_interval",
                    "update_freq", "print_batch_step", "num_threads")
_SPLITS = ("Train", "Eval")


def parse_value(text: str):
    """A Python literal where ``text`` is one (3, 0.1, [1, 5], True, None), YAML's
    true/false/null too, and the string itself otherwise."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "none", "~"):
        return None
    return text


def _literals(node):
    """PaddleClas reads string values that are Python literals as those literals."""
    if isinstance(node, dict):
        return {k: _literals(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_literals(v) for v in node]
    if isinstance(node, str):
        try:
            return ast.literal_eval(node)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return node
    return node


def _packaged_configs_dir() -> str:
    """The configs shipped with the package: ``paddle_googlenet/configs`` in an
    installed package (setup.py maps the top-level ``configs/`` there), the top-level
    ``configs/`` of a clone (or of an editable install) otherwise."""
    package = os.path.dirname(os.path.abspath(__file__))
    installed = os.path.join(package, "configs")
    return installed if os.path.isdir(installed) else os.path.join(os.path.dirname(package),
                                                                  "configs")


def packaged_configs() -> List[str]:
    """The names ``-c`` accepts besides a path, e.g. ``googlenet`` or
    ``ImageNet/Inception/GoogLeNet`` (a config in a folder of the packaged configs)."""
    folder = _packaged_configs_dir()
    found = []
    for parent, _, names in os.walk(folder):
        found += [os.path.relpath(os.path.join(parent, name[:-len(".yaml")]), folder)
                  .replace(os.sep, "/") for name in names if name.endswith(".yaml")]
    return sorted(found)


def find_config(name_or_path: str) -> str:
    """The file ``-c`` means: ``name_or_path`` where it is a file, else the packaged
    config of that name (``googlenet``, ``googlenet.yaml``,
    ``ImageNet/Inception/GoogLeNet``), else the path as given (its reader says it is
    missing) when it names a folder."""
    if os.path.isfile(name_or_path):
        return name_or_path
    name = name_or_path[:-len(".yaml")] if name_or_path.endswith(".yaml") else name_or_path
    if name in packaged_configs():
        return os.path.join(_packaged_configs_dir(), *name.split("/")) + ".yaml"
    if os.path.dirname(name_or_path):
        return name_or_path
    raise ConfigError(f"config file not found: {name_or_path}, nor a packaged config of "
                      f"that name; packaged configs: {', '.join(packaged_configs())}")


def _read_yaml(path: str) -> dict:
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read config: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config is a mapping of sections ({', '.join(SECTIONS)}); "
                          f"got {type(data).__name__}")
    return _literals(data)


def apply_overrides(config: dict, overrides: Optional[Sequence[str]]) -> dict:
    """Apply ``Section.key=value`` overrides in place and return ``config``."""
    for option in overrides or ():
        key, sep, text = option.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            raise ConfigError(f"override {option!r}: expected Section.key=value, e.g. "
                              f"Global.epochs=3")
        if len(parts) == 1 and parts[0] not in SECTIONS:
            raise ConfigError(f"override {option!r} needs a section: "
                              f"{_section_hint(parts[0])}")
        node, path = config, []
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if not part.lstrip("-").isdigit():
                    raise ConfigError(f"override {option!r}: {'.'.join(path)} is a list; "
                                      f"index it with a number, not {part!r}")
                index = int(part)
                if not -len(node) <= index < len(node):
                    raise ConfigError(f"override {option!r}: index {index} is out of range: "
                                      f"{'.'.join(path)} has {len(node)} entries")
                part = index
            elif isinstance(node, dict):
                if not last and node.get(part) is None:
                    node[part] = {}  # a section or mapping not in the file yet
            else:
                raise ConfigError(f"override {option!r}: {'.'.join(path)} is a value "
                                  f"({node!r}), it has no key {part!r}")
            if last:
                node[part] = parse_value(text)
            else:
                node = node[part]
            path.append(str(part))
    return config


def _section_hint(key: str) -> str:
    """``did you mean Global.epochs?`` for a key a section's schema has."""
    schemas = (("Global", GLOBAL_KEYS), ("AMP", AMP_KEYS), ("EMA", EMA_KEYS),
               ("Infer", INFER_KEYS), ("Eval", EVAL_KEYS))
    owners = [f"{name}.{key}" for name, schema in schemas if key in schema]
    if owners:
        return f"did you mean {' or '.join(owners)}?"
    return f"write Section.{key}=value with one of the sections {', '.join(SECTIONS)}"


def _check_keys(section: dict, schema: dict, where: str, fill: bool = True):
    known_keys(section, list(schema), where)
    for key, (hint, default) in schema.items():
        if key not in section:
            if default is ...:
                raise ConfigError(f"{where}.{key}: required key is missing")
            if fill:
                section[key] = copy.deepcopy(default)
            continue
        check_value(section[key], hint, f"{where}.{key}")


def _check_positive(section: dict, keys: Sequence[str], where: str):
    for key in keys:
        value = section.get(key)
        if value is not None and value < 1:
            raise ConfigError(f"{where}.{key}: must be at least 1, got {value}")


# Section by section: each check takes the whole config (a section may depend on
# another, as Arch.class_num on Global.class_num), fills in defaults and raises
# ConfigError naming the first key that is wrong.

def _check_global(config: dict):
    g = config["Global"]
    _check_keys(g, GLOBAL_KEYS, "Global")
    _check_positive(g, _POSITIVE_GLOBAL, "Global")
    if g["freeze_epochs"] < 0:
        raise ConfigError(f"Global.freeze_epochs: must be 0 or more, got {g['freeze_epochs']}")
    shape = g["image_shape"]
    if len(shape) != 3 or shape[0] != 3 or min(shape) < 1:
        raise ConfigError(f"Global.image_shape: expected [3, H, W], got {shape}")
    channels = g["image_channel"]
    if channels is not None and channels != shape[0]:
        raise ConfigError(f"Global.image_channel: {channels}, but Global.image_shape is "
                          f"{shape} and GoogLeNet takes 3-channel images; set it to 3 or "
                          f"drop it (PaddleClas's 4-channel NHWC input is a GPU fp16 layout)")
    if g["train_mode"] is not None:
        raise ConfigError(f"Global.train_mode: {g['train_mode']!r} is not supported "
                          f"(PaddleClas's progressive resizing changes the image size and "
                          f"regularisation per epoch); remove the key")


def _check_amp(config: dict):
    _check_keys(config["AMP"], AMP_KEYS, "AMP")


def _check_ema(config: dict):
    _check_keys(config["EMA"], EMA_KEYS, "EMA")
    decay = config["EMA"]["decay"]
    if not 0.0 <= decay <= 1.0:
        raise ConfigError(f"EMA.decay: must be between 0 and 1 (PaddleClas uses "
                          f"0.9995-0.9999), got {decay}")


def _check_arch(config: dict):
    arch = config["Arch"]
    if "name" not in arch:
        raise ConfigError("Arch.name: required key is missing (e.g. GoogLeNet)")
    global_classes = config["Global"].get("class_num")
    if global_classes is not None:
        arch_classes = arch.get("class_num", arch.get("num_classes"))
        if arch_classes is None:
            arch["class_num"] = global_classes
        elif arch_classes != global_classes:
            raise ConfigError(f"Global.class_num is {global_classes} but Arch.class_num is "
                              f"{arch_classes}; give one, or make them agree")


def _check_op_lists(section: str):
    """Loss and Metric: a list of operators for each split."""
    def check(config: dict):
        known_keys(config[section], _SPLITS, section)
        for split, ops in config[section].items():
            op_list(ops, f"{section}.{split}", required=False)
    return check


def _check_dataloader(config: dict):
    known_keys(config["DataLoader"], _SPLITS, "DataLoader")
    for split, loader in config["DataLoader"].items():
        loader_split(loader, f"DataLoader.{split}")


def _check_infer(config: dict):
    _check_keys(config["Infer"], INFER_KEYS, "Infer")
    _check_positive(config["Infer"], ("batch_size",), "Infer")
    op_list(config["Infer"]["transforms"], "Infer.transforms")


def _check_eval(config: dict):
    """Eval: how evaluation reads each image (``Eval.crops``)."""
    _check_keys(config["Eval"], EVAL_KEYS, "Eval")
    if config["Eval"]["crops"] not in (1, 10, 144):
        raise ConfigError(f"Eval.crops: {config['Eval']['crops']} is not a crop count "
                          f"this evaluation has; valid: 1, 10, 144")


def _no_check(config: dict):
    """Optimizer: its names and arguments are the optimizer registry's to check."""


# The sections, in PaddleClas's order, which is also the order they are checked in;
# Global and Arch are required, AMP is filled in, an empty EMA section means the
# defaults.
SECTION_CHECKS = {
    "Global": _check_global,
    "AMP": _check_amp,
    "EMA": _check_ema,
    "Arch": _check_arch,
    "Loss": _check_op_lists("Loss"),
    "Optimizer": _no_check,
    "DataLoader": _check_dataloader,
    "Infer": _check_infer,
    "Metric": _check_op_lists("Metric"),
    "Eval": _check_eval,
}
SECTIONS = tuple(SECTION_CHECKS)


def validate_config(config: dict, source: str = "config") -> dict:
    """Check ``config``, fill in defaults, and return it (changed in place)."""
    for name in config:
        if name not in SECTIONS:
            raise ConfigError(f"{source}: unknown section {name!r}{closest(name, SECTIONS)}; "
                              f"valid sections: {', '.join(SECTIONS)}")
    config.setdefault("AMP", {})
    if "EMA" in config and config["EMA"] is None:
        config["EMA"] = {}
    for name in ("Global", "Arch", "AMP"):
        mapping(config.get(name), name)
    for name, check in SECTION_CHECKS.items():
        if name in config:
            mapping(config[name], name)
            check(config)
    return config


def required_weights(config: dict, purpose: str) -> str:
    """``Global.pretrained_model``, which evaluating, predicting and exporting need."""
    path = config["Global"]["pretrained_model"]
    if not path:
        raise ConfigError(f"Global.pretrained_model: give the weights to {purpose}, e.g. "
                          f"-o Global.pretrained_model=output/GoogLeNet/best_model")
    return path


def load_config(path: str, overrides: Optional[Sequence[str]] = None) -> dict:
    """Read the YAML at ``path`` (or the packaged config of that name, ``find_config``),
    apply ``overrides``, validate, and return the result."""
    path = find_config(path)
    config = _read_yaml(path)
    apply_overrides(config, overrides)
    return validate_config(config, source=path)


def dump_config(config: Mapping) -> str:
    """The config as YAML, sections in PaddleClas's order."""
    ordered = {k: config[k] for k in SECTIONS if k in config}
    return yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True)


# A message about a config key starts with it: "Global.epochs: expected int, ...".
_UNKNOWN_SECTION = re.compile(r"(?P<source>.*?): unknown section '(?P<name>[^']*)'")
_KEY_AT_START = re.compile(r"(?:%s)(?:\.[\w-]+)*(?=[:\s])" % "|".join(SECTIONS))


def _key_line(path: str, parts: Sequence[str]) -> Optional[int]:
    """The line of ``path`` that sets the deepest existing prefix of the key ``parts``."""
    try:
        with open(path, encoding="utf-8") as f:
            node = yaml.compose(f)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    line = None
    for part in parts:
        if isinstance(node, yaml.MappingNode):
            entry = next(((k, v) for k, v in node.value if k.value == part), None)
            if entry is None:
                break
            line, node = entry[0].start_mark.line + 1, entry[1]
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            break
    return line


def locate_key(message: str, path: Optional[str] = None,
               overrides: Optional[Sequence[str]] = None) -> str:
    """``message`` about a config key, with where that key was set: `` (set by -o
    KEY=VALUE)`` after it when an override set it, ``path:line: `` before it when the
    config file does. A message that starts with no key is returned as it is."""
    try:
        path = find_config(path) if path else path
    except ConfigError:
        path = None
    unknown = _UNKNOWN_SECTION.match(message)
    if unknown:  # "<file>: unknown section 'X'...": set by an override, or in the file
        name, rest = unknown.group("name"), message[len(unknown.group("source")) + 2:]
        for option in reversed(overrides or []):
            if option.partition("=")[0].strip().split(".")[0] == name:
                return f"{rest} (set by -o {option})"
        line = _key_line(path, [name]) if path else None
        return f"{path}:{line}: {rest}" if line else message
    match = _KEY_AT_START.match(message)
    if not match:
        return message
    key = match.group(0)
    for option in reversed(overrides or []):
        name = option.partition("=")[0].strip()
        if key == name or key.startswith(name + "."):
            return f"{message} (set by -o {option})"
    line = _key_line(path, key.split(".")) if path else None
    return f"{path}:{line}: {message}" if line else message
