"""``load_dataset(name, root)``: one entry point for every supported dataset, plus the registry.

Names are case-insensitive, and ``-`` / ``_`` are interchangeable (``'Cora'``, ``'PTC-MR'``).
Raw files are looked up in the data root (see :mod:`graphinfo.data.roots`) under both the shared
layout (``<root>/planetoid/Cora/raw/``, ``<root>/tu/MUTAG/raw/``, ``<root>/ogbn_arxiv/`` or
``<root>/ogb/ogbn_arxiv/``) and PyG's own (``<root>/Cora/raw/``, ``<root>/MUTAG/raw/``), then in
the cache's download folder; processed files always go to the cache.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch_geometric.data import Data
from torch_geometric.datasets import Amazon, Coauthor, Planetoid, TUDataset
from torch_geometric.transforms import Compose
from torch_geometric.utils import from_networkx as pyg_from_networkx
from torch_geometric.utils import is_undirected, scatter, to_undirected

from graphinfo.data import roots
from graphinfo.data.cached import (
    ReadOnlyAmazon,
    ReadOnlyCoauthor,
    ReadOnlyPlanetoid,
    ReadOnlyTUDataset,
)
from graphinfo.data.features import DEFAULT_MAX_DEGREE, CappedOneHotDegree, max_degree_of
from graphinfo.data.files import GRAPH_FILE_SUFFIXES, encode_labels, load_graph_file
from graphinfo.data.loaded import LoadedDataset
from graphinfo.data.splits import masks_to_split, random_split
from graphinfo.data.synthetic import planted_partition

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class DatasetSpec:
    """A registry entry.

    Attributes:
        name (str): Registry name (``'cora'``).
        family (str): ``'synthetic'``, ``'planetoid'``, ``'amazon'``, ``'coauthor'``, ``'tu'`` or
            ``'ogb'``.
        source_name (str): The name the family's loader uses (``'Cora'``, ``'ogbn-arxiv'``).
        task (str): ``'node'`` or ``'graph'``.
    """

    name: str
    family: str
    source_name: str
    task: str


_FAMILY_DIRS: dict[str, tuple[str, ...]] = {
    "planetoid": ("planetoid", "Planetoid", ""),
    "amazon": ("amazon", "Amazon", ""),
    "coauthor": ("coauthor", "Coauthor", ""),
    "tu": ("tu", "TUDataset", ""),
    "ogb": ("", "ogb"),
}
_PYG_CLASSES: dict[str, Any] = {
    "planetoid": Planetoid, "amazon": Amazon, "coauthor": Coauthor, "tu": TUDataset,
}
_TU_NAMES = ("MUTAG", "PTC_MR", "NCI1", "NCI109", "ENZYMES", "PROTEINS", "DD", "IMDB-BINARY",
             "IMDB-MULTI", "REDDIT-BINARY", "REDDIT-MULTI-5K", "COLLAB")
_OGBN_NAMES = ("ogbn-arxiv", "ogbn-products", "ogbn-proteins", "ogbn-mag", "ogbn-papers100M")


def _build_registry() -> dict[str, DatasetSpec]:
    specs = [DatasetSpec("planted", "synthetic", "planted_partition", "node")]
    specs += [DatasetSpec(n.lower(), "planetoid", n, "node")
              for n in ("Cora", "CiteSeer", "PubMed")]
    specs += [DatasetSpec(f"amazon-{n.lower()}", "amazon", n, "node")
              for n in ("Computers", "Photo")]
    specs += [DatasetSpec(f"coauthor-{n.lower()}", "coauthor", n, "node")
              for n in ("CS", "Physics")]
    specs += [DatasetSpec(n.lower(), "tu", n, "graph") for n in _TU_NAMES]
    specs += [DatasetSpec(n.lower(), "ogb", n, "node") for n in _OGBN_NAMES]
    return {spec.name: spec for spec in specs}


#: Every named dataset, keyed by registry name.
REGISTRY: dict[str, DatasetSpec] = _build_registry()


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "").replace("_", "")


_BY_KEY: dict[str, DatasetSpec] = {_key(name): spec for name, spec in REGISTRY.items()}


def resolve_name(name: str) -> DatasetSpec:
    """Resolves a user-given dataset name to its registry entry.

    Args:
        name (str): ``'Cora'``, ``'imdb-binary'``, ``'tu:COLLAB'``, ``'ogbn-arxiv'`` ...

    Returns:
        DatasetSpec: The entry; for ``'tu:<NAME>'`` and unlisted ``'ogbn-*'`` names one is made.

    Raises:
        ValueError: If the name is not known.
        TypeError: If ``name`` is not a string.
    """
    if not isinstance(name, str):
        raise TypeError(f"'name' must be a dataset name (str), got {type(name).__name__}")
    spec = _BY_KEY.get(_key(name))
    if spec is not None:
        return spec
    stripped = name.strip()
    if stripped.lower().startswith("tu:") and len(stripped) > 3:
        tu_name = stripped[3:]
        known = _BY_KEY.get(_key(tu_name))
        if known is not None and known.family == "tu":
            return known
        return DatasetSpec(f"tu:{tu_name}", "tu", tu_name, "graph")
    if stripped.lower().startswith("ogbn-"):
        return DatasetSpec(stripped, "ogb", stripped, "node")
    choices = ", ".join(sorted(REGISTRY)) + ", tu:<TU dataset name>"
    raise ValueError(f"Unknown dataset {name!r}; expected one of: {choices}")


def is_graph_file(name: str | os.PathLike[str]) -> bool:
    """Whether :func:`~graphinfo.data.load_dataset` reads ``name`` as a graph file: a path
    with a folder in it, else (when it is not a registered dataset name) an existing file or a
    name with a graph file's suffix."""
    if not isinstance(name, (str, os.PathLike)):
        return False
    text = os.fspath(name)
    if not isinstance(text, str) or not text.strip():
        return False
    if not isinstance(name, str) or "/" in text or os.sep in text:
        return True
    try:
        resolve_name(text)
        return False
    except ValueError:
        pass
    path = Path(text).expanduser()
    return path.is_file() or path.suffix.lower() in GRAPH_FILE_SUFFIXES


