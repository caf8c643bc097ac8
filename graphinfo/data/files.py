"""A user's own graph from a file: ``load_dataset('path/to/graph.edges')`` or
``graphinfo pretrain --dataset path/to/graph.edges``.

Formats, by suffix:

- ``.pt`` / ``.pth``: what ``torch.save`` wrote of a PyG ``Data`` (a node task), a ``dict`` of
  its tensors (``Data.to_dict()``), or a ``list`` of ``Data`` (a graph task, one entry per
  graph). Read with ``torch.load(weights_only=True)``: only tensors, plain containers and PyG's
  data classes are rebuilt, nothing else is unpickled.
- ``.graphml`` / ``.gml``: read by :mod:`networkx`. Numeric node attributes (other than the
  label attribute) become the features, in sorted name order; the edge attribute ``weight``
  becomes ``edge_weight``.
- Anything else (``.edges``, ``.edgelist``, ``.txt``, ``.csv``, ``.tsv`` ...): an edge list,
  one edge per line, ``SOURCE TARGET [WEIGHT]`` separated by whitespace, commas or tabs;
  lines starting with ``#`` or ``%`` are comments. Node IDs that are all non-negative integers
  are node indices (node ``i`` is row ``i`` of a features array; nodes that have no edge
  still count up to the largest ID); other IDs are numbered in order of first appearance.

A features file (``features=``) gives ``x``: an ``.npy`` array (read with
``allow_pickle=False``) or a ``.pt`` tensor with one row per node in index order, or a text
file with one line ``NODE_ID F1 F2 ...`` per node. A labels file (``labels=``) gives ``y``: an
``.npy`` / ``.pt`` vector in node order, or text lines ``NODE_ID LABEL``; labels that are not
all non-negative integers are numbered in sorted order, missing nodes are unlabelled (``-1``).
Graphs without features get the one-hot node degree; graphs without labels train and embed,
and have no split (evaluation is skipped).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, remove_self_loops, to_undirected

from graphinfo.data.features import DEFAULT_MAX_DEGREE, CappedOneHotDegree, max_degree_of
from graphinfo.data.loaded import LoadedDataset
from graphinfo.data.splits import masks_to_split, random_split

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

#: Suffixes read as something other than an edge list.
TORCH_SUFFIXES = (".pt", ".pth")
NETWORKX_SUFFIXES = (".graphml", ".gml")
#: Suffixes that make a dataset name a file even when it does not exist (for the error).
GRAPH_FILE_SUFFIXES = (*TORCH_SUFFIXES, *NETWORKX_SUFFIXES, ".edges", ".edgelist", ".el",
                       ".txt", ".csv", ".tsv")
_COMMENTS = ("#", "%")


def load_graph_file(path: PathLike, *, features: PathLike | None = None,
                    labels: PathLike | None = None, undirected: bool = True,
                    max_degree: int = DEFAULT_MAX_DEGREE, train_ratio: float = 0.1,
                    valid_ratio: float = 0.1, seed: int = 0,
                    y_attr: str = "y") -> LoadedDataset:
    """Loads a user's graph file (see the module's text for the formats).

    Args:
        path (str or PathLike): The graph file.
        features (str or PathLike, optional): Node features file. (default: ``None``)
        labels (str or PathLike, optional): Node labels file. (default: ``None``)
        undirected (bool): Add the reverse of every edge of an edge list (most edge lists of
            undirected graphs name each edge once). (default: ``True``)
        max_degree (int): Cap of the one-hot degree features of a graph without features.
            (default: ``256``)
        train_ratio (float): Training fraction of the random split of a labelled graph that
            brings no ``train_mask``/``val_mask``/``test_mask``. (default: ``0.1``)
        valid_ratio (float): Validation fraction of that split. (default: ``0.1``)
        seed (int): Seed of that split. (default: ``0``)
        y_attr (str): Node attribute holding the label in GraphML / GML. (default: ``'y'``)

    Returns:
        LoadedDataset: Named after the file's stem, ``source`` the file's absolute path; a
        node task (``split`` ``None`` when unlabelled) or, for a list of graphs, a graph task.

    Raises:
        FileNotFoundError: If a file does not exist.
        ValueError: If a file cannot be read as a graph, or the features or labels do not fit
            its nodes.
    """
    path = _existing(path, "graph file")
    suffix = path.suffix.lower()
    if suffix in TORCH_SUFFIXES:
        loaded = _torch_file(path)
        if isinstance(loaded, list):
            if features is not None or labels is not None:
                raise ValueError(f"{path} holds a list of graphs: their features and labels "
                                 f"come from the graphs themselves, not from files")
            return _graph_list(path, loaded, max_degree)
        data, ids = loaded, None
    elif suffix in NETWORKX_SUFFIXES:
        data, ids = _networkx_file(path, y_attr)
    else:
        data, ids = _edge_list(path, undirected)
    if features is not None:
        data.x = _node_table(_existing(features, "features file"), ids, data.num_nodes)
        data.num_nodes = data.x.size(0)   # an array may add isolated nodes past the last ID
    if labels is not None:
        data.y = _node_labels(_existing(labels, "labels file"), ids, data.num_nodes)
    return _node_dataset(path, data, max_degree, train_ratio, valid_ratio, seed)


def _existing(path: PathLike, what: str) -> Path:
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise FileNotFoundError(f"{what} {os.fspath(path)!r} does not exist")
    return resolved.resolve()


# -- torch files -------------------------------------------------------------------------------

def _torch_file(path: Path) -> Data | list[Data]:
    """A ``Data``, a dict of its tensors or a list of ``Data``, loaded without unpickling
    anything but tensors, containers and PyG's data classes."""
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage

    try:
        with torch.serialization.safe_globals([DataEdgeAttr, DataTensorAttr, GlobalStorage]):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same message
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"{path} could not be read as a saved graph with "
                         f"torch.load(weights_only=True) (only tensors and PyG Data objects "
                         f"are loaded from a user's file): {first}") from None
    if isinstance(obj, dict):
        if "edge_index" not in obj:
            raise ValueError(f"{path} holds a dict without 'edge_index'; expected a PyG Data, "
                             f"Data.to_dict() or a list of Data")
        obj = Data(**obj)
    if isinstance(obj, Data):
        if obj.edge_index is None:
            raise ValueError(f"{path} holds a Data without 'edge_index'")
        return obj
    if isinstance(obj, (list, tuple)) and obj and all(isinstance(g, Data) for g in obj):
        return list(obj)
    raise ValueError(f"{path} holds a {type(obj).__name__}; expected a PyG Data, "
                     f"Data.to_dict() or a non-empty list of Data")


