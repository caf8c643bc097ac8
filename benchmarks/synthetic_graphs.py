"""Deterministic synthetic graphs for the benchmarks (used by ``speed.py`` and ``scaling.py``).

Edges follow a Chung–Lu-style model: both endpoints of every edge are drawn independently with
probability proportional to a node weight ``w_i = u_i ** -0.5`` (``u_i`` uniform on (0, 1)),
which gives a heavy-tailed degree distribution (``P(w > t) = t ** -2``), hubs included. Self-loops
are dropped, every pair is stored once as ``(min, max)``, duplicates are removed, and sampling is
repeated until the requested number of undirected pairs is reached (a random subset is kept if it
overshoots). The graph is then symmetrised and sorted by (row, column), so the directed edge
count is ``2 * (num_edges // 2)``.

Features are generated in row chunks so that no temporary is much larger than a few MiB: the
peak memory of a benchmark process should come from the model, not from building its input.

Everything is drawn from a :class:`torch.Generator` seeded with ``seed``: the same arguments give
the same graph on every run and machine. ``make_graph(..., device='cuda')`` draws on the GPU
instead (an ogbn-products-sized graph in seconds rather than minutes); that graph has the same
shape and distribution but not the same edges as the CPU one, and is repeatable on one GPU
type and torch version.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

FEATURE_KINDS = ("binary", "tfidf", "gaussian")
_CHUNK_ELEMENTS = 1 << 22  # elements per feature chunk (16 MiB of float32)
_MAX_ROUNDS = 100


@dataclass
class Graph:
    """A graph with dense node features: ``x`` (N, F) float32, ``edge_index`` (2, E) int64."""

    x: Tensor
    edge_index: Tensor

    @property
    def num_nodes(self) -> int:
        return self.x.size(0)

    @property
    def num_edges(self) -> int:
        """Number of directed edges (columns of ``edge_index``)."""
        return self.edge_index.size(1)

    @property
    def num_features(self) -> int:
        return self.x.size(1)

    def density(self) -> float:
        """Fraction of nonzero feature entries."""
        total = self.x.numel()
        return float(torch.count_nonzero(self.x)) / total if total else 0.0

    def to(self, device: str | torch.device) -> Graph:
        return Graph(self.x.to(device), self.edge_index.to(device))


def _endpoint_sampler(num_nodes: int, exponent: float,
                      generator: torch.Generator) -> Tensor:
    """Returns the cumulative distribution of the node weights ``u ** -exponent``."""
    u = torch.rand(num_nodes, generator=generator, dtype=torch.float64,
                   device=generator.device)
    weights = u.clamp_min(1e-12).pow(-exponent)
    cdf = torch.cumsum(weights, dim=0)
    return cdf / cdf[-1]


def _sample_pairs(cdf: Tensor, count: int, generator: torch.Generator) -> Tensor:
    """Samples ``count`` node pairs and returns the keys ``min * N + max`` of the non-loops."""
    num_nodes = cdf.numel()
    ends = torch.searchsorted(cdf, torch.rand(2, count, generator=generator,
                                              dtype=torch.float64, device=cdf.device))
    ends = ends.clamp_max_(num_nodes - 1)
    src, dst = ends[0], ends[1]
    keep = src != dst
    src, dst = src[keep], dst[keep]
    return torch.minimum(src, dst) * num_nodes + torch.maximum(src, dst)


def chung_lu_edges(num_nodes: int, num_edges: int, *, exponent: float = 0.5,
                   generator: torch.Generator) -> Tensor:
    """Samples an undirected heavy-tailed graph without self-loops or duplicate edges.

    Args:
        num_nodes: Number of nodes N.
        num_edges: Target number of directed edges; ``num_edges // 2`` distinct undirected pairs
            are drawn, so the result has ``2 * (num_edges // 2)`` columns.
        exponent: Node weights are ``u ** -exponent`` with ``u`` uniform; larger is more skewed.
        generator: The random generator (consumed); the edges are drawn on its device.

    Returns:
        The symmetric ``edge_index`` (2, E), int64, sorted by (row, column), on the generator's
        device.

    Raises:
        ValueError: If more pairs are requested than a simple graph on N nodes has.
    """
    target = num_edges // 2
    if num_nodes < 2 or target > num_nodes * (num_nodes - 1) // 2:
        raise ValueError(f"cannot place {target} undirected edges on {num_nodes} nodes")
    cdf = _endpoint_sampler(num_nodes, exponent, generator)
    keys = torch.empty(0, dtype=torch.long, device=cdf.device)
    for _ in range(_MAX_ROUNDS):
        missing = target - keys.numel()
        if missing <= 0:
            break
        fresh = _sample_pairs(cdf, int(missing * 1.15) + 16, generator)
        keys = torch.unique(torch.cat([keys, fresh]))
    if keys.numel() > target:
        chosen = torch.randperm(keys.numel(), generator=generator,
                                device=keys.device)[:target]
        keys = keys[chosen].sort().values
    src, dst = keys // num_nodes, keys % num_nodes
    both = torch.cat([src * num_nodes + dst, dst * num_nodes + src]).sort().values
    return torch.stack([both // num_nodes, both % num_nodes])


def node_features(num_nodes: int, num_features: int, kind: str, *, density: float = 1.0,
                  generator: torch.Generator) -> Tensor:
    """Generates a dense float32 feature matrix, chunk by chunk.

    Args:
        num_nodes: Rows N.
        num_features: Columns F.
        kind: ``'binary'`` (0/1 entries, nonzero with probability ``density``), ``'tfidf'``
            (nonzero with probability ``density``, values uniform on [0, 1)) or ``'gaussian'``
            (dense standard normal; ``density`` is ignored).
        density: Probability that an entry is nonzero for the sparse kinds.
        generator: The random generator (consumed); the features are drawn on its device.

    Returns:
        The features (N, F), float32, on the generator's device.
    """
    if kind not in FEATURE_KINDS:
        raise ValueError(f"unknown feature kind {kind!r}; expected one of {FEATURE_KINDS}")
    device = generator.device
    x = torch.empty(num_nodes, num_features, device=device)
    rows = max(1, _CHUNK_ELEMENTS // max(1, num_features))
    for start in range(0, num_nodes, rows):
        shape = (min(rows, num_nodes - start), num_features)
        if kind == "gaussian":
            chunk = torch.randn(shape, generator=generator, device=device)
        else:
            chunk = (torch.rand(shape, generator=generator, device=device) < density).float()
            if kind == "tfidf":
                chunk.mul_(torch.rand(shape, generator=generator, device=device))
        x[start:start + shape[0]] = chunk
    return x


def make_graph(num_nodes: int, num_edges: int, num_features: int, kind: str, *,
               density: float = 1.0, seed: int = 0,
               device: str | torch.device = "cpu") -> Graph:
    """Builds a deterministic synthetic graph (see the module docstring), drawn on ``device``
    (the CPU by default)."""
    generator = torch.Generator(device=torch.device(device)).manual_seed(seed)
    edge_index = chung_lu_edges(num_nodes, num_edges, generator=generator)
    x = node_features(num_nodes, num_features, kind, density=density, generator=generator)
    return Graph(x, edge_index)
