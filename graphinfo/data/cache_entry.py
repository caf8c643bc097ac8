"""Cache entries that a crash, a full disk or a second process cannot leave half written.

A cache entry is one folder of processed files. It is written as a set:

1. under an exclusive lock (:func:`entry_lock`, on the file ``.lock`` inside it), so two
   processes processing the same dataset into one fresh cache take turns and the second finds
   the first one's entry;
2. into a private temporary folder inside the entry (``.tmp-<pid>-<random>``), each file
   flushed to disk, then renamed into place one by one;
3. sealed last by a manifest (:data:`MANIFEST`, itself written to a temporary name and renamed)
   naming every file with its size. The old manifest is removed before any file is replaced.

An entry is trusted only when its manifest names every expected file with the size it has
(:func:`entry_complete`); anything else (a kill before the manifest was written, a truncated
file, a foreign file) is rebuilt. Temporary folders of killed writers are removed the next time
the entry is written. Files are read with :func:`safe_torch_load`
(``torch.load(weights_only=True)``): a file that would run code when unpickled is refused,
never executed.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)

#: The file that seals a complete entry.
MANIFEST = "graphinfo-manifest.json"
#: Version of the manifest's layout.
MANIFEST_FORMAT = 1
#: The lock file inside an entry.
LOCK = ".lock"
_TEMPORARY_PREFIX = ".tmp-"


class UnreadableFileError(ValueError):
    """A file could not be read safely (truncated, corrupt, or needing globals beyond tensors
    and plain containers); the message names it."""


def safe_torch_load(path: str | os.PathLike[str], safe_globals: Sequence[Any] = ()) -> Any:
    """``torch.load(path, weights_only=True)`` with ``safe_globals`` allowed in this call only.

    Raises:
        UnreadableFileError: If the file is missing, truncated or corrupt, or names a global
            outside tensors, plain containers, PyG's registered data classes and
            ``safe_globals``; the message names the file and the reason.
    """
    try:
        with torch.serialization.safe_globals(list(safe_globals)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:   # UnpicklingError, EOFError, RuntimeError (zip), OSError ...
        reason = _load_failure_reason(str(error))
        raise UnreadableFileError(f"{os.fspath(path)} could not be read safely "
                                  f"(torch.load(weights_only=True)): {type(error).__name__}"
                                  f"{': ' + reason if reason else ''}") from None


#: Lines of torch's weights-only refusal that are advice, not the reason (one of them suggests
#: ``weights_only=False``, which would run the file's code).
_ADVICE = ("Weights only load failed", "Please file an issue", "Check the documentation")


def _load_failure_reason(text: str) -> str:
    """The line of a ``torch.load`` error that says what is wrong with the file: for a
    refused pickle the unsupported global or operand, else the first line (up to its first
    sentence when it goes on)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    reasons = [line for line in lines if not line.startswith(_ADVICE)]
    reason = reasons[0] if reasons else (lines[0] if lines else "")
    return reason.split(". ")[0].rstrip(".") if len(reason) > 120 else reason


@contextlib.contextmanager
def file_lock(lock_path: str | os.PathLike[str]) -> Iterator[None]:
    """Holds an exclusive OS lock on the file ``lock_path`` (created if missing; blocks until
    the lock is free). It is released when the holder exits, however it exits (a ``kill -9``
    included), so a dead holder never blocks a later run."""
    Path(lock_path).parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        _set_lock(handle, True)
        try:
            yield
        finally:
            _set_lock(handle, False)


@contextlib.contextmanager
def entry_lock(folder: str | os.PathLike[str]) -> Iterator[None]:
    """Holds the exclusive lock of the cache entry ``folder``: :func:`file_lock` on
    ``<folder>/.lock`` (the folder is created)."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    with file_lock(Path(folder) / LOCK):
        yield


def try_file_lock(lock_path: str | os.PathLike[str]) -> Any | None:
    """Takes the exclusive OS lock on ``lock_path`` without waiting: returns the open file
    that holds it (close it to release the lock; the OS releases it when the process dies), or
    ``None`` when another process holds it."""
    Path(lock_path).parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_path, "a+b")  # noqa: SIM115 - the caller closes it to unlock
    try:
        _set_lock(handle, True, blocking=False)
    except OSError:        # held by another process (BlockingIOError, or EACCES on Windows)
        handle.close()
        return None
    return handle


def _set_lock(handle: Any, locked: bool, blocking: bool = True) -> None:
    """Takes or releases the exclusive OS lock of an open file; taking it blocks unless
    ``blocking`` is false (then ``OSError`` says another process holds it)."""
    try:
        import fcntl
    except ImportError:   # Windows
        import msvcrt

        handle.seek(0)
        mode = (msvcrt.LK_LOCK if blocking else msvcrt.LK_NBLCK) if locked else msvcrt.LK_UNLCK
        msvcrt.locking(handle.fileno(), mode, 1)
        return
    if not locked:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    else:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))


def _read_manifest(folder: Path) -> dict[str, int] | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if manifest.get("format") != MANIFEST_FORMAT or not isinstance(files, dict) or \
            not all(isinstance(size, int) for size in files.values()):
        return None
    return files


def entry_complete(folder: str | os.PathLike[str], names: Sequence[str]) -> bool:
    """Whether ``folder`` is a sealed entry holding every one of ``names`` at its sealed size."""
    folder = Path(folder)
    files = _read_manifest(folder)
    if files is None:
        return False
    for name in names:
        try:
            if name not in files or (folder / name).stat().st_size != files[name]:
                return False
        except OSError:
            return False
    return True


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):   # not every platform can open a folder
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def remove_stale_staging(folder: str | os.PathLike[str]) -> None:
    """Removes the temporary folders and files that killed writers left in ``folder``; call it
    only under :func:`entry_lock` (no live writer then has any)."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.name.startswith(_TEMPORARY_PREFIX):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()


def write_entry(folder: str | os.PathLike[str], build: Callable[[Path], None]) -> list[str]:
    """Writes the cache entry ``folder`` as a set: ``build(temporary_folder)`` writes the files,
    which are then renamed into ``folder`` and sealed by the manifest. Call it under
    :func:`entry_lock`.

    Returns:
        list[str]: The names of the files written.

    Raises:
        Whatever ``build`` or the file system raises (a full disk: ``OSError``); the entry is
        then left unsealed (never trusted) and the temporary folder removed.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(folder)
    staging = folder / f"{_TEMPORARY_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        build(staging)
        names = sorted(path.name for path in staging.iterdir() if path.is_file())
        with contextlib.suppress(FileNotFoundError):
            (folder / MANIFEST).unlink()   # unsealed while files are replaced
        sizes = {}
        for name in names:
            _fsync_file(staging / name)
            sizes[name] = (staging / name).stat().st_size
            os.replace(staging / name, folder / name)
        manifest = staging / MANIFEST
        manifest.write_text(json.dumps({"format": MANIFEST_FORMAT, "files": sizes}, indent=1))
        _fsync_file(manifest)
        os.replace(manifest, folder / MANIFEST)
        _fsync_dir(folder)
        return names
    finally:
        shutil.rmtree(staging, ignore_errors=True)
