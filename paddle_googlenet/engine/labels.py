"""Class names, taken from the same place by training, eval, predict and export.

The order, first found wins:

1. the config's ``Infer.PostProcess.class_id_map_file`` (a file named there must exist);
2. the names saved with the weights (``class_names`` in the ``.pdstates`` a run writes
   beside ``model.pdparams``, in every checkpoint and in ``best_model``);
3. the class folders of an ``ImageFolderDataset``;
4. the class indices, with a note saying so.

Training puts the folders it trains on before the names saved with the weights it
starts from (those name another set's classes). The class count follows the same
sources where ``Arch.class_num`` is not given.
"""

import os
from typing import List, Optional, Tuple

from ..data import read_class_id_map
from ..data.datasets import ImageFolderDataset, class_folders
from ..errors import ConfigError, WeightsError
from ..weights import safe_load
from ..weights.checkpoint import checkpoint_files

__all__ = ["CLASS_ID_MAP_KEY", "class_id_map", "saved_class_names", "class_names",
           "fill_class_num", "folder_split", "config_folders", "relabel_folders"]

CLASS_ID_MAP_KEY = "Infer.PostProcess.class_id_map_file"

_FOLDER_DATASETS = {"ImageFolderDataset", "ImageFolder"}


def saved_class_names(weights: Optional[str]) -> Optional[List[str]]:
    """The class names a run saved with the weights at ``weights`` (a checkpoint
    directory or a ``path/name`` prefix), or None where there are none."""
    if not weights or weights.endswith(".safetensors"):
        return None
    states = checkpoint_files(weights)["pdstates"]
    if not os.path.isfile(states):
        return None
    try:
        names = safe_load.load(states).get("class_names")
    except (WeightsError, AttributeError):
        return None
    if isinstance(names, (list, tuple)) and names and all(isinstance(n, str) for n in names):
        return list(names)
    return None


def _class_id_map_path(config: dict) -> Optional[str]:
    return ((config.get("Infer") or {}).get("PostProcess") or {}).get("class_id_map_file")


def class_id_map(config: dict) -> Optional[dict]:
    """``{id: name}`` from the config's class_id_map_file, None where it names none."""
    path = _class_id_map_path(config)
    if not path:
        return None
    if not os.path.isfile(path):
        raise ConfigError(f"{CLASS_ID_MAP_KEY}: file not found: {os.path.abspath(path)}; give "
                          f"a file of lines '<class id> <name>', or set it to null to take "
                          f"the names saved with the weights or the class folders")
    return read_class_id_map(path)


def folder_split(config: dict, split: str) -> Optional[str]:
    """``image_root`` of ``DataLoader.<split>`` when it is a folder dataset."""
    dataset = ((config.get("DataLoader") or {}).get(split) or {}).get("dataset") or {}
    if dataset.get("name") in _FOLDER_DATASETS and isinstance(dataset.get("image_root"), str):
        return dataset["image_root"]
    return None


def config_folders(config: dict) -> Optional[List[str]]:
    """The class folders of the config's folder dataset (Train's, else Eval's) where
    they exist."""
    for split in ("Train", "Eval"):
        root = folder_split(config, split)
        if root and os.path.isdir(root):
            return class_folders(root)
    return None


def class_names(config: dict, num_classes: int, folders: Optional[List[str]] = None,
                training: bool = False) -> Tuple[List[str], str]:
    """``num_classes`` names in the order above, and a note when they are indices.
    ``folders``: the class folders of the data read (default: ``config_folders``).
    ``training``: the folders trained on come before the names saved with the weights
    fine-tuning starts from (those name the classes of another set), and a labels file
    named in ``Infer`` but missing is passed over (training does not read ``Infer``)."""
    path = _class_id_map_path(config)
    by_id = None if training and path and not os.path.isfile(path) else class_id_map(config)
    if by_id is not None:
        return [by_id.get(i, str(i)) for i in range(num_classes)], ""
    saved = saved_class_names(config["Global"].get("pretrained_model"))
    folders = folders if folders is not None else config_folders(config)
    for names in ((folders, saved) if training else (saved, folders)):
        if names and len(names) == num_classes:
            return list(names), ""
    return ([str(i) for i in range(num_classes)],
            f"class names: none in {CLASS_ID_MAP_KEY}, the weights or class folders; "
            f"showing class indices")


def fill_class_num(config: dict, split: str, training: bool = False) -> Optional[str]:
    """Set ``Arch.class_num`` where the config leaves it out, from the class folders of
    ``DataLoader.<split>`` or the names saved with ``Global.pretrained_model``:
    folders first when ``training`` (fine-tuning may start from weights of another
    class set), the weights' names first otherwise. Returns what it was taken from, or
    None when it is left alone."""
    arch = config["Arch"]
    if arch.get("class_num") is not None or arch.get("num_classes") is not None:
        return None
    weights = config["Global"].get("pretrained_model")
    saved = saved_class_names(weights)
    root = folder_split(config, split)
    folders = class_folders(root) if root and os.path.isdir(root) else None
    sources = [(folders, f"class folders of {root}"),
               (saved, f"class names saved with {weights}")]
    for names, source in (sources if training else sources[::-1]):
        if names:
            arch["class_num"] = len(names)
            return f"Arch.class_num: {len(names)}, from the {source}"
    return None


def relabel_folders(evaluation, trained: Optional[List[str]], where: str, named_by: str):
    """Label the class folders of the ``evaluation`` dataset by the ``trained`` class
    names (from ``named_by``) instead of by their own order: a val set may lack a
    class and its other classes keep the model's labels. A val folder of a class the
    model does not know is an error naming it. Nothing to do for other datasets."""
    if not trained or not isinstance(evaluation, ImageFolderDataset):
        return
    if list(evaluation.class_names) != list(trained):
        evaluation.relabel(trained, where, named_by)