def _graph_list(path: Path, graphs: list[Data], max_degree: int) -> LoadedDataset:
    """A graph task from a list of graphs: one-hot degree features when none has ``x``,
    labels from each graph's ``y`` (all of them or none)."""
    with_x = [g.x is not None for g in graphs]
    if any(with_x) and not all(with_x):
        raise ValueError(f"{path}: {with_x.count(False)} of {len(graphs)} graphs have no "
                         f"features 'x'; give every graph features or none")
    if not any(with_x):
        cap = max_degree_of(graphs, cap=max_degree)
        graphs = [CappedOneHotDegree(cap)(g.clone()) for g in graphs]
    with_y = [g.y is not None for g in graphs]
    if any(with_y) and not all(with_y):
        raise ValueError(f"{path}: {with_y.count(False)} of {len(graphs)} graphs have no "
                         f"label 'y'; label every graph or none")
    graphs = [_float_x(g) for g in graphs]
    num_classes = 0
    if all(with_y):
        labels = torch.cat([g.y.view(-1)[:1] for g in graphs])
        num_classes = int(labels.max()) + 1
    sizes = {g.num_features for g in graphs}
    if len(sizes) != 1:
        raise ValueError(f"{path}: graphs have different feature sizes {sorted(sizes)}")
    return LoadedDataset(path.stem, "graph", None, graphs, None, num_classes, sizes.pop(),
                         os.fspath(path)).validate()