def load_dataset(name: str, root: PathLike | None = None, *, download: bool = True,
                 **kwargs: Any) -> LoadedDataset:
    """Loads a dataset by name.

    Node datasets come with ``data`` (``x`` float32, ``edge_index``, ``y``) and a split;
    graph datasets (TU) come with ``dataset``. Splits: the public Planetoid split; OGB's official
    split; a seeded random 10%/10%/80% split (seed 0) for Amazon and Coauthor, which have none;
    20 per class / 500 / 1000 for ``'planted'``.

    OGB datasets carry their OGB name in ``ogb_name``, so that evaluation reports the metric of
    OGB's ``Evaluator`` (see :meth:`LoadedDataset.probe_protocol`). ``'ogbn-mag'`` is
    heterogeneous: until heterogeneous datasets are supported it loads as its paper nodes only,
    with the paper-cites-paper graph, the paper features, labels, ``node_year`` and the official
    paper split (a warning is logged). Labels of unlabelled nodes (``'ogbn-papers100M'``) are
    ``-1``; ``'ogbn-proteins'`` keeps its ``[N, 112]`` binary labels and gets node features as
    the mean of its incident edges' features.

    Args:
        name (str): Dataset name, case-insensitive; see :func:`known_datasets`. Or the path
            of a graph file of your own (a ``torch.save``'d PyG ``Data``, an edge list, GraphML
            or GML): :func:`graphinfo.data.load_graph_file` reads it, with ``kwargs`` such as
            ``features=`` and ``labels=`` (files) passed on; ``root`` is then unused.
        root (str or PathLike, optional): Data root to read raw files from; default
            ``$GRAPHINFO_DATA``, else the cache folder. Never written to. Ignored by
            ``'planted'``. (default: ``None``)
        download (bool): Whether missing raw files may be downloaded (into the cache).
            (default: ``True``)
        **kwargs: Per family: ``'planted'`` forwards them to
            :func:`~graphinfo.data.planted_partition`; Amazon/Coauthor take ``train_ratio``,
            ``valid_ratio``, ``seed``; TU takes ``use_node_attr``, ``use_edge_attr``,
            ``max_degree`` (cap of the one-hot degree features of featureless datasets, default
            256) and ``transform``; OGB takes ``to_undirected`` (default ``True``).

    Returns:
        LoadedDataset: The validated dataset.

    Raises:
        ValueError: If the name is unknown or the data is invalid.
        FileNotFoundError: If the raw files are missing and cannot be downloaded; the message
            names the dataset, every folder searched and the expected files.
    """
    if is_graph_file(name):
        return load_graph_file(name, **kwargs)
    spec = resolve_name(name)
    loader = _LOADERS[spec.family]
    loaded = loader(spec, root, download, **kwargs)
    logger.info("loaded dataset %s from %s", spec.name, loaded.source)
    return loaded.validate()


