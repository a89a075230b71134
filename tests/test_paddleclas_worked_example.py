"""docs/paddleclas.md's worked example, run as written in a scratch copy of a PaddleClas
checkout: PaddleClas's own tools/train.py, eval.py and export_model.py on the drop-in,
then this package's googlenet-infer and googlenet-eval on what they wrote.

The checkout comes from ``$PADDLECLAS_HOME`` and is never written to: its ``ppcls/`` and
``tools/`` are copied, and the example edits the copy.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest

from test_doc_commands import PADDLECLAS_BLOCK
from tiny import ROOT

pytestmark = pytest.mark.slow


def worked_example() -> str:
    with open(os.path.join(ROOT, "docs", "paddleclas.md"), encoding="utf-8") as f:
        blocks = re.findall(r"^```bash\n(.*?)^```", f.read(), re.S | re.M)
    found = [b for b in blocks if b.lstrip().startswith(PADDLECLAS_BLOCK)]
    assert len(found) == 1, "docs/paddleclas.md has one block run in a PaddleClas checkout"
    return found[0]


def metrics(line: str) -> dict:
    return {name: float(value) for name, value in
            re.findall(r"(top1|top5|loss): ([0-9.]+)", line)}


@pytest.fixture(scope="module")
def ran(paddleclas_home, tmp_path_factory):
    """The example's output, run by bash in a copy of the checkout."""
    scratch = tmp_path_factory.mktemp("paddleclas")
    for part in ("ppcls", "tools"):
        shutil.copytree(os.path.join(paddleclas_home, part), scratch / part,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for folder, dirs, files in os.walk(scratch):  # a read-only checkout's modes are copied
        for name in dirs + files:
            os.chmod(os.path.join(folder, name), 0o755 if name in dirs else 0o644)
    env = dict(os.environ)
    # this Python and its scripts (googlenet-infer, ...) first, as an activated venv has them
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = ROOT  # the package under test, wherever pytest runs
    env.pop("OMP_NUM_THREADS", None)
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", worked_example()],
                          cwd=str(scratch), env=env, capture_output=True, text=True)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return scratch, done.stdout + done.stderr


def test_paddleclas_builds_this_packages_network(ran):
    scratch, _ = ran
    with open(scratch / "ppcls" / "arch" / "backbone" / "__init__.py", encoding="utf-8") as f:
        lines = f.read().splitlines()
    ours = lines.index("from paddle_googlenet.paddleclas import GoogLeNet")
    assert lines[ours - 1] == "from .model_zoo.googlenet import GoogLeNet"
    import paddle

    state = paddle.load(str(scratch / "output" / "best_model.pdparams"))
    # 13,378,280 parameters at 1000 classes; the heads here have 6 outputs
    assert sum(int(v.size) for v in state.values()) == 13378280 - 3 * 994 * 1025


def test_paddleclas_eval_equals_this_packages_eval_and_infer(ran):
    scratch, output = ran
    theirs = [metrics(line) for line in output.splitlines() if "[Eval][Epoch 0][Avg]" in line]
    ours = [metrics(line) for line in output.splitlines() if line.startswith("images: 12 ")]
    assert len(theirs) == 1 and len(ours) == 1, output[-3000:]
    assert ours[0]["top1"] == pytest.approx(theirs[0]["top1"], abs=1e-5)
    assert ours[0]["top5"] == pytest.approx(theirs[0]["top5"], abs=1e-5)
    assert ours[0]["loss"] == pytest.approx(theirs[0]["loss"], rel=1e-4)
    # googlenet-infer on PaddleClas's export: every image, named, and the same top-1
    with open(scratch / "dataset" / "shapes" / "label_list.txt", encoding="utf-8") as f:
        names = [line.split(" ", 1)[1].strip() for line in f if line.strip()]
    predicted = re.findall(r"^dataset/shapes/images/val/([a-z]+)_\d+\.jpg: ([a-z]+) \((\d)\)",
                           output, re.M)
    assert len(predicted) == 12
    for _, name, index in predicted:
        assert names[int(index)] == name
    correct = sum(truth == name for truth, name, _ in predicted)
    assert correct / 12 == pytest.approx(theirs[0]["top1"], abs=1e-5)
