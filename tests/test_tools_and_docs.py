"""Command-line tools as a user runs them, and the docs that tell how."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def run_tool(*args, timeout=300):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_summary_expect_passes_for_the_spec_count():
    proc = run_tool("tools/summary.py", "--expect", "13378280")
    assert proc.returncode == 0, proc.stderr
    assert "Total params: 13,378,280" in proc.stdout
    assert "Trainable params: 13,378,280" in proc.stdout
    assert re.search(r"Multiply-accumulates per image: 1,59\d,\d{3},\d{3}", proc.stdout)
    # The paddle.summary table itself, in forward order.
    table = proc.stdout.index("Conv2D-1"), proc.stdout.index("Inception-1"), \
        proc.stdout.index("Linear-5")
    assert list(table) == sorted(table)


@pytest.mark.slow
def test_summary_expect_fails_for_another_count():
    proc = run_tool("tools/summary.py", "--expect", "11535736")
    assert proc.returncode == 1
    assert "expected 11,535,736 parameters" in proc.stderr


@pytest.mark.slow
def test_summary_of_a_config_at_another_size(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("Global: {epochs: 1, image_shape: [3, 96, 96]}\n"
                      "Arch: {name: GoogLeNet, class_num: 10, adaptive_pool: true}\n")
    proc = run_tool("tools/summary.py", "-c", str(config))
    assert proc.returncode == 0, proc.stderr
    assert "Input: [3, 96, 96]" in proc.stdout
    # 10 classes: 13,378,280 - 3 * (1024 * 990 + 990)
    assert "Total params: 10,334,030" in proc.stdout


@pytest.mark.slow
def test_summary_input_the_heads_cannot_take_is_a_clear_error():
    proc = run_tool("tools/summary.py", "--input-size", "100")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "expects [N, 3, 224, 224]" in proc.stderr and "adaptive_pool=True" in proc.stderr


def readme_commands():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    block = re.search(r"## Quick start\n(.*?)\n## ", text, re.S).group(1)
    return re.findall(r"```(?:bash|sh)?\n(.*?)```", block, re.S)


def test_readme_gives_two_commands_and_ci_runs_the_test_one():
    commands = [c.strip() for c in readme_commands()]
    assert len(commands) == 2
    train, test = commands
    assert "python tools/train.py -c configs/googlenet.yaml" in train
    assert "pytest" in test
    ci = open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8").read().splitlines()
    assert test in [line.strip() for line in ci], "README's test command is not in .ci/run"


def console_scripts():
    """``{name: "module:function"}`` of setup.py's console_scripts."""
    text = open(os.path.join(ROOT, "setup.py"), encoding="utf-8").read()
    block = re.search(r'"console_scripts": \[(.*?)\]', text, re.S).group(1)
    return dict(re.findall(r'"([\w-]+)=([\w.]+:\w+)"', block))


@pytest.mark.slow
def test_every_tool_is_an_installed_command_with_help():
    scripts = console_scripts()
    tools = {name[:-3] for name in os.listdir(os.path.join(ROOT, "tools")) if name.endswith(".py")}
    # every tool but the benchmark, under its tools/ name (export_model -> export)
    expected = {"googlenet-" + t.replace("_model", "").replace("_", "-")
                for t in tools - {"benchmark"}}
    assert set(scripts) == expected
    # One process resolves each entry point and runs it with --help.
    script = """
import contextlib, importlib, io, json, sys
results = {}
for name, target in json.loads(sys.argv[1]).items():
    module, function = target.split(":")
    main = getattr(importlib.import_module(module), function)
    sys.argv = [name, "--help"]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            main()
        code = "returned"
    except SystemExit as stop:
        code = stop.code
    results[name] = [code, out.getvalue()]
print(json.dumps(results))
"""
    import json
    proc = run_tool("-c", script, json.dumps(scripts))
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for name, (code, out) in results.items():
        assert code in (0, None), (name, code)
        assert out.startswith(f"usage: {name}") and "--help" in out, (name, out[:200])
