r"""The graph's own propagation matrix as a stored view: MVGRL cuts its training windows from
the full graph's normalised adjacency (and diffusion), so a window's rows keep the full
graph's degrees."""
from __future__ import annotations

import copy

import torch
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

from graphinfo.sparse import gcn_normalised_edges
from graphinfo.transforms.diffusion import view_keys


class NormalizedAdjacencyView(BaseTransform):
    r"""Adds :math:`\hat{\mathbf{D}}^{-1/2}(\mathbf{A} + \mathbf{I})\hat{\mathbf{D}}^{-1/2}`
    (GCN's normalisation, :func:`graphinfo.sparse.gcn_normalised_edges`) beside the graph
    as ``data.<name>_edge_index`` / ``data.<name>_edge_weight``; ``data``'s own graph stays.

    Args:
        name (str, optional): The view's name. (default: :obj:`'adjacency'`)
        add_self_loops (bool, optional): Normalise :math:`\mathbf{A} + \mathbf{I}` (``True``)
            or :math:`\mathbf{A}`. (default: ``True``)
        improved (bool, optional): Self-loops of weight 2, :math:`\mathbf{A} + 2\mathbf{I}`
            (MVGRL's node-level code). (default: ``False``)
    """

    def __init__(self, name: str = "adjacency", add_self_loops: bool = True,
                 improved: bool = False) -> None:
        if not name.isidentifier():
            raise ValueError(f"'name' must be a Python identifier, got {name!r}")
        self.name, self.add_self_loops, self.improved = name, add_self_loops, improved

    def forward(self, data: Data) -> Data:
        if getattr(data, "edge_index", None) is None:
            raise ValueError("NormalizedAdjacencyView needs a graph with an 'edge_index'")
        edge_index, weight = gcn_normalised_edges(
            data.edge_index, getattr(data, "edge_weight", None), data.num_nodes,
            improved=self.improved, add_self_loops=self.add_self_loops, dtype=torch.float32)
        out = copy.copy(data)
        index_key, weight_key = view_keys(self.name)
        out[index_key], out[weight_key] = edge_index, weight
        return out

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(name={self.name!r}, "
                f"add_self_loops={self.add_self_loops}, improved={self.improved})")
