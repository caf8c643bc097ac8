"""A run's output folder, written as a set: a reader never sees files of two runs.

:func:`check_output_folder` runs before training: the folder must be creatable and writable,
not a file, and must not hold another run unless overwriting was asked for.
:func:`write_output_set` writes every file into a private temporary sibling
(``.<name>.tmp-<pid>-<random>``) and renames the whole folder into place under a lock
(``.<name>.lock`` beside it), so a kill or a full disk at any moment leaves the previous
complete set or none, never a mixture. Overwriting swaps the old set aside
(``.<name>.old-<pid>-<random>``) and removes it after the new one is in place. A run that finds
its folder taken by another run that finished meanwhile (and was not asked to overwrite) keeps
its complete set beside it, in ``<name>-<run id>``, and says so. Temporary siblings left by
killed writers (their process is gone) are removed by the next writer.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from graphinfo.data.cache_entry import file_lock
from graphinfo.io import pid_alive

#: Files that mark a folder as holding a run's outputs.
RUN_FILES = ("config.json", "metrics.json", "embeddings.pt", "model.pt")


class OutputConflictError(ValueError):
    """The output folder holds another run and overwriting was not asked for."""


def new_run_id() -> str:
    """A short random id that names one run (recorded in its config)."""
    return uuid.uuid4().hex[:12]


def _run_files(folder: Path) -> list[str]:
    return [name for name in RUN_FILES if (folder / name).exists()]


def check_output_folder(out: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Checks, before any training, that ``out`` can receive a run's outputs.

    Returns:
        Path: ``out``, with its parent folders created.

    Raises:
        ValueError: If ``out`` is a file, its parent cannot be created or written (read-only,
            no permission), or (:class:`OutputConflictError`) it holds another run's files and
            ``overwrite`` is false.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder")
    if out.is_dir() and not overwrite and _run_files(out):
        raise OutputConflictError(
            f"--out {out} holds another run ({', '.join(_run_files(out))}); pass --overwrite "
            f"to replace it, or choose another folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.probe-")
        os.close(descriptor)
        os.unlink(probe)
    except OSError as error:
        raise ValueError(f"--out {out} cannot be written: {error.strerror or error}") from None
    return out


def remove_stale_siblings(out: str | os.PathLike[str]) -> None:
    """Removes the temporary and swapped-aside siblings of ``out`` whose writing process is
    gone (call it under the folder's lock)."""
    out = Path(out)
    if not out.parent.is_dir():
        return
    for kind in ("tmp", "old"):
        for path in out.parent.glob(f".{out.name}.{kind}-*"):
            pid = path.name.rsplit(f".{kind}-", 1)[1].split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)


def write_output_set(out: str | os.PathLike[str], write: Callable[[Path], None], *,
                     overwrite: bool = False, run_id: str | None = None) -> Path:
    """Writes a run's outputs as a set: ``write(folder)`` fills a temporary folder, which then
    replaces ``out`` in one rename.

    Returns:
        Path: Where the set now is: ``out``, or ``<out>-<run_id>`` when another run took
        ``out`` meanwhile and ``overwrite`` is false.

    Raises:
        Whatever ``write`` raises (a full disk: ``OSError``); ``out`` is then untouched and the
        temporary folder removed.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging = out.parent / f".{out.name}.tmp-{token}"
    staging.mkdir()
    try:
        write(staging)
        with file_lock(out.parent / f".{out.name}.lock"):
            remove_stale_siblings(out)
            target = out
            if out.is_dir() and _run_files(out) and not overwrite:
                target = out.with_name(f"{out.name}-{run_id or token}")
            if target.exists():
                aside = out.parent / f".{out.name}.old-{token}"
                os.rename(target, aside)
                os.rename(staging, target)
                shutil.rmtree(aside, ignore_errors=True)
            else:
                os.rename(staging, target)
        return target
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
