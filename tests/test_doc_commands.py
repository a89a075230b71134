"""Every command in a ```bash block of README.md and docs/*.md runs as written on a
fresh clone after the README's quick start.

Each command line is read as a shell would split it and checked: it is a form this
test knows (pip install of the project's extras, pytest, a tool under tools/, possibly
through paddle.distributed.launch); its config loads with its -o overrides; and every
path it reads exists in the repository or was written by an earlier command. What a
command writes is worked out from the code (the demo dataset's layout, the run
directory's files, the export's files), not listed by hand. README.md comes first and
every docs page starts from what the README's commands wrote.

The cheap commands then run for real: `--help` of every tool the docs name, and each
`tools/summary.py` command. A block whose first line is `# template:` is a template
with paths for the reader to fill in, and is left out; so is a block whose first line is
`# in a PaddleClas checkout` (its commands are PaddleClas's tools, which
test_paddleclas_worked_example.py runs for real), and so are blocks of any other
language (`text`, `yaml`, `python`).
"""

import glob
import os
import re
import shlex
import subprocess
import sys
from fnmatch import fnmatch

import pytest

from paddle_googlenet.weights import checkpoint
from paddle_googlenet.config import load_config
from paddle_googlenet.data import make_demo_dataset
from paddle_googlenet.engine.rundir import RunDirectory
from paddle_googlenet.export import DEPLOY_CONFIG, MODEL_FILES
from paddle_googlenet.export.int8 import INT8_FILES
from tiny import ROOT

DOC_FILES = ["README.md"] + sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
# the first line of a block of commands run in a PaddleClas checkout
PADDLECLAS_BLOCK = "# in a PaddleClas checkout"
# -o keys whose value is a path the command reads
READ_KEYS = {"Global.pretrained_model", "Global.checkpoints", "Arch.pretrained"}
# options whose value is a file or folder the command writes
WRITE_OPTIONS = {"--confusion-matrix", "--out", "--work-dir"}
# The reader's own photos, a folder per class, where configs/folders.yaml reads them.
READERS_PHOTOS = ("data/train", "data/val")
PATH_SUFFIXES = (".yaml", ".yml", ".py", ".jpg", ".jpeg", ".png", ".pdparams", ".safetensors",
                 ".json", ".jsonl", ".onnx", ".txt")


# ---------------------------------------------------------------- reading the docs

def bash_commands(doc: str) -> list:
    """``[(line, argv)]``: each command of each ```bash block, split as a shell would
    (comments dropped, ``\\`` continuations joined, ``&&`` / ``;`` separating, leading
    ``NAME=value`` assignments dropped)."""
    with open(os.path.join(ROOT, doc), encoding="utf-8") as f:
        text = f.read()
    commands = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, re.S | re.M):
        if block.lstrip().startswith(("# template:", PADDLECLAS_BLOCK)):
            continue
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            argv = []
            for word in words + ["&&"]:
                if word in ("&&", ";", "||"):
                    while argv and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", argv[0]):
                        argv.pop(0)  # an environment variable set for the command
                    if argv:
                        commands.append((line.strip(), argv))
                    argv = []
                else:
                    argv.append(word)
    return commands


def all_commands():
    return [(doc, line, argv) for doc in DOC_FILES for line, argv in bash_commands(doc)]


def test_the_docs_have_commands_to_check():
    docs = {doc for doc, _, _ in all_commands()}
    assert "README.md" in docs and len(docs) >= 5, docs


# ---------------------------------------------------------------- what exists, what is written

def repository_files() -> set:
    """Files and folders of the repository as a fresh clone has them."""
    done = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if done.returncode == 0 and done.stdout.strip():
        files = done.stdout.split()
    else:  # not a git checkout: what is here, without what runs generate
        files = [os.path.relpath(os.path.join(d, f), ROOT)
                 for d, _, names in os.walk(ROOT) for f in names]
    paths = set()
    for path in files:
        while path:
            paths.add(path)
            path = os.path.dirname(path)
    return paths


def under(folder: str, names) -> set:
    """``folder`` and ``folder/name`` (and their parents) for each name."""
    folder = os.path.normpath(folder)
    paths = {folder}
    for name in names:
        path = os.path.normpath(os.path.join(folder, name))
        while path not in ("", "."):
            paths.add(path)
            path = os.path.dirname(path)
    return paths


