"""What the multiplex models (DMGI, HDGI) share: which relations of a ``HeteroData`` they read,
how they are called on it, and how a seed's row is estimated from sampled neighbours on
mini-batches (:func:`sampled_propagate`).

A multiplex model learns from one node type (the *target*) and several relations among its
nodes: metapath graphs (``('paper', 'PAP', 'paper')``) or edge types of a multiplex network.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.typing import EdgeType

from graphinfo.data.hetero import METAPATHS_ATTR, TARGET_ATTR, default_relations


def multiplex_relations(data: HeteroData, node_type: str | None = None,
                        relations: list[Any] | None = None) -> tuple[str, list[EdgeType]]:
    """The node type and the relations a multiplex model reads from ``data``.

    ``relations`` (edge types) wins; else, with ``node_type`` given, every relation from that
    type to itself; else the dataset's default metapaths (``data.metapath_names``, as
    :func:`~graphinfo.data.load_dataset` sets them), else every same-type relation of the
    target type (``data.target_node_type``) or of the only type that has any.

    Raises:
        ValueError: If a relation is not in the data, joins two types, or no type is clear.
    """
    if not isinstance(data, HeteroData):
        raise TypeError(f"a multiplex model learns from a HeteroData (relations among nodes of "
                        f"one type), got {type(data).__name__}")
    if relations is not None:
        relations = [tuple(r) for r in relations]
        missing = [r for r in relations if r not in data.edge_types]
        if missing:
            raise ValueError(f"relations {missing} are not edge types of the data "
                             f"({data.edge_types})")
        types = {r[0] for r in relations} | {r[2] for r in relations}
        if len(types) != 1 or not relations:
            raise ValueError(f"the relations must join nodes of one type, got {relations}")
        return types.pop(), relations
    if node_type is None and (TARGET_ATTR in data or METAPATHS_ATTR in data):
        chosen = default_relations(data)
        return chosen[0][0], chosen
    same = [t for t in data.edge_types if t[0] == t[2]]
    types = sorted({t[0] for t in same})
    if node_type is None:
        if len(types) != 1:
            raise ValueError(f"the data has relations on {len(types)} node types {types}: "
                             f"give node_type= (or relations=)")
        node_type = types[0]
    chosen = [t for t in same if t[0] == node_type]
    if not chosen:
        raise ValueError(f"the data has no edge type from {node_type!r} to {node_type!r}; "
                         f"edge types: {data.edge_types}")
    return node_type, chosen


def multiplex_inputs(data: Any, node_type: str | None,
                     relations: list[EdgeType] | None, model: str
                     ) -> tuple[tuple[Tensor, ...], dict[str, Any]]:
    """``(x, edge_index_1, ..., edge_index_R)`` of a ``HeteroData`` for a model built with
    these ``node_type`` and ``relations``."""
    if not isinstance(data, HeteroData):
        raise TypeError(f"{model} reads a HeteroData, got {type(data).__name__}")
    if relations is None or node_type is None:
        raise ValueError(f"this {model} was built without 'relations': pass x and one "
                         f"edge_index per relation to it directly")
    missing = [r for r in relations if r not in data.edge_types]
    if missing:
        raise ValueError(f"the data lacks the relations {missing} this {model} was built for")
    return (data[node_type].x, *(data[relation].edge_index for relation in relations)), {}


def dataset_for(model: Any, dataset: Any, relation: str | None = None) -> Any:
    """The view of a loaded dataset that ``model`` (a class or instance) learns from: a
    heterogeneous dataset as it is for a heterogeneous model (DMGI, HDGI), else one of its
    relations as a homogeneous graph (:meth:`~graphinfo.data.LoadedDataset.homogeneous`:
    ``relation``, default the first metapath; ``ogbn-mag``: paper-cites-paper).

    Raises:
        ValueError: If a heterogeneous model is given a homogeneous dataset, or a
            ``relation`` is asked of a model that reads every relation.
    """
    heterogeneous = bool(getattr(model, "heterogeneous", False))
    name = getattr(model, "__name__", type(model).__name__)
    if heterogeneous:
        if not dataset.is_hetero:
            raise ValueError(f"{name} learns from a heterogeneous graph (several relations among "
                             f"one node type); {dataset.name!r} is homogeneous (heterogeneous "
                             f"datasets: acm3025, imdb-hdgi, heco:<name>, pyg:<Class>, ogbn-mag)")
        if relation is not None:
            raise ValueError(f"{name} reads every metapath of {dataset.name!r}; choose them "
                             f"with metapaths (--metapaths), not one relation")
        return dataset
    return dataset.homogeneous(relation)


def sampled_propagate(h: Tensor, neighbors: Tensor, degree: Tensor | None, batch_size: int,
                      self_loop_weight: float = 1.0) -> Tensor:
    r"""The seeds' rows of a GCN aggregation estimated from sampled neighbours:
    :math:`(w\mathbf{h}_i + d_i\,\overline{\mathbf{h}}_{S(i)}) / (w + d_i)`, the mean over
    the sampled neighbours :math:`S(i)` standing in for the mean over all of them, :math:`d_i`
    the seed's degree in a stored relation (``degree``) or the number of walks for a metapath
    chain (``None``), :math:`w` the self-loop weight: the random-walk normalised
    :math:`\mathbf{D}^{-1}(\mathbf{A} + w\mathbf{I})` rather than GCN's symmetric
    normalisation. A seed none of whose walks arrived keeps :math:`\mathbf{h}_i` (a zero row
    when :math:`w = 0`).

    Args:
        h (Tensor): Rows of the batch's nodes (the ``batch_size`` seeds first).
        neighbors (Tensor): :math:`B \times k` local indices into ``h`` (``-1``: none).
        degree (Tensor, optional): The seeds' degrees, :math:`(B,)`.
        batch_size (int): :math:`B`.
        self_loop_weight (float): :math:`w`.
    """
    valid = neighbors >= 0
    count = valid.sum(1, keepdim=True)
    mean = (h[neighbors.clamp(min=0)] * valid.unsqueeze(-1)).sum(1) / count.clamp(min=1)
    weight = degree.view(-1, 1).to(h.dtype) if degree is not None \
        else torch.full_like(count, neighbors.size(1), dtype=h.dtype)
    weight = weight * (count > 0)
    # Without self-loops (w = 0) a seed none of whose walks arrived gets a zero row.
    return (self_loop_weight * h[:batch_size] + weight * mean) \
        / (self_loop_weight + weight).clamp(min=torch.finfo(h.dtype).tiny)
