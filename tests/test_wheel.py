"""The package as a user installs it: a wheel built from the project's files, installed
(not editable) into a fresh virtual environment, runs its tools from an empty folder
with the configs it carries."""

import os
import shutil
import site
import subprocess
import sys
import sysconfig

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

# What a source distribution holds (MANIFEST.in): the wheel is built from these alone.
SOURCES = ("setup.py", "pyproject.toml", "MANIFEST.in", "README.md", "configs",
           "paddle_googlenet")


def _run(command, cwd, env, timeout=300):
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{command}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv holding the wheel and, through a .pth file, this environment's
    dependencies (Paddle, numpy...), so nothing is downloaded. A .pth file's folders
    join sys.path but their own .pth files are not read, so an editable install of
    the project in this environment is not seen there."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    source.mkdir()
    for name in SOURCES:
        path = os.path.join(ROOT, name)
        if os.path.isdir(path):
            shutil.copytree(path, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(path, source / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    _run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
          "--no-index", "--quiet", "-w", str(tmp / "dist"), str(source)], tmp, env)
    wheel, = os.listdir(tmp / "dist")

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp, env)
    python = str(venv / "bin" / "python")
    venv_site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     tmp, env).strip()
    ours = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
    with open(os.path.join(venv_site, "dependencies.pth"), "w") as f:
        f.write("\n".join(sorted(p for p in ours if os.path.isdir(p))) + "\n")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
          "--no-index", "--quiet", str(tmp / "dist" / wheel)], tmp, env)
    empty = tmp / "empty"
    empty.mkdir()
    return {"bin": venv / "bin", "python": python, "site": venv_site, "cwd": str(empty),
            "env": env}


@pytest.mark.slow
def test_the_installed_package_is_the_wheels_not_the_clones(installed):
    where = _run([installed["python"], "-c",
                  "import paddle_googlenet, paddle_googlenet.config as c; "
                  "print(paddle_googlenet.__file__); print(c.find_config('googlenet')); "
                  "print(c.find_config('ImageNet/Inception/GoogLeNet_paper'))"],
                 installed["cwd"], installed["env"]).split()
    package = os.path.join(installed["site"], "paddle_googlenet")
    assert where == [os.path.join(package, "__init__.py"),
                     os.path.join(package, "configs", "googlenet.yaml"),
                     os.path.join(package, "configs", "ImageNet", "Inception",
                                  "GoogLeNet_paper.yaml")]


@pytest.mark.slow
def test_installed_tools_train_and_summarise_from_an_empty_folder(installed):
    """``-c googlenet`` is the packaged config; its relative paths (the demo dataset,
    the output) are under the working directory. A small demo set keeps it quick."""
    cwd, env, bin_ = installed["cwd"], installed["env"], installed["bin"]
    _run([str(bin_ / "googlenet-make-demo-data"), "--train-per-class", "4",
          "--eval-per-class", "2"], cwd, env)
    assert os.path.isfile(os.path.join(cwd, "dataset", "googlenet_demo", "train_list.txt"))
    out = _run([str(bin_ / "googlenet-train"), "-c", "googlenet", "-o", "Global.epochs=1",
                "-o", "Global.demo_dataset=None", "-o", "DataLoader.Train.sampler.batch_size=8"],
               cwd, env)
    run = os.path.join(cwd, "output", "GoogLeNet")
    assert os.path.isfile(os.path.join(run, "config.yaml")), out
    assert any(name.startswith("best_model") for name in os.listdir(run)), os.listdir(run)
    summary = _run([str(bin_ / "googlenet-summary")], cwd, env)
    assert "Total params: 13,378,280" in summary
