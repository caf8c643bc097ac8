"""Atomic output: every file is written to a temporary sibling and renamed into place, so a crash
never leaves a half-written embedding, checkpoint or metrics file behind; the temporary files of
killed writers (named with their process id) are removed by the next write of the same file."""
from __future__ import annotations

import contextlib
import glob
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Calls ``write(fileobj)`` on a temporary file in the target folder, then renames it to
    ``path`` (an atomic replace on POSIX and Windows). Returns the final path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}-",
                               suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    failed: list[OSError] = []
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide outputs from other users
        with os.fdopen(fd, mode) as f:
            try:
                write(_RecordingWriter(f, failed))
                f.flush()
                os.fsync(f.fileno())
            except Exception as error:
                # torch.save reports a failed write (a full disk) as a RuntimeError about a
                # file position; the OS's own error says what happened, here with the file.
                cause = failed[0] if failed else error
                if isinstance(cause, OSError) and cause.errno and cause.filename is None:
                    raise OSError(cause.errno, cause.strerror, str(path)) from None
                if cause is not error:
                    raise cause from None
                raise
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


class _RecordingWriter:
    """A file object that remembers the ``OSError`` of a failed write (a full disk), for
    writers such as ``torch.save`` that replace it with an error of their own."""

    def __init__(self, file: Any, failed: list[OSError]) -> None:
        self._file, self._failed = file, failed

    def write(self, data: Any) -> int:
        try:
            return self._file.write(data)
        except OSError as error:
            self._failed.append(error)
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:   # it exists but belongs to another user
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Removes the temporary files that killed writers of ``path`` left beside it
    (``.<name>.<pid>-<random>.tmp`` whose process is gone); returns what was removed."""
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    prefix = f".{path.name}."
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = candidate.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            with contextlib.suppress(OSError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def save_torch(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` made atomic."""
    return atomic_write(path, lambda f: torch.save(obj, f))


def save_json(obj: Any, path: str | os.PathLike) -> Path:
    """Writes ``obj`` as indented JSON, atomically."""
    text = json.dumps(obj, indent=2, sort_keys=False) + "\n"
    return atomic_write(path, lambda f: f.write(text), mode="w")