def _load_planted(spec: DatasetSpec, root: PathLike | None, download: bool,
                  **kwargs: Any) -> LoadedDataset:
    data = planted_partition(**kwargs)
    split = masks_to_split(data.train_mask, data.val_mask, data.test_mask)
    return LoadedDataset(spec.name, "node", data, None, split, int(data.y.max()) + 1,
                         data.num_features, "synthetic")


def _raw_files(spec: DatasetSpec) -> list[str]:
    """The dataset class's own ``raw_file_names`` (a property reading only ``self.name``)."""
    names = _PYG_CLASSES[spec.family].raw_file_names.fget(SimpleNamespace(name=spec.source_name))
    return [names] if isinstance(names, str) else list(names)


def search_dirs(spec: DatasetSpec, root: PathLike | None = None) -> list[Path]:
    """Lists, in order, the folders where the raw files of ``spec`` are looked for.

    Args:
        spec (DatasetSpec): A registry entry (not ``'synthetic'``).
        root (str or PathLike, optional): Data root; see :func:`roots.data_root`.

    Returns:
        list[Path]: Raw folders (for OGB: dataset folders), the cache download folder last.
    """
    base = roots.data_root(root)
    if spec.family == "ogb":
        dir_name = spec.source_name.replace("-", "_")
        found = roots.candidate_dirs(base, _FAMILY_DIRS["ogb"], (dir_name, f"{dir_name}_pyg"),
                                     leaf=None)
        download = roots.download_dir("ogb", dir_name)
    else:
        names = tuple(dict.fromkeys((spec.source_name, spec.source_name.lower())))
        found = roots.candidate_dirs(base, _FAMILY_DIRS[spec.family], names)
        download = roots.download_dir(spec.family, spec.source_name)
    return found + ([download] if download not in found else [])


def _open_pyg(spec: DatasetSpec, root: PathLike | None, download: bool, cls: Any,
              **kwargs: Any) -> tuple[Any, Path]:
    """Finds the raw folder of a PyG dataset and opens it with a read-only-root class."""
    searched = search_dirs(spec, root)
    files = _raw_files(spec)
    raw = roots.find_dir(searched, files) or searched[-1]
    missing = partial(roots.missing_message, spec.name, searched, files)
    processed = roots.processed_dir(spec.family, spec.source_name, raw)
    dataset = cls(spec.source_name, raw, processed, missing, allow_download=download, **kwargs)
    return dataset, raw


def _load_planetoid(spec: DatasetSpec, root: PathLike | None, download: bool,
                    **kwargs: Any) -> LoadedDataset:
    dataset, raw = _open_pyg(spec, root, download, ReadOnlyPlanetoid, **kwargs)
    data = dataset[0]
    split = masks_to_split(data.train_mask, data.val_mask, data.test_mask)
    return LoadedDataset(spec.name, "node", data, None, split, dataset.num_classes,
                         data.num_features, os.fspath(raw))


def _load_random_split(spec: DatasetSpec, root: PathLike | None, download: bool,
                       train_ratio: float = 0.1, valid_ratio: float = 0.1, seed: int = 0,
                       **kwargs: Any) -> LoadedDataset:
    cls = ReadOnlyAmazon if spec.family == "amazon" else ReadOnlyCoauthor
    dataset, raw = _open_pyg(spec, root, download, cls, **kwargs)
    data = dataset[0]
    split = random_split(data.num_nodes, train_ratio, valid_ratio, seed=seed, y=data.y)
    return LoadedDataset(spec.name, "node", data, None, split, dataset.num_classes,
                         data.num_features, os.fspath(raw))


def _load_tu(spec: DatasetSpec, root: PathLike | None, download: bool,
             max_degree: int = DEFAULT_MAX_DEGREE, transform: Callable | None = None,
             **kwargs: Any) -> LoadedDataset:
    dataset, raw = _open_pyg(spec, root, download, ReadOnlyTUDataset, **kwargs)
    if dataset.num_node_features == 0:
        # No node features (IMDB-*, REDDIT-*, COLLAB): one-hot degree, as InfoGraph's baselines.
        cap = max_degree_of(dataset, cap=max_degree)
        logger.info("%s has no node features; using one-hot degree (max degree %d)", spec.name,
                    cap)
        degree_features = CappedOneHotDegree(cap)
        transform = degree_features if transform is None else Compose([degree_features,
                                                                         transform])
    dataset.transform = transform
    return LoadedDataset(spec.name, "graph", None, dataset, None, dataset.num_classes,
                         dataset.num_features, os.fspath(raw))


