r"""Sparse approximate personalised PageRank (PPR) for graphs too large for a dense inverse.

For every source node :math:`s` the push method of Andersen, Chung and Lang (FOCS 2006,
"Local Graph Partitioning using PageRank Vectors") computes an approximation
:math:`\mathbf{p}_s` of the PPR vector :math:`\boldsymbol{\pi}_s = \alpha \mathbf{e}_s^\top
(\mathbf{I} - (1 - \alpha)\mathbf{D}^{-1}\mathbf{A})^{-1}` with residual
:math:`\mathbf{r}_s`, starting from :math:`\mathbf{p} = 0, \mathbf{r} = \mathbf{e}_s` and pushing
any node :math:`u` with :math:`r_u \ge \epsilon\, d_u`:

.. math::
    p_u \mathrel{+}= \alpha r_u, \qquad
    r_v \mathrel{+}= (1 - \alpha)\, r_u\, A_{uv} / d_u \;\; (v \in \mathcal{N}(u)), \qquad
    r_u = 0,

until no node qualifies; then :math:`|\pi_s(v) - p_s(v)| \le \epsilon\, d_v` for every
:math:`v`, and the work per source is at most :math:`1 / (\alpha \epsilon)` edge visits,
independent of the graph's size. :math:`d` is the weighted degree.

This is the algorithm of PyG's :func:`torch_geometric.utils.get_ppr` (which needs ``numba``
too). What this module adds (side by side with ``get_ppr`` in
``benchmarks/results/diffusion.md``, made by ``python benchmarks/diffusion.py``):

- edge weights;
- a first-in first-out queue: ``get_ppr``'s stack pushes a residual as soon as it crosses the
  tolerance, far more pushes at small tolerances;
- each source's vector sparsified inside the kernel (its ``top_k`` largest entries, or those
  of at least ``threshold``), in batches of sources, so memory is bounded by the output rather
  than by every entry the pushes touched (``get_ppr`` returns all of them, through Python
  lists);
- the output scaled in the kernel, so the symmetric form
  :math:`\mathbf{D}^{1/2}\boldsymbol{\Pi}\mathbf{D}^{-1/2} = \alpha(\mathbf{I} - (1 - \alpha)
  \mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2})^{-1}` is ranked and thresholded as it is
  returned.

Numba's compiled code is not cached on disk (its cache is a pickle); compiling takes a few
seconds once per process.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["approximate_ppr"]

logger = logging.getLogger(__name__)

_KERNEL: Any = None

#: Output entries (source x kept entry) held at once; sources are processed in batches under it.
PPR_BATCH_ENTRIES = 1 << 24


def _build_kernel() -> Any:
    try:
        import numba
    except ImportError as error:
        raise ImportError("the approximate PPR needs the 'numba' package: pip install numba "
                          "(or graphinfo[diffusion]); or use the exact dense diffusion "
                          "(exact=True) on a graph that fits") from error
    from numba import prange
    from numba.typed import Dict
    from numba.types import boolean, float64, int64

    @numba.njit(parallel=True, cache=False)
    def kernel(rowptr: np.ndarray, col: np.ndarray, weight: np.ndarray, degree: np.ndarray,
               sources: np.ndarray, alpha: float, eps: float, row_scale: np.ndarray,
               col_scale: np.ndarray, keep: int, threshold: float, out_index: np.ndarray,
               out_value: np.ndarray, out_count: np.ndarray) -> None:
        for i in prange(sources.shape[0]):
            source = sources[i]
            estimate = Dict.empty(int64, float64)
            residual = Dict.empty(int64, float64)
            queued = Dict.empty(int64, boolean)
            residual[source] = 1.0
            queued[source] = True
            queue = [source]             # first in, first out: residuals gather before a push
            head = 0
            while head < len(queue):
                u = queue[head]
                head += 1
                queued[u] = False
                mass = residual[u]
                residual[u] = 0.0
                estimate[u] = estimate.get(u, 0.0) + alpha * mass
                if degree[u] <= 0.0:
                    continue
                spread = (1.0 - alpha) * mass / degree[u]
                for e in range(rowptr[u], rowptr[u + 1]):
                    v = col[e]
                    value = residual.get(v, 0.0) + spread * weight[e]
                    residual[v] = value
                    if value >= eps * degree[v] and not queued.get(v, False):
                        queued[v] = True
                        queue.append(v)
            size = len(estimate)
            nodes = np.empty(size, dtype=np.int64)
            values = np.empty(size, dtype=np.float64)
            j = 0
            for node, value in estimate.items():
                nodes[j] = node
                values[j] = value * row_scale[source] * col_scale[node]
                j += 1
            order = np.argsort(-values)
            count = 0
            for j in order:
                if count >= keep or values[j] < threshold:
                    break
                out_index[i, count] = nodes[j]
                out_value[i, count] = values[j]
                count += 1
            out_count[i] = count

    return kernel


def approximate_ppr(edge_index: Tensor, num_nodes: int, *, alpha: float = 0.15,
                    eps: float = 1e-4, edge_weight: Tensor | None = None,
                    normalization: str = "sym", top_k: int | None = 128,
                    threshold: float | None = None,
                    sources: Tensor | None = None) -> tuple[Tensor, Tensor]:
    r"""Approximate PPR vectors of ``sources`` (default: every node), sparsified.

    Args:
        edge_index (Tensor): :math:`(2, E)` edges :math:`u \to v` (both directions for an
            undirected graph); self-loops as given (add them first for :math:`\mathbf{A} +
            \mathbf{I}`). The walk follows out-edges and :math:`d` is the out-degree, so on a
            directed graph this is the PPR of the forward walk.
        num_nodes (int): :math:`N`.
        alpha (float): Teleport probability :math:`\alpha \in (0, 1)`.
        eps (float): Push tolerance :math:`\epsilon > 0`: every entry of
            :math:`\boldsymbol{\Pi}` within :math:`\epsilon d_v` of the exact one (of the
            ``'sym'`` form within :math:`\epsilon \sqrt{d_s d_v}`).
        edge_weight (Tensor, optional): :math:`(E,)` non-negative weights :math:`A_{uv}`.
        normalization (str): ``'row'`` returns :math:`\boldsymbol{\Pi}` (row :math:`s`: the
            walk's visiting probabilities from :math:`s`), ``'sym'`` returns
            :math:`\mathbf{D}^{1/2}\boldsymbol{\Pi}\mathbf{D}^{-1/2}`, the PPR of the
            symmetrically normalised adjacency (GDC's and MVGRL's).
        top_k (int, optional): Entries kept per source, largest first.
        threshold (float, optional): Keep entries of at least this value (with or without
            ``top_k``). At least one of the two must be given.
        sources (Tensor, optional): The source nodes (rows) to compute.

    Returns:
        ``(edge_index, edge_weight)``: row ``edge_index[0]`` the source, ``edge_index[1]`` the
        node, sorted by source and, within a source, by decreasing weight (float32).
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"'alpha' must be in (0, 1), got {alpha!r}")
    if not eps > 0:
        raise ValueError(f"'eps' must be > 0, got {eps!r}")
    if normalization not in ("row", "sym"):
        raise ValueError(f"'normalization' must be 'row' or 'sym', got {normalization!r}")
    if top_k is None and threshold is None:
        raise ValueError("give 'top_k', 'threshold' or both: a dense PPR is the exact path's")
    if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"'top_k' must be a positive int, got {top_k!r}")
    if threshold is not None and not threshold > 0:
        raise ValueError(f"'threshold' must be > 0, got {threshold!r}")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape (2, E), got {tuple(edge_index.shape)}")
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= num_nodes):
        raise ValueError(f"'edge_index' holds node indices outside [0, {num_nodes})")
    if edge_weight is not None and (edge_weight.shape != (edge_index.size(1),)
                                    or bool((edge_weight < 0).any())
                                    or not bool(torch.isfinite(edge_weight).all())):
        raise ValueError(f"'edge_weight' must hold {edge_index.size(1)} finite non-negative "
                         f"weights, got shape {tuple(edge_weight.shape)}")
    global _KERNEL
    if _KERNEL is None:
        _KERNEL = _build_kernel()
    import numba

    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))
    device = edge_index.device
    row, col = edge_index.cpu()
    weight = torch.ones(row.numel(), dtype=torch.float64) if edge_weight is None \
        else edge_weight.detach().cpu().to(torch.float64)
    order = torch.argsort(row * num_nodes + col)
    row, col, weight = row[order], col[order], weight[order]
    rowptr = torch.zeros(num_nodes + 1, dtype=torch.long)
    rowptr[1:] = torch.cumsum(torch.bincount(row, minlength=num_nodes), 0)
    degree = torch.zeros(num_nodes, dtype=torch.float64).index_add_(0, row, weight)
    if normalization == "sym":
        root = degree.sqrt()
        row_scale, col_scale = root, torch.where(root > 0, 1.0 / root, torch.zeros_like(root))
    else:
        row_scale = col_scale = torch.ones(num_nodes, dtype=torch.float64)
    nodes = torch.arange(num_nodes) if sources is None else sources.detach().cpu().long()
    if nodes.numel() and (int(nodes.min()) < 0 or int(nodes.max()) >= num_nodes):
        raise ValueError(f"'sources' holds nodes outside [0, {num_nodes})")
    if nodes.numel() == 0:
        return (torch.empty(2, 0, dtype=torch.long, device=device),
                torch.empty(0, dtype=torch.float32, device=device))
    # A source's entries sum to at most max(row_scale) max(col_scale): so many reach threshold.
    keep = top_k if top_k is not None else \
        int(float(row_scale.max()) * float(col_scale.max()) / threshold) + 1
    keep = min(keep, num_nodes)
    batch = max(1, PPR_BATCH_ENTRIES // keep)
    arrays = [t.numpy() for t in (rowptr, col, weight, degree)]
    scales = row_scale.numpy(), col_scale.numpy()
    rows, cols, values = [], [], []
    for start in range(0, nodes.numel(), batch):
        chunk = nodes[start:start + batch].numpy()
        out_index = np.zeros((chunk.size, keep), dtype=np.int64)
        out_value = np.zeros((chunk.size, keep), dtype=np.float64)
        out_count = np.zeros(chunk.size, dtype=np.int64)
        _KERNEL(*arrays, chunk, float(alpha), float(eps), *scales, keep,
                float(threshold) if threshold is not None else 0.0,
                out_index, out_value, out_count)
        counts = torch.from_numpy(out_count)
        kept = torch.arange(keep).unsqueeze(0) < counts.unsqueeze(1)
        rows.append(torch.from_numpy(chunk).repeat_interleave(counts))
        cols.append(torch.from_numpy(out_index)[kept])
        values.append(torch.from_numpy(out_value)[kept].to(torch.float32))
    out = torch.stack([torch.cat(rows), torch.cat(cols)])
    return out.to(device), torch.cat(values).to(device)
