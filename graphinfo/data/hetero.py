"""Heterogeneous graphs as PyG ``HeteroData``: the labelled node type, metapath relations, checks.

Every heterogeneous dataset of :func:`graphinfo.data.load_dataset` is a ``HeteroData`` whose
labelled (*target*) node type carries ``x``, ``y`` and the split masks, and is named by the global
attribute ``data.target_node_type``. Its *metapath relations* are edge types from the target type
to itself, named by their metapath in capitals (``('paper', 'PAP', 'paper')``): precomputed ones
as a dataset ships them, others built from the typed relations by :func:`add_metapaths`.
Multiplex models (DMGI, HDGI) read those relations; a homogeneous model gets one of them as a
plain ``Data`` through :func:`single_relation_graph`.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData
from torch_geometric.typing import EdgeType

from graphinfo.transforms.metapaths import MetapathGraphs
from graphinfo.validation import check_edge_index, check_features

#: The global attribute of a ``HeteroData`` naming its labelled node type.
TARGET_ATTR = "target_node_type"
#: The global attribute listing the default metapath relations (their names).
METAPATHS_ATTR = "metapath_names"


def target_node_type(data: HeteroData) -> str:
    """The labelled node type: ``data.target_node_type`` when set, else the only node type
    with labels ``y``.

    Raises:
        ValueError: If no node type, or more than one, has labels and none is named.
    """
    named = data[TARGET_ATTR] if TARGET_ATTR in data else None
    if named is not None:
        if named not in data.node_types:
            raise ValueError(f"data.{TARGET_ATTR} = {named!r} is not a node type of the graph "
                             f"({data.node_types})")
        return str(named)
    labelled = [t for t in data.node_types if "y" in data[t]]
    if len(labelled) != 1:
        raise ValueError(f"cannot tell the target node type: {len(labelled)} node types have "
                         f"labels ({labelled}); set data.{TARGET_ATTR}")
    return labelled[0]


def node_labels(data: Data | HeteroData) -> Tensor | None:
    """``y`` of a ``Data``, or of the target node type of a ``HeteroData`` (``None`` if none)."""
    if isinstance(data, HeteroData):
        return getattr(data[target_node_type(data)], "y", None)
    return getattr(data, "y", None)


def target_relations(data: HeteroData, node_type: str | None = None) -> list[EdgeType]:
    """The edge types from ``node_type`` (default: the target) to itself, in storage order."""
    node_type = node_type or target_node_type(data)
    return [t for t in data.edge_types if t[0] == node_type and t[2] == node_type]


def default_relations(data: HeteroData) -> list[EdgeType]:
    """The relations a multiplex model reads by default: the metapaths named in
    ``data.metapath_names`` (as the dataset's loader set them), else every target relation."""
    node_type = target_node_type(data)
    names = data[METAPATHS_ATTR] if METAPATHS_ATTR in data else None
    if names:
        return [relation_by_name(data, name, node_type) for name in names]
    relations = target_relations(data, node_type)
    if not relations:
        raise ValueError(f"the graph has no relation from {node_type!r} to itself; add "
                         f"metapaths (graphinfo.data.hetero.add_metapaths)")
    return relations


def relation_by_name(data: HeteroData, name: str, node_type: str | None = None) -> EdgeType:
    """The target relation called ``name`` (case-insensitive), e.g. ``'PAP'``."""
    node_type = node_type or target_node_type(data)
    for relation in target_relations(data, node_type):
        if relation[1].lower() == name.lower():
            return relation
    known = [r[1] for r in target_relations(data, node_type)]
    raise ValueError(f"the graph has no relation {name!r} on {node_type!r} nodes; it has "
                     f"{known}")


def _node_type_of(letter: str, data: HeteroData) -> str:
    matches = [t for t in data.node_types if t.lower().startswith(letter.lower())]
    exact = [t for t in data.node_types if t.lower() == letter.lower()]
    if exact:
        return exact[0]
    if len(matches) != 1:
        raise ValueError(f"metapath letter {letter!r} must name exactly one node type by its "
                         f"first letter; it matches {matches} of {data.node_types}")
    return matches[0]


def metapath_edge_types(name: str, data: HeteroData) -> list[EdgeType]:
    """Turns a metapath written in node-type initials (``'MAM'``: movie, actor, movie) into its
    chain of edge types; each consecutive pair of types must be joined by exactly one edge
    type of the graph."""
    if len(name) < 3:
        raise ValueError(f"a metapath needs at least three node-type letters, got {name!r}")
    types = [_node_type_of(letter, data) for letter in name]
    chain = []
    for src, dst in zip(types, types[1:]):
        joining = [t for t in data.edge_types if t[0] == src and t[2] == dst]
        if len(joining) != 1:
            raise ValueError(f"metapath {name!r}: {len(joining)} edge types lead from {src!r} "
                             f"to {dst!r} ({joining}); it must be exactly one")
        chain.append(joining[0])
    return chain


def add_metapaths(data: HeteroData, names: Sequence[str]) -> list[EdgeType]:
    """Makes sure the target type has a relation for every metapath in ``names`` and returns
    them in order: a relation already present under that name is used as it is (a dataset's
    precomputed metapath graph), others are built from the typed relations by PyG's
    :class:`~torch_geometric.transforms.AddMetaPaths` (through
    :class:`~graphinfo.transforms.MetapathGraphs`): an edge wherever a walk along the metapath
    joins two nodes, each node to itself included when it has a neighbour on the way.

    Args:
        data (HeteroData): The graph; changed in place.
        names (Sequence[str]): Metapaths in node-type initials, e.g. ``['MAM', 'MDM']``.

    Returns:
        list[EdgeType]: The relations, ``(target, NAME, target)``.

    Raises:
        ValueError: On an empty list, a metapath that does not start and end at the target
            type, or letters / edge types that do not resolve.
    """
    names = [str(name).strip() for name in names if str(name).strip()]
    if not names:
        raise ValueError("give at least one metapath, e.g. 'PAP'")
    if len({name.upper() for name in names}) != len(names):
        raise ValueError(f"the metapaths must be distinct, got {names}")
    target = target_node_type(data)
    out = []
    for name in names:
        present = [r for r in target_relations(data, target) if r[1].lower() == name.lower()]
        if present:
            out.append(present[0])
            continue
        chain = metapath_edge_types(name, data)
        if chain[0][0] != target or chain[-1][2] != target:
            raise ValueError(f"metapath {name!r} must start and end at the target node type "
                             f"{target!r}")
        relation = (target, name.upper(), target)
        with warnings.catch_warnings():   # torch's beta notes on the sparse product PyG uses
            warnings.filterwarnings("ignore", message="Sparse (CSR tensor|invariant)")
            built = MetapathGraphs([chain], names=[relation[1]])(data.clone())
        data[relation].edge_index = built[relation].edge_index
        out.append(relation)
    return out


def coo_to_edge_index(matrix: sp.spmatrix) -> Tensor:
    """The non-zero pattern of a scipy sparse matrix as a long ``edge_index`` (explicit zeros
    dropped, duplicates merged, sorted by row)."""
    coo = sp.coo_matrix(matrix)
    coo.sum_duplicates()
    coo.eliminate_zeros()
    return torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))


