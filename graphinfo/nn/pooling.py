r"""Pooling levels of a graph hierarchy: soft DiffPool clusters on dense padded batches
(:func:`torch_geometric.nn.dense_diff_pool`) and sparse self-attention pooling
(:class:`torch_geometric.nn.SAGPooling`) for graphs too large for a dense assignment, with the
GNN stacks that embed each pooled level.

A level of the hierarchy is a :class:`SparseLevel` (the input graph, and the levels a sparse
pooling makes: node embeddings with an ``edge_index`` and a ``batch`` vector) or a
:class:`DenseLevel` (the levels DiffPool makes: :math:`C` clusters per graph with a dense
weighted adjacency, no padding). Memory of a dense level is bounded by the largest graph of
a batch (:math:`B \times N_{max} \times C` for the assignment, :math:`B \times N_{max}^2` for
the adjacency it pools), never by the dataset.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch_geometric.nn import (
    DenseGCNConv,
    DenseGINConv,
    DenseGraphConv,
    DenseSAGEConv,
    SAGPooling,
    dense_diff_pool,
    global_add_pool,
    global_max_pool,
    global_mean_pool,
)
from torch_geometric.nn.inits import reset
from torch_geometric.nn.resolver import activation_resolver
from torch_geometric.utils import to_dense_adj, to_dense_batch


class SparseLevel(NamedTuple):
    """A level held sparsely: one row per node, graphs told apart by ``batch``."""

    inputs: Tensor
    """What the level's GNNs read (the input features at level 0), :math:`(N, F_{in})`."""
    z: Tensor
    """The level's node embeddings, :math:`(N, F)`."""
    edge_index: Tensor
    edge_weight: Tensor | None
    batch: Tensor
    num_graphs: int

    def readout(self, kind: str = "max") -> Tensor:
        """Max (or ``kind`` ``'sum'`` / ``'mean'``) over each graph's nodes, :math:`(B, F)`."""
        pool = {"max": global_max_pool, "sum": global_add_pool, "mean": global_mean_pool}[kind]
        return pool(self.z, self.batch, size=self.num_graphs)

    def flat(self) -> tuple[Tensor, Tensor]:
        """The embeddings and the graph of each row."""
        return self.z, self.batch


class DenseLevel(NamedTuple):
    """A level of :math:`C` clusters per graph (every graph has all of them: no padding)."""

    inputs: Tensor
    r"""The pooled features :math:`\mathbf{S}^\top \mathbf{Z}`, :math:`(B, C, F_{in})`."""
    z: Tensor
    """The clusters' embeddings, :math:`(B, C, F)`."""
    adj: Tensor
    r"""The pooled adjacency :math:`\mathbf{S}^\top \mathbf{A} \mathbf{S}`, :math:`(B, C, C)`."""

    @property
    def num_graphs(self) -> int:
        return self.z.size(0)

    def readout(self, kind: str = "max") -> Tensor:
        """Max (or ``kind`` ``'sum'`` / ``'mean'``) over each graph's clusters, :math:`(B, F)`
        (every graph has all of them: nothing padded enters)."""
        if kind == "max":
            return self.z.max(dim=1).values
        return self.z.sum(dim=1) if kind == "sum" else self.z.mean(dim=1)

    def flat(self) -> tuple[Tensor, Tensor]:
        """The embeddings one row per cluster, and the graph of each row."""
        batch_size, clusters, channels = self.z.shape
        batch = torch.arange(batch_size, device=self.z.device).repeat_interleave(clusters)
        return self.z.reshape(batch_size * clusters, channels), batch


Level = SparseLevel | DenseLevel


class PoolingResult(NamedTuple):
    """What a pooling step returns."""

    level: Level
    """The pooled level."""
    assignment: Tensor | None
    r"""DiffPool's soft assignment :math:`\mathbf{S}`, :math:`(B, N_{max}, C)`, rows of padded
    nodes zero (``None`` for sparse pooling)."""
    link_loss: Tensor
    r"""DiffPool's link-prediction loss :math:`\|\mathbf{A} - \mathbf{S}\mathbf{S}^\top\|_F /
    |\mathbf{A}|` (zero for sparse pooling)."""
    entropy_loss: Tensor
    """DiffPool's mean assignment entropy (zero for sparse pooling)."""


