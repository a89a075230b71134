"""Which modules may import which (docs/design.md): the layers point one way, the base
modules import no other part of the package, deployment never imports the export side
nor training, training never imports deployment, and the deterministic image operators
are one set of classes for training and deployment."""

import ast
import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from paddle_googlenet import image_io, pixels
from paddle_googlenet.data.transforms import TRANSFORMS, build_transforms
from paddle_googlenet.deploy.preprocess import DEPLOY_OPS, Preprocess
from paddle_googlenet.errors import ConfigError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PACKAGE = os.path.join(ROOT, "paddle_googlenet")


def _imports(nodes, path) -> set:
    """Absolute names of the modules the import statements among ``nodes`` (of the
    file at ``path``) import."""
    package = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".").split(".")[:-1]
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def imported_modules(path):
    """Absolute names of the modules a file imports when it runs (at any depth of the
    file); the names under ``if TYPE_CHECKING:`` are for type checkers only."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    type_only = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.If)
                 and getattr(node.test, "id", None) == "TYPE_CHECKING"
                 for statement in node.body for inner in ast.walk(statement)}
    return _imports((n for n in ast.walk(tree) if id(n) not in type_only), path)


def top_level_imports(path):
    """The package modules a file imports when it is loaded: ``import`` statements
    outside functions (an import inside a function runs later, when called) and
    outside ``if TYPE_CHECKING:``."""
    def load_time(node):
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and getattr(child.test, "id", None) == "TYPE_CHECKING":
                continue
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                yield from load_time(child)

    found = _imports(load_time(ast.parse(open(path, encoding="utf-8").read())), path)
    return {m for m in found if m.startswith("paddle_googlenet")}


def module_name(path):
    name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
    return name[:-len(".__init__")] if name.endswith(".__init__") else name


def training_files():
    for folder in ("data", "engine"):
        for name in sorted(os.listdir(os.path.join(PACKAGE, folder))):
            # engine/predict.py is dygraph prediction, which prints as deployment does
            if name.endswith(".py") and name != "predict.py":
                yield os.path.join(PACKAGE, folder, name)


# The layers, bottom up, and what each may import besides itself and the base.
BASE = {"errors", "registry", "hardware", "constants", "image_io", "pixels", "validators",
        "progress"}
LAYERS = {
    "weights": set(),
    "config": set(),
    "data": set(),
    "losses": set(),
    "metrics": set(),
    "optim": set(),
    "deploy": set(),
    "models": {"weights"},
    "engine": {"config", "weights", "models", "data", "losses", "metrics", "optim", "deploy"},
    "export": {"config", "weights", "models", "data", "deploy", "engine"},
    "paddleclas": {"config", "weights", "models", "data", "losses", "metrics", "optim",
                   "engine"},
    "census": {"config", "weights", "models", "data", "losses", "metrics", "optim", "engine"},
    "cli": {"config", "weights", "models", "data", "losses", "metrics", "optim", "deploy",
            "engine", "export", "paddleclas", "census"},
}


def package_files():
    for folder, _, names in os.walk(PACKAGE):
        for name in sorted(names):
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def layer_of(module: str) -> str:
    """``paddle_googlenet.engine.trainer`` -> ``engine``; the package itself is base."""
    parts = [p for p in module.split(".") if p != "__init__"]
    return parts[1] if len(parts) > 1 else "errors"


def test_every_module_belongs_to_a_layer():
    strays = [path for path in package_files()
              if layer_of(os.path.relpath(path, ROOT)[:-3].replace(os.sep, "."))
              not in BASE | set(LAYERS)]
    assert strays == []


@pytest.mark.parametrize("path", list(package_files()),
                         ids=lambda p: os.path.relpath(p, PACKAGE))
def test_layers_point_one_way(path):
    own = layer_of(os.path.relpath(path, ROOT)[:-3].replace(os.sep, "."))
    allowed = (BASE if own in BASE else BASE | LAYERS[own] | {own})
    wrong = sorted(m for m in imported_modules(path) if m.startswith("paddle_googlenet.")
                   and layer_of(m) not in allowed)
    assert wrong == [], f"{own} may import {sorted(allowed)}"


BENCHMARK = os.path.join(ROOT, "tools", "benchmark")


def benchmark_imports():
    """``{module: the benchmark modules it imports}`` for tools/benchmark/*.py, and the
    absolute spellings (``tools.benchmark.x``, ``benchmark.x``) any of them uses."""
    names = {n[:-3] for n in os.listdir(BENCHMARK) if n.endswith(".py")}
    graph, absolute = {}, []
    for name in sorted(names):
        path = os.path.join(BENCHMARK, f"{name}.py")
        graph[name] = set()
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                targets = [node.module] if node.module else [a.name for a in node.names]
                graph[name].update(t.split(".")[0] for t in targets if t.split(".")[0] in names)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                spelled = ([a.name for a in node.names] if isinstance(node, ast.Import)
                           else [node.module or ""])
                absolute += [f"{name}: {m}" for m in spelled
                             if m.startswith(("tools.benchmark", "benchmark"))]
    return graph, absolute


def test_the_benchmark_imports_its_modules_one_way_and_without_a_cycle():
    graph, absolute = benchmark_imports()
    assert not absolute, "the benchmark's modules import each other relatively"
    assert graph["harness"] and graph["report"]  # the walker sees their imports
    done, visiting = set(), []

    def visit(name):
        assert name not in visiting, f"import cycle: {' -> '.join(visiting + [name])}"
        if name not in done:
            visiting.append(name)
            for target in graph[name]:
                visit(target)
            visiting.pop()
            done.add(name)

    for name in graph:
        visit(name)


def test_the_benchmark_reaches_the_package_only_through_its_public_modules():
    """Builders and the engine's process set-up, never a private name."""
    for name in sorted(os.listdir(BENCHMARK)):
        if name.endswith(".py"):
            path = os.path.join(BENCHMARK, name)
            private = [m for m in imported_modules(path)
                       if m.startswith("paddle_googlenet") and "._" in m]
            assert not private, (name, private)


def test_no_module_imports_itself_through_others_when_loaded():
    """No import cycle among the modules' load-time imports, so any module can be the
    first one imported."""
    modules = {module_name(p): p for p in package_files()}
    graph = {name: {m for m in top_level_imports(path) if m in modules and m != name}
             for name, path in modules.items()}
    # a package's module imports its package's __init__ first: not a cycle of ours
    graph = {name: {m for m in deps if not name.startswith(m + ".")}
             for name, deps in graph.items()}
    done, active, cycles = set(), [], []

    def visit(name):
        if name in active:
            cycles.append(active[active.index(name):] + [name])
            return
        if name in done:
            return
        active.append(name)
        for dep in sorted(graph[name]):
            visit(dep)
        active.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
    assert cycles == []


def test_deployment_never_imports_export_or_training():
    for path in package_files():
        if os.sep + "deploy" + os.sep in path:
            found = {layer_of(m) for m in imported_modules(path)
                     if m.startswith("paddle_googlenet.")}
            assert found <= BASE | {"deploy"}, path


def test_the_import_walker_sees_relative_imports():
    found = imported_modules(os.path.join(PACKAGE, "deploy", "infer.py"))
    assert {"paddle_googlenet.hardware", "paddle_googlenet.deploy.precisions"} <= found


@pytest.mark.parametrize("path", list(training_files()), ids=os.path.basename)
def test_training_code_does_not_import_deployment(path):
    deploy = [m for m in imported_modules(path) if m.startswith("paddle_googlenet.deploy")]
    assert deploy == [], path


def loaded_after(imports: str) -> list:
    """The modules of the package, Paddle and OpenCV loaded by ``import <imports>``."""
    script = f"""
import json, sys
import {imports}
print(json.dumps(sorted(m for m in sys.modules
                        if m.split(".")[0] in ("paddle_googlenet", "paddle", "cv2"))))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_base_modules_load_nothing_else_of_the_package():
    """Nor Paddle: the base is what tools load before they know they will need it.
    OpenCV comes with ``image_io`` and ``pixels``, which decode and resize with it."""
    base = sorted(f"paddle_googlenet.{name}" for name in BASE)
    loaded = loaded_after(", ".join(base))
    assert [m for m in loaded if not m.startswith("cv2")] == ["paddle_googlenet"] + base
    assert "cv2" in loaded


def test_the_tool_runner_loads_only_the_errors():
    assert loaded_after("paddle_googlenet.cli.runner") == [
        "paddle_googlenet", "paddle_googlenet.cli", "paddle_googlenet.cli.runner",
        "paddle_googlenet.errors"]


INLINE_INTEGER_CHECK = re.compile(
    r"isinstance\([^()]+, bool\)\s+or\s+not\s+isinstance|"
    r"and\s+not\s+isinstance\([^()]+, bool\)|"
    r"isinstance\([^()]+, int\)\s+or\s+isinstance\([^()]+, bool\)")


def test_integer_and_number_checks_have_one_home():
    """``validators.is_int``/``is_number`` say that a bool is neither; no module
    writes that rule again."""
    found = [f"{os.path.relpath(path, ROOT)}:{number}"
             for path in package_files() if not path.endswith("validators.py")
             for number, line in enumerate(open(path, encoding="utf-8"), 1)
             if INLINE_INTEGER_CHECK.search(line)]
    assert found == []


def test_the_constants_load_nothing_heavy():
    """Nor does the package itself, beyond its errors."""
    assert loaded_after("paddle_googlenet.constants") == [
        "paddle_googlenet", "paddle_googlenet.constants", "paddle_googlenet.errors"]


def test_importing_the_package_brings_no_import_hook():
    """``python -X importtime -c "import paddle_googlenet"``: beyond what the
    interpreter's start loads, no importlib.abc (an import hook's base) or the
    archive modules it would pull in."""
    def imported(code):
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:") and "|" in line}

    added = imported("import paddle_googlenet") - imported("pass")
    assert "paddle_googlenet" in added
    assert not added & {"importlib.abc", "tempfile", "shutil", "lzma"}, sorted(added)


OPENCV_AFTER = """
import cv2
cv2.setNumThreads(3)
import {imports}
print(cv2.getNumThreads())
"""


@pytest.mark.parametrize("imports", [
    "paddle_googlenet.models", "paddle_googlenet.pixels, paddle_googlenet.image_io",
    "paddle_googlenet.data, paddle_googlenet.engine", "paddle_googlenet.deploy"])
def test_importing_changes_no_opencv_setting(imports):
    done = subprocess.run([sys.executable, "-c", OPENCV_AFTER.format(imports=imports)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "3"


def test_a_process_and_its_loader_workers_set_opencv_to_one_thread(monkeypatch):
    import cv2

    from paddle_googlenet.data.loader import EpochDataLoader, set_up_worker
    from paddle_googlenet.engine.process import set_up_process
    from paddle_googlenet.config import GLOBAL_KEYS

    # set_up_process also sets OMP_NUM_THREADS for child processes: put it back after
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("OMP_NUM_THREADS")
    threads = cv2.getNumThreads()
    try:
        cv2.setNumThreads(3)
        set_up_worker(0)
        assert cv2.getNumThreads() == 1
        cv2.setNumThreads(3)
        set_up_process({key: default for key, (_, default) in GLOBAL_KEYS.items()})
        assert cv2.getNumThreads() == 1
    finally:
        cv2.setNumThreads(threads)
    loader = EpochDataLoader([0, 1], paddle_batch_sampler(), num_workers=1)
    assert loader.worker_init_fn is set_up_worker


def test_loader_workers_start_after_the_process_used_opencv_threads(tiny_data):
    """A process that ran OpenCV on several threads (its pool running), then iterates a
    loader with workers: the forked workers must not hang resizing a pool they copied."""
    script = f"""
import cv2, numpy as np
cv2.setNumThreads(2)
for _ in range(20):
    cv2.resize(np.zeros((1500, 1500, 3), np.uint8), (700, 700))
from paddle_googlenet.data import build_dataloader
section = {{"dataset": {{"name": "ImageNetDataset", "image_root": {tiny_data!r},
                         "cls_label_path": {tiny_data!r} + "/train_list.txt",
                         "transform_ops": [{{"DecodeImage": {{}}}}, {{"ResizeImage": {{"size": 32}}}},
                                           {{"NormalizeImage": {{"order": ""}}}}]}},
           "sampler": {{"name": "BatchSampler", "batch_size": 4}},
           "loader": {{"num_workers": 2}}}}
print(sum(len(images) for images, _ in build_dataloader(section, training=False)))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "12"  # 6 classes x 2 training images


def paddle_batch_sampler():
    import paddle

    return paddle.io.BatchSampler(range(2), batch_size=1)


def test_deterministic_ops_are_the_same_classes_for_training_and_deployment():
    names = [op.__name__ for op in pixels.DETERMINISTIC_OPS]
    assert DEPLOY_OPS.names() == sorted(names)
    for op in pixels.DETERMINISTIC_OPS:
        assert TRANSFORMS.get(op.__name__, "training") is op
        assert DEPLOY_OPS.get(op.__name__, "deployment") is op


@pytest.mark.parametrize("entry", [
    {"ResizeImage": {"resize_short": 0}},
    {"ResizeImage": {"size": 8, "interpolation": "cubic"}},
    {"CropImage": {"size": [8]}},
    {"NormalizeImage": {"scale": "abs(-1)"}},
    {"NormalizeImage": {"mean": [0.5, 0.5]}},
    {"ResizeImage": {"resize_short": 8, "colour": "red"}},
])
def test_bad_arguments_are_refused_alike_in_training_and_deployment(entry):
    ops = [{"DecodeImage": None}, entry]
    with pytest.raises(ConfigError) as training:
        build_transforms(ops, where="ops")
    with pytest.raises(ConfigError) as deployment:
        Preprocess(ops, where="ops")
    assert str(training.value) == str(deployment.value)


def test_model_input_is_chw_whatever_the_pipeline_ends_in():
    hwc = pixels.normalize(image_io.decode_rgb(_png()), 1 / 255, 0.5, 0.25)
    chw = pixels.model_input(hwc, pixels.HWC)
    assert chw.shape == (3,) + hwc.shape[:2] and chw.flags.c_contiguous
    assert (chw[1] == hwc[:, :, 1]).all()
    assert pixels.model_input(chw, pixels.CHW) is chw


def _png():
    buffer = io.BytesIO()
    Image.fromarray(np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)).save(buffer, "PNG")
    return buffer.getvalue()