def _load_ogbn(spec: DatasetSpec, root: PathLike | None, download: bool,
               to_undirected: bool = True, transform: Callable | None = None) -> LoadedDataset:
    from graphinfo.data import ogbn  # imports ogb, which starts a version check: load lazily

    meta = ogbn.ogb_meta(spec.source_name)
    searched = search_dirs(spec, root)
    expected = ogbn.expected_files(meta)
    files = [f"RELEASE_v{meta['version']}.txt (may be empty)"] + expected
    folder = roots.find_dir(searched, expected) or searched[-1]
    missing = partial(roots.missing_message, spec.name, searched, files)
    processed = roots.processed_dir("ogb", spec.source_name, folder)
    dataset = ogbn.ReadOnlyNodePropPred(spec.source_name, folder, processed, missing,
                                        allow_download=download, transform=transform)
    if dataset.is_hetero:
        layout = ogbn.hetero_layout(meta)
        logger.warning(
            "%s is heterogeneous; graphinfo loads only its %s nodes (features, labels and "
            "official split) with the %s graph, a homogeneous stand-in until heterogeneous "
            "datasets are supported", spec.source_name, layout.target,
            "-".join(layout.target_relation))
        graph, split = ogbn.target_node_graph(dataset[0], dataset.get_idx_split(), layout)
    else:
        graph = dataset[0]
        split = {key: value.long().view(-1) for key, value in dataset.get_idx_split().items()}
    data = _normalise_ogbn(graph, dataset.num_tasks, to_undirected)
    return LoadedDataset(spec.name, "node", data, None, split, int(dataset.num_classes),
                         data.num_features, os.fspath(folder), ogb_name=spec.source_name)


def _normalise_ogbn(data: Data, num_tasks: int, make_undirected: bool) -> Data:
    """Flat long labels (-1 for unlabelled), features for ogbn-proteins, optional symmetrising."""
    y = data.y
    if y.is_floating_point() and num_tasks == 1:
        y = torch.where(torch.isnan(y), torch.full_like(y, -1), y).long()
    data.y = y.view(-1) if num_tasks == 1 else y
    if data.x is None and data.edge_attr is not None:
        # ogbn-proteins has edge features only: mean of the incident edges' features per node.
        data.x = scatter(data.edge_attr.float(), data.edge_index[0], dim=0,
                         dim_size=data.num_nodes, reduce="mean")
    if make_undirected and data.edge_attr is None and not is_undirected(data.edge_index,
                                                                        num_nodes=data.num_nodes):
        data.edge_index = to_undirected(data.edge_index, num_nodes=data.num_nodes)
    return data


_LOADERS: dict[str, Callable[..., LoadedDataset]] = {
    "synthetic": _load_planted,
    "planetoid": _load_planetoid,
    "amazon": _load_random_split,
    "coauthor": _load_random_split,
    "tu": _load_tu,
    "ogb": _load_ogbn,
}


