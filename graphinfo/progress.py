"""A ``pretrain`` run in progress, kept beside its output folder so that a killed run can be
continued (``graphinfo pretrain --resume``).

While a run trains, the folder ``.<name>.progress`` beside its ``--out`` (``<name>``) holds:

- ``run.json``: the run's id, the flags it was started with and its seeds;
- ``seed-<s>.ckpt``: the training engine's checkpoint of the seed being trained (the
  ``checkpoint`` of :func:`graphinfo.train.train`: weights, optimiser, early stopping, history
  and random states), written every ``--checkpoint-every`` epochs and when the seed ends;
- ``seed-<s>.json``: a finished seed's metrics and curves, the mark that it finished;
- ``seed-<s>.pt``: the embeddings and weights of the best finished seed so far (the one the
  run will write), written before its ``seed-<s>.json``.

The CLI records every seed but the last this way: the output set is written as soon as the
last one ends, and a kill before that is resumed from the last seed's final checkpoint.

Every file is written atomically (:mod:`graphinfo.io`), so a kill at any moment leaves files a
resume can trust. While it lives, the run holds an OS lock on the folder's ``.lock``: a second
run into the same ``--out`` is refused while the first one trains, and a run that was killed
(the OS released its lock) is recognised as such, never mistaken for a live one. The folder is
removed once the run's output set is in place (:func:`graphinfo.outputs.write_output_set`).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from torch import Tensor

from graphinfo.data.cache_entry import (
    UnreadableFileError,
    file_lock,
    safe_torch_load,
    try_file_lock,
)
from graphinfo.io import save_json, save_torch

#: The version of ``run.json``'s layout.
PROGRESS_FORMAT = 1
#: Flags that may differ between a run and its resume: they change where and how it is
#: shown, not what it computes.
RESUMABLE_CHANGES = frozenset({"resume", "overwrite", "progress", "plots", "device", "out",
                               "debug", "verbose", "checkpoint_every"})


class ProgressError(ValueError):
    """A run's progress cannot be taken: another run holds it, nothing is there to resume, or
    the flags differ from the run's."""


def progress_folder(out: str | os.PathLike[str]) -> Path:
    """Where the run writing ``out`` keeps its progress: ``.<name>.progress`` beside it."""
    out = Path(out)
    return out.parent / f".{out.name}.progress"


