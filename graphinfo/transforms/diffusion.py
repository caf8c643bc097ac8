r"""Graph diffusion as a second view of a graph (MVGRL's "diffusion view").

A diffusion :math:`\mathbf{S} = \sum_{k \ge 0} \theta_k \mathbf{T}^k` of the transition matrix
:math:`\mathbf{T}` (Klicpera et al., NeurIPS 2019, `arXiv:1911.05485
<https://arxiv.org/abs/1911.05485>`_) is computed by PyG's
:class:`~torch_geometric.transforms.GDC`:

- personalised PageRank, :math:`\theta_k = \alpha (1 - \alpha)^k`, i.e.
  :math:`\mathbf{S} = \alpha\big(\mathbf{I} - (1 - \alpha)\mathbf{T}\big)^{-1}`;
- the heat kernel, :math:`\theta_k = e^{-t} t^k / k!`, i.e. :math:`\mathbf{S} = e^{-t(\mathbf{I}
  - \mathbf{T})}`,

with :math:`\mathbf{T} = \mathbf{D}^{-1/2}(\mathbf{A} + \mathbf{I})\mathbf{D}^{-1/2}`, then
sparsified (top-:math:`k` entries per column, or entries above a threshold) and normalised
again. Unlike ``GDC`` the original graph is kept: the diffusion lands beside it.

``exact=True`` inverts (or exponentiates) a dense :math:`N \times N` matrix: fine for graphs of a
few ten thousand nodes (several dense :math:`N \times N` float matrices while computing; a view
kept dense, ``sparsification=None``, takes about :math:`20 N^2` bytes as an edge list).
``exact=False`` computes the PPR by local pushes (:func:`graphinfo.transforms.ppr.approximate_ppr`,
to a push tolerance ``tolerance``) and sparsifies each node's vector as it is computed, so
memory grows with :math:`N k`, not :math:`N^2`; it needs the ``numba`` package (``pip install
numba``). On an undirected graph both paths give the same view up to the push tolerance
(tested); on a directed one they differ (the push follows out-edges and out-degrees, GDC's
symmetric normalisation in-degrees).
"""
from __future__ import annotations

import copy
from typing import Any

import torch
from torch_geometric.data import Data
from torch_geometric.transforms import GDC, BaseTransform
from torch_geometric.utils import add_self_loops, coalesce

from graphinfo.transforms.ppr import approximate_ppr


def view_keys(name: str) -> tuple[str, str]:
    """The attributes a view called ``name`` is stored under: ``(<name>_edge_index,
    <name>_edge_weight)``."""
    return f"{name}_edge_index", f"{name}_edge_weight"


