r"""Neighbour sampling for mini-batch training: PyG's
:class:`~torch_geometric.loader.NeighborLoader` with a sampler that also runs without
``pyg-lib``.

PyG's :class:`~torch_geometric.sampler.NeighborSampler` samples through the compiled kernels of
``pyg-lib`` or ``torch-sparse`` and raises ``ImportError`` when neither is installed (they have
no wheels for every torch build). :class:`TorchNeighborSampler` keeps PyG's sampler, loader and
batch format; it uses ``pyg-lib`` when installed and otherwise samples in plain torch
(``torch-sparse``'s kernel is skipped: it does not count the nodes and edges of each hop, which
mini-batch training needs):

* for every node of the current frontier with in-degree :math:`d \le k` all :math:`d`
  neighbours are taken; otherwise :math:`k` distinct ones uniformly at random (Floyd's
  algorithm, vectorised over the frontier: :math:`O(k^2)` per node, whatever its degree), or
  :math:`k` with replacement when ``replace=True``;
* nodes are numbered as PyG numbers them: the seeds first, then each hop's new nodes in order of
  first appearance; ``row``/``col`` are the local source/target of each sampled edge (messages
  flow from the sampled neighbour to the node it was sampled for), ``edge`` its position in
  the sampler's CSC order, and ``num_sampled_nodes`` / ``num_sampled_edges`` count them per hop.

Memory per batch is bounded by the sampled subgraph: relabelling uses :func:`torch.unique`, not
a lookup table over all nodes. Randomness comes from torch's global generator, so
:func:`torch.manual_seed` makes a run repeatable (with ``num_workers=0``).
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

import torch
import torch_geometric.typing
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.loader import NeighborLoader
from torch_geometric.sampler import NeighborSampler, SamplerOutput
from torch_geometric.sampler.base import SubgraphType

logger = logging.getLogger(__name__)


def native_sampling_available() -> bool:
    """Whether ``pyg-lib``'s compiled neighbour sampling is installed (``torch-sparse``'s kernel
    is not used: it does not report how many nodes and edges each hop sampled)."""
    return bool(torch_geometric.typing.WITH_PYG_LIB)


def sample_without_replacement(degree: Tensor, k: int) -> Tensor:
    r"""For each row :math:`i`, :math:`k` distinct integers drawn uniformly from
    :math:`[0, d_i)` (Floyd's algorithm, vectorised over rows); every :math:`d_i` must be at
    least :math:`k`.

    Args:
        degree (Tensor): :math:`(n,)` integer sizes :math:`d_i \ge k`.
        k (int): Draws per row.

    Returns:
        Tensor: :math:`(n, k)` offsets (int64), distinct within each row.
    """
    n = degree.numel()
    chosen = torch.empty(n, k, dtype=torch.long, device=degree.device)
    degree = degree.long()
    for t in range(k):
        upper = degree - k + t                                    # draw from [0, upper]
        draw = (torch.rand(n, device=degree.device, dtype=torch.float64)
                * (upper + 1).double()).long().clamp_(max=upper)
        seen = (chosen[:, :t] == draw.unsqueeze(1)).any(dim=1) if t else \
            torch.zeros(n, dtype=torch.bool, device=degree.device)
        chosen[:, t] = torch.where(seen, upper, draw)
    return chosen


def sample_hop(colptr: Tensor, frontier: Tensor, k: int,
               replace: bool = False) -> tuple[Tensor, Tensor]:
    """Samples the in-neighbours of every frontier node.

    Args:
        colptr (Tensor): CSC pointer over target nodes.
        frontier (Tensor): Global ids of the nodes to expand.
        k (int): Neighbours per node; ``-1`` takes all of them.
        replace (bool): Draw with replacement. (default: ``False``)

    Returns:
        tuple[Tensor, Tensor]: ``(target, position)``: for each sampled edge the index into
        ``frontier`` of its target and its position in the CSC arrays.
    """
    start = colptr[frontier]
    degree = colptr[frontier + 1] - start
    index = torch.arange(frontier.numel(), device=frontier.device)
    if k < 0:
        take_all = torch.ones_like(degree, dtype=torch.bool)
    elif replace:
        take_all = torch.zeros_like(degree, dtype=torch.bool)
    else:
        take_all = degree <= k
    targets, positions = [], []
    if bool(take_all.any()):
        full_deg = degree[take_all]
        target = index[take_all].repeat_interleave(full_deg)
        offsets = torch.arange(target.numel(), device=frontier.device) \
            - (full_deg.cumsum(0) - full_deg).repeat_interleave(full_deg)
        targets.append(target)
        positions.append(start[take_all].repeat_interleave(full_deg) + offsets)
    partial = ~take_all & (degree > 0)
    if k > 0 and bool(partial.any()):
        part_deg = degree[partial]
        if replace:
            offsets = (torch.rand(part_deg.numel(), k, device=frontier.device,
                                  dtype=torch.float64) * part_deg.unsqueeze(1).double()).long()
            offsets = torch.minimum(offsets, (part_deg - 1).unsqueeze(1))
        else:
            offsets = sample_without_replacement(part_deg, k)
        targets.append(index[partial].repeat_interleave(k))
        positions.append((start[partial].unsqueeze(1) + offsets).view(-1))
    if not targets:
        empty = torch.zeros(0, dtype=torch.long, device=frontier.device)
        return empty, empty
    target, position = torch.cat(targets), torch.cat(positions)
    order = torch.argsort(target, stable=True)   # group each node's edges together
    return target[order], position[order]


def append_new_nodes(nodes: Tensor, candidates: Tensor) -> tuple[Tensor, Tensor]:
    """Local ids of ``candidates`` with respect to ``nodes`` (global ids, distinct), appending
    the ones not yet present in order of first appearance.

    Returns:
        tuple[Tensor, Tensor]: ``(new_nodes, local)``: the global ids appended, and each
        candidate's local id in ``cat([nodes, new_nodes])``.
    """
    combined = torch.cat([nodes, candidates])
    unique, inverse = torch.unique(combined, return_inverse=True)
    position = torch.arange(combined.numel(), device=combined.device)
    first = torch.full((unique.numel(),), combined.numel(), dtype=torch.long,
                       device=combined.device).scatter_reduce_(0, inverse, position, "amin")
    is_new = first >= nodes.numel()
    new_first, order = first[is_new].sort()
    local_of_unique = first.clone()          # old nodes keep their position in ``nodes``
    local_of_unique[is_new.nonzero().view(-1)[order]] = nodes.numel() + torch.arange(
        new_first.numel(), device=combined.device)
    return combined[new_first], local_of_unique[inverse[nodes.numel():]]


class TorchNeighborSampler(NeighborSampler):
    """:class:`torch_geometric.sampler.NeighborSampler` that samples homogeneous graphs in plain
    torch when ``pyg-lib`` is not installed (else ``pyg-lib``'s kernel runs).

    The fallback covers what mini-batch training here needs: homogeneous graphs, uniform
    directional sampling with or without replacement, no temporal or weighted sampling and no
    ``disjoint`` subgraphs; other configurations raise ``ImportError`` as PyG's sampler does.
    Arguments are :class:`~torch_geometric.sampler.NeighborSampler`'s.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        with warnings.catch_warnings():
            # PyG warns that its sampler without pyg-lib is deprecated: this class is the
            # replacement for that case.
            warnings.filterwarnings("ignore", message=".*without a 'pyg-lib' installation")
            super().__init__(*args, **kwargs)

    def _sample(self, seed: Tensor | dict[str, Tensor], seed_time: Any = None,
                **kwargs: Any) -> Any:
        if native_sampling_available():
            return super()._sample(seed, seed_time, **kwargs)
        unsupported = [name for name, flag in (
            ("heterogeneous graphs", isinstance(seed, dict)),
            ("temporal sampling", seed_time is not None or self.node_time is not None
             or getattr(self, "edge_time", None) is not None),
            ("weighted sampling", getattr(self, "edge_weight", None) is not None),
            ("disjoint subgraphs", self.disjoint),
            ("induced subgraphs", self.subgraph_type == SubgraphType.induced),
            ("backward sampling", getattr(self, "sample_direction", "forward") != "forward"),
        ) if flag]
        if unsupported:
            raise ImportError(f"{self.__class__.__name__} samples {', '.join(unsupported)} "
                              f"only through 'pyg-lib'; install it")
        return self._sample_torch(seed)

    def _sample_torch(self, seed: Tensor) -> SamplerOutput:
        nodes = seed.long()
        frontier_start, rows, cols, edges = 0, [], [], []
        num_sampled_nodes, num_sampled_edges = [nodes.numel()], []
        for k in self.num_neighbors.get_mapped_values():
            frontier = nodes[frontier_start:]
            target, position = sample_hop(self.colptr, frontier, int(k), self.replace)
            new_nodes, local = append_new_nodes(nodes, self.row[position].long())
            rows.append(local)
            cols.append(target + frontier_start)   # local ids of the expanded nodes
            frontier_start = nodes.numel()          # the next hop expands the new nodes
            nodes = torch.cat([nodes, new_nodes])
            edges.append(position)
            num_sampled_nodes.append(new_nodes.numel())
            num_sampled_edges.append(position.numel())
        empty = seed.new_zeros(0, dtype=torch.long)
        return SamplerOutput(node=nodes, row=torch.cat(rows) if rows else empty,
                             col=torch.cat(cols) if cols else empty,
                             edge=torch.cat(edges) if edges else empty, batch=None,
                             num_sampled_nodes=num_sampled_nodes,
                             num_sampled_edges=num_sampled_edges)


def neighbor_loader(data: Data, num_neighbors: Sequence[int], *,
                    input_nodes: Tensor | None = None, batch_size: int = 1024,
                    shuffle: bool = False, sampler: NeighborSampler | None = None,
                    **kwargs: Any) -> NeighborLoader:
    """A :class:`torch_geometric.loader.NeighborLoader` over ``data`` that works with or
    without ``pyg-lib``.

    Args:
        data (Data): The graph (``x``, ``edge_index``).
        num_neighbors (Sequence[int]): Neighbours sampled per node and hop (``-1``: all).
        input_nodes (Tensor, optional): Seed nodes; all nodes by default.
        batch_size (int): Seeds per batch. (default: ``1024``)
        shuffle (bool): Shuffle the seeds each epoch. (default: ``False``)
        sampler (NeighborSampler, optional): A sampler built earlier for ``data`` and
            ``num_neighbors`` (building one converts the graph to CSC, which is worth doing
            once); a :class:`TorchNeighborSampler` is built otherwise.
        **kwargs: Other :class:`~torch_geometric.loader.NeighborLoader` arguments
            (``num_workers``, ``generator`` ...).

    Returns:
        NeighborLoader: Batches whose first ``batch.batch_size`` nodes are the seeds.
    """
    if sampler is None:
        sampler = TorchNeighborSampler(data, list(num_neighbors),
                                       replace=kwargs.pop("replace", False))
    return NeighborLoader(data, list(num_neighbors), input_nodes=input_nodes,
                          batch_size=batch_size, shuffle=shuffle, neighbor_sampler=sampler,
                          **kwargs)


def sampled_gcn_edges(batch: Data, in_degree: Tensor | None = None, fill_value: float = 1.0
                      ) -> tuple[Tensor, Tensor]:
    r"""Edges and weights that give a GCN on a neighbour-sampled batch the full graph's degree
    normalisation and an unbiased neighbour sum per layer.

    Normalising a sampled subgraph by its own degrees, as a plain GCN layer would, changes the
    operator: a neighbour sampled in the last hop has no edges of its own in the subgraph. Here
    an edge sampled for node :math:`i` weighs :math:`d_i / k_i` (:math:`d_i` its in-degree in
    the full graph, :math:`k_i` neighbours sampled), so each layer's neighbour sum, before the
    activation, is an unbiased estimate of the full graph's, and node :math:`i`'s degree is
    exactly :math:`d_i + 1`; every node gets an explicit self-loop, of weight ``fill_value`` for
    expanded nodes and :math:`d_j + \text{fill}` for the last hop's, whose degree is then exact
    too. (Through the activations and across layers the estimate is no longer unbiased, as with
    any sampled GNN.) When every neighbour is sampled the seeds' embeddings equal the full-graph
    GCN's exactly.

    Args:
        batch (Data): A batch of :func:`neighbor_loader` over a graph without self-loops:
            ``edge_index`` (local ids, messages to ``edge_index[1]``), ``n_id`` and
            ``num_sampled_nodes``.
        in_degree (Tensor, optional): In-degree of every node of the full graph, :math:`(N,)`;
            default ``batch.in_degree``, the in-degree of each sampled node, :math:`(n,)`.
        fill_value (float): Self-loop weight of the expanded nodes. (default: ``1``, what
            :func:`torch_geometric.nn.conv.gcn_conv.gcn_norm` gives an unweighted graph, also
            with ``improved=True``, which only changes the loops it adds to weighted graphs)

    Returns:
        tuple[Tensor, Tensor]: ``edge_index`` with one self-loop per node appended, and its
        weights.
    """
    num_nodes = batch.num_nodes
    row, col = batch.edge_index
    if in_degree is not None:
        degree = in_degree.to(batch.n_id.device)[batch.n_id].to(torch.float32)
    elif getattr(batch, "in_degree", None) is not None:
        degree = batch.in_degree.to(torch.float32)
    else:
        raise ValueError("sampled_gcn_edges needs the full graph's in-degrees: pass "
                         "'in_degree' or give the batch an 'in_degree' attribute")
    device = batch.edge_index.device
    sampled = torch.zeros(num_nodes, dtype=torch.float32, device=device).index_add_(
        0, col, torch.ones(col.numel(), dtype=torch.float32, device=device))
    edge_weight = (degree / sampled.clamp(min=1))[col]
    expanded = num_nodes - int(batch.num_sampled_nodes[-1]) \
        if len(batch.num_sampled_nodes) > 1 else num_nodes
    loop_weight = torch.full((num_nodes,), float(fill_value), device=device)
    loop_weight[expanded:] += degree[expanded:]   # the last hop: no edges of their own here
    loops = torch.arange(num_nodes, device=device)
    return (torch.cat([batch.edge_index, torch.stack([loops, loops])], dim=1),
            torch.cat([edge_weight, loop_weight]))
