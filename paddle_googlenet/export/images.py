"""A config's images as deployment prepares them: what int8 calibrates and checks on."""

import json
from typing import Optional

import numpy as np

from ..data import build_dataloader

__all__ = ["dataset_images"]


def dataset_images(config: dict, split: str, limit: Optional[int] = None, seed: int = 0):
    """``(images, labels)`` of ``DataLoader.<split>``'s list prepared as deployment
    prepares them (the ``Infer`` transforms), as float32 ``[N, C, H, W]``.

    With ``limit``, that many images drawn in a ``seed``-shuffled order (so from
    every class of a list sorted by class); without, the whole list in order.
    """
    section = json.loads(json.dumps(config["DataLoader"][split]))
    section["dataset"]["transform_ops"] = config["Infer"]["transforms"]
    # Batch operators (Mixup, Cutmix) are training augmentation: deployment sees
    # single images with their own labels.
    section["dataset"].pop("batch_transform_ops", None)
    section["sampler"] = {"name": "BatchSampler", "batch_size": 64, "drop_last": False,
                          "shuffle": limit is not None}
    section["loader"] = {"num_workers": 0}
    images, labels, count = [], [], 0
    for x, y in build_dataloader(section, seed=seed, distributed=False,
                                 where=f"DataLoader.{split}", training=split == "Train"):
        images.append(np.asarray(x, dtype="float32"))
        labels.append(np.asarray(y).reshape(-1))
        count += len(images[-1])
        if limit and count >= limit:
            break
    return np.concatenate(images)[:limit], np.concatenate(labels)[:limit]