def from_networkx(graph: Any, x_attr: str | Sequence[str] | None = None,
                  y_attr: str | None = None, name: str = "networkx",
                  max_degree: int = DEFAULT_MAX_DEGREE, train_ratio: float = 0.1,
                  valid_ratio: float = 0.1, seed: int = 0,
                  edge_weight_attr: str | None = "weight") -> LoadedDataset:
    """Wraps a :mod:`networkx` graph as a node-task :class:`LoadedDataset`.

    Built on :func:`torch_geometric.utils.from_networkx` (nodes are numbered in
    ``graph.nodes`` order; an undirected graph gets both edge directions).

    Args:
        graph (networkx.Graph): The graph.
        x_attr (str or Sequence[str], optional): Node attribute(s) concatenated into ``x``; if
            ``None``, ``x`` is the one-hot node degree capped at ``max_degree``.
            (default: ``None``)
        y_attr (str, optional): Node attribute holding the label (ints, or any sortable values
            that are mapped to ``0 .. C-1`` in sorted order; ``None`` marks an unlabelled node).
            Without it, ``y`` is all ``-1`` and the split is ``None``. (default: ``None``)
        name (str): Name of the result. (default: ``'networkx'``)
        max_degree (int): Cap of the degree features. (default: ``256``)
        train_ratio (float): Training fraction of the random split. (default: ``0.1``)
        valid_ratio (float): Validation fraction of the random split. (default: ``0.1``)
        seed (int): Seed of the random split. (default: ``0``)
        edge_weight_attr (str, optional): Edge attribute that becomes ``edge_weight`` (the
            weight the encoders aggregate with); networkx's convention is ``'weight'``.
            ``None`` keeps every edge attribute as it is. (default: ``'weight'``)

    Returns:
        LoadedDataset: Task ``'node'``, source ``'networkx'``.

    Raises:
        ValueError: If the graph is empty, a node lacks ``y_attr``, or the edge weights are
            not one finite number per edge.
    """
    if graph.number_of_nodes() == 0:
        raise ValueError("'graph' has no nodes")
    attrs = [x_attr] if isinstance(x_attr, str) else (list(x_attr) if x_attr else None)
    data = pyg_from_networkx(graph, group_node_attrs=attrs)
    if edge_weight_attr is not None and edge_weight_attr in data:
        weight = torch.as_tensor(data[edge_weight_attr])
        del data[edge_weight_attr]
        if weight.dim() != 1 or weight.numel() != data.num_edges \
                or not bool(torch.isfinite(weight.double()).all()):
            raise ValueError(f"edge attribute {edge_weight_attr!r} must be one finite number "
                             f"per edge, got shape {tuple(weight.shape)}")
        data.edge_weight = weight.float()
    if attrs is None:
        data = CappedOneHotDegree(max_degree_of([data], cap=max_degree))(data)
    data.x = data.x.float().view(data.num_nodes, -1)

    split = None
    num_classes = 0
    if y_attr is None:
        data.y = torch.full((data.num_nodes,), -1, dtype=torch.long)
    else:
        data.y, num_classes = _labels(graph, y_attr)
        if y_attr != "y" and y_attr in data:
            del data[y_attr]
        split = random_split(data.num_nodes, train_ratio, valid_ratio, seed=seed, y=data.y)
    return LoadedDataset(name, "node", data, None, split, num_classes, data.num_features,
                         "networkx").validate()


def _labels(graph: Any, y_attr: str) -> tuple[torch.Tensor, int]:
    """Reads node labels in ``graph.nodes`` order and maps them to ``0 .. C-1`` (``-1``: none)."""
    values = []
    for node, attrs in graph.nodes(data=True):
        if y_attr not in attrs:
            raise ValueError(f"Node {node!r} has no attribute {y_attr!r} ('y_attr'); give every "
                             f"node a label, or None for unlabelled nodes")
        values.append(attrs[y_attr])
    return encode_labels(values)


def known_datasets(root: PathLike | None = None) -> list[dict[str, Any]]:
    """Describes every named dataset and where its files are looked for.

    Args:
        root (str or PathLike, optional): Data root; see :func:`roots.data_root`.

    Returns:
        list[dict[str, Any]]: One dict per dataset with ``name``, ``task``, ``family``,
        ``search`` (folders searched, in order) and ``found`` (the folder holding the files, or
        ``None``; ``'synthetic'`` for generated data). A last entry ``'tu:<NAME>'`` stands for
        any other TU dataset.
    """
    out = []
    for spec in REGISTRY.values():
        entry: dict[str, Any] = {"name": spec.name, "task": spec.task, "family": spec.family}
        if spec.family == "synthetic":
            entry.update(search=[], found="synthetic")
        else:
            searched = search_dirs(spec, root)
            if spec.family == "ogb":
                hit = next((d for d in searched if (d / "raw").is_dir() and (d / "split").is_dir()),
                           None)
            else:
                hit = roots.find_dir(searched, _raw_files(spec))
            entry.update(search=[os.fspath(d) for d in searched],
                         found=os.fspath(hit) if hit else None)
        out.append(entry)
    base = roots.data_root(root)
    out.append({"name": "tu:<NAME>", "task": "graph", "family": "tu",
                "search": [os.fspath(base / d / "<NAME>" / "raw") if d else
                           os.fspath(base / "<NAME>" / "raw") for d in _FAMILY_DIRS["tu"]],
                "found": None})
    return out
