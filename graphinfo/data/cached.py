"""PyG dataset classes reading raw files from a fixed (read-only) folder, processing into the cache.

PyG's :class:`~torch_geometric.data.Dataset` derives ``raw_dir`` and ``processed_dir`` from one
``root`` and writes ``processed/`` (plus ``pre_transform.pt`` and ``pre_filter.pt``) next to
``raw/``. Its constructor downloads only when ``files_exist(self.raw_paths)`` is false, and
processes into ``processed_dir`` only when the processed files are missing there. The classes here
override both properties, so raw files are read where they were found and every write goes to the
cache folder; a failed or disabled download becomes a :class:`FileNotFoundError` that says which
files to put where.

Processing and loading are PyG's, made safe (see :mod:`graphinfo.data.cache_entry`): each entry
is processed under a lock into a temporary folder and sealed by a manifest, so a crash, a full
disk or a second process never leaves an entry that is trusted half written; every cached file
is read with ``torch.load(weights_only=True)`` (PyG falls back to an unpickling load that runs
code, and reads ``pre_transform.pt`` / ``pre_filter.pt`` so); an entry that is incomplete,
corrupt or refused is rebuilt, with a warning. Planetoid's raw pickles are read by
:func:`~graphinfo.data.planetoid_files.read_planetoid` (a restricted unpickler), never by
``pickle.load``.
"""
from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch_geometric.data import Data, InMemoryDataset
from torch_geometric.data.dataset import _repr
from torch_geometric.datasets import Amazon, Coauthor, Planetoid, TUDataset

from graphinfo.data.cache_entry import (
    UnreadableFileError,
    entry_complete,
    entry_lock,
    safe_torch_load,
    write_entry,
)
from graphinfo.data.planetoid_files import read_planetoid

logger = logging.getLogger(__name__)

MissingMessage = Callable[[str], str]