@pytest.fixture(scope="module")
def demo_layout(tmp_path_factory) -> list:
    """Relative paths the demo generator writes (a small set: its names are a subset
    of the full set's, which numbers images from 0 in each split)."""
    root = str(tmp_path_factory.mktemp("demo") / "set")
    make_demo_dataset(root, train_per_class=1, eval_per_class=1, image_size=32)
    return [os.path.relpath(os.path.join(d, f), root) for d, dirs, files in os.walk(root)
            for f in files + dirs]


def tool_of(argv):
    """``(tools/x.py, its arguments)``, also through ``python -m paddle.distributed.launch``
    (whose own options come before the script); None for another command."""
    if argv[:1] != ["python"]:
        return None
    for i, word in enumerate(argv):
        if word.startswith("tools/") and word.endswith(".py"):
            if i == 1 or argv[1:3] == ["-m", "paddle.distributed.launch"]:
                return word, argv[i + 1:]
    return None


def option_values(args, *names):
    return [args[i + 1] for i, word in enumerate(args[:-1]) if word in names]


def overrides_of(args):
    return option_values(args, "-o", "--override")


def writes(tool: str, args, demo_layout) -> set:
    """What ``tool args`` writes, from the code's own names."""
    made = set()
    config_path = os.path.join(ROOT, (option_values(args, "-c", "--config") or [""])[0])
    config = load_config(config_path, overrides_of(args)) if os.path.isfile(config_path) \
        else None
    if tool == "tools/train.py":
        g = config["Global"]
        if g["demo_dataset"]:
            made |= under(g["demo_dataset"], demo_layout)
        run = RunDirectory(g["output_dir"], config["Arch"]["name"])
        files = [run.metrics_file, run.plot_file, run.log_file, run.config_file]
        # the newest Global.keep_checkpoints epochs saved every save_interval are kept
        saved = list(range(g["save_interval"], g["epochs"] + 1, g["save_interval"]))
        kept = [checkpoint.checkpoint_name(e) for e in saved[-g["keep_checkpoints"]:]]
        made |= under(run.path, [checkpoint.LATEST, checkpoint.BEST] + kept
                      + [os.path.relpath(f, run.path) for f in files])
    elif tool == "tools/make_demo_data.py":
        made |= under((option_values(args, "--root") or ["dataset/googlenet_demo"])[0],
                      demo_layout)
    elif tool == "tools/export_model.py":
        names = list(MODEL_FILES) + [DEPLOY_CONFIG]
        names += ["inference.onnx"] * ("--onnx" in args) + list(INT8_FILES) * ("--int8" in args)
        made |= under(config["Global"]["save_inference_dir"], names)
    elif tool == "tools/convert_weights.py":
        made.add(os.path.normpath([a for a in args if not a.startswith("-")][-1]))
    for value in option_values(args, *WRITE_OPTIONS):
        made.add(os.path.normpath(value))
    return made


def starts_over(args) -> bool:
    """A train command that starts a new run (the tool refuses one over an earlier
    run's checkpoints) rather than resuming or overwriting."""
    keys = {o.partition("=")[0]: o.partition("=")[2] for o in overrides_of(args)}
    return keys.get("Global.checkpoints", "None") == "None" and \
        keys.get("Global.overwrite") != "True"


def resume_problems(args, runs: dict) -> list:
    """A resume of a finished run needs more epochs than it trained (the tool refuses
    one with nothing left to train)."""
    keys = dict(o.partition("=")[::2] for o in overrides_of(args))
    resumed = os.path.dirname(os.path.normpath(keys.get("Global.checkpoints", "None")))
    if resumed not in runs:
        return []
    config = load_config(os.path.join(ROOT, option_values(args, "-c", "--config")[0]),
                         overrides_of(args))
    if config["Global"]["epochs"] > runs[resumed]:
        return []
    return [f"resumes {resumed}, which trained {runs[resumed]} epochs, with "
            f"Global.epochs={config['Global']['epochs']}: nothing left to train"]


def looks_like_path(word: str) -> bool:
    return not word.startswith("-") and "=" not in word and (
        "/" in word or word.lower().endswith(PATH_SUFFIXES))


