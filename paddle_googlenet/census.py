"""Census of PaddleClas configs: which of them this package runs as they are.

For every ``*.yaml`` under a folder (recursively) the census does what a user would
do to try a PaddleClas recipe on GoogLeNet: swap the network and the data on the
command line and start ``tools/train.py``::

    -o "Arch={'name': 'GoogLeNet', 'class_num': N}"      (images 209-224 pixels a side)
    -o "Arch={'name': 'GoogLeNet', 'class_num': N, 'adaptive_pool': True}"   (other sizes)
    -o DataLoader.Train.dataset.image_root=ROOT -o DataLoader.Train.dataset.cls_label_path=LIST
    ... (every DataLoader split), and Global.device=cpu, Global.num_threads=1,
    Global.output_dir=<a scratch folder>, Global.pretrained_model=None, Global.checkpoints=None

It then validates the config and builds the training ``Engine`` (network, data,
transforms, loss, metrics, optimizer and schedule), stopping before the first
step. Everything else in the recipe (transforms, samplers, loss, optimizer, AMP and
Global keys) is taken as written, so a refusal says what this package does not
accept. Distillation and multi-model configs are skipped: their ``Arch`` is several
networks, which a single GoogLeNet cannot stand in for.

A config is refused at its first error, which may hide what comes after it; so each
``Optimizer`` section (optimizer, schedule, decay and clipping options) is also built
on its own, over GoogLeNet's parameters, and counted apart.
"""

import collections
import contextlib
import io
import os
import warnings
from typing import Dict, List, Optional

import yaml

from .errors import UserError
from .validators import is_int

__all__ = ["find_configs", "skip_reason", "image_sides", "needs_adaptive_heads",
           "census_overrides", "OptimizerCheck", "try_config",
           "run_census", "format_line", "format_report"]

DISTILLATION_LOSS_PREFIXES = ("Distillation", "DML")


def find_configs(folder: str) -> List[str]:
    """Every ``*.yaml`` below ``folder``, sorted."""
    if not os.path.isdir(folder):
        raise UserError(f"{folder}: not a folder of PaddleClas configs")
    found = []
    for parent, dirs, files in os.walk(folder):
        dirs.sort()
        found += [os.path.join(parent, f) for f in sorted(files) if f.endswith(".yaml")]
    if not found:
        raise UserError(f"{folder}: no *.yaml files below it")
    return found


def skip_reason(raw: dict) -> Optional[str]:
    """Why a config names more than one network (distillation, mutual learning), or None."""
    arch = raw.get("Arch") if isinstance(raw.get("Arch"), dict) else {}
    if arch.get("name") == "DistillationModel":
        return "distillation model (Arch.name: DistillationModel)"
    if "models" in arch:
        return "several models (Arch.models)"
    for split, entries in (raw.get("Loss") or {}).items():
        for entry in entries if isinstance(entries, list) else []:
            name = next(iter(entry), "") if isinstance(entry, dict) else ""
            if str(name).startswith(DISTILLATION_LOSS_PREFIXES):
                return f"distillation loss (Loss.{split}: {name.split('Loss')[0]}*)"
    return None


# Sides GoogLeNet's fixed-pool heads take (they pool a 7x7 map; see models/googlenet.py).
FIXED_POOL_SIDES = range(209, 225)


def _sides(size) -> List[int]:
    size = _as_read(size)
    if isinstance(size, (list, tuple)):
        return [s for item in size for s in _sides(item)]
    return [size] if is_int(size) else []


def image_sides(raw: dict) -> List[int]:
    """The image sides the config's loaders make: every ``size`` of a transform
    operator and every scale of a sampler, in every DataLoader split."""
    sides = []
    loaders = raw.get("DataLoader") if isinstance(raw.get("DataLoader"), dict) else {}
    for loader in loaders.values():
        if not isinstance(loader, dict):
            continue
        dataset = loader.get("dataset") if isinstance(loader.get("dataset"), dict) else {}
        for entry in dataset.get("transform_ops") or []:
            if isinstance(entry, dict) and len(entry) == 1:
                args = next(iter(entry.values()))
                if isinstance(args, dict) and "size" in args:
                    sides += _sides(args["size"])
        sampler = loader.get("sampler") if isinstance(loader.get("sampler"), dict) else {}
        sides += _sides(sampler.get("scales"))
    return sorted(set(sides))