class DiffusionView(BaseTransform):
    r"""Adds a diffusion of the graph as a second view, ``data.<name>_edge_index`` and
    ``data.<name>_edge_weight`` (see the module docstring); ``data``'s own graph stays.

    Args:
        method (str, optional): ``'ppr'`` or ``'heat'``. (default: :obj:`'ppr'`)
        alpha (float, optional): PPR's teleport probability :math:`\alpha`.
            (default: :obj:`0.2`, MVGRL's)
        t (float, optional): The heat kernel's time :math:`t`. (default: :obj:`5.0`, MVGRL's)
        sparsification (str, optional): ``'topk'`` (the ``k`` largest entries per node),
            ``'threshold'`` (entries of at least ``eps``) or ``None`` (every non-zero entry: a
            dense view, as MVGRL's code keeps on Cora; exact only). (default: :obj:`'topk'`)
        k (int, optional): Entries kept per node with ``'topk'``. (default: :obj:`128`)
        eps (float, optional): The threshold of ``'threshold'``. (default: :obj:`1e-4`)
        exact (bool, optional): Dense exact diffusion (``True``) or the sparse approximate
            PPR (``False``). (default: :obj:`True`)
        tolerance (float, optional): The approximate PPR's push tolerance :math:`\epsilon`
            (every entry within :math:`\epsilon` times a degree of the exact one).
            (default: :obj:`1e-4`)
        name (str, optional): The view's name. (default: :obj:`'diffusion'`)
        normalization_out (str, optional): GDC's normalisation after sparsifying: ``'col'``
            (columns sum to one), ``'sym'``, ``'row'`` or ``None`` (the diffusion's own
            values, as MVGRL uses them). (default: :obj:`'col'`)
    """

    def __init__(self, method: str = "ppr", alpha: float = 0.2, t: float = 5.0,
                 sparsification: str = "topk", k: int = 128, eps: float = 1e-4,
                 exact: bool = True, name: str = "diffusion", tolerance: float = 1e-4,
                 normalization_out: str | None = "col") -> None:
        if method not in ("ppr", "heat"):
            raise ValueError(f"'method' must be 'ppr' or 'heat', got {method!r}")
        if sparsification not in ("topk", "threshold", None):
            raise ValueError(f"'sparsification' must be 'topk', 'threshold' or None, got "
                             f"{sparsification!r}")
        if sparsification is None and not exact:
            raise ValueError("sparsification=None keeps the dense diffusion: exact=True only")
        if normalization_out not in ("col", "sym", "row", None):
            raise ValueError(f"'normalization_out' must be 'col', 'sym', 'row' or None, got "
                             f"{normalization_out!r}")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"'alpha' must be in (0, 1), got {alpha!r}")
        if not t > 0 or k < 1 or not eps > 0 or not tolerance > 0:
            raise ValueError(f"'t', 'eps' and 'tolerance' must be > 0 and 'k' >= 1, got "
                             f"t={t!r}, k={k!r}, eps={eps!r}, tolerance={tolerance!r}")
        if not name.isidentifier():
            raise ValueError(f"'name' must be a Python identifier, got {name!r}")
        if not exact and method != "ppr":
            raise ValueError("the approximate diffusion (exact=False) is PPR only")
        self.method, self.alpha, self.t = method, alpha, t
        self.sparsification, self.k, self.eps = sparsification, k, eps
        self.exact, self.name, self.tolerance = exact, name, tolerance
        self.normalization_out = normalization_out

    def _gdc(self) -> GDC:
        diffusion: dict[str, Any] = {"method": self.method}
        if self.method == "ppr":
            diffusion["alpha"] = self.alpha
        else:
            diffusion["t"] = self.t
        sparsification: dict[str, Any] = (
            {"method": "topk", "k": self.k, "dim": 0} if self.sparsification == "topk"
            else {"method": "threshold", "eps": self.eps} if self.sparsification == "threshold"
            else {"method": "threshold", "eps": torch.finfo(torch.float32).tiny})
        return GDC(self_loop_weight=1.0, normalization_in="sym",
                   normalization_out=self.normalization_out, diffusion_kwargs=diffusion,
                   sparsification_kwargs=sparsification, exact=True)

    def _approximate(self, graph: Data) -> tuple[torch.Tensor, torch.Tensor]:
        """GDC's steps with the sparse PPR: self-loops of weight one, the PPR of the
        symmetrically normalised adjacency, each node's ``k`` largest entries (its column,
        as GDC's ``dim=0``; the matrix is symmetric for an undirected graph) or those above
        ``eps``, then GDC's ``normalization_out`` (columns sum to one by default)."""
        n = graph.num_nodes
        weight = getattr(graph, "edge_attr", None)
        edge_index, weight = add_self_loops(graph.edge_index, weight, fill_value=1.0,
                                            num_nodes=n)
        edge_index, weight = coalesce(edge_index, weight, n)
        topk = self.sparsification == "topk"
        ppr_index, ppr_weight = approximate_ppr(
            edge_index, n, alpha=self.alpha, eps=self.tolerance, edge_weight=weight,
            normalization="sym", top_k=self.k if topk else None,
            threshold=None if topk else self.eps)
        # Row s of the PPR holds node s's largest entries: the edges v -> s it aggregates.
        ppr_index, ppr_weight = coalesce(ppr_index.flip(0), ppr_weight, n)
        return self._gdc().transition_matrix(ppr_index, ppr_weight, n, self.normalization_out)

    def forward(self, data: Data) -> Data:
        if getattr(data, "edge_index", None) is None:
            raise ValueError("DiffusionView needs a graph with an 'edge_index'")
        graph = Data(edge_index=data.edge_index, num_nodes=data.num_nodes)
        weight = getattr(data, "edge_weight", None)
        if weight is not None:
            graph.edge_attr = weight
        if self.exact:
            diffused = self._gdc()(graph)
            index, weight = diffused.edge_index, diffused.edge_attr
        else:
            index, weight = self._approximate(graph)
        out = copy.copy(data)
        index_key, weight_key = view_keys(self.name)
        out[index_key] = index
        out[weight_key] = weight.to(torch.float32)
        return out

    def __repr__(self) -> str:
        setting = f"alpha={self.alpha}" if self.method == "ppr" else f"t={self.t}"
        return (f"{self.__class__.__name__}({self.method!r}, {setting}, "
                f"{self.sparsification}, k={self.k}, eps={self.eps}, exact={self.exact}, "
                f"tolerance={self.tolerance}, normalization_out={self.normalization_out!r}, "
                f"name={self.name!r})")