def _float_x(graph: Data) -> Data:
    graph.x = graph.x.float().view(graph.num_nodes, -1)
    return graph


# -- networkx files ----------------------------------------------------------------------------

def _networkx_file(path: Path, y_attr: str) -> tuple[Data, list[str]]:
    """GraphML or GML through networkx; returns the graph and the node IDs as strings."""
    import networkx as nx

    try:
        if path.suffix.lower() == ".graphml":
            graph = nx.read_graphml(path)
        else:
            graph = nx.read_gml(path, label=None)   # nodes keep their 'id'; 'label' stays data
    except Exception as error:  # noqa: BLE001 - networkx raises many kinds
        raise ValueError(f"{path} could not be read by networkx: {error}") from None
    if graph.number_of_nodes() == 0:
        raise ValueError(f"{path} has no nodes")
    if graph.is_multigraph():
        graph = nx.DiGraph(graph) if graph.is_directed() else nx.Graph(graph)
    nodes = list(graph.nodes)
    index = {node: i for i, node in enumerate(nodes)}
    pairs = [(index[u], index[v]) for u, v in graph.edges]
    edge_index = (torch.tensor(pairs, dtype=torch.long).t() if pairs
                  else torch.empty(2, 0, dtype=torch.long))
    weights = [attrs.get("weight") for _, _, attrs in graph.edges(data=True)]
    edge_weight = None
    if pairs and all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in weights):
        edge_weight = torch.tensor(weights, dtype=torch.float)
    if not graph.is_directed():
        edge_index, edge_weight = to_undirected(edge_index, edge_weight,
                                                num_nodes=len(nodes))
    data = Data(edge_index=edge_index, num_nodes=len(nodes))
    if edge_weight is not None:
        data.edge_weight = edge_weight
    attrs = [graph.nodes[node] for node in nodes]
    numeric = sorted(key for key in set().union(*attrs) if key != y_attr and all(
        isinstance(a.get(key), (int, float)) and not isinstance(a.get(key), bool)
        for a in attrs))
    if numeric:
        data.x = torch.tensor([[float(a[key]) for key in numeric] for a in attrs])
        logger.info("%s: node features from the attributes %s", path.name, ", ".join(numeric))
    if any(y_attr in a for a in attrs):
        data.y = encode_labels([a.get(y_attr) for a in attrs])[0]
    return data, [str(node) for node in nodes]


# -- edge lists ----------------------------------------------------------------------------------