def read_progress(out: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``run.json`` of the run in progress for ``out`` (``None`` when there is none).

    Raises:
        ProgressError: If the file exists but is not a progress record this module wrote.
    """
    path = progress_folder(out) / "run.json"
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise ProgressError(f"{path} could not be read as a run's progress: {error}") from None
    if not isinstance(record, dict) or record.get("format") != PROGRESS_FORMAT or \
            not isinstance(record.get("flags"), dict) or not isinstance(record.get("run_id"), str):
        raise ProgressError(f"{path} is not the progress record of a graphinfo run")
    return record


def _changed_flags(recorded: dict[str, Any], flags: dict[str, Any]) -> list[str]:
    changed = []
    for key in sorted(set(recorded) | set(flags)):
        if key in RESUMABLE_CHANGES:
            continue
        old, new = recorded.get(key), flags.get(key)
        if isinstance(old, list) or isinstance(new, list | tuple):
            old, new = list(old or []), list(new or [])
        if old != new:
            changed.append(f"--{key.replace('_', '-')} {new!r} (the run's: {old!r})")
    return changed


class RunProgress:
    """The progress of one run: opened (and locked) with :meth:`open`, closed with
    :meth:`close`. Only the process that writes the outputs (rank 0) opens it."""

    def __init__(self, out: Path, folder: Path, lock: Any, record: dict[str, Any]) -> None:
        self.out, self.folder, self._lock, self.record = out, folder, lock, record

    @property
    def run_id(self) -> str:
        return self.record["run_id"]

    @classmethod
    def open(cls, out: str | os.PathLike[str], *, run_id: str, flags: dict[str, Any],
             seeds: list[int], resume: bool = False, overwrite: bool = False) -> RunProgress:
        """Takes the progress of the run writing ``out``.

        A fresh run (``resume=False``) starts an empty progress; progress left by a killed run
        is refused unless ``overwrite`` (which discards it). ``resume=True`` continues the
        killed run's progress: ``flags`` must then equal the run's own (besides
        :data:`RESUMABLE_CHANGES`), and the run keeps its id.

        Raises:
            ProgressError: If another live run holds the progress, a killed run's progress is
                there and neither ``resume`` nor ``overwrite`` was asked, ``resume`` finds no
                progress, or the flags differ from the resumed run's (each one is named).
        """
        out = Path(out)
        folder = progress_folder(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(out.parent / f".{out.name}.lock"):   # not while a finisher removes it
            folder.mkdir(exist_ok=True)
            lock = try_file_lock(folder / ".lock")
            if lock is None:
                raise ProgressError(f"--out {out} is being written by another pretrain run "
                                    f"(it holds {folder / '.lock'}); wait for it to finish or "
                                    f"choose another folder")
            try:
                record = cls._take(out, folder, run_id=run_id, flags=flags, seeds=seeds,
                                   resume=resume, overwrite=overwrite)
            except BaseException:
                lock.close()
                raise
        return cls(out, folder, lock, record)

    @staticmethod
    def _take(out: Path, folder: Path, *, run_id: str, flags: dict[str, Any],
              seeds: list[int], resume: bool, overwrite: bool) -> dict[str, Any]:
        recorded = read_progress(out)
        if resume:
            if recorded is None:
                raise ProgressError(f"--resume: no run in progress for --out {out} (nothing "
                                    f"was killed there); start the run without --resume")
            changed = _changed_flags(recorded["flags"], flags)
            if changed:
                raise ProgressError(f"--resume continues run {recorded['run_id']} with its own "
                                    f"settings, but these differ: {'; '.join(changed)}; leave "
                                    f"them out, or start a new run with --overwrite")
            if list(recorded.get("seeds", [])) != list(seeds):
                raise ProgressError(f"--resume continues run {recorded['run_id']} over its "
                                    f"seeds {recorded.get('seeds')}, not {seeds}")
            return recorded
        if recorded is not None and not overwrite:
            done = len(list(folder.glob("seed-*.json")))
            raise ProgressError(f"--out {out} holds a killed run in progress (run id "
                                f"{recorded['run_id']}, {done} of {len(recorded['seeds'])} "
                                f"seeds finished); --resume continues it, --overwrite "
                                f"discards it")
        for path in folder.iterdir():         # a discarded run, or a kill before run.json
            if path.name != ".lock":
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        record = {"format": PROGRESS_FORMAT, "run_id": run_id, "flags": flags,
                  "seeds": list(seeds), "out": str(out), "overwrite": overwrite}
        save_json(record, folder / "run.json")
        return record

    def checkpoint(self, seed: int) -> Path:
        """The engine's checkpoint file of ``seed``."""
        return self.folder / f"seed-{seed}.ckpt"

    def finished(self) -> dict[int, dict[str, Any]]:
        """``{seed: {'metrics': ..., 'curves': ...}}`` of every seed that finished.

        Raises:
            ProgressError: If a finished seed's file cannot be read.
        """
        done: dict[int, dict[str, Any]] = {}
        for path in self.folder.glob("seed-*.json"):
            seed = path.stem.removeprefix("seed-")
            try:
                entry = json.loads(path.read_text())
                done[int(seed)] = {"metrics": dict(entry["metrics"]),
                                   "curves": dict(entry["curves"])}
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise ProgressError(f"{path} could not be read as a finished seed "
                                    f"({type(error).__name__}: {error}); --overwrite starts "
                                    f"the run again") from None
        return dict(sorted(done.items()))

    def outputs(self, seed: int) -> tuple[Tensor, dict[str, Tensor]]:
        """The embeddings and weights kept for the finished seed ``seed``.

        Raises:
            ProgressError: If they were not kept (``seed`` was not the best) or cannot be read.
        """
        path = self.folder / f"seed-{seed}.pt"
        try:
            saved = safe_torch_load(path)
            return saved["embeddings"], saved["state_dict"]
        except (UnreadableFileError, KeyError, TypeError) as error:
            raise ProgressError(f"the outputs of finished seed {seed} could not be read: "
                                f"{error}; --overwrite starts the run again") from None

    def record_seed(self, seed: int, metrics: dict[str, Any], curves: dict[str, Any], *,
                    outputs: tuple[Tensor, dict[str, Tensor]] | None) -> None:
        """Marks ``seed`` finished. ``outputs`` (its embeddings and weights) are kept when it
        is the best seed so far, and then the previous best's are removed."""
        if outputs is not None:
            embeddings, state_dict = outputs
            save_torch({"embeddings": embeddings, "state_dict": state_dict},
                       self.folder / f"seed-{seed}.pt")
        save_json({"metrics": metrics, "curves": curves}, self.folder / f"seed-{seed}.json")
        if outputs is not None:
            for path in self.folder.glob("seed-*.pt"):
                if path.name != f"seed-{seed}.pt":
                    path.unlink(missing_ok=True)
        self.checkpoint(seed).unlink(missing_ok=True)

    def close(self, *, remove: bool) -> None:
        """Releases the progress; ``remove=True`` (the output set is in place) deletes it."""
        if self._lock is None:
            return
        try:
            if remove:
                with file_lock(self.out.parent / f".{self.out.name}.lock"):
                    shutil.rmtree(self.folder, ignore_errors=True)
        finally:
            with contextlib.suppress(OSError):
                self._lock.close()
            self._lock = None
