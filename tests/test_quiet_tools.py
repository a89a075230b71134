"""The tools print their results and the user's errors, not Paddle's own logging: no
compiler-cache warning, no glog INFO lines, no banner of flags Paddle set itself;
and an interrupted launcher run says how to resume it through the launcher."""

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections import namedtuple

import pytest

from paddle_googlenet.cli.launch import launcher_command, resume_command
from paddle_googlenet.cli.runner import quiet_native_logs
from tiny import ROOT, tiny_overrides

GLOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d", re.M)


def python_output(code):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    env["PYTHONPATH"] = ROOT
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


@pytest.mark.slow
def test_tools_show_no_ccache_warning_whatever_the_filters():
    if shutil.which("ccache") is None:  # the warning Paddle gives on its own here
        assert "No ccache found" in python_output("import paddle")
    # a tool ignores it where it starts, even after a harness reset the filters
    tool = python_output(
        "import warnings\n"
        "from paddle_googlenet.cli.runner import run_tool\n"
        "warnings.resetwarnings(); warnings.simplefilter('always')\n"
        "before = list(warnings.filters)\n"
        "run_tool(lambda argv: __import__('paddle'), [])\n"
        "print(warnings.filters == before)")
    assert "No ccache found" not in tool
    assert tool.splitlines()[0] == "True"  # and puts the caller's filters back


def test_importing_the_package_leaves_imports_and_warning_filters_alone():
    """No import hook, no filter, and none of the modules a hook would bring."""
    changed = python_output(
        "import sys, warnings\n"
        "finders, filters, modules = list(sys.meta_path), list(warnings.filters), set(sys.modules)\n"
        "import paddle_googlenet\n"
        "loaded = set(sys.modules) - modules\n"
        "import paddle_googlenet.cli\n"
        "print(sys.meta_path == finders, warnings.filters == filters)\n"
        "print(' '.join(sorted(loaded)))").splitlines()
    assert changed[0] == "True True"
    loaded = set(changed[1].split())
    assert not loaded & {"importlib.abc", "tempfile", "shutil", "lzma"}, loaded


def test_glog_info_lines_are_off_unless_the_user_chose_a_level():
    environ = {}
    quiet_native_logs(environ)
    assert environ == {"GLOG_minloglevel": "1"}
    for chosen in ({"GLOG_minloglevel": "0"}, {"GLOG_v": "3"}):
        environ = dict(chosen)
        quiet_native_logs(environ)
        assert environ == chosen


