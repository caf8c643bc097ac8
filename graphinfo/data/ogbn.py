"""OGB node-property-prediction datasets read from a read-only folder (imports ``ogb``).

Import this module only when an ``ogbn-*`` dataset is requested: ``import ogb`` starts a
background version check. Compared with :class:`ogb.nodeproppred.PygNodePropPredDataset`
(ogb 1.3.6), :class:`ReadOnlyNodePropPred`

* never asks via ``input()`` when the dataset folder lacks ``RELEASE_v<version>.txt`` (it logs a
  warning instead), because it does not run the parent constructor, only its bookkeeping;
* writes the processed file into the cache instead of ``<dataset folder>/processed``;
* writes that file as a crash-safe cache entry and loads it with ``torch.load(weights_only=True)``
  under :func:`torch.serialization.safe_globals` for the PyG classes it pickles (the parent's
  plain ``torch.load`` fails on them with torch >= 2.6), rebuilding an entry that cannot be
  read so (see :mod:`graphinfo.data.cached`);
* never renames files in the raw folder (ogb renames ``species.csv.gz`` of ogbn-proteins while
  processing; here that happens in a staging folder of symbolic links inside the cache).

Heterogeneous datasets (``ogbn-mag``) are processed by ogb into one ``Data`` holding dictionaries
(``x_dict``, ``edge_index_dict``, ``y_dict``, ``num_nodes_dict`` ...); the same safe globals load
it. :func:`target_node_graph` cuts the homogeneous graph of the labelled node type out of it.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import ogb.nodeproppred
import pandas as pd
import torch
from ogb.nodeproppred import PygNodePropPredDataset
from torch_geometric.data import Data, HeteroData, InMemoryDataset
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


@dataclass(frozen=True)
class HeteroLayout:
    """What ogb 1.3.6 reads of a heterogeneous node dataset, and its labelled node type.

    Attributes:
        node_types (tuple[str, ...]): Columns of ``raw/num-node-dict.csv.gz``.
        relations (tuple[tuple[str, str, str], ...]): Rows of ``raw/triplet-type-list.csv.gz``
            (``head, relation, tail``); each has ``raw/relations/<head>___<relation>___<tail>/``.
        featured (tuple[str, ...]): Node types with ``raw/node-feat/<type>/node-feat.csv.gz``.
        target (str): The node type with labels and a split.
        target_relation (tuple[str, str, str]): The relation among ``target`` nodes used as the
            homogeneous graph.
    """

    node_types: tuple[str, ...]
    relations: tuple[tuple[str, str, str], ...]
    featured: tuple[str, ...]
    target: str
    target_relation: tuple[str, str, str]


#: Layouts of the heterogeneous node datasets, keyed by OGB's ``download_name``.
HETERO_LAYOUTS: dict[str, HeteroLayout] = {
    "mag": HeteroLayout(
        node_types=("author", "field_of_study", "institution", "paper"),
        relations=(("author", "affiliated_with", "institution"), ("author", "writes", "paper"),
                   ("paper", "cites", "paper"), ("paper", "has_topic", "field_of_study")),
        featured=("paper",),
        target="paper",
        target_relation=("paper", "cites", "paper"),
    ),
}


def canonical_name(name: str) -> str:
    """Returns OGB's spelling of a node dataset name (``'OGBN_papers100m'`` -> OGB's own).

    Args:
        name (str): A name; case is ignored and ``_`` stands for ``-``.

    Returns:
        str: The matching column of OGB's ``master.csv``.

    Raises:
        ValueError: If OGB does not know ``name``.
    """
    names = _master_names()
    key = name.strip().lower().replace("_", "-")
    for known in names:
        if known.lower() == key:
            return known
    raise ValueError(f"Unknown OGB node dataset {name!r}; ogb {ogb.__version__} knows: "
                     f"{', '.join(names)}")


def _master_names() -> list[str]:
    path = os.path.join(os.path.dirname(ogb.nodeproppred.__file__), "master.csv")
    return [str(key) for key in pd.read_csv(path, index_col=0, nrows=0).columns]


def hetero_layout(meta: dict[str, str]) -> HeteroLayout:
    """Returns the :class:`HeteroLayout` of a heterogeneous dataset.

    Args:
        meta (dict[str, str]): The dataset's :func:`ogb_meta`.

    Raises:
        ValueError: If the dataset is not heterogeneous, or its layout is not known here.
    """
    layout = HETERO_LAYOUTS.get(meta["download_name"])
    if meta["is hetero"] != "True" or layout is None or meta["binary"] == "True":
        raise ValueError(f"No heterogeneous CSV layout known for OGB dataset "
                         f"{meta['download_name']!r}; known: {', '.join(HETERO_LAYOUTS)}")
    return layout


def expected_files(meta: dict[str, str]) -> list[str]:
    """Lists the files (relative to the dataset folder) needed to process a dataset.

    Args:
        meta (dict[str, str]): The dataset's :func:`ogb_meta`.

    Returns:
        list[str]: ``raw/...`` and ``split/<split>/...`` paths, without the release marker.
        For a heterogeneous dataset: the node counts, the relation list, every relation's
        ``edge.csv.gz`` and ``num-edge-list.csv.gz`` (ogb reads them all), the features and
        labels of the labelled node type, and its split.
    """
    if meta["is hetero"] == "True":
        layout = hetero_layout(meta)
        raw = ["num-node-dict.csv.gz", "triplet-type-list.csv.gz", "nodetype-has-label.csv.gz",
               f"node-label/{layout.target}/node-label.csv.gz"]
        for relation in layout.relations:
            raw += [f"relations/{'___'.join(relation)}/{f}.csv.gz"
                    for f in ("edge", "num-edge-list")]
        raw += [f"node-feat/{node_type}/node-feat.csv.gz" for node_type in layout.featured]
        split = f"split/{meta['split']}"
        return [f"raw/{f}" for f in raw] + [f"{split}/nodetype-has-split.csv.gz"] + [
            f"{split}/{layout.target}/{part}.csv.gz" for part in ("train", "valid", "test")]
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
        self.data, self.slices = self._gi_load_entry(self.processed_paths[0])

    _gi_safe_globals = SAFE_GLOBALS

    def get_idx_split(self, split_type: str | None = None) -> dict[str, Any]:
        """OGB's split (``{'train', 'valid', 'test'}``; per node type for heterogeneous data),
        without the warning about ogb's read-only pandas arrays.

        Args:
            split_type (str, optional): A folder under ``split/``; default: OGB's official one.
        """
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            return super().get_idx_split(split_type)

    @staticmethod
    def collate(data_list: list[Data]) -> tuple[Data, Any]:
        """:meth:`InMemoryDataset.collate` after turning numpy scalars into Python numbers.

        ogb's binary (npz) readers store ``num_nodes`` as a numpy integer; pickled, it would
        need numpy globals to pass ``torch.load(weights_only=True)``. Plain ints need none.
        """
        for data in data_list:
            for key, value in list(data.items()):
                plain = _plain(value)
                if plain is not value:
                    data[key] = plain
        return InMemoryDataset.collate(data_list)

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


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars (also inside dicts) replaced by Python numbers."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        items = {key: _plain(item) for key, item in value.items()}
        return items if any(items[key] is not value[key] for key in value) else value
    return value


def target_node_graph(data: Data, split: dict[str, Any],
                      layout: HeteroLayout) -> tuple[Data, dict[str, torch.Tensor]]:
    """Cuts the homogeneous graph of the labelled node type out of a heterogeneous dataset.

    Args:
        data (Data): ogb's processed heterogeneous graph (``x_dict``, ``edge_index_dict``,
            ``y_dict``, ``num_nodes_dict``, optional ``node_year``).
        split (dict): ogb's ``get_idx_split()``: ``{'train': {node_type: index}, ...}``.
        layout (HeteroLayout): The dataset's layout.

    Returns:
        tuple[Data, dict[str, Tensor]]: ``Data(x, edge_index, y, num_nodes[, node_year])`` of
        the ``layout.target`` nodes with the ``layout.target_relation`` edges (as stored, i.e.
        directed), and the split of those nodes.

    Raises:
        ValueError: If the processed graph lacks the target type's features, labels, edges or
            split.
    """
    target, relation = layout.target, layout.target_relation
    parts = {"x_dict": getattr(data, "x_dict", None), "y_dict": getattr(data, "y_dict", None),
             "edge_index_dict": getattr(data, "edge_index_dict", None)}
    for attr, key in (("x_dict", target), ("y_dict", target), ("edge_index_dict", relation)):
        if not isinstance(parts[attr], dict) or key not in parts[attr]:
            raise ValueError(f"The processed heterogeneous graph has no {attr}[{key!r}]; "
                             f"delete the processed file in the cache to rebuild it")
    out = Data(x=parts["x_dict"][target], edge_index=parts["edge_index_dict"][relation],
               y=parts["y_dict"][target], num_nodes=int(data.num_nodes_dict[target]))
    year = getattr(data, "node_year", None)
    if isinstance(year, dict) and target in year:
        out.node_year = year[target]
    target_split = {}
    for key in ("train", "valid", "test"):
        part = split.get(key)
        if not isinstance(part, dict) or target not in part:
            raise ValueError(f"OGB's split has no {key!r} nodes of type {target!r}")
        target_split[key] = torch.as_tensor(part[target]).long().view(-1)
    return out, target_split


def hetero_graph(data: Data, split: dict[str, Any], layout: HeteroLayout,
                 make_undirected: bool = True) -> tuple[HeteroData, dict[str, torch.Tensor]]:
    """ogb's processed heterogeneous graph as a PyG ``HeteroData``.

    Every node type gets ``num_nodes`` and its features if it has any (in ogbn-mag only papers
    do); the target type also ``y`` (flat long), ``node_year`` and the split masks; every
    relation ``(head, rel, tail)`` is stored as given and, between two different types, also
    reversed as ``(tail, 'rev_<rel>', head)`` so that messages and metapaths can run both ways;
    a relation within one type (paper-cites-paper) is symmetrised when ``make_undirected``.

    Args:
        data (Data): ogb's processed graph (``x_dict``, ``edge_index_dict``, ``y_dict``,
            ``num_nodes_dict``, optional ``node_year``).
        split (dict): ogb's ``get_idx_split()``.
        layout (HeteroLayout): The dataset's layout.
        make_undirected (bool): Symmetrise same-type relations. (default: ``True``)

    Returns:
        tuple[HeteroData, dict[str, Tensor]]: The graph (``target_node_type`` set) and the
        split of the target nodes.
    """
    from torch_geometric.utils import to_undirected

    from graphinfo.data.hetero import TARGET_ATTR

    homogeneous, target_split = target_node_graph(data, split, layout)
    target = layout.target
    out = HeteroData()
    for node_type in layout.node_types:
        out[node_type].num_nodes = int(data.num_nodes_dict[node_type])
        features = data.x_dict.get(node_type) if isinstance(data.x_dict, dict) else None
        if features is not None:
            out[node_type].x = features
    y = homogeneous.y
    if y.is_floating_point():
        y = torch.where(torch.isnan(y), torch.full_like(y, -1), y)
    out[target].y = y.long().view(-1)
    if "node_year" in homogeneous:
        out[target].node_year = homogeneous.node_year.view(-1)
    for key, mask_name in (("train", "train_mask"), ("valid", "val_mask"), ("test", "test_mask")):
        mask = torch.zeros(out[target].num_nodes, dtype=torch.bool)
        mask[target_split[key]] = True
        out[target][mask_name] = mask
    for head, relation, tail in layout.relations:
        edge_index = data.edge_index_dict[(head, relation, tail)]
        if head == tail:
            out[head, relation, tail].edge_index = to_undirected(
                edge_index, num_nodes=out[head].num_nodes) if make_undirected else edge_index
        else:
            out[head, relation, tail].edge_index = edge_index
            out[tail, f"rev_{relation}", head].edge_index = edge_index.flip(0)
    out[TARGET_ATTR] = target
    return out, target_split
