"""The table in docs/configs.md of what a config may hold names exactly what the registries
hold, so neither can change without the other."""

import os
import re

import pytest

from paddle_googlenet.data.batch_ops import BATCH_TRANSFORMS
from paddle_googlenet.data.datasets import DATASETS
from paddle_googlenet.data.loader import SAMPLERS
from paddle_googlenet.data.transforms import TRANSFORMS
from paddle_googlenet.losses import LOSSES
from paddle_googlenet.metrics import METRICS
from paddle_googlenet.models.registry import MODELS
from paddle_googlenet.optim.lr import LR_SCHEDULES
from paddle_googlenet.optim.optimizers import OPTIMIZERS
from tiny import ROOT

# Each row of the table and the registries whose names it lists.
ROWS = {
    "Arch": [MODELS],
    "Loss": [LOSSES],
    "Optimizer": [OPTIMIZERS, LR_SCHEDULES],
    "DataLoader": [DATASETS, TRANSFORMS, BATCH_TRANSFORMS, SAMPLERS],
    "Metric": [METRICS],
}
# Capitalised names in those rows that are not registered ops: the config's split
# keys, the regularizers and the Paddle class `clip_norm` becomes.
NOT_OPS = {"Train", "Eval", "L1", "L2", "ClipGradByNorm"}


def table_rows() -> dict:
    with open(os.path.join(ROOT, "docs", "configs.md"), encoding="utf-8") as f:
        text = f.read()
    rows = {}
    for line in text.splitlines():
        match = re.match(r"\| `(\w+)` \| (.*) \|$", line)
        if match and match.group(1) in ROWS:
            rows[match.group(1)] = match.group(2)
    return rows


def names_in(registry) -> set:
    return set(registry.names())


@pytest.mark.parametrize("section", sorted(ROWS))
def test_every_registered_name_is_in_its_row(section):
    cell = table_rows()[section]
    listed = set(re.findall(r"`(\w+)`", cell))
    for registry in ROWS[section]:
        missing = sorted(names_in(registry) - listed)
        assert not missing, f"docs/configs.md's {section} row does not list {missing}"


@pytest.mark.parametrize("section", sorted(ROWS))
def test_every_op_named_in_a_row_is_registered(section):
    cell = table_rows()[section]
    registered = set().union(*(names_in(r) for r in ROWS[section]))
    op_like = {name for name in re.findall(r"`(\w+)`", cell)
               if re.fullmatch(r"[A-Z][A-Za-z0-9]*", name)} - NOT_OPS
    unknown = sorted(op_like - registered)
    assert not unknown, f"docs/configs.md's {section} row names {unknown}, which nothing registers"