def missing_paths(tool: str, args, known: set) -> list:
    """The paths ``tool args`` reads that neither the repository nor an earlier command
    has (a glob needs one match)."""
    read = [tool]
    skip = set()
    for i, word in enumerate(args):
        if i in skip:
            continue
        if word in WRITE_OPTIONS or word in ("--root",):
            skip.add(i + 1)
        elif word in ("-o", "--override") and i + 1 < len(args):
            skip.add(i + 1)
            key, _, value = args[i + 1].partition("=")
            if key in READ_KEYS:
                read.append(value)
        elif looks_like_path(word):
            read.append(word)
    if tool == "tools/convert_weights.py":
        read = read[:-1]  # its last argument is the file it writes
    missing = []
    for path in read:
        path = os.path.normpath(path)
        if not (path in known or any(fnmatch(p, path) for p in known)):
            missing.append(path)
    return missing


def extras_in_setup() -> set:
    with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as f:
        block = re.search(r"extras_require=\{(.*?)\n    \}", f.read(), re.S).group(1)
    return set(re.findall(r'^\s*"(\w+)":', block, re.M))


def downloads(argv) -> set:
    """What a ``wget URL`` command writes: the URL's last part (nothing else counts as
    a download)."""
    if argv[:1] != ["wget"] or len(argv) != 2 or not argv[1].startswith("https://"):
        return set()
    return {argv[1].rsplit("/", 1)[1]}


def test_every_command_names_what_exists(demo_layout):
    extras = extras_in_setup()
    readme_made, readme_runs = set(), {}
    problems = []
    for doc in DOC_FILES:
        known = repository_files() | readme_made | under(".", READERS_PHOTOS)
        runs = dict(readme_runs)  # {run directory: the epochs its run trained}
        for line, argv in bash_commands(doc):
            where = f"{doc}: {line}"
            if any("..." in word for word in argv):
                problems.append(f"{where}: a literal '...' placeholder")
                continue
            if argv[:3] == ["pip", "install", "-e"]:
                spec = argv[3]
                match = re.fullmatch(r"\.(?:\[([\w,]+)\])?", spec)
                unknown = set(match.group(1).split(",")) - extras if match and match.group(1) \
                    else set()
                if not match or unknown:
                    problems.append(f"{where}: installs {spec}; setup.py's extras are "
                                    f"{sorted(extras)}")
                continue
            if argv[:3] == ["python", "-m", "pytest"]:
                words = argv[3:]
                targets = [a for i, a in enumerate(words) if not a.startswith("-")
                           and (i == 0 or words[i - 1] not in ("-k", "-m", "-p", "-n",
                                                               "--dist"))]
                problems += [f"{where}: no {t}" for t in targets if t not in known]
                continue
            if downloads(argv):
                known |= downloads(argv)
                continue
            found = tool_of(argv)
            if not found:
                problems.append(f"{where}: not a command this test knows how to check")
                continue
            tool, args = found
            config = option_values(args, "-c", "--config")
            try:
                if config and config[0] in known:
                    load_config(os.path.join(ROOT, config[0]), overrides_of(args))
            except Exception as err:  # the tool would refuse it too
                problems.append(f"{where}: config does not load: {err}")
                continue
            missing = missing_paths(tool, args, known)
            problems += [f"{where}: reads {p}, which nothing has written" for p in missing]
            if missing:
                continue
            made = writes(tool, args, demo_layout)
            clash = tool == "tools/train.py" and starts_over(args) and made & set(runs)
            if clash:
                problems.append(f"{where}: trains into {sorted(clash)[0]}, which holds an "
                                f"earlier command's run (give it its own Global.output_dir)")
            if tool == "tools/train.py" and config:
                problems += [f"{where}: {p}" for p in resume_problems(args, runs)]
                epochs = load_config(os.path.join(ROOT, config[0]),
                                     overrides_of(args))["Global"]["epochs"]
                runs.update({os.path.dirname(p): epochs for p in made
                             if p.endswith("config.yaml")})
            known |= made
        if doc == "README.md":
            readme_made, readme_runs = known - repository_files(), runs
    assert not problems, "\n".join(problems)


