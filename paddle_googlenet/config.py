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
from .registry import check_value, closest
from .validators import op_entries

__all__ = ["load_config", "apply_overrides", "parse_value", "validate_config",
           "dump_config", "required_weights", "locate_key", "SECTIONS"]

SECTIONS = ("Global", "AMP", "EMA", "Arch", "Loss", "Optimizer", "DataLoader", "Infer", "Metric",
            "Eval")

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
_POSITIVE = ("Global.epochs", "Global.save_interval", "Global.keep_checkpoints",
             "Global.eval_interval", "Global.update_freq",
             "Global.print_batch_step", "Global.num_threads", "Infer.batch_size")
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
    for key in section:
        if key not in schema:
            raise ConfigError(f"{where}.{key}: unknown key{closest(key, schema)}; valid keys: "
                              f"{', '.join(schema)}")
    for key, (hint, default) in schema.items():
        if key not in section:
            if default is ...:
                raise ConfigError(f"{where}.{key}: required key is missing")
            if fill:
                section[key] = copy.deepcopy(default)
            continue
        check_value(section[key], hint, f"{where}.{key}")


def _check_op_list(value, where: str, required: bool = True):
    """A non-empty PaddleClas list of one-key mappings: ``[{Name: {args}}, ...]``."""
    if value is None and not required:
        return
    if value == []:
        raise ConfigError(f"{where}: expected a list of one-key mappings like "
                          f"[{{DecodeImage: {{to_rgb: true}}}}, ...], got []")
    list(op_entries(value, where))  # checks every entry


def _check_mapping(config: dict, key: str, where: str, required: bool = True):
    value = config.get(key)
    if value is None and not required:
        return
    if not isinstance(value, dict):
        what = "missing" if value is None else f"expected a mapping, got {value!r}"
        raise ConfigError(f"{where}: {what}")


def validate_config(config: dict, source: str = "config") -> dict:
    """Check ``config``, fill in defaults, and return it (changed in place)."""
    for name in config:
        if name not in SECTIONS:
            raise ConfigError(f"{source}: unknown section {name!r}{closest(name, SECTIONS)}; "
                              f"valid sections: {', '.join(SECTIONS)}")
    for name in ("Global", "Arch"):
        _check_mapping(config, name, name)
    config.setdefault("AMP", {})
    _check_mapping(config, "AMP", "AMP")
    _check_keys(config["Global"], GLOBAL_KEYS, "Global")
    _check_keys(config["AMP"], AMP_KEYS, "AMP")
    for dotted in _POSITIVE:
        section, key = dotted.split(".")
        value = config.get(section, {}).get(key)
        if value is not None and value < 1:
            raise ConfigError(f"{dotted}: must be at least 1, got {value}")
    shape = config["Global"]["image_shape"]
    if len(shape) != 3 or shape[0] != 3 or min(shape) < 1:
        raise ConfigError(f"Global.image_shape: expected [3, H, W], got {shape}")
    channels = config["Global"]["image_channel"]
    if channels is not None and channels != shape[0]:
        raise ConfigError(f"Global.image_channel: {channels}, but Global.image_shape is "
                          f"{shape} and GoogLeNet takes 3-channel images; set it to 3 or "
                          f"drop it (PaddleClas's 4-channel NHWC input is a GPU fp16 layout)")
    if config["Global"]["train_mode"] is not None:
        raise ConfigError(f"Global.train_mode: {config['Global']['train_mode']!r} is not "
                          f"supported (PaddleClas's progressive resizing changes the image "
                          f"size and regularisation per epoch); remove the key")
    if "EMA" in config:
        if config["EMA"] is None:
            config["EMA"] = {}
        _check_mapping(config, "EMA", "EMA")
        _check_keys(config["EMA"], EMA_KEYS, "EMA")
        decay = config["EMA"]["decay"]
        if not 0.0 <= decay <= 1.0:
            raise ConfigError(f"EMA.decay: must be between 0 and 1 (PaddleClas uses "
                              f"0.9995-0.9999), got {decay}")

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

    for section in ("Loss", "Metric"):
        if section in config:
            _check_mapping(config, section, section)
            _check_keys_only(config[section], _SPLITS, section)
            for split, ops in config[section].items():
                _check_op_list(ops, f"{section}.{split}", required=False)
    if "Optimizer" in config:
        _check_mapping(config, "Optimizer", "Optimizer")
    if "DataLoader" in config:
        _check_mapping(config, "DataLoader", "DataLoader")
        _check_keys_only(config["DataLoader"], _SPLITS, "DataLoader")
        for split, loader in config["DataLoader"].items():
            where = f"DataLoader.{split}"
            if not isinstance(loader, dict):
                raise ConfigError(f"{where}: expected a mapping with dataset, sampler, loader")
            _check_keys_only(loader, ("dataset", "sampler", "loader"), where)
            _check_mapping(loader, "dataset", f"{where}.dataset")
            _check_mapping(loader, "sampler", f"{where}.sampler")
            _check_mapping(loader, "loader", f"{where}.loader", required=False)
            _check_op_list(loader["dataset"].get("transform_ops"),
                           f"{where}.dataset.transform_ops", required=False)
    if "Eval" in config:
        _check_mapping(config, "Eval", "Eval")
        _check_keys(config["Eval"], EVAL_KEYS, "Eval")
        if config["Eval"]["crops"] not in (1, 10, 144):
            raise ConfigError(f"Eval.crops: {config['Eval']['crops']} is not a crop count "
                              f"this evaluation has; valid: 1, 10, 144")
    if "Infer" in config:
        _check_mapping(config, "Infer", "Infer")
        _check_keys(config["Infer"], INFER_KEYS, "Infer")
        _check_op_list(config["Infer"]["transforms"], "Infer.transforms")
    return config


def _check_keys_only(section: dict, valid: Sequence[str], where: str):
    for key in section:
        if key not in valid:
            raise ConfigError(f"{where}.{key}: unknown key{closest(key, valid)}; valid keys: "
                              f"{', '.join(valid)}")


def required_weights(config: dict, purpose: str) -> str:
    """``Global.pretrained_model``, which evaluating, predicting and exporting need."""
    path = config["Global"]["pretrained_model"]
    if not path:
        raise ConfigError(f"Global.pretrained_model: give the weights to {purpose}, e.g. "
                          f"-o Global.pretrained_model=output/GoogLeNet/best_model")
    return path


def load_config(path: str, overrides: Optional[Sequence[str]] = None) -> dict:
    """Read the YAML at ``path``, apply ``overrides``, validate, and return the result."""
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
