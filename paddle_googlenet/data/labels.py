"""Class names from PaddleClas's ``class_id_map_file`` (lines ``0 tench``)."""

import os
from typing import Dict

from ..errors import DataError

__all__ = ["read_class_id_map"]


def read_class_id_map(path: str) -> Dict[int, str]:
    """``{class id: name}`` from lines ``<id> <name>`` (the name may contain spaces)."""
    if not os.path.isfile(path):
        raise DataError(f"class_id_map_file not found: {path}")
    names = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            head, _, name = line.strip().partition(" ")
            if not head.isdigit() or not name.strip():
                raise DataError(f"{path}:{number}: expected '<class id> <name>', got {line.strip()!r}")
            names[int(head)] = name.strip()
    return names