def _rows(path: Path) -> list[list[str]]:
    """The non-comment lines of a text file, split on commas, tabs or whitespace."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            text = line.strip()
            if not text or text.startswith(_COMMENTS):
                continue
            rows.append(text.replace(",", " ").split())
    return rows


def _edge_list(path: Path, undirected: bool) -> tuple[Data, list[str] | None]:
    try:
        rows = _rows(path)
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text edge list (and its suffix is not .pt, .pth, "
                         f".graphml or .gml)") from None
    if not rows:
        raise ValueError(f"{path} holds no edges")
    widths = {len(row) for row in rows}
    if min(widths) < 2 or max(widths) > 3 or len(widths) > 1:
        line = next(row for row in rows if len(row) not in (2, 3) or len(row) != len(rows[0]))
        raise ValueError(f"{path}: every line must be 'SOURCE TARGET' or 'SOURCE TARGET "
                         f"WEIGHT' (all alike), found {' '.join(line)!r}")
    ids: list[str] | None = None
    ends = [row[0] for row in rows] + [row[1] for row in rows]
    if all(token.isdigit() for token in ends):
        flat = torch.tensor([int(token) for token in ends], dtype=torch.long)
        num_nodes = int(flat.max()) + 1
    else:
        # First appearance along the file (source, then target, line by line).
        order: dict[str, int] = {}
        for row in rows:
            order.setdefault(row[0], len(order))
            order.setdefault(row[1], len(order))
        ids = list(order)
        flat = torch.tensor([order[token] for token in ends], dtype=torch.long)
        num_nodes = len(ids)
    edge_index = flat.view(2, -1)
    edge_weight = None
    if len(rows[0]) == 3:
        try:
            edge_weight = torch.tensor([float(row[2]) for row in rows])
        except ValueError:
            raise ValueError(f"{path}: the third column must be a number (the edge weight)") \
                from None
        if not bool(torch.isfinite(edge_weight).all()):
            raise ValueError(f"{path}: edge weights must be finite")
    edge_index, edge_weight = remove_self_loops(edge_index, edge_weight)
    if undirected:
        edge_index, edge_weight = to_undirected(edge_index, edge_weight, num_nodes=num_nodes)
    else:
        edge_index, edge_weight = coalesce(edge_index, edge_weight, num_nodes=num_nodes)
    data = Data(edge_index=edge_index, num_nodes=num_nodes)
    if edge_weight is not None:
        data.edge_weight = edge_weight
    return data, ids


# -- features and labels -------------------------------------------------------------------------

def _array_file(path: Path) -> Tensor | None:
    """A ``.npy`` or ``.pt`` array (never unpickled), or ``None`` for a text file."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            return torch.from_numpy(np.load(path, allow_pickle=False))
        except ValueError as error:
            raise ValueError(f"{path} could not be read as a numeric .npy array: {error}") \
                from None
    if suffix in TORCH_SUFFIXES:
        try:
            value = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001
            raise ValueError(f"{path} could not be read with torch.load(weights_only=True): "
                             f"{str(error).splitlines()[0] if str(error) else error}") from None
        if not isinstance(value, Tensor):
            raise ValueError(f"{path} must hold a tensor, got {type(value).__name__}")
        return value
    return None


def _row_of(ids: list[str] | None, num_nodes: int) -> dict[str, int]:
    """Maps a text file's node IDs to node indices."""
    if ids is None:
        return {str(i): i for i in range(num_nodes)}
    return {node: i for i, node in enumerate(ids)}


def _node_key(token: str, ids: list[str] | None) -> str:
    """A text file's node ID as the graph knows it (``'007'`` is node 7 of an integer graph)."""
    return str(int(token)) if ids is None and token.isdigit() else token


def _node_table(path: Path, ids: list[str] | None, num_nodes: int) -> Tensor:
    """Node features: an array in node order (with integer node IDs it may have more rows
    than the largest ID: isolated nodes), or text lines ``NODE_ID F1 F2 ...``."""
    array = _array_file(path)
    if array is not None:
        if ids is not None:
            raise ValueError(f"{path}: an array of features is read in node order, which needs "
                             f"integer node IDs in the graph; give a text file with the node "
                             f"ID first on each line")
        if array.dim() != 2 or array.size(0) < num_nodes or array.is_complex():
            raise ValueError(f"{path} must hold one row of features per node (at least "
                             f"{num_nodes}: the largest node ID + 1), got shape "
                             f"{tuple(array.shape)}")
        return array.float()
    rows = _rows(path)
    row_of = _row_of(ids, num_nodes)
    widths = {len(row) for row in rows}
    if len(widths) != 1 or min(widths) < 2:
        raise ValueError(f"{path}: every line must be 'NODE_ID F1 F2 ...' with the same number "
                         f"of values, found lines of {sorted(widths)} values")
    x = torch.zeros(num_nodes, widths.pop() - 1)
    seen = torch.zeros(num_nodes, dtype=torch.bool)
    for row in rows:
        node = row_of.get(_node_key(row[0], ids))
        if node is None:
            raise ValueError(f"{path}: node {row[0]!r} is not a node of the graph")
        try:
            x[node] = torch.tensor([float(v) for v in row[1:]])
        except ValueError:
            raise ValueError(f"{path}: the features of node {row[0]!r} are not numbers") from None
        seen[node] = True
    if not bool(seen.all()):
        missing = int((~seen).sum())
        raise ValueError(f"{path} gives no features for {missing} of {num_nodes} nodes")
    return x


