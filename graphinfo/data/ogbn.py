"""OGB node-property-prediction datasets read from a read-only folder (imports ``ogb``).

Import this module only when an ``ogbn-*`` dataset is requested: ``import ogb`` starts a
background version check. Compared with :class:`ogb.nodeproppred.PygNodePropPredDataset`
(ogb 1.3.6), :class:`ReadOnlyNodePropPred`

* never asks via ``input()`` when the dataset folder lacks ``RELEASE_v<version>.txt`` (it logs a
  warning instead), because it does not run the parent constructor, only its bookkeeping;
* writes the processed file into the cache instead of ``<dataset folder>/processed``;
* loads that file with ``torch.load`` under :func:`torch.serialization.safe_globals` for the PyG
  classes it pickles (with torch >= 2.6 the parent's plain ``torch.load`` fails on them);
* never renames files in the raw folder (ogb renames ``species.csv.gz`` of ogbn-proteins while
  processing; here that happens in a staging folder of symbolic links inside the cache).
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import ogb.nodeproppred
import pandas as pd
import torch
from ogb.nodeproppred import PygNodePropPredDataset
from torch_geometric.data import InMemoryDataset
from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
from torch_geometric.data.storage import GlobalStorage

from graphinfo.data.cached import MissingMessage, ReadOnlyRootMixin

logger = logging.getLogger(__name__)

#: PyG classes inside OGB's processed file, allowed for ``torch.load(weights_only=True)``.
SAFE_GLOBALS: list[Any] = [DataEdgeAttr, DataTensorAttr, GlobalStorage]


def ogb_meta(name: str) -> dict[str, str]:
    """Returns OGB's ``master.csv`` entry of a node-property-prediction dataset.

    Args:
        name (str): OGB name, e.g. ``'ogbn-arxiv'``.

    Returns:
        dict[str, str]: The metadata column (``'version'``, ``'split'``, ``'binary'`` ...).

    Raises:
        ValueError: If OGB does not know ``name``.
    """
    path = os.path.join(os.path.dirname(ogb.nodeproppred.__file__), "master.csv")
    master = pd.read_csv(path, index_col=0, keep_default_na=False)
    if name not in master:
        raise ValueError(f"Unknown OGB node dataset {name!r}; ogb {ogb.__version__} knows: "
                         f"{', '.join(master.keys())}")
    return {str(key): str(value) for key, value in master[name].items()}


def expected_files(meta: dict[str, str]) -> list[str]:
    """Lists the files (relative to the dataset folder) needed to process a homogeneous dataset.

    Args:
        meta (dict[str, str]): The dataset's :func:`ogb_meta`.

    Returns:
        list[str]: ``raw/...`` and ``split/<split>/...`` paths, without the release marker.
    """
    if meta["binary"] == "True":
        raw = ["data.npz", "node-label.npz"]
    else:
        raw = ["edge.csv.gz", "num-node-list.csv.gz", "num-edge-list.csv.gz",
               "node-label.csv.gz"]
        if meta["has_node_attr"] == "True":
            raw.append("node-feat.csv.gz")
        if meta["has_edge_attr"] == "True":
            raw.append("edge-feat.csv.gz")
        if meta["additional node files"] != "None":
            raw += [f"{f}.csv.gz" for f in meta["additional node files"].split(",")]
    split = [f"split/{meta['split']}/{part}.csv.gz" for part in ("train", "valid", "test")]
    return [f"raw/{f}" for f in raw] + split


class ReadOnlyNodePropPred(ReadOnlyRootMixin, PygNodePropPredDataset):
    """:class:`~ogb.nodeproppred.PygNodePropPredDataset` reading a dataset folder in place.

    Args:
        name (str): OGB name, e.g. ``'ogbn-arxiv'``.
        dataset_dir (str or PathLike): The dataset folder (``.../ogbn_arxiv``) holding ``raw/``,
            ``split/`` and ``RELEASE_v*.txt``; it is only read.
        processed_dir (str or PathLike): Cache folder for the processed file.
        missing (Callable[[str], str]): Builds the missing-files message.
        allow_download (bool): Whether a download into ``dataset_dir`` may be attempted (only
            used when ``dataset_dir`` is in the cache). (default: ``True``)
        transform (Callable, optional): PyG transform applied on access. (default: ``None``)
    """

    def __init__(self, name: str, dataset_dir: str | os.PathLike[str],
                 processed_dir: str | os.PathLike[str], missing: MissingMessage,
                 allow_download: bool = True, transform: Any = None) -> None:
        # The bookkeeping of PygNodePropPredDataset.__init__, without its input() prompt and its
        # weights_only-incompatible torch.load.
        dataset_dir = Path(dataset_dir)
        self.name = name
        self.dir_name = dataset_dir.name
        self.original_root = os.fspath(dataset_dir.parent)
        self.root = os.fspath(dataset_dir)  # get_idx_split reads <root>/split/<split>/
        self.meta_info = ogb_meta(name)
        self.download_name = self.meta_info["download_name"]
        self.num_tasks = int(self.meta_info["num tasks"])
        self.task_type = self.meta_info["task type"]
        self.eval_metric = self.meta_info["eval metric"]
        self.__num_classes__ = int(self.meta_info["num classes"])
        self.is_hetero = self.meta_info["is hetero"] == "True"
        self.binary = self.meta_info["binary"] == "True"
        release = dataset_dir / f"RELEASE_v{self.meta_info['version']}.txt"
        if dataset_dir.is_dir() and not release.exists():
            logger.warning("%s has no %s; it may be an outdated release of %s", dataset_dir,
                           release.name, name)
        self._set_dirs(dataset_dir / "raw", processed_dir, missing, allow_download)
        InMemoryDataset.__init__(self, os.fspath(dataset_dir), transform)
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            self.data, self.slices = torch.load(self.processed_paths[0])

    def process(self) -> None:
        """Processes the raw files into the cache, with OGB's printing sent to the log."""
        raw = Path(self._gi_raw_dir)
        staging = None
        if (raw / "species.csv.gz").exists() and not (raw / "node_species.csv.gz").exists():
            staging = Path(self._gi_processed_dir) / "raw-staging"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            for path in raw.iterdir():
                (staging / path.name).symlink_to(path.resolve())
            self._gi_raw_dir = os.fspath(staging)
        buffer = io.StringIO()
        try:
            with contextlib.redirect_stdout(buffer), warnings.catch_warnings():
                # ogb converts read-only pandas arrays with torch.from_numpy; harmless here.
                warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
                super().process()
        finally:
            self._gi_raw_dir = os.fspath(raw)
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            if buffer.getvalue().strip():
                logger.debug("ogb: %s", buffer.getvalue().strip())