def test_the_readme_quick_start_writes_what_the_docs_use(demo_layout):
    """The quick start's train command is the one that makes output/GoogLeNet and the
    demo images the docs read."""
    tools = [tool_of(argv) for _, argv in bash_commands("README.md")]
    train = [found[1] for found in tools if found and found[0] == "tools/train.py"]
    assert train, "the README does not train"
    made = writes("tools/train.py", train[0], demo_layout)
    assert "output/GoogLeNet/best_model" in made
    assert "dataset/googlenet_demo/images/val/circle_00000.jpg" in made


# ---------------------------------------------------------------- running the cheap ones

@pytest.mark.slow
def test_every_tool_named_shows_its_help():
    tools = sorted({tool_of(argv)[0] for _, _, argv in all_commands() if tool_of(argv)})
    assert tools
    # One process runs each script as `python tools/x.py --help` would.
    script = """
import contextlib, io, json, runpy, sys
results = {}
for tool in sys.argv[1:]:
    sys.argv = [tool, "--help"]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(tool, run_name="__main__")
        code = "returned"
    except SystemExit as stop:
        code = stop.code
    results[tool] = [code, out.getvalue()]
print(json.dumps(results))
"""
    import json
    done = subprocess.run([sys.executable, "-c", script, *tools], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    for tool, (code, out) in json.loads(done.stdout.strip().splitlines()[-1]).items():
        assert code in (0, None) and out.startswith("usage:"), (tool, code, out[:200])


@pytest.mark.slow
def test_summary_commands_run_as_written():
    commands = [argv for _, _, argv in all_commands()
                if tool_of(argv) and tool_of(argv)[0] == "tools/summary.py"]
    assert commands
    for argv in commands:
        done = subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, (argv, done.stderr[-2000:])
        assert "Total params:" in done.stdout


# ---------------------------------------------------------------- running the fine-tuning page

@pytest.mark.slow
def test_the_finetuning_page_runs_on_a_folder_set(tmp_path, monkeypatch, capfd):
    """docs/finetuning.md's commands, in order, on a generated two-class folder set of
    photograph-like JPEGs, with locally made weights in place of the download and of
    the quick start's best_model, and one epoch per training run."""
    import paddle

    from paddle_googlenet.cli import eval_main, export_main, predict_main, train_main
    from paddle_googlenet.cli.infer import main as infer_main
    from paddle_googlenet.models import GoogLeNet, GoogLeNetPaddleClas
    from test_photo_folders import CLASSES, names_printed, write_photos

    monkeypatch.chdir(tmp_path)
    write_photos("data/train", 2)
    write_photos("data/val", 1, seed=1)
    commands = bash_commands("docs/finetuning.md")
    for _, argv in commands:
        for name in downloads(argv):  # the download: a 1000-class network's weights
            paddle.save(GoogLeNetPaddleClas(num_classes=1000).state_dict(), name)
    os.makedirs("output/GoogLeNet/best_model")
    paddle.save(GoogLeNet(num_classes=6).state_dict(), "output/GoogLeNet/best_model/model.pdparams")

    tools = {"tools/train.py": train_main, "tools/eval.py": eval_main,
             "tools/predict.py": predict_main, "tools/export_model.py": export_main,
             "tools/infer.py": infer_main}
    ran = []
    for line, argv in commands:
        found = tool_of(argv)
        if not found:
            continue
        tool, args = found
        args = [os.path.join(ROOT, a) if a.startswith("configs/") else a for a in args]
        if tool == "tools/train.py":
            args += ["-o", "Global.epochs=1"]
        capfd.readouterr()
        assert tools[tool](args) == 0, (line, capfd.readouterr().err[-2000:])
        out = capfd.readouterr().out
        if tool in ("tools/predict.py", "tools/infer.py"):
            assert names_printed(out) == set(CLASSES), (line, out)
        if tool == "tools/eval.py":
            assert all(f"  {name} " in out for name in CLASSES), out
        ran.append(tool)
    assert ran.count("tools/train.py") == 2 and "tools/infer.py" in ran, ran
    log = open("output/finetune/GoogLeNetPaddleClas/train.log").read()
    assert "left at initialisation" in log and "GoogLeNet_pretrained.pdparams" in log