def needs_adaptive_heads(raw: dict) -> bool:
    """Whether the config makes images the fixed-pool heads cannot take."""
    return any(side not in FIXED_POOL_SIDES for side in image_sides(raw))


def census_overrides(raw: dict, data: Dict, output_dir: str) -> List[str]:
    """The ``-o`` options that put GoogLeNet and ``data`` into the config ``raw``:
    the GoogLeNet with adaptive-pool heads when the config's images are not 209-224
    pixels a side, so the recipe keeps its own input size."""
    classes = data["class_num"]
    adaptive = ", 'adaptive_pool': True" if needs_adaptive_heads(raw) else ""
    overrides = [f"Arch={{'name': 'GoogLeNet', 'class_num': {classes}{adaptive}}}",
                 "Global.device=cpu", "Global.num_threads=1", f"Global.output_dir={output_dir}",
                 "Global.pretrained_model=None", "Global.checkpoints=None"]
    if isinstance(raw.get("Global"), dict) and "class_num" in raw["Global"]:
        overrides.append(f"Global.class_num={classes}")
    loaders = raw.get("DataLoader") if isinstance(raw.get("DataLoader"), dict) else {}
    for split, loader in loaders.items():
        if isinstance(loader, dict) and isinstance(loader.get("dataset"), dict):
            labels = data["train_list"] if split == "Train" else data["val_list"]
            overrides += [f"DataLoader.{split}.dataset.image_root={data['image_root']}",
                          f"DataLoader.{split}.dataset.cls_label_path={labels}"]
    return overrides


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "(no message)"