class ReadOnlyRootMixin:
    """Mixin redirecting ``raw_dir``/``processed_dir`` and guarding ``download``.

    Put it first among the bases (``class X(ReadOnlyRootMixin, Planetoid)``); the PyG class must
    take ``(root, name, **kwargs)``. Classes with another constructor call :meth:`_set_dirs`
    before the PyG constructor runs.

    Args:
        name (str): The dataset's name for the PyG class.
        raw_dir (str or PathLike): Folder holding the raw files.
        processed_dir (str or PathLike): Cache folder for processed files (also PyG's ``root``).
        missing (Callable[[str], str]): Builds the missing-files message.
        allow_download (bool): Whether a download may be attempted. (default: ``True``)
        **kwargs: Further arguments of the PyG class (``transform`` ...).
    """

    _gi_raw_dir: str
    _gi_processed_dir: str
    _gi_missing: MissingMessage
    _gi_allow_download: bool
    #: While an entry is being written: the temporary folder the processed files go to.
    _gi_staging: str | None = None
    #: Globals beyond PyG's registered data classes that the processed files need.
    _gi_safe_globals: Sequence[Any] = ()

    def __init__(self, name: str, raw_dir: str | os.PathLike[str],
                 processed_dir: str | os.PathLike[str], missing: MissingMessage,
                 allow_download: bool = True, **kwargs: Any) -> None:
        self._set_dirs(raw_dir, processed_dir, missing, allow_download)
        super().__init__(os.fspath(processed_dir), name, **kwargs)

    def _set_dirs(self, raw_dir: str | os.PathLike[str], processed_dir: str | os.PathLike[str],
                  missing: MissingMessage, allow_download: bool) -> None:
        """Stores the folders and the error-message builder; call before ``super().__init__``.

        Args:
            raw_dir (str or PathLike): Folder the raw files are read from (or downloaded into).
            processed_dir (str or PathLike): Cache folder for processed files.
            missing (Callable[[str], str]): Builds the missing-files message from a reason.
            allow_download (bool): Whether a download may be attempted.
        """
        self._gi_raw_dir = os.fspath(raw_dir)
        self._gi_processed_dir = os.fspath(processed_dir)
        self._gi_missing = missing
        self._gi_allow_download = allow_download

    @property
    def raw_dir(self) -> str:
        """The folder raw files are read from."""
        return self._gi_raw_dir

    @property
    def processed_dir(self) -> str:
        """The cache folder processed files are read from (while processing: the temporary
        folder they are written to)."""
        return self._gi_staging or self._gi_processed_dir

    def _gi_entry_names(self) -> list[str]:
        return [os.path.basename(path) for path in self.processed_paths] + \
            ["pre_transform.pt", "pre_filter.pt"]

    def _process(self) -> None:
        """PyG's ``Dataset._process``, crash-safe and without unsafe loads: under the entry's
        lock, a sealed entry is kept (with PyG's warning when the pre-transform or pre-filter
        differs from the one it was made with), anything else is (re)built as a set."""
        folder = Path(self._gi_processed_dir)
        with entry_lock(folder):
            if not self.force_reload and entry_complete(folder, self._gi_entry_names()):
                try:
                    self._gi_check_pre_processing(folder)
                    return
                except UnreadableFileError as error:
                    self._gi_warn_rebuild(folder, str(error))
            elif not self.force_reload and folder.is_dir() and any(
                    (folder / name).exists() for name in self._gi_entry_names()):
                self._gi_warn_rebuild(folder, "it is incomplete or unsealed (a run was "
                                              "killed or the disk filled up while it was "
                                              "written, or an older graphinfo wrote it)")
            write_entry(folder, self._gi_build)

    def _gi_check_pre_processing(self, folder: Path) -> None:
        for name, value in (("pre_transform", self.pre_transform),
                            ("pre_filter", self.pre_filter)):
            if safe_torch_load(folder / f"{name}.pt") != _repr(value):
                warnings.warn(f"The `{name}` argument differs from the one used in the "
                              f"pre-processed version of this dataset in {folder}; pass "
                              f"`force_reload=True` to process it again.", stacklevel=3)

    def _gi_build(self, staging: Path) -> None:
        """Processes the raw files into ``staging`` (``write_entry``'s temporary folder)."""
        logger.info("processing %s into %s", self._gi_raw_dir, self._gi_processed_dir)
        self._gi_staging = os.fspath(staging)
        try:
            self.process()
            torch.save(_repr(self.pre_transform), staging / "pre_transform.pt")
            torch.save(_repr(self.pre_filter), staging / "pre_filter.pt")
        finally:
            self._gi_staging = None

    @staticmethod
    def _gi_warn_rebuild(folder: Path, reason: str) -> None:
        warnings.warn(f"rebuilding the cached dataset in {folder}: {reason}", stacklevel=4)

    def _gi_load_entry(self, path: str | os.PathLike[str]) -> Any:
        """A processed file, read with ``torch.load(weights_only=True)``; a file that cannot be
        read so (truncated, corrupt, or asking to run code) makes the entry be rebuilt once,
        with a warning.

        Raises:
            UnreadableFileError: If even the rebuilt file cannot be read (names the file).
        """
        try:
            return safe_torch_load(path, self._gi_safe_globals)
        except UnreadableFileError as error:
            folder = Path(self._gi_processed_dir)
            self._gi_warn_rebuild(folder, str(error))
            with entry_lock(folder):
                write_entry(folder, self._gi_build)
        return safe_torch_load(path, self._gi_safe_globals)

    def load(self, path: str, data_cls: type = Data) -> None:
        """``InMemoryDataset.load`` through :meth:`_gi_load_entry` (never an unsafe load)."""
        out = self._gi_load_entry(path)
        if not isinstance(out, tuple) or len(out) not in (2, 3):
            raise UnreadableFileError(f"{path} is not a processed PyG dataset (a "
                                      f"{type(out).__name__})")
        self.slices = out[1]
        self._gi_adopt(out[0], out[2] if len(out) == 3 else data_cls)

    def _gi_adopt(self, data: Any, data_cls: type) -> None:
        """Sets the loaded storage as ``InMemoryDataset.load`` does (a dict is the current
        format, a data object the old one)."""
        self.data = data_cls.from_dict(data) if isinstance(data, dict) else data

    def download(self) -> None:
        """Downloads through the parent class, or raises a helpful FileNotFoundError.

        Raises:
            FileNotFoundError: If downloading is disabled or fails.
        """
        if not self._gi_allow_download:
            raise FileNotFoundError(self._gi_missing("downloading is disabled"))
        logger.info("downloading raw files into %s", self._gi_raw_dir)
        try:
            super().download()  # type: ignore[misc]
        except (Exception, SystemExit) as exc:  # offline, HTTP error, or OGB's exit(-1)
            raise FileNotFoundError(
                self._gi_missing(f"download failed: {type(exc).__name__}: {exc}")) from exc