@pytest.mark.slow
def test_launcher_run_shows_no_glog_lines_or_flags_banner(tiny_data, tmp_path):
    logs = str(tmp_path / "logs")
    overrides = tiny_overrides(tiny_data, str(tmp_path / "out"), epochs=1)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLOG_", "FLAGS_"))}
    env["OMP_NUM_THREADS"] = "1"  # another value is a warning Paddle rightly prints
    proc = subprocess.run(
        [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
         "--log_dir", logs, "tools/train.py", "-c", "configs/googlenet.yaml",
         *sum((["-o", o] for o in overrides), [])],
        cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
    workers = "".join(open(os.path.join(logs, name)).read() for name in sorted(os.listdir(logs))
                      if name.startswith("workerlog"))
    assert proc.returncode == 0, proc.stderr[-2000:] + workers[-3000:]
    assert "finished 1 epoch in" in workers
    for output in (proc.stdout, proc.stderr, workers):
        assert "Modified FLAGS detected" not in output
        assert not GLOG_LINE.search(output), GLOG_LINE.search(output).group(0)
    assert "No ccache found" not in workers  # the launcher's own process imports Paddle first


def test_the_flags_banner_keeps_the_flags_the_user_set(monkeypatch, capsys):
    from paddle.distributed import parallel

    from paddle_googlenet.cli.launch import quiet_flags_banner

    monkeypatch.setattr(parallel, "_print_modified_flags", parallel._print_modified_flags)
    monkeypatch.setenv("FLAGS_check_nan_inf", "1")
    quiet_flags_banner()
    quiet_flags_banner()  # once is enough: not wrapped twice
    flag = namedtuple("FLAGS", ["name", "current_value", "default_value"])
    parallel._print_modified_flags([flag("FLAGS_enable_pir_in_executor", True, False)])
    assert capsys.readouterr().err == ""
    parallel._print_modified_flags([flag("FLAGS_enable_pir_in_executor", True, False),
                                    flag("FLAGS_check_nan_inf", True, False)])
    banner = capsys.readouterr().err
    assert "Modified FLAGS detected" in banner and "FLAGS_check_nan_inf" in banner
    assert "FLAGS_enable_pir_in_executor" not in banner


LAUNCHED = {"PADDLE_TRAINERS_NUM": "2", "PADDLE_TRAINER_ID": "1", "PADDLE_LOCAL_SIZE": "2",
            "PADDLE_NNODES": "1", "PADDLE_MASTER": "10.0.0.1:6170"}
ARGV = ["-c", "configs/googlenet.yaml", "-o", "Global.epochs=3",
        "-o", "Global.checkpoints=old/ckpt", "-o", "Global.output_dir=my out"]


def resume_words(environ, parent_cmdline):
    return shlex.split(resume_command(ARGV, "out/GoogLeNet/interrupted", environ,
                                       parent_cmdline))


def test_resume_command_without_the_launcher_runs_the_script():
    words = resume_words({}, None)
    assert os.path.basename(words[0]).startswith("python")
    assert words[1:] == ["tools/train.py", "-c", "configs/googlenet.yaml",
                         "-o", "Global.epochs=3", "-o", "Global.output_dir=my out",
                         "-o", "Global.checkpoints=out/GoogLeNet/interrupted"]


def test_resume_command_under_the_launcher_repeats_the_launchers_command():
    launcher = ["/opt/another/python3", "-m", "paddle.distributed.launch",
                "--nproc_per_node", "2", "--log_dir", "logs"]
    parent = [*launcher, "tools/train.py", *ARGV]
    assert resume_words(LAUNCHED, parent) == [
        *launcher, "tools/train.py", "-c", "configs/googlenet.yaml", "-o", "Global.epochs=3",
        "-o", "Global.output_dir=my out", "-o", "Global.checkpoints=out/GoogLeNet/interrupted"]


def test_resume_command_under_the_launcher_is_rebuilt_when_its_command_is_unknown():
    for parent in (None, [], ["bash", "run.sh"]):
        assert launcher_command(LAUNCHED, parent, "tools/train.py") == [
            "python", "-m", "paddle.distributed.launch", "--nproc_per_node", "2"]
    two_nodes = dict(LAUNCHED, PADDLE_TRAINERS_NUM="8", PADDLE_NNODES="2")
    del two_nodes["PADDLE_LOCAL_SIZE"]
    assert launcher_command(two_nodes, None, "tools/train.py") == [
        "python", "-m", "paddle.distributed.launch", "--nproc_per_node", "4",
        "--nnodes", "2", "--master", "10.0.0.1:6170"]
    words = resume_words(LAUNCHED, ["bash", "run.sh"])
    assert words[:6] == ["python", "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                         "tools/train.py"]
    assert words[-2:] == ["-o", "Global.checkpoints=out/GoogLeNet/interrupted"]


def test_a_reader_that_goes_away_ends_the_tool_quietly():
    """``tool | head -2``: no BrokenPipeError traceback, the exit status SIGPIPE gives."""
    code = ("import sys\nfrom paddle_googlenet.cli.runner import run_tool\n"
            "def main(argv):\n"
            "    for i in range(200000):\n"
            "        print(f'line {i}')\n"
            "sys.exit(run_tool(main, []))\n")
    tool = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    first = [tool.stdout.readline() for _ in range(2)]
    tool.stdout.close()  # what head does after its lines
    err = tool.stderr.read().decode()
    assert tool.wait(timeout=60) == 141
    assert first == [b"line 0\n", b"line 1\n"]
    assert err == ""


def test_python_warnings_are_one_plain_line():
    code = ("import sys, warnings\nfrom paddle_googlenet.cli.runner import run_tool\n"
            "def main(argv):\n"
            "    warnings.warn('Optimizer.lr.warmup_epoch is odd')\n"
            "sys.exit(run_tool(main, []))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), timeout=60)
    assert done.returncode == 0
    assert done.stderr == "warning: Optimizer.lr.warmup_epoch is odd\n"
