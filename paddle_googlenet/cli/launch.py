"""A training run under ``python -m paddle.distributed.launch``: the command that
resumes it (the launcher's own, rebuilt from its parent's command line or its
variables) and the launcher's banner of Paddle's flags, kept to the user's."""

import os
import shlex
import shutil
import sys
from typing import List, Optional

__all__ = ["LAUNCHER_MODULE", "launcher_command", "resume_command", "quiet_flags_banner"]


LAUNCHER_MODULE = "paddle.distributed.launch"


def _parent_cmdline() -> Optional[List[str]]:
    """The parent process's command line (Linux's /proc), or None where it cannot be read."""
    try:
        with open(f"/proc/{os.getppid()}/cmdline", "rb") as f:
            return [arg.decode(errors="replace") for arg in f.read().split(b"\0") if arg]
    except OSError:
        return None


def _same_file(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _shown_python(python: str) -> str:
    """Plain "python" where that is the same interpreter as ``python``."""
    on_path = shutil.which("python")
    return "python" if on_path and _same_file(on_path, shutil.which(python) or python) \
        else python


def launcher_command(environ, parent_cmdline: Optional[List[str]], script: str) -> List[str]:
    """The part before the training script of the ``python -m paddle.distributed.launch``
    command that started this process; [] when it was not started by the launcher.

    The launcher gives its workers ``PADDLE_TRAINERS_NUM`` and friends, and is their
    parent: its own command line keeps every option the user gave it. Where that
    cannot be read, the launcher command is rebuilt from its variables."""
    if "PADDLE_TRAINERS_NUM" not in environ:
        return []
    command = parent_cmdline or []
    if LAUNCHER_MODULE in command:
        for i in range(command.index(LAUNCHER_MODULE) + 1, len(command)):
            if _same_file(command[i], script):
                return [_shown_python(command[0]), *command[1:i]]
    nodes = environ.get("PADDLE_NNODES", "1")
    per_node = environ.get("PADDLE_LOCAL_SIZE") or str(
        int(environ["PADDLE_TRAINERS_NUM"]) // max(int(nodes), 1))
    launcher = ["python", "-m", LAUNCHER_MODULE, "--nproc_per_node", per_node]
    if nodes != "1":
        launcher += ["--nnodes", nodes]
        if environ.get("PADDLE_MASTER"):
            launcher += ["--master", environ["PADDLE_MASTER"]]
    return launcher


def resume_command(argv, checkpoint: str, environ=None,
                    parent_cmdline: Optional[List[str]] = None) -> str:
    """The command line that ran this training, resuming from ``checkpoint`` (an
    earlier ``Global.checkpoints`` is dropped; a later ``-o`` wins in any case).
    Under ``paddle.distributed.launch`` it is the launcher's command, with the
    launcher's options; ``environ`` and ``parent_cmdline`` default to this
    process's environment and its parent's command line."""
    kept, options = [], iter(argv)
    for option in options:
        value = next(options, "") if option in ("-o", "--override") else None
        if value is None:
            kept.append(option)
        elif not value.startswith("Global.checkpoints="):
            kept += [option, value]
    script = sys.argv[0] if os.path.basename(sys.argv[0]) == "train.py" else "tools/train.py"
    resume = [script, *kept, "-o", f"Global.checkpoints={checkpoint}"]
    environ = os.environ if environ is None else environ
    if "PADDLE_TRAINERS_NUM" in environ:
        if parent_cmdline is None:
            parent_cmdline = _parent_cmdline()
        launcher = launcher_command(environ, parent_cmdline, script)
        return shlex.join([*launcher, *resume])
    return shlex.join([_shown_python(sys.executable), *resume])


def quiet_flags_banner():
    """Under the launcher, ``paddle.distributed.init_parallel_env`` prints every flag
    whose value differs from its built-in default. Paddle 3 itself sets
    ``FLAGS_enable_pir_in_executor``, so the banner appears in every run and says
    nothing; keep it for the flags the user set in the environment."""
    from paddle.distributed import parallel

    print_flags = getattr(parallel, "_print_modified_flags", None)
    if print_flags is None or getattr(print_flags, "user_flags_only", False):
        return

    def print_user_flags(flags):
        print_flags([flag for flag in flags if flag.name in os.environ])

    print_user_flags.user_flags_only = True
    parallel._print_modified_flags = print_user_flags