def _as_read(node):
    """Strings that are Python literals as those literals, as configs are read."""
    from .config import parse_value

    if isinstance(node, dict):
        return {k: _as_read(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_as_read(v) for v in node]
    return parse_value(node) if isinstance(node, str) else node


class OptimizerCheck:
    """Builds a config's ``Optimizer`` section alone, over one GoogLeNet's parameters."""

    def __init__(self, class_num: int, steps_per_epoch: int):
        self.class_num = class_num
        self.steps_per_epoch = steps_per_epoch
        self._parameters = None

    def __call__(self, raw: dict) -> str:
        """'' when the section builds, else the first error's message."""
        from .models import build_model
        from .optim import build_optimizer

        if self._parameters is None:
            network = build_model({"name": "GoogLeNet", "class_num": self.class_num})
            self._parameters = list(network.named_parameters())
        section = _as_read(raw.get("Optimizer"))
        epochs = _as_read((raw.get("Global") or {}).get("epochs"))
        if not isinstance(section, dict):
            return "Optimizer: missing"
        try:
            build_optimizer(section, self._parameters,
                            epochs if isinstance(epochs, int) and epochs > 0 else 1,
                            self.steps_per_epoch)
        except UserError as err:
            return _first_line(str(err))
        return ""


def try_config(path: str, data: Dict, output_dir: str,
               optimizer_check: Optional[OptimizerCheck] = None) -> Dict:
    """Skip, accept or refuse one config; a dict with ``status`` and ``message``."""
    from .config import load_config, locate_key
    from .engine import Engine

    result = {"path": path, "status": None, "message": "", "reason": "", "warnings": []}
    try:
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raw = None
        reason = f"cannot read as YAML: {_first_line(str(err))}"
    else:
        reason = None if isinstance(raw, dict) else "not a mapping of sections"
    if reason:
        result.update(status="refused", message=reason, reason=reason)
        return result
    skipped = skip_reason(raw)
    if skipped:
        result.update(status="skipped", message=skipped, reason=skipped)
        return result

    overrides = census_overrides(raw, data, output_dir)
    result["overrides"] = overrides
    result["adaptive_pool"] = needs_adaptive_heads(raw)
    if optimizer_check:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the full build below records them
            result["optimizer"] = optimizer_check(raw)
    quiet = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, \
            contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        warnings.simplefilter("always")
        try:
            Engine(load_config(path, overrides), mode="train")
        except UserError as err:
            message = _first_line(str(err))
            # grouped by what is wrong, whichever file it is in
            reason = message[len(path) + 2:] if message.startswith(f"{path}: ") else message
            result.update(status="refused", reason=reason,
                          message=locate_key(message, path, overrides))
        except Exception as err:  # a bug here, not the config's fault: say so, go on
            message = f"internal error: {type(err).__name__}: {_first_line(str(err))}"
            result.update(status="refused", reason=message, message=message)
        else:
            result["status"] = "accepted"
    result["warnings"] = sorted({_first_line(str(w.message)) for w in caught})
    return result


def run_census(folder: str, data: Dict, output_dir: str, progress=None) -> Dict:
    """Try every config below ``folder``; the per-config results and the counts."""
    results = []
    check = OptimizerCheck(data["class_num"], steps_per_epoch=10)
    for path in find_configs(folder):
        result = try_config(path, data, output_dir, check)
        result["path"] = os.path.relpath(path, folder)
        results.append(result)
        if progress:
            progress(result)
    by_status = collections.Counter(r["status"] for r in results)
    skipped = collections.Counter(r["reason"] for r in results if r["status"] == "skipped")
    refused = collections.Counter(r["reason"] for r in results if r["status"] == "refused")
    tried = [r for r in results if "optimizer" in r]
    optimizer_refused = collections.Counter(r["optimizer"] for r in tried if r["optimizer"])
    adaptive = [r for r in results if r.get("adaptive_pool")]
    return {"folder": folder, "data": data,
            "counts": {"total": len(results), "accepted": by_status["accepted"],
                       "refused": by_status["refused"], "skipped": by_status["skipped"]},
            "adaptive_pool": {"tried": len(adaptive),
                              "accepted": sum(r["status"] == "accepted" for r in adaptive)},
            "skipped_reasons": dict(skipped.most_common()),
            "refusal_reasons": [{"message": m, "count": c} for m, c in refused.most_common()],
            "optimizer_sections": {
                "tried": len(tried), "built": len(tried) - sum(optimizer_refused.values()),
                "refusal_reasons": [{"message": m, "count": c}
                                    for m, c in optimizer_refused.most_common()]},
            "configs": results}


def format_line(result: Dict) -> str:
    text = f"{result['status']:<9}{result['path']}"
    text = f"{text}: {result['message']}" if result["message"] else text
    if result.get("optimizer"):
        text += f" [Optimizer alone: {result['optimizer']}]"
    return text


def format_report(report: Dict, top: int = 10) -> str:
    counts = report["counts"]
    lines = [f"total {counts['total']}: accepted {counts['accepted']}, refused "
             f"{counts['refused']}, skipped {counts['skipped']}"]
    adaptive = report["adaptive_pool"]
    lines.append(f"GoogLeNet with adaptive-pool heads (images not 209-224 a side): "
                 f"{adaptive['tried']} configs, {adaptive['accepted']} accepted")
    for reason, count in report["skipped_reasons"].items():
        lines.append(f"  skipped {count}: {reason}")
    if report["refusal_reasons"]:
        lines.append(f"top refusal reasons ({min(top, len(report['refusal_reasons']))} of "
                     f"{len(report['refusal_reasons'])}):")
        lines += [f"  {r['count']:>4}  {r['message']}" for r in report["refusal_reasons"][:top]]
    sections = report["optimizer_sections"]
    lines.append(f"Optimizer sections built on their own: {sections['built']} of "
                 f"{sections['tried']}")
    lines += [f"  {r['count']:>4}  {r['message']}" for r in sections["refusal_reasons"][:top]]
    return "\n".join(lines)