def _node_labels(path: Path, ids: list[str] | None, num_nodes: int) -> Tensor:
    """Node labels: a vector in node order, or text lines ``NODE_ID LABEL``."""
    array = _array_file(path)
    if array is not None:
        if ids is not None:
            raise ValueError(f"{path}: an array of labels is read in node order, which needs "
                             f"integer node IDs in the graph; give a text file 'NODE_ID LABEL'")
        if array.dim() != 1 or array.numel() != num_nodes or array.is_floating_point():
            raise ValueError(f"{path} must hold one integer label per node ({num_nodes}), "
                             f"got {array.dtype} of shape {tuple(array.shape)}")
        return array.long()
    row_of = _row_of(ids, num_nodes)
    values: list[Any] = [None] * num_nodes
    for row in _rows(path):
        if len(row) != 2:
            raise ValueError(f"{path}: every line must be 'NODE_ID LABEL', found "
                             f"{' '.join(row)!r}")
        node = row_of.get(_node_key(row[0], ids))
        if node is None:
            raise ValueError(f"{path}: node {row[0]!r} is not a node of the graph")
        values[node] = int(row[1]) if row[1].isdigit() else row[1]
    return encode_labels(values)[0]


def encode_labels(values: Sequence[Any]) -> tuple[Tensor, int]:
    """Labels as class indices ``0 .. C-1`` and the number of classes ``C``: non-negative
    integers are kept (``C`` = the largest + 1), other values are numbered in sorted order
    (by their text when they do not compare); ``None`` (unlabelled) becomes ``-1``."""
    present = {v for v in values if v is not None}
    if all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in present):
        y = torch.tensor([-1 if v is None else v for v in values], dtype=torch.long)
        return y, max(present) + 1 if present else 0
    try:
        order = sorted(present)
    except TypeError:
        order = sorted(present, key=str)
    index = {v: i for i, v in enumerate(order)}
    return torch.tensor([-1 if v is None else index[v] for v in values],
                        dtype=torch.long), len(order)


def _node_dataset(path: Path, data: Data, max_degree: int, train_ratio: float,
                  valid_ratio: float, seed: int) -> LoadedDataset:
    """The node task of one graph: degree features if none, ``-1`` labels if none, the file's
    masks as the split, else a random split of the labelled nodes."""
    if data.x is None:
        cap = max_degree_of([data], cap=max_degree)
        logger.info("%s has no node features; using the one-hot degree (max %d)", path.name, cap)
        data = CappedOneHotDegree(cap)(data)
    data.x = data.x.float().view(data.num_nodes, -1)
    split = None
    num_classes = 0
    if data.y is None:
        data.y = torch.full((data.num_nodes,), -1, dtype=torch.long)
    else:
        data.y = data.y.view(-1).long() if data.y.dim() <= 1 or data.y.size(-1) == 1 \
            else data.y
    labelled = data.y.dim() == 1 and bool((data.y >= 0).any())
    if labelled:
        num_classes = int(data.y.max()) + 1
        masks = [getattr(data, key, None) for key in ("train_mask", "val_mask", "test_mask")]
        if all(isinstance(m, Tensor) for m in masks):
            split = masks_to_split(*masks)
        else:
            split = random_split(data.num_nodes, train_ratio, valid_ratio, seed=seed, y=data.y)
    return LoadedDataset(path.stem, "node", data, None, split, num_classes, data.num_features,
                         os.fspath(path)).validate()