class ReadOnlyPlanetoid(ReadOnlyRootMixin, Planetoid):
    """:class:`~torch_geometric.datasets.Planetoid` (public split) with redirected folders.

    Raw files: ``ind.<name>.*``, read by
    :func:`~graphinfo.data.planetoid_files.read_planetoid` (nothing they name is run).
    Arguments as for :class:`ReadOnlyRootMixin`.
    """

    def process(self) -> None:
        """Reads the raw pickles with the restricted unpickler; PyG's ``pickle.load`` never."""
        if self.split == "geom-gcn":
            raise ValueError("the geom-gcn split of Planetoid is not supported here")
        data = read_planetoid(self.raw_dir, self.name)
        data = data if self.pre_transform is None else self.pre_transform(data)
        self.save([data], self.processed_paths[0])


class ReadOnlyTUDataset(ReadOnlyRootMixin, TUDataset):
    """:class:`~torch_geometric.datasets.TUDataset` with redirected folders (plain variant only).

    Raw files: ``<name>_A.txt`` etc. Arguments as for :class:`ReadOnlyRootMixin` plus
    ``use_node_attr`` / ``use_edge_attr`` as PyG's. ``TUDataset.__init__`` reads its processed
    file with PyG's unsafe fallback; its bookkeeping is done here with a safe load instead.
    """

    def __init__(self, name: str, raw_dir: str | os.PathLike[str],
                 processed_dir: str | os.PathLike[str], missing: MissingMessage,
                 allow_download: bool = True, transform: Callable | None = None,
                 pre_transform: Callable | None = None, pre_filter: Callable | None = None,
                 force_reload: bool = False, use_node_attr: bool = False,
                 use_edge_attr: bool = False) -> None:
        self._set_dirs(raw_dir, processed_dir, missing, allow_download)
        self.name, self.cleaned = name, False
        InMemoryDataset.__init__(self, os.fspath(processed_dir), transform, pre_transform,
                                 pre_filter, force_reload=force_reload)
        out = self._gi_load_entry(self.processed_paths[0])
        if not isinstance(out, tuple) or len(out) not in (3, 4):
            raise UnreadableFileError(f"{self.processed_paths[0]} is not a processed "
                                      f"TUDataset")
        self.slices, self.sizes = out[1], out[2]
        self._gi_adopt(out[0], out[3] if len(out) == 4 else Data)
        if self._data.x is not None and not use_node_attr:
            self._data.x = self._data.x[:, self.num_node_attributes:]
        if self._data.edge_attr is not None and not use_edge_attr:
            self._data.edge_attr = self._data.edge_attr[:, self.num_edge_attributes:]


class ReadOnlyAmazon(ReadOnlyRootMixin, Amazon):
    """:class:`~torch_geometric.datasets.Amazon` with redirected folders.

    Raw files: ``amazon_electronics_<name>.npz``. Arguments as for :class:`ReadOnlyRootMixin`.
    """


class ReadOnlyCoauthor(ReadOnlyRootMixin, Coauthor):
    """:class:`~torch_geometric.datasets.Coauthor` with redirected folders.

    Raw files: ``ms_academic_<cs|phy>.npz``. Arguments as for :class:`ReadOnlyRootMixin`.
    """


def read_only_class(cls: type) -> type:
    """A subclass of the PyG dataset class ``cls`` (one whose constructor takes ``root`` and
    keyword arguments, such as :class:`~torch_geometric.datasets.IMDB`) that reads raw files
    from a fixed folder and processes into the cache, as :class:`ReadOnlyRootMixin` does.

    The subclass is built as ``Sub(raw_dir, processed_dir, missing, allow_download=True,
    **kwargs)``.
    """
    def __init__(self: Any, raw_dir: str | os.PathLike[str],
                 processed_dir: str | os.PathLike[str], missing: MissingMessage,
                 allow_download: bool = True, **kwargs: Any) -> None:
        self._set_dirs(raw_dir, processed_dir, missing, allow_download)
        cls.__init__(self, os.fspath(processed_dir), **kwargs)

    return type(f"ReadOnly{cls.__name__}", (ReadOnlyRootMixin, cls),
                {"__init__": __init__, "__doc__": f"{cls.__name__} with redirected folders."})
