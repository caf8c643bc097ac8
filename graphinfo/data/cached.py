"""PyG dataset classes reading raw files from a fixed (read-only) folder, processing into the cache.

PyG's :class:`~torch_geometric.data.Dataset` derives ``raw_dir`` and ``processed_dir`` from one
``root`` and writes ``processed/`` (plus ``pre_transform.pt`` and ``pre_filter.pt``) next to
``raw/``. Its constructor downloads only when ``files_exist(self.raw_paths)`` is false, and
processes into ``processed_dir`` only when the processed files are missing there. The classes here
override both properties, so raw files are read where they were found and every write goes to the
cache folder; a failed or disabled download becomes a :class:`FileNotFoundError` that says which
files to put where.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from torch_geometric.datasets import Amazon, Coauthor, Planetoid, TUDataset

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
        """The cache folder processed files are written to."""
        return self._gi_processed_dir

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

    Raw files: ``ind.<name>.*``. Arguments as for :class:`ReadOnlyRootMixin`.
    """


class ReadOnlyTUDataset(ReadOnlyRootMixin, TUDataset):
    """:class:`~torch_geometric.datasets.TUDataset` with redirected folders (plain variant only).

    Raw files: ``<name>_A.txt`` etc. Arguments as for :class:`ReadOnlyRootMixin`.
    """


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
