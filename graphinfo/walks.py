r"""Uniform random walks in pure torch (``torch-cluster`` / ``pyg-lib`` do not install here).

All walkers step at once: from node :math:`u` with out-degree :math:`d_u > 0` a walker moves to
``col[rowptr[u] + floor(U d_u)]`` for a uniform :math:`U \in [0, 1)`, i.e. to each out-neighbour
with probability :math:`1 / d_u` (a neighbour listed twice, twice as often); a walker on a node
without out-edges stays there. One step costs three gathers over the walkers, so a walk of
length :math:`L` from :math:`W` starts is :math:`O(WL)` work, independent of the edge count
once the CSR is built.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["random_walks", "walk_csr"]


def walk_csr(edge_index: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
    """``(rowptr, col)`` of ``edge_index`` (rows: sources ``edge_index[0]``), for
    :func:`random_walks`."""
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape (2, E), got {tuple(edge_index.shape)}")
    if edge_index.numel() and (int(edge_index.min()) < 0
                               or int(edge_index.max()) >= num_nodes):
        raise ValueError(f"'edge_index' holds node indices outside [0, {num_nodes})")
    row, col = edge_index
    order = torch.argsort(row, stable=True)
    rowptr = torch.zeros(num_nodes + 1, dtype=torch.long, device=edge_index.device)
    rowptr[1:] = torch.cumsum(torch.bincount(row, minlength=num_nodes), 0)
    return rowptr, col[order]


def random_walks(edge_index: Tensor | tuple[Tensor, Tensor], start: Tensor, walk_length: int,
                 *, num_nodes: int | None = None,
                 generator: torch.Generator | None = None) -> Tensor:
    r"""Uniform random walks of ``walk_length`` steps from each node of ``start``.

    Args:
        edge_index (Tensor or (Tensor, Tensor)): :math:`(2, E)` edges, or the ``(rowptr, col)``
            of :func:`walk_csr` (built once for many calls).
        start (Tensor): :math:`(W,)` start nodes.
        walk_length (int): Steps per walk, :math:`L \ge 0`.
        num_nodes (int, optional): :math:`N` (default: from ``edge_index`` and ``start``).
        generator (torch.Generator, optional): Source of randomness, on ``start``'s device.

    Returns:
        :math:`(W, L + 1)` nodes, column 0 the start.
    """
    if not isinstance(walk_length, int) or walk_length < 0:
        raise ValueError(f"'walk_length' must be a non-negative int, got {walk_length!r}")
    if start.dim() != 1:
        raise ValueError(f"'start' must be a vector of nodes, got shape {tuple(start.shape)}")
    if isinstance(edge_index, tuple):
        rowptr, col = edge_index
    else:
        if num_nodes is None:
            num_nodes = int(max(int(edge_index.max()) + 1 if edge_index.numel() else 0,
                                int(start.max()) + 1 if start.numel() else 0))
        rowptr, col = walk_csr(edge_index, num_nodes)
    nodes = rowptr.numel() - 1
    if start.numel() and (int(start.min()) < 0 or int(start.max()) >= nodes):
        raise ValueError(f"'start' holds nodes outside [0, {nodes})")
    degree = rowptr[1:] - rowptr[:-1]
    walks = torch.empty(start.numel(), walk_length + 1, dtype=torch.long, device=start.device)
    current = start.long()
    walks[:, 0] = current
    for step in range(1, walk_length + 1):
        d = degree[current]
        draw = torch.rand(current.numel(), generator=generator, device=current.device)
        offset = (draw * d).long().clamp_max_((d - 1).clamp_min(0))
        moved = col[(rowptr[current] + offset).clamp_max(max(col.numel() - 1, 0))] \
            if col.numel() else current
        current = torch.where(d > 0, moved, current)
        walks[:, step] = current
    return walks