def single_relation_graph(data: HeteroData, relation: str | EdgeType | None = None) -> Data:
    """The target nodes with one of their relations as a homogeneous ``Data`` (``x``, ``y``,
    the split masks, ``edge_index``), for a model that reads one graph (DGI on one metapath).

    Args:
        data (HeteroData): The graph.
        relation (str or EdgeType, optional): The relation, by name (``'PAP'``) or edge type;
            default the first of :func:`default_relations`.
    """
    target = target_node_type(data)
    if relation is None:
        relation = default_relations(data)[0]
    elif isinstance(relation, str):
        relation = relation_by_name(data, relation, target)
    store = data[target]
    out = Data(edge_index=data[relation].edge_index, num_nodes=store.num_nodes)
    for key in ("x", "y", "train_mask", "val_mask", "test_mask", "node_year"):
        if key in store:
            out[key] = store[key]
    out.relation = relation[1]
    return out


def check_hetero(data: HeteroData, name: str = "data") -> None:
    """Checks a heterogeneous graph as :func:`~graphinfo.validation.check_graph` checks a
    homogeneous one: a target type with finite float features and one label per node, and
    every edge type's indices within its source and destination types.

    Raises:
        ValueError: Naming the node or edge type at fault.
    """
    if not isinstance(data, HeteroData):
        raise ValueError(f"'{name}' must be a HeteroData, got {type(data).__name__}")
    if not data.node_types:
        raise ValueError(f"'{name}' has no node types")
    target = target_node_type(data)
    store = data[target]
    if "x" not in store:
        raise ValueError(f"'{name}[{target!r}]' (the target node type) has no features 'x'")
    check_features(store.x, name=f"{name}[{target!r}].x")
    if "y" in store and store.y.size(0) != store.num_nodes:
        raise ValueError(f"'{name}[{target!r}].y' has {store.y.size(0)} entries for "
                         f"{store.num_nodes} nodes")
    for node_type in data.node_types:
        if "x" in data[node_type] and node_type != target:
            check_features(data[node_type].x, name=f"{name}[{node_type!r}].x")
    for edge_type in data.edge_types:
        src, _, dst = edge_type
        edge_index = data[edge_type].edge_index
        label = f"{name}[{edge_type!r}].edge_index"
        if src == dst:
            check_edge_index(edge_index, data[src].num_nodes, name=label)
            continue
        check_edge_index(edge_index, max(data[src].num_nodes, data[dst].num_nodes), name=label)
        for row, node_type in ((0, src), (1, dst)):
            if edge_index.numel() and int(edge_index[row].max()) >= data[node_type].num_nodes:
                raise ValueError(f"'{label}' row {row} points past the {data[node_type].num_nodes}"
                                 f" {node_type!r} nodes (max {int(edge_index[row].max())})")
