r"""GCA's centrality-adaptive augmentations (Zhu et al., WWW 2021, "Graph Contrastive Learning
with Adaptive Augmentation", `arXiv:2010.14945 <https://arxiv.org/abs/2010.14945>`_): edges and
feature dimensions that matter less (by a node centrality :math:`\varphi`) are dropped more.

With scores :math:`s` (log-centralities), a share :math:`p` and a cut-off :math:`p_\tau`, each
item is dropped with probability

.. math::
    p_i = \min\Big(\frac{s_{\max} - s_i}{s_{\max} - \mu_s}\, p,\; p_\tau\Big),

so the mean probability is :math:`p` before the cut-off. For edges :math:`s_{uv} = \log(1 +
\varphi(v))`, the centrality of the edge's target (the authors' code, ``pGRACE/functional.py``,
for every dataset; the paper writes :math:`\log` without the 1 and the mean
:math:`(\varphi(u) + \varphi(v)) / 2` for undirected graphs: ``edge_score='mean'``). For feature
dimension :math:`i`, :math:`s_i = \log(1 + \sum_u [x_{ui} \ne 0]\, \varphi(u))`, the centrality
mass of the nodes that have it (``feature_weight='magnitude'``: :math:`|x_{ui}|` instead, the
code's form for dense features); a dimension no node uses gets the lowest score. Centralities:
degree, PageRank (the paper's :math:`\boldsymbol{\sigma} = 0.85\,\mathbf{A}\mathbf{D}^{-1}
\boldsymbol{\sigma} + \mathbf{1}`, iterated to convergence; the authors' ``compute_pr``
iterates :math:`\mathbf{x} \leftarrow 0.15\,\mathbf{x} + 0.85\,\mathbf{A}\mathbf{D}^{-1}
\mathbf{x}` a fixed number of times, another scale, so PageRank probabilities here follow the
paper's definition, not the code's) and eigenvector centrality (power iterations), computed
once per graph and cached while the same ``edge_index`` tensor comes back.
"""
from __future__ import annotations

import copy

import torch
from torch import Tensor
from torch_geometric.data import Data

from graphinfo.nn.augmentations import edge_attribute_keys
from graphinfo.nn.corruptions import CORRUPTIONS, Augmentation, check_probability, drawing_from
from graphinfo.tensor_cache import TensorCache

__all__ = ["CENTRALITIES", "AdaptiveDropEdges", "AdaptiveMaskFeatures", "adaptive_probabilities",
           "node_centrality"]

CENTRALITIES = ("degree", "pagerank", "eigenvector")


def _operator(edge_index: Tensor, num_nodes: int) -> Tensor:
    """The sparse adjacency :math:`A_{vu} = 1` for an edge :math:`u \\to v` (CSR)."""
    values = torch.ones(edge_index.size(1), device=edge_index.device)
    return torch.sparse_coo_tensor(edge_index.flip(0), values, (num_nodes, num_nodes),
                                   check_invariants=False).coalesce().to_sparse_csr()


def node_centrality(edge_index: Tensor, num_nodes: int, kind: str = "degree", *,
                    iterations: int = 100, tol: float = 1e-7) -> Tensor:
    r"""A centrality of every node: ``'degree'`` (in-degree, i.e. the degree of an undirected
    graph stored in both directions), ``'pagerank'`` (:math:`\boldsymbol{\sigma} = 0.85\,
    \mathbf{A}\mathbf{D}^{-1}\boldsymbol{\sigma} + \mathbf{1}`, GCA's unnormalised form) or
    ``'eigenvector'`` (the leading eigenvector of :math:`\mathbf{A}`, by power iteration on
    :math:`\mathbf{A} + \mathbf{I}`, which has the same eigenvector and converges on
    bipartite graphs; unit norm, non-negative)."""
    if kind not in CENTRALITIES:
        raise ValueError(f"'centrality' must be one of {CENTRALITIES}, got {kind!r}")
    target = edge_index[1]
    degree = torch.bincount(target, minlength=num_nodes).to(torch.float32)
    if kind == "degree":
        return degree
    adjacency = _operator(edge_index, num_nodes)
    if kind == "pagerank":
        out_degree = torch.bincount(edge_index[0], minlength=num_nodes).to(torch.float32)
        inverse = torch.where(out_degree > 0, 1.0 / out_degree.clamp_min(1),
                              torch.zeros_like(out_degree))
        score = torch.ones(num_nodes, device=edge_index.device)
        for _ in range(iterations):
            new = 0.85 * (adjacency @ (inverse * score).unsqueeze(1)).squeeze(1) + 1.0
            done = float((new - score).abs().max()) < tol * float(new.abs().max())
            score = new
            if done:
                break
        return score
    score = torch.ones(num_nodes, device=edge_index.device) / num_nodes ** 0.5
    for _ in range(iterations):
        new = (adjacency @ score.unsqueeze(1)).squeeze(1) + score
        new = new / new.norm().clamp_min(1e-30)
        done = float((new - score).abs().max()) < tol
        score = new
        if done:
            break
    return score.clamp_min(0.0)


def adaptive_probabilities(score: Tensor, p: float, cutoff: float) -> Tensor:
    r""":math:`\min((s_{\max} - s) / (s_{\max} - \mu_s)\, p, p_\tau)` for log-scores
    :math:`s`; all items get :math:`p` when every score is equal."""
    top, mean = score.max(), score.mean()
    spread = top - mean
    if not float(spread) > 0:
        return torch.full_like(score, min(p, cutoff))
    return ((top - score) / spread * p).clamp_max(cutoff)


def _log_score(values: Tensor) -> Tensor:
    """:math:`\\log(1 + w)` of non-negative weights, as the authors' code scores them."""
    return torch.log1p(values.clamp_min(0.0))


