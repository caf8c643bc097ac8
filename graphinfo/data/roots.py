"""Where datasets are read from and where derived files go.

* **Data root** (read-only input): the ``root`` argument, else the environment variable
  ``GRAPHINFO_DATA``, else the cache folder.
* **Cache folder** (writable): ``GRAPHINFO_CACHE``, else ``$XDG_CACHE_HOME/graphinfo``, else
  ``~/.cache/graphinfo``. Processed files go to ``<cache>/processed/<family>/<Name>-<hash8>/``,
  keyed by a hash of the absolute raw folder so that different roots never collide; downloads go
  to ``<cache>/raw/<family>/<Name>/``.

A loader never writes into the folder it reads raw files from.
"""
from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

DATA_ENV = "GRAPHINFO_DATA"
CACHE_ENV = "GRAPHINFO_CACHE"


def cache_dir() -> Path:
    """Returns the writable cache folder (not created).

    Returns:
        Path: ``$GRAPHINFO_CACHE``, else ``$XDG_CACHE_HOME/graphinfo``, else
        ``~/.cache/graphinfo``.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "graphinfo"


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Resolves the data root that raw files are looked up in.

    Args:
        root (str or PathLike, optional): An explicit root; wins when given. (default: ``None``)

    Returns:
        Path: ``root``, else ``$GRAPHINFO_DATA``, else :func:`cache_dir`.
    """
    if root is not None and str(root) != "":
        return Path(root).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return cache_dir()


def path_hash(path: str | os.PathLike[str], length: int = 8) -> str:
    """Returns a short stable hash of the absolute form of ``path``.

    Args:
        path (str or PathLike): Any path; it is made absolute (not resolved) first.
        length (int): Number of hex digits. (default: ``8``)

    Returns:
        str: The first ``length`` hex digits of the SHA-256 of the absolute path.
    """
    absolute = os.path.abspath(os.fspath(path))
    return hashlib.sha256(absolute.encode("utf-8")).hexdigest()[:length]


def processed_dir(family: str, name: str, source: str | os.PathLike[str]) -> Path:
    """Returns the cache folder for processed files of a dataset read from ``source``.

    Args:
        family (str): Dataset family, e.g. ``'planetoid'``.
        name (str): Dataset name as the family spells it, e.g. ``'Cora'``.
        source (str or PathLike): The folder the raw files are read from.

    Returns:
        Path: ``<cache>/processed/<family>/<name>-<hash8 of source>``.
    """
    return cache_dir() / "processed" / family / f"{name}-{path_hash(source)}"


def download_dir(family: str, name: str) -> Path:
    """Returns the cache folder that downloads of a dataset land in.

    Args:
        family (str): Dataset family, e.g. ``'planetoid'``.
        name (str): Dataset name as the family spells it, e.g. ``'Cora'``.

    Returns:
        Path: ``<cache>/raw/<family>/<name>``.
    """
    return cache_dir() / "raw" / family / name


def candidate_dirs(root: Path, family_dirs: Sequence[str], names: Sequence[str],
                   leaf: str | None = "raw") -> list[Path]:
    """Lists the folders a dataset's raw files may lie in under ``root``, in search order.

    Both the shared layout (``<root>/<family_dir>/<name>/raw``) and PyG's own layout
    (``<root>/<name>/raw``) are covered: pass ``''`` among ``family_dirs`` for the latter.

    Args:
        root (Path): The data root.
        family_dirs (Sequence[str]): Folder names of the family under the root.
        names (Sequence[str]): Spellings of the dataset's folder name.
        leaf (str, optional): Sub-folder holding the files (``'raw'``), or ``None`` when the
            files are addressed relative to the dataset folder itself. (default: ``'raw'``)

    Returns:
        list[Path]: Candidate folders without duplicates.
    """
    out: list[Path] = []
    for family_dir in family_dirs:
        for name in names:
            path = root / family_dir / name if family_dir else root / name
            if leaf:
                path = path / leaf
            if path not in out:
                out.append(path)
    return out


def has_files(folder: Path, files: Iterable[str]) -> bool:
    """Returns whether every one of ``files`` (relative paths) exists in ``folder``."""
    files = list(files)
    return len(files) > 0 and all((folder / f).is_file() for f in files)


def find_dir(candidates: Sequence[Path], files: Iterable[str]) -> Path | None:
    """Returns the first candidate folder holding all ``files``, or ``None``."""
    files = list(files)
    for folder in candidates:
        if has_files(folder, files):
            logger.debug("found %s in %s", files, folder)
            return folder
    return None


def missing_message(dataset: str, searched: Sequence[Path], files: Sequence[str],
                    reason: str | None = None) -> str:
    """Builds the error message for raw files that are neither present nor downloadable.

    Args:
        dataset (str): Dataset name as the user gave it.
        searched (Sequence[Path]): Every folder searched, in order.
        files (Sequence[str]): The exact files expected in one of those folders.
        reason (str, optional): Why downloading failed or was skipped. (default: ``None``)

    Returns:
        str: A message whose first line says what is missing, where to put it and how to list
        the folders (the CLI shows that line), followed by every folder searched.
    """
    not_files = [str(folder / name) for folder in searched for name in files
                 if (folder / name).exists() and not (folder / name).is_file()]
    where = (f" in one of {len(searched)} folders (the first: {searched[0]}; 'graphinfo "
             f"datasets --paths' lists them), or pass root= / set ${DATA_ENV} to a folder with "
             f"this layout") if searched else f" (pass root= or set ${DATA_ENV})"
    first = (f"Raw files of dataset {dataset!r} were not found and could not be downloaded"
             + (f" ({reason})" if reason else "") + "; expected " + ", ".join(files)
             + (f" ({', '.join(not_files)} is not a file)" if not_files else "") + where)
    lines = [first, "Folders searched:"]
    lines.extend(f"  {folder}" for folder in searched)
    return "\n".join(lines)