def _dense_gin(in_channels: int, out_channels: int) -> torch.nn.Module:
    return DenseGINConv(torch.nn.Sequential(torch.nn.Linear(in_channels, out_channels),
                                            torch.nn.ReLU(),
                                            torch.nn.Linear(out_channels, out_channels)))


#: The dense convolution that matches each sparse encoder name, for the pooled levels.
DENSE_CONVS: dict[str, Any] = {
    "gcn": DenseGCNConv,
    "sage": DenseSAGEConv,
    "gin": _dense_gin,
    "graph": DenseGraphConv,
}


class DenseGNN(torch.nn.Module):
    r"""A stack of dense graph convolutions on padded batches of weighted adjacencies,
    each followed by the activation, the layers' outputs concatenated:

    .. math::
        \mathbf{H}^{(l)} = \sigma\big(\mathrm{Conv}^{(l)}(\mathbf{H}^{(l-1)}, \mathbf{A})\big),
        \qquad \mathbf{Z} = \big[\mathbf{H}^{(1)} \,\|\, \dots \,\|\, \mathbf{H}^{(L)}\big].

    Args:
        in_channels (int): Input feature size.
        hidden_channels (int): Units per layer.
        num_layers (int, optional): Convolutions. (default: :obj:`3`)
        conv (str, optional): One of :data:`DENSE_CONVS`: ``'gcn'``
            (:class:`~torch_geometric.nn.DenseGCNConv`, self-loops added), ``'sage'``,
            ``'gin'`` or ``'graph'``. (default: :obj:`'gcn'`)
        act (str, optional): Activation by PyG's resolver name. (default: :obj:`'relu'`)

    Shapes:
        - **input:** features :math:`(B, N, F_{in})`, adjacency :math:`(B, N, N)`, mask
          :math:`(B, N)` *(optional)*
        - **output:** :math:`(B, N, L \cdot F)`
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int = 3,
                 conv: str = "gcn", act: str = "relu") -> None:
        super().__init__()
        if conv not in DENSE_CONVS:
            raise ValueError(f"'conv' must be one of {sorted(DENSE_CONVS)}, got {conv!r}")
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"'num_layers' must be a positive int, got {num_layers!r}")
        self.in_channels, self.hidden_channels, self.num_layers = (in_channels,
                                                                   hidden_channels, num_layers)
        self.out_channels = hidden_channels * num_layers
        self.convs = torch.nn.ModuleList(
            DENSE_CONVS[conv](in_channels if i == 0 else hidden_channels, hidden_channels)
            for i in range(num_layers))
        self.act = activation_resolver(act)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for conv in self.convs:
            reset(conv)

    def forward(self, x: Tensor, adj: Tensor, mask: Tensor | None = None) -> Tensor:
        outs = []
        for conv in self.convs:
            x = self.act(conv(x, adj, mask))
            outs.append(x)
        return torch.cat(outs, dim=-1)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, "
                f"num_layers={self.num_layers})")


def _encode(gnn: torch.nn.Module, x: Tensor, edge_index: Tensor,
            edge_weight: Tensor | None) -> Tensor:
    return gnn(x, edge_index) if edge_weight is None else gnn(x, edge_index, edge_weight)


class DiffPoolLevel(torch.nn.Module):
    r"""One soft-clustering level of DiffPool (Ying et al., NeurIPS 2018,
    `arXiv:1806.08804 <https://arxiv.org/abs/1806.08804>`_):

    .. math::
        \mathbf{S} = \mathrm{softmax}\big(\mathrm{GNN}_{assign}(\mathbf{X}, \mathbf{A})\big),
        \quad \mathbf{X}' = \mathbf{S}^\top \mathbf{Z}, \quad
        \mathbf{A}' = \mathbf{S}^\top \mathbf{A} \mathbf{S}, \quad
        \mathbf{Z}' = \mathrm{GNN}_{embed}(\mathbf{X}', \mathbf{A}'),

    per graph of a batch, with :math:`\mathbf{X}` the level's inputs and :math:`\mathbf{Z}` its
    embeddings. A sparse level is padded (:func:`~torch_geometric.utils.to_dense_batch`,
    :func:`~torch_geometric.utils.to_dense_adj`) and its padded nodes masked out of
    :math:`\mathbf{S}`, so they join no cluster.

    Args:
        assign (torch.nn.Module): :math:`\mathrm{GNN}_{assign}`: a sparse encoder
            ``(x, edge_index[, edge_weight])`` when pooling a :class:`SparseLevel`, a
            :class:`DenseGNN` when pooling a :class:`DenseLevel`; its ``out_channels`` are
            mapped linearly to the cluster logits.
        clusters (int): Clusters per graph :math:`C`.
        embed (DenseGNN): :math:`\mathrm{GNN}_{embed}` of the pooled level.
    """

    def __init__(self, assign: torch.nn.Module, clusters: int, embed: DenseGNN) -> None:
        super().__init__()
        if not isinstance(clusters, int) or clusters < 1:
            raise ValueError(f"'clusters' must be a positive int, got {clusters!r}")
        self.assign, self.clusters, self.embed = assign, clusters, embed
        self.assign_lin = torch.nn.Linear(int(assign.out_channels), clusters)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset(self.assign)
        self.assign_lin.reset_parameters()
        reset(self.embed)

    def forward(self, level: Level) -> PoolingResult:
        if isinstance(level, SparseLevel):
            logits = self.assign_lin(_encode(self.assign, level.inputs, level.edge_index,
                                             level.edge_weight))
            logits, mask = to_dense_batch(logits, level.batch, batch_size=level.num_graphs)
            z, _ = to_dense_batch(level.z, level.batch, batch_size=level.num_graphs)
            adj = to_dense_adj(level.edge_index, level.batch, level.edge_weight,
                               max_num_nodes=z.size(1), batch_size=level.num_graphs)
        else:
            logits = self.assign_lin(self.assign(level.inputs, level.adj))
            z, adj, mask = level.z, level.adj, None
        pooled, pooled_adj, link_loss, entropy_loss = dense_diff_pool(z, adj, logits, mask)
        assignment = torch.softmax(logits, dim=-1)
        if mask is not None:
            assignment = assignment * mask.unsqueeze(-1).to(assignment.dtype)
        out = DenseLevel(pooled, self.embed(pooled, pooled_adj), pooled_adj)
        return PoolingResult(out, assignment, link_loss, entropy_loss)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(clusters={self.clusters})"


class SAGPoolLevel(torch.nn.Module):
    r"""One sparse level by self-attention graph pooling (Lee et al., ICML 2019,
    `arXiv:1904.08082 <https://arxiv.org/abs/1904.08082>`_,
    :class:`torch_geometric.nn.SAGPooling`): each graph keeps its
    :math:`\lceil r N_b \rceil` best-scored nodes (features gated by the score) and the edges
    among them, then ``embed`` (a sparse encoder) embeds the pooled graph. Memory stays linear
    in the edges, for graphs too large for a dense assignment.

    Args:
        in_channels (int): Size of the embeddings pooled.
        ratio (float): Fraction :math:`r` of each graph's nodes kept.
        embed (torch.nn.Module): A sparse encoder ``(x, edge_index[, edge_weight])``.
    """

    def __init__(self, in_channels: int, ratio: float, embed: torch.nn.Module) -> None:
        super().__init__()
        self.pool = SAGPooling(in_channels, ratio=ratio)
        self.embed = embed
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.pool.reset_parameters()
        reset(self.embed)

    def forward(self, level: Level) -> PoolingResult:
        if not isinstance(level, SparseLevel):
            raise ValueError("SAGPoolLevel pools sparse levels only (a DiffPool level cannot "
                             "be followed by a sparse one)")
        x, edge_index, edge_weight, batch, _, _ = self.pool(
            level.z, level.edge_index, level.edge_weight, level.batch)
        zero = level.z.new_zeros(())
        out = SparseLevel(x, _encode(self.embed, x, edge_index, edge_weight), edge_index,
                          edge_weight, batch, level.num_graphs)
        return PoolingResult(out, None, zero, zero)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(ratio={self.pool.ratio})"


__all__ = ["SparseLevel", "DenseLevel", "PoolingResult", "DENSE_CONVS", "DenseGNN",
           "DiffPoolLevel", "SAGPoolLevel"]
