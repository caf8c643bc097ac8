"""Input checks shared by every model: bad input gets a clear error, never a crash deep in torch.

Each message names the argument, what was expected and what was given.
"""
from __future__ import annotations

import torch
from torch import Tensor

from graphinfo.tensor_cache import TensorCache

#: Edge indices with at least this many entries have their range remembered: a training loop
#: checks the same (unmodified) tensor on every step, and the minimum and maximum of DBLP's 12
#: million metapath edges cost 40 ms a step.
RANGE_MEMO_MIN_ENTRIES = 1 << 16
_RANGES = TensorCache(size=8)


def _index_range(index: Tensor) -> tuple[int, int]:
    """``(index.min(), index.max())``, remembered for a large tensor while it is unmodified."""
    if index.numel() < RANGE_MEMO_MIN_ENTRIES:
        return int(index.min()), int(index.max())
    return _RANGES.get((index,), None, lambda: (int(index.min()), int(index.max())))


def check_features(x: Tensor, name: str = "x", in_channels: int | None = None,
                   dtype: torch.dtype | None = None) -> None:
    """Checks a node feature matrix: a 2-D floating tensor, at least one row, all values finite,
    of ``dtype`` when given (the model's parameter dtype).

    Sparse COO feature matrices are accepted and their stored values are checked.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"'{name}' must be a torch.Tensor of node features, got "
                        f"{type(x).__name__}")
    if x.dim() != 2:
        raise ValueError(f"'{name}' must be 2-dimensional [num_nodes, num_features], got shape "
                         f"{tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"'{name}' must be a floating-point tensor, got dtype {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"'{name}' has dtype {x.dtype} but the model's parameters are {dtype}; "
                        f"convert one of them (e.g. x.to({dtype}) or model.to({x.dtype}))")
    if x.layout == torch.sparse_csr:
        raise TypeError(f"'{name}' is a sparse CSR tensor; pass a dense or sparse COO tensor "
                        f"({name}.to_sparse_coo())")
    if x.size(0) == 0:
        raise ValueError(f"'{name}' describes a graph with no nodes (shape {tuple(x.shape)}); "
                         f"expected at least one node")
    if in_channels is not None and in_channels > 0 and x.size(1) != in_channels:
        raise ValueError(f"'{name}' has {x.size(1)} features per node but the encoder expects "
                         f"in_channels={in_channels}")
    values = x.coalesce().values() if x.layout == torch.sparse_coo else x
    if not bool(torch.isfinite(values).all()):
        bad = int((~torch.isfinite(values)).sum())
        raise ValueError(f"'{name}' contains {bad} NaN or infinite value(s); expected finite "
                         f"features")


def check_edge_index(edge_index: Tensor, num_nodes: int, name: str = "edge_index") -> None:
    """Checks an edge index: integer tensor of shape [2, E] with entries in ``[0, num_nodes)``.

    A :class:`torch_geometric.EdgeIndex` or a sparse adjacency tensor
    (``torch.sparse_coo`` / ``torch.sparse_csr``) of shape [num_nodes, num_nodes] is accepted too.
    """
    if not isinstance(edge_index, Tensor):
        # SparseTensor or other adjacency objects are left to the convolution.
        if hasattr(edge_index, "sizes"):
            return
        raise TypeError(f"'{name}' must be a torch.Tensor of shape [2, num_edges], got "
                        f"{type(edge_index).__name__}")
    if edge_index.layout in (torch.sparse_coo, torch.sparse_csr):
        if tuple(edge_index.shape[:2]) != (num_nodes, num_nodes):
            raise ValueError(f"'{name}' is a sparse adjacency of shape {tuple(edge_index.shape)}"
                             f"; expected ({num_nodes}, {num_nodes})")
        return
    if edge_index.is_floating_point() or edge_index.dtype == torch.bool:
        raise TypeError(f"'{name}' must hold integer node indices (torch.long), got dtype "
                        f"{edge_index.dtype}")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'{name}' must have shape [2, num_edges], got {tuple(edge_index.shape)}")
    if edge_index.numel() == 0:
        return
    low, high = _index_range(edge_index)
    if low < 0:
        raise ValueError(f"'{name}' contains negative node index {low}; expected indices in "
                         f"[0, {num_nodes})")
    if high >= num_nodes:
        raise ValueError(f"'{name}' contains node index {high} but the graph has {num_nodes} "
                         f"nodes; expected indices in [0, {num_nodes})")


def check_batch(batch: Tensor | None, num_nodes: int, name: str = "batch") -> None:
    """Checks a batch vector: integer tensor of shape [num_nodes] with non-negative entries."""
    if batch is None:
        return
    if not isinstance(batch, Tensor) or batch.is_floating_point() or batch.dtype == torch.bool:
        got = batch.dtype if isinstance(batch, Tensor) else type(batch).__name__
        raise TypeError(f"'{name}' must be an integer tensor assigning each node to a graph, "
                        f"got {got}")
    if batch.dim() != 1 or batch.numel() != num_nodes:
        raise ValueError(f"'{name}' must have shape [{num_nodes}] (one graph index per node), "
                         f"got {tuple(batch.shape)}")
    if batch.numel() and int(batch.min()) < 0:
        raise ValueError(f"'{name}' contains negative graph index {int(batch.min())}")


def check_graph(x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None,
                batch: Tensor | None = None, in_channels: int | None = None,
                dtype: torch.dtype | None = None) -> None:
    """Runs every check on one graph's inputs."""
    check_features(x, in_channels=in_channels, dtype=dtype)
    num_nodes = x.size(0)
    check_edge_index(edge_index, num_nodes)
    if edge_weight is not None:
        if not isinstance(edge_weight, Tensor) or not edge_weight.is_floating_point():
            got = edge_weight.dtype if isinstance(edge_weight, Tensor) else type(
                edge_weight).__name__
            raise TypeError(f"'edge_weight' must be a floating-point tensor, got {got}")
        if edge_weight.dim() != 1:
            raise ValueError(f"'edge_weight' must be 1-dimensional [num_edges], got shape "
                             f"{tuple(edge_weight.shape)}")
        if isinstance(edge_index, Tensor) and edge_index.dim() == 2 and \
                edge_weight.numel() != edge_index.size(1):
            raise ValueError(f"'edge_weight' must have one entry per edge "
                             f"({edge_index.size(1)}), got {edge_weight.numel()}")
        if not bool(torch.isfinite(edge_weight).all()):
            raise ValueError("'edge_weight' contains NaN or infinite values; expected finite "
                             "weights")
    check_batch(batch, num_nodes)
