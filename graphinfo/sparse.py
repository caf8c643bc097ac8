r"""Sparse helpers for the fast path: GCN-normalised adjacency as a CSR matrix, cached per graph.

Message passing over an edge list materialises one message per edge (an :math:`E \times F`
tensor) before it scatters them; a sparse CSR adjacency times a dense feature matrix does the same
aggregation without it. The normalisation is computed once per graph: :class:`AdjacencyCache`
keeps it for as long as the very same ``edge_index`` tensor (same object, unmodified) is used.
"""
from __future__ import annotations

import warnings
import weakref
from typing import Any

import torch
from torch import Tensor
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import to_torch_csr_tensor


def gcn_adjacency(edge_index: Tensor, num_nodes: int, edge_weight: Tensor | None = None,
                  add_self_loops: bool = True, improved: bool = False,
                  dtype: torch.dtype | None = None) -> Tensor:
    r"""The transposed GCN propagation matrix as a CSR tensor, rows indexed by target node:

    .. math::
        \hat{\mathbf{A}}^{\top} = \big(\hat{\mathbf{D}}^{-1/2}(\mathbf{A} + \lambda\mathbf{I})
        \hat{\mathbf{D}}^{-1/2}\big)^{\top}, \qquad \lambda = 2 \text{ if improved else } 1,

    so that ``adj_t @ x`` equals :class:`torch_geometric.nn.GCNConv`'s aggregation over
    ``edge_index`` (messages flow from ``edge_index[0]`` to ``edge_index[1]``). The values have
    ``dtype`` (default: ``edge_weight``'s, else float32).

    Raises:
        ValueError: If an edge weight is negative (the degree normalisation would be NaN).
    """
    if edge_weight is not None and bool((edge_weight < 0).any()):
        raise ValueError(f"'edge_weight' must be non-negative for GCN normalisation, got minimum "
                         f"{float(edge_weight.min()):.4g}")
    edge_index, weight = gcn_norm(edge_index, edge_weight, num_nodes, improved=improved,
                                  add_self_loops=add_self_loops, dtype=dtype)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly")
        return to_torch_csr_tensor(edge_index.flip(0), weight, size=(num_nodes, num_nodes))


class _TensorRef:
    """A weak reference to a tensor plus its version counter at the time it was taken."""

    def __init__(self, tensor: Tensor | None) -> None:
        self.ref = None if tensor is None else weakref.ref(tensor)
        self.version = None if tensor is None else tensor._version

    def refers_to(self, tensor: Tensor | None) -> bool:
        if tensor is None or self.ref is None:
            return tensor is None and self.ref is None
        return self.ref() is tensor and tensor._version == self.version


class AdjacencyCache:
    """Remembers the normalised adjacency of the most recent graphs, keyed by tensor identity.

    An entry is reused only while the ``edge_index`` (and ``edge_weight``) objects are alive and
    have not been modified in place (their version counters are unchanged), so a stale entry is
    never returned. ``size`` entries are kept (the clean graph and one corrupted view, say).
    """

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._entries: list[tuple[_TensorRef, _TensorRef, tuple[Any, ...], Tensor]] = []

    def get(self, edge_index: Tensor, num_nodes: int, edge_weight: Tensor | None = None,
            **options: Any) -> Tensor:
        """The cached :func:`gcn_adjacency` for these inputs, computed on a miss."""
        extra = (num_nodes, tuple(sorted(options.items())))
        for index_ref, weight_ref, entry_extra, adj in self._entries:
            if index_ref.refers_to(edge_index) and weight_ref.refers_to(edge_weight) \
                    and entry_extra == extra:
                return adj
        # Never an inference-mode tensor: a cached one could not be used by a later backward.
        with torch.inference_mode(False), torch.no_grad():
            adj = gcn_adjacency(edge_index, num_nodes, edge_weight, **options)
        self._entries.insert(0, (_TensorRef(edge_index), _TensorRef(edge_weight), extra, adj))
        del self._entries[self.size:]
        return adj

    def clear(self) -> None:
        self._entries.clear()