class _Adaptive(Augmentation):
    def __init__(self, p: float, centrality: str, cutoff: float,
                 generator: torch.Generator | None) -> None:
        check_probability("p", p)
        if not 0.0 < cutoff <= 1.0:
            raise ValueError(f"'cutoff' must be in (0, 1], got {cutoff!r}")
        if centrality not in CENTRALITIES:
            raise ValueError(f"'centrality' must be one of {CENTRALITIES}, got {centrality!r}")
        self.p, self.centrality, self.cutoff, self.generator = p, centrality, cutoff, generator
        self._cache = TensorCache(size=4)

    def _centrality(self, view: Data) -> Tensor:
        edge_index = getattr(view, "edge_index", None)
        if edge_index is None:
            raise ValueError(f"{type(self).__name__} needs a view with an 'edge_index'")
        n = view.num_nodes
        return self._cache.get((edge_index,), ("centrality", n),
                               lambda: node_centrality(edge_index, n, self.centrality))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(p={self.p}, centrality={self.centrality!r}, "
                f"cutoff={self.cutoff})")


class AdaptiveDropEdges(_Adaptive):
    r"""Drops edge :math:`(u, v)` with GCA's adaptive probability (module docstring), every
    edge-level attribute with it.

    Args:
        p (float, optional): Mean drop probability :math:`p_e`. (default: :obj:`0.3`)
        centrality (str, optional): ``'degree'``, ``'pagerank'`` or ``'eigenvector'``.
            (default: :obj:`'degree'`)
        cutoff (float, optional): :math:`p_\tau`. (default: :obj:`0.7`, GCA's)
        edge_score (str, optional): ``'target'`` (the authors' code) or ``'mean'`` (the
            paper's undirected form). (default: :obj:`'target'`)
        generator (torch.Generator, optional): Source of randomness. (default: global)
    """

    def __init__(self, p: float = 0.3, centrality: str = "degree", cutoff: float = 0.7,
                 edge_score: str = "target", generator: torch.Generator | None = None) -> None:
        super().__init__(p, centrality, cutoff, generator)
        if edge_score not in ("target", "mean"):
            raise ValueError(f"'edge_score' must be 'target' or 'mean', got {edge_score!r}")
        self.edge_score = edge_score

    def probabilities(self, view: Data) -> Tensor:
        """Each edge's drop probability (cached with the centrality)."""
        edge_index = view.edge_index

        def build() -> Tensor:
            phi = self._centrality(view)
            if self.edge_score == "target":
                weight = phi[edge_index[1]]
            else:
                weight = (phi[edge_index[0]] + phi[edge_index[1]]) / 2
            return adaptive_probabilities(_log_score(weight), self.p, self.cutoff)
        return self._cache.get((edge_index,), ("edges", self.edge_score), build)

    def augment(self, view: Data) -> Data:
        if getattr(view, "edge_index", None) is not None and view.edge_index.size(1) == 0:
            return copy.copy(view)
        probability = self.probabilities(view)
        with drawing_from(self.generator, view.edge_index.device):
            kept = torch.rand(probability.shape, device=probability.device) >= probability
        out = copy.copy(view)
        out.edge_index = view.edge_index[:, kept]
        for key in edge_attribute_keys(view):
            out[key] = view[key][kept]
        return out


class AdaptiveMaskFeatures(_Adaptive):
    r"""Zeroes feature dimension :math:`i` (for every node) with GCA's adaptive probability
    (module docstring).

    Args:
        p (float, optional): Mean mask probability :math:`p_f`. (default: :obj:`0.3`)
        centrality (str, optional): ``'degree'``, ``'pagerank'`` or ``'eigenvector'``.
            (default: :obj:`'degree'`)
        cutoff (float, optional): :math:`p_\tau`. (default: :obj:`0.7`)
        feature_weight (str, optional): ``'presence'`` (:math:`[x_{ui} \ne 0]`) or
            ``'magnitude'`` (:math:`|x_{ui}|`). (default: :obj:`'presence'`)
        generator (torch.Generator, optional): Source of randomness. (default: global)
    """

    def __init__(self, p: float = 0.3, centrality: str = "degree", cutoff: float = 0.7,
                 feature_weight: str = "presence",
                 generator: torch.Generator | None = None) -> None:
        super().__init__(p, centrality, cutoff, generator)
        if feature_weight not in ("presence", "magnitude"):
            raise ValueError(f"'feature_weight' must be 'presence' or 'magnitude', got "
                             f"{feature_weight!r}")
        self.feature_weight = feature_weight

    def probabilities(self, view: Data) -> Tensor:
        """Each feature dimension's mask probability (cached while the same ``x`` and
        ``edge_index`` come back)."""
        x = view.x

        def build() -> Tensor:
            phi = self._centrality(view).to(x.dtype)
            dense = x.to_dense() if x.layout != torch.strided else x
            values = (dense != 0).to(phi.dtype) if self.feature_weight == "presence" \
                else dense.abs()
            weight = values.t() @ phi
            return adaptive_probabilities(_log_score(weight), self.p, self.cutoff)
        return self._cache.get((x, view.edge_index), ("features", self.feature_weight), build)

    def augment(self, view: Data) -> Data:
        probability = self.probabilities(view)
        with drawing_from(self.generator, view.x.device):
            masked = torch.rand(probability.shape, device=probability.device) < probability
        out = copy.copy(view)
        x = view.x.to_dense() if view.x.layout != torch.strided else view.x
        out.x = x * (~masked).to(x.dtype)
        return out


CORRUPTIONS.update({"adaptive_drop_edges": AdaptiveDropEdges,
                    "adaptive_mask_features": AdaptiveMaskFeatures})