def check_diffusion(method: str, alpha: float, t: float, name: str = "method") -> None:
    """Raises ValueError unless ``method`` is ``'ppr'`` (with ``alpha`` in (0, 1)) or
    ``'heat'`` (with ``t > 0``); ``name`` is the argument ``method`` was given as."""
    if method not in ("ppr", "heat"):
        raise ValueError(f"'{name}' must be 'ppr' or 'heat', got {method!r}")
    if method == "ppr" and not 0.0 < alpha < 1.0:
        raise ValueError(f"'alpha' must be in (0, 1), got {alpha!r}")
    if method == "heat" and not t > 0:
        raise ValueError(f"'t' must be > 0, got {t!r}")


def per_graph_diffusion(edge_index: torch.Tensor, batch: torch.Tensor | None = None,
                        num_nodes: int | None = None, *, method: str = "ppr",
                        alpha: float = 0.2, t: float = 5.0,
                        edge_weight: torch.Tensor | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The exact dense diffusion of every graph of a batch, computed graph by graph (one
    batched :math:`B \times n \times n` inverse or matrix exponential, :math:`n` the largest
    graph's size), returned as one edge list holding every within-graph pair: PPR
    :math:`\alpha(\mathbf{I} - (1 - \alpha)\mathbf{T})^{-1}` or the heat kernel
    :math:`e^{-t(\mathbf{I} - \mathbf{T})}` of :math:`\mathbf{T} = \tilde{\mathbf{D}}^{-1/2}
    (\mathbf{A} + \mathbf{I})\tilde{\mathbf{D}}^{-1/2}`, the values as they are (no
    sparsification or renormalisation), as MVGRL's graph-level code builds its diffusion
    view. A batch's graphs are disconnected from each other, so this equals
    :class:`DiffusionView` (``sparsification=None, normalization_out=None``) of the whole
    batch, at a cost of :math:`B n^3` instead of :math:`(Bn)^3`. Padding never enters: a
    padded slot only ever meets itself.

    Args:
        edge_index: The batch's edges, :math:`(2, E)`, nodes ordered by graph (as PyG's
            ``Batch`` orders them).
        batch: The graph of each node (``None``: one graph).
        num_nodes: Nodes in the batch (default: ``batch``'s length, else read from
            ``edge_index``).
        method: ``'ppr'`` or ``'heat'``.
        alpha: PPR's teleport probability.
        t: The heat kernel's time.
        edge_weight: Edge weights of ``edge_index`` (default: ones).

    Returns:
        ``(edge_index, edge_weight)``: :math:`\sum_b n_b^2` entries, row-major per graph
        (entry ``[:, k]`` is the weight node ``edge_index[1, k]`` aggregates from
        ``edge_index[0, k]``; the matrix is symmetric).
    """
    from torch_geometric.utils import to_dense_adj

    check_diffusion(method, alpha, t)
    device = edge_index.device
    if num_nodes is None:
        num_nodes = batch.numel() if batch is not None else \
            int(edge_index.max()) + 1 if edge_index.numel() else 0
    if batch is None:
        batch = torch.zeros(num_nodes, dtype=torch.long, device=device)
    if batch.numel() and bool((batch[1:] < batch[:-1]).any()):
        raise ValueError("'batch' must be sorted (nodes ordered by graph, as in a PyG Batch)")
    if num_nodes == 0:
        return edge_index.new_empty(2, 0), torch.empty(0, device=device)
    counts = torch.bincount(batch)
    size = int(counts.max())
    ptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    adjacency = to_dense_adj(edge_index, batch, edge_weight, max_num_nodes=size)
    adjacency = adjacency.to(torch.float64)
    eye = torch.eye(size, dtype=adjacency.dtype, device=device).expand_as(adjacency)
    adjacency = adjacency + eye         # every slot, padding included, gets its self-loop
    scale = adjacency.sum(-1).rsqrt()
    transition = scale.unsqueeze(-1) * adjacency * scale.unsqueeze(-2)
    if method == "ppr":
        dense = alpha * torch.linalg.inv(eye - (1.0 - alpha) * transition)
    else:
        dense = torch.linalg.matrix_exp(-t * (eye - transition))
    local = torch.arange(size, device=device)
    real = local.unsqueeze(0) < counts.unsqueeze(1)                     # (B, n)
    pairs = real.unsqueeze(2) & real.unsqueeze(1)                        # (B, n, n)
    graph, row, col = pairs.nonzero(as_tuple=True)
    offset = ptr[graph]
    # dense[b, i, j]: node i aggregates from node j; as an edge j -> i.
    index = torch.stack([offset + col, offset + row])
    return index, dense[graph, row, col].to(torch.float32)


#: The thresholds MVGRL's code tries for its degree-matched sparsification.
MVGRL_THRESHOLDS = (1e-5, 1e-4, 1e-3, 1e-2)


class DegreeMatchedScaling(BaseTransform):
    r"""MVGRL's code's post-processing of CiteSeer's diffusion (``kavehhassani/mvgrl``,
    ``node/train.py``), after a dense diffusion (``diffusion``, a :class:`DiffusionView` with
    ``sparsification=None``): entries below a threshold :math:`\epsilon` are dropped, with
    :math:`\epsilon` the one of ``thresholds`` whose kept entries per node come nearest the
    graph's average degree :math:`|E| / N`, and then every column :math:`j` is min-max scaled,
    :math:`s_{ij} \leftarrow (s_{ij} - \min_i s_{ij}) / (\max_i s_{ij} - \min_i s_{ij})` over all
    :math:`N` entries of the column (dropped ones count as 0; a constant column is only
    shifted, as scikit-learn's ``MinMaxScaler``). A column is the source node of an edge (the
    weight of its messages); the diffusion of an undirected graph is symmetric, so it is also
    that node's row.

    Args:
        diffusion (DiffusionView): The dense diffusion view this post-processes.
        thresholds (sequence of float, optional): The candidate :math:`\epsilon`.
            (default: :data:`MVGRL_THRESHOLDS`)
    """

    def __init__(self, diffusion: DiffusionView,
                 thresholds: tuple[float, ...] = MVGRL_THRESHOLDS) -> None:
        if diffusion.sparsification is not None or not diffusion.exact:
            raise ValueError("DegreeMatchedScaling post-processes the dense exact diffusion "
                             "(DiffusionView(sparsification=None, exact=True))")
        if not thresholds or any(not e > 0 for e in thresholds):
            raise ValueError(f"'thresholds' must be positive numbers, got {thresholds!r}")
        self.diffusion, self.thresholds = diffusion, tuple(thresholds)
        self.name = diffusion.name

    def threshold(self, weight: torch.Tensor, num_nodes: int, num_edges: int) -> float:
        """The :math:`\\epsilon` whose kept entries per node are nearest the average degree."""
        degree = num_edges / num_nodes
        gaps = [abs(degree - int((weight >= e).sum()) / num_nodes) for e in self.thresholds]
        return self.thresholds[min(range(len(gaps)), key=gaps.__getitem__)]

    def forward(self, data: Data) -> Data:
        out = self.diffusion(data)
        index_key, weight_key = view_keys(self.name)
        index, weight = out[index_key], out[weight_key]
        n = int(data.num_nodes)
        eps = self.threshold(weight, n, int(data.edge_index.size(1)))
        keep = weight >= eps
        index, weight = index[:, keep], weight[keep]
        source = index[0]
        count = torch.bincount(source, minlength=n)
        high = torch.full((n,), float("-inf"), dtype=weight.dtype).scatter_reduce(
            0, source, weight, "amax")
        low = torch.full((n,), float("inf"), dtype=weight.dtype).scatter_reduce(
            0, source, weight, "amin")
        zero = torch.zeros((), dtype=weight.dtype)
        low = torch.where(count < n, zero, low)         # a dropped entry is a 0 in the column
        high = torch.where(count > 0, torch.maximum(high, zero), zero)
        span = high - low
        span = torch.where(span > 0, span, torch.ones_like(span))
        scaled = (weight - low[source]) / span[source]
        nonzero = scaled > 0
        out = copy.copy(out)
        out[index_key], out[weight_key] = index[:, nonzero], scaled[nonzero]
        return out

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.diffusion!r}, thresholds={self.thresholds})"
