"""Writing files and directories so that a reader never sees half of one."""

import contextlib
import os
import shutil
import tempfile

__all__ = ["temp_dir_for", "replace_dir", "write_file_atomically"]


def temp_dir_for(final: str) -> str:
    """An empty directory beside ``final`` (same file system, so a rename moves it),
    with the permissions a plain ``mkdir`` would give rather than mkdtemp's 0700."""
    parent = os.path.dirname(os.path.abspath(final))
    os.makedirs(parent, exist_ok=True)
    path = tempfile.mkdtemp(prefix=_temp_prefix(final), dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o777 & ~umask)
    return path


def replace_dir(tmp: str, final: str):
    """Move the finished ``tmp`` to ``final``; an existing ``final`` is moved aside
    first and deleted after, so ``final`` is at every moment old or new, whole."""
    old = None
    if os.path.lexists(final):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(final)}.old-",
                               dir=os.path.dirname(os.path.abspath(final)))
        os.rename(final, os.path.join(old, "previous"))
    os.rename(tmp, final)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def _temp_prefix(final: str) -> str:
    # Short enough that the temporary name fits where the final one does.
    return f".{os.path.basename(final)[:64]}.tmp-"


def write_file_atomically(path: str, write):
    """Write ``path`` through ``write(f)`` under a temporary name renamed into place,
    so that a failure or a kill never leaves a partly written file.

    The temporary file is new (``mkstemp``: ``O_CREAT | O_EXCL`` under a random name in
    ``path``'s directory), so a link planted there is never followed; the rename
    replaces ``path`` itself, a link included, never what it points to. OSError is
    left to the caller, which names the path."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # what open() would give, not mkstemp's 0600
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
