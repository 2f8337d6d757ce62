"""Atomic file and folder writes: a reader never sees a half-written output.

Temporary files and folders are created with the modes a plain open()/mkdir() would give
(0666/0777 less the user's umask), so what is moved into place follows the umask like any other
file; a file that replaces an existing one keeps that file's mode.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .errors import GlobmedError

try:  # POSIX: a build holds a lock on its temporary folder, so the next build can tell a dead one's
    import fcntl
except ImportError:  # pragma: no cover - Windows: leftovers are not cleaned up automatically
    fcntl = None  # type: ignore[assignment]

PARTIAL = ".partial"


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{suffix}")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = _sibling(path, ".tmp")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))  # the umask applies
            break
        except FileExistsError:  # pragma: no cover - a 32-bit random name taken
            continue
    try:
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)  # replacing a file keeps its mode
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def stale_partials(path: Path) -> list[Path]:
    """Temporary folders of builds of `path` that ended without cleaning up (killed): no process holds
    their lock any more. A build still running holds its lock, so its folder is never listed."""
    path = Path(path)
    if fcntl is None or not path.parent.is_dir():
        return []
    stale = []
    for candidate in sorted(path.parent.glob(f".{path.name}.*{PARTIAL}")):
        if not candidate.is_dir() or candidate.is_symlink():
            continue
        try:
            fd = os.open(candidate, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            stale.append(candidate)
        except OSError:
            pass  # locked: a build is writing it now
        finally:
            os.close(fd)
    return stale


def remove_stale_partials(path: Path) -> list[Path]:
    """Remove what `stale_partials` finds; returns the folders removed."""
    removed = []
    for folder in stale_partials(path):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            removed.append(folder)
    return removed


@contextmanager
def atomic_dir(path: Path, overwrite: bool = False) -> Iterator[Path]:
    """Build a folder in a temporary sibling and move it into place only when complete.

    With overwrite, an existing folder is replaced (after the new one is complete), so a
    failed build never destroys the previous good output. The temporary folder is locked while
    the build runs: if the process is killed, the next build of the same `path` removes it.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise GlobmedError(f"{path}: already exists (pass --overwrite to replace it once the new build is complete)")
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = _sibling(path, PARTIAL)
        try:
            os.mkdir(tmp, 0o777)  # the umask applies
            break
        except FileExistsError:  # pragma: no cover - a 32-bit random name taken
            continue
    lock = os.open(tmp, os.O_RDONLY) if fcntl is not None else None
    try:
        if lock is not None:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if lock is not None:
            os.close(lock)  # after the move: the lock goes with the folder, and a rename keeps it
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send whatever is written to stdout inside (library warnings printed at import, C extensions) to
    stderr, at the file-descriptor level, so that a command's stdout holds only its result
    (`MODEL=$(globmed models fetch NAME)`)."""
    sys.stdout.flush()
    saved, old = os.dup(1), sys.stdout
    os.dup2(2, 1)
    sys.stdout = sys.stderr  # loggers created inside keep this stream
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stdout = old
        os.dup2(saved, 1)
        os.close(saved)
