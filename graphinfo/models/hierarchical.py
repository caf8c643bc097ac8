r"""Hierarchical infomax (UHGR: Ding, Zhang, Sybrandt and Safro, "Unsupervised Hierarchical
Graph Representation Learning by Mutual Information Maximization", MLG 2020,
`arXiv:2003.08420 <https://arxiv.org/abs/2003.08420>`_): node and graph embeddings from one
model, whose summary of each graph is built from every level of a pooling hierarchy and
contrasted with the graph's own nodes.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch_geometric.data import Data

from graphinfo.models.base import MIModel, ModelDefaults, make_estimator
from graphinfo.nn.corruptions import as_augmentation, make_corruption
from graphinfo.nn.discriminators import BilinearDiscriminator, make_discriminator
from graphinfo.nn.encoders import make_encoder
from graphinfo.nn.pooling import DenseGNN, DiffPoolLevel, Level, SAGPoolLevel, SparseLevel

#: Largest graph (nodes) that ``pooling='auto'`` pools with dense DiffPool assignments; above
#: it the sparse SAG pooling is used (a dense 12,000-node adjacency is 576 MB in float32).
DENSE_POOLING_MAX_NODES = 12_000
#: The terms of the objective: UHGR's, and two extensions beyond the paper.
TERMS = ("uhgr", "per_level", "level_to_level")
#: Each level's readout over its nodes (or clusters): UHGR's max, and sum or mean.
READOUTS = ("max", "sum", "mean")


class HierarchicalOutput(NamedTuple):
    """What :meth:`HierarchicalInfomax.forward` returns; ``model.loss(*out)`` takes it back."""

    pos_z: Tensor
    """Level-0 node embeddings, :math:`(N, F)`."""
    neg_z: Tensor
    """Level-0 embeddings of the corrupted graph, :math:`(N', F)`."""
    neg_batch: Tensor
    """The graph of each corrupted node, :math:`(N')`."""
    summary: Tensor
    """Each graph's multi-level summary, :math:`(B, F)`."""
    batch: Tensor
    """The graph of each node, :math:`(N)`."""
    readout: Tensor
    r"""Per-level max readouts, concatenated: :math:`(B, (L + 1) F)`."""
    levels: tuple[tuple[Tensor, Tensor], ...]
    """For pooled levels 1..L: the embeddings (one row per cluster or kept node) and their
    graphs."""
    neg_levels: tuple[tuple[Tensor, Tensor], ...]
    """The same for the corrupted graph (empty when no term needs them)."""
    assignments: tuple[Tensor, ...]
    r"""DiffPool's soft assignments per level, :math:`(B, N_{l-1}, C_l)` (empty for SAG)."""
    regulariser: Tensor
    """DiffPool's weighted link and entropy losses (zero by default)."""


class Hierarchy(NamedTuple):
    """One pass through the hierarchy (of the clean or the corrupted graph)."""

    levels: list[Level]
    readout: Tensor
    assignments: tuple[Tensor, ...]
    link_loss: Tensor
    entropy_loss: Tensor


def largest_graph(data: Any) -> int:
    """Nodes of the largest graph of ``data`` (one graph, a ``Batch`` of graphs, or a
    collection of graphs)."""
    if isinstance(data, Data):
        batch = getattr(data, "batch", None)
        if batch is not None and batch.numel():
            return int(torch.bincount(batch).max())
        return int(data.num_nodes)
    slices = getattr(data, "slices", None)
    if isinstance(slices, dict) and "x" in slices and getattr(data, "_indices", None) is None:
        return int((slices["x"][1:] - slices["x"][:-1]).max())
    return max(int(graph.num_nodes) for graph in data)


class HierarchicalInfomax(MIModel):
    r"""Hierarchical infomax (UHGR, `arXiv:2003.08420 <https://arxiv.org/abs/2003.08420>`_):
    a level-0 GNN embeds the nodes, :math:`L` pooling levels coarsen each graph, and every
    level's max readout builds one summary per graph, contrasted with the graph's level-0
    nodes.

    .. math::
        \mathbf{Z}_0 = \mathrm{GNN}_0(\mathbf{X}, \mathbf{A}), \qquad
        (\mathbf{Z}_l, \mathbf{A}_l) = \mathrm{Pool}_l(\mathbf{Z}_{l-1}, \mathbf{A}_{l-1}),
        \; l = 1..L,

    .. math::
        \mathbf{r}_b = \big[\max_{i \in b} \mathbf{Z}_0[i] \,\|\, \dots \,\|\,
        \max_{c \in b} \mathbf{Z}_L[c]\big], \qquad
        \mathbf{s}_b = \mathbf{W}\sigma(\mathbf{r}_b),

    .. math::
        \mathcal{L} = -\hat{I}\big(\{(\mathbf{z}_i, \mathbf{s}_{b(i)})\},
        \{(\tilde{\mathbf{z}}_j, \mathbf{s}_{b(j)})\}\big)
        + \lambda_{link} \mathcal{L}_{link} + \lambda_{ent} \mathcal{L}_{ent},

    with :math:`\tilde{\mathbf{z}}_j` the level-0 embeddings of the corrupted graph (features
    shuffled within each graph by default), the bilinear critic and any estimator (JSD by
    default, as the paper). Each node is scored only against its own graph's summary; no
    padded node is ever scored (level-0 embeddings stay sparse). Every GNN is ``num_layers``
    layers of ``hidden_channels`` units with ReLU and the layers' outputs concatenated
    (:math:`F = ` ``num_layers * hidden_channels``), as the authors' code.

    **Pooling.** ``'diffpool'``: DiffPool's soft clusters
    (:class:`~graphinfo.nn.pooling.DiffPoolLevel`; the first assignment from a second GNN on
    the input features, deeper ones from a dense GNN on the pooled level), :math:`C_l =
    \lceil r\, C_{l-1} \rceil` clusters with :math:`C_0` the largest graph's size (DiffPool's
    rule); ``'sag'``: PyG's sparse :class:`~torch_geometric.nn.SAGPooling` keeping a fraction
    :math:`r` of each graph's nodes, for graphs too large for a dense assignment; ``'auto'``:
    DiffPool up to :data:`DENSE_POOLING_MAX_NODES` nodes in the largest graph, else SAG.

    **Terms** (``terms``): ``'uhgr'`` is the paper's objective above. Extensions beyond UHGR:
    ``'per_level'`` adds, for every pooled level, the MI between its clusters (or kept nodes)
    and the graph's summary, negatives from the corrupted graph's same level (own bilinear
    critic each); ``'level_to_level'`` adds, for :math:`l = 0..L-1`, the MI between level
    :math:`l`'s nodes and :math:`\sigma` of level :math:`l+1`'s readout. The terms' estimates
    are summed. DiffPool's link and entropy losses are computed by the authors' code but not
    used; here they are optional regularisers (``link_weight``, ``entropy_weight``).

    Embeddings: :meth:`embed` gives level-0 node embeddings (``level='node'``), the readout
    :math:`\mathbf{r}_b` as graph embeddings (``level='graph'``), or both.

    Args:
        in_channels (int): Node feature size.
        hidden_channels (int, optional): Units per GNN layer. (default: :obj:`128`)
        num_layers (int, optional): Layers per GNN. (default: :obj:`3`)
        num_levels (int, optional): Pooling levels :math:`L`; 0 scores the nodes against a
            level-0 max readout only (a one-level baseline). (default: :obj:`1`)
        max_num_nodes (int, optional): The largest graph's size, which sizes DiffPool's
            clusters (:meth:`data_kwargs` reads it from the data). Required for
            ``'diffpool'`` and ``'auto'`` unless ``num_clusters`` is given.
        pool_ratio (float, optional): :math:`r`, clusters (or kept nodes) per level as a
            fraction of the level below. (default: :obj:`0.25`)
        num_clusters (sequence of int, optional): DiffPool's clusters per level, instead of
            the ratio rule.
        pooling (str, optional): ``'auto'``, ``'diffpool'`` or ``'sag'``. (default:
            :obj:`'auto'`)
        encoder (str, optional): ``'gcn'``, ``'sage'`` or ``'gin'`` (the pooled levels use
            the matching dense convolution). (default: :obj:`'gcn'`)
        corruption (str or callable, optional): The corruption of the negative graph.
            (default: :obj:`'shuffle'`)
        discriminator (str or torch.nn.Module, optional): The level-0 critic. (default:
            :obj:`'bilinear'`)
        estimator (str or callable, optional): MI estimator. (default: :obj:`'jsd'`)
        terms (sequence of str, optional): Any of :data:`TERMS`. (default: ``('uhgr',)``)
        readout (str, optional): Each level's readout, one of :data:`READOUTS`: UHGR's
            ``'max'``, or ``'sum'`` / ``'mean'`` (an extension beyond UHGR: a sum keeps the
            counts that a max loses). (default: :obj:`'max'`)
        link_weight, entropy_weight (float, optional): Weights of DiffPool's losses.
            (default: :obj:`0.0`)
        encoder_kwargs (dict, optional): Arguments of every sparse GNN.
        corruption_kwargs, discriminator_kwargs, estimator_kwargs (dict, optional): Keyword
            arguments of the named parts.
    """

    level = "both"
    #: The authors' settings: Adam 0.001, gradients clipped to norm 2, batches of 20 graphs,
    #: 3-layer GNNs of 128 units (PROTEINS), one DiffPool level, patience 40 on the loss
    #: (node level; graph-level training keeps a fixed budget).
    defaults = ModelDefaults(hidden_channels=128, num_layers=3, epochs=100, patience=40,
                             batch_size=20, protocol="graph_svm", max_grad_norm=2.0)

    def __init__(self, in_channels: int, hidden_channels: int = 128, num_layers: int = 3,
                 num_levels: int = 1, *, max_num_nodes: int | None = None,
                 pool_ratio: float = 0.25, num_clusters: Sequence[int] | None = None,
                 pooling: str = "auto", encoder: str = "gcn",
                 corruption: Callable[..., Any] | str = "shuffle",
                 discriminator: torch.nn.Module | str = "bilinear",
                 estimator: Callable[..., Tensor] | str = "jsd",
                 terms: Sequence[str] = ("uhgr",), readout: str = "max",
                 link_weight: float = 0.0,
                 entropy_weight: float = 0.0, encoder_kwargs: dict[str, Any] | None = None,
                 corruption_kwargs: dict[str, Any] | None = None,
                 discriminator_kwargs: dict[str, Any] | None = None,
                 estimator_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        self._check_settings(hidden_channels, num_layers, num_levels, pool_ratio, pooling,
                             encoder, terms, link_weight, entropy_weight)
        if readout not in READOUTS:
            raise ValueError(f"'readout' must be one of {READOUTS}, got {readout!r}")
        self.readout = readout
        if pooling == "auto":
            pooling = "sag" if max_num_nodes is not None and \
                max_num_nodes > DENSE_POOLING_MAX_NODES else "diffpool"
        self.hidden_channels, self.num_layers, self.num_levels = (hidden_channels, num_layers,
                                                                  num_levels)
        self.pool_ratio, self.pooling, self.terms = pool_ratio, pooling, tuple(terms)
        self.link_weight, self.entropy_weight = link_weight, entropy_weight
        settings = {"act": "relu", "jk": "cat", "num_layers": num_layers,
                    **(encoder_kwargs or {})}

        def sparse_gnn(channels: int) -> torch.nn.Module:
            return make_encoder(encoder, channels, hidden_channels, **settings)

        self.encoder = sparse_gnn(in_channels)
        channels = int(self.encoder.out_channels)
        self.channels = channels
        self.num_clusters = self._clusters(num_clusters, max_num_nodes) \
            if pooling == "diffpool" and num_levels else ()
        pools: list[torch.nn.Module] = []
        for index in range(num_levels):
            if pooling == "sag":
                pools.append(SAGPoolLevel(channels, pool_ratio, sparse_gnn(channels)))
                continue
            assign = sparse_gnn(in_channels) if index == 0 else \
                DenseGNN(channels, hidden_channels, num_layers, encoder)
            pools.append(DiffPoolLevel(assign, self.num_clusters[index],
                                       DenseGNN(channels, hidden_channels, num_layers, encoder)))
        self.pools = torch.nn.ModuleList(pools)
        self.summary_head = torch.nn.Linear((num_levels + 1) * channels, channels)
        self.corruption = as_augmentation(make_corruption(corruption,
                                                          **(corruption_kwargs or {})))
        self.discriminator = make_discriminator(discriminator, channels,
                                                **(discriminator_kwargs or {}))
        self.level_critics = torch.nn.ModuleList(
            BilinearDiscriminator(channels) for _ in range(num_levels)
            if "per_level" in self.terms)
        self.transition_critics = torch.nn.ModuleList(
            BilinearDiscriminator(channels) for _ in range(num_levels)
            if "level_to_level" in self.terms)
        self.estimator = make_estimator(estimator, **(estimator_kwargs or {}))
        self.reset_parameters()

    @staticmethod
    def _check_settings(hidden_channels: int, num_layers: int, num_levels: int,
                        pool_ratio: float, pooling: str, encoder: str, terms: Sequence[str],
                        link_weight: float, entropy_weight: float) -> None:
        for name, value, low in (("hidden_channels", hidden_channels, 1),
                                 ("num_layers", num_layers, 1), ("num_levels", num_levels, 0)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"'{name}' must be an int >= {low}, got {value!r}")
        if not 0.0 < pool_ratio < 1.0:
            raise ValueError(f"'pool_ratio' must be in (0, 1), got {pool_ratio!r}")
        if pooling not in ("auto", "diffpool", "sag"):
            raise ValueError(f"'pooling' must be 'auto', 'diffpool' or 'sag', got {pooling!r}")
        if encoder not in ("gcn", "sage", "gin"):
            raise ValueError(f"'encoder' must be 'gcn', 'sage' or 'gin' (a pooled level needs "
                             f"the matching dense convolution), got {encoder!r}")
        unknown = [term for term in terms if term not in TERMS]
        if unknown or not terms:
            raise ValueError(f"'terms' must be a non-empty selection of {TERMS}, got "
                             f"{tuple(terms)!r}")
        for name, value in (("link_weight", link_weight), ("entropy_weight", entropy_weight)):
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"'{name}' must be a finite number >= 0, got {value!r}")

    def _clusters(self, num_clusters: Sequence[int] | None, max_num_nodes: int | None
                  ) -> tuple[int, ...]:
        if num_clusters is not None:
            clusters = tuple(num_clusters)
            if len(clusters) != self.num_levels or any(
                    not isinstance(c, int) or c < 1 for c in clusters):
                raise ValueError(f"'num_clusters' must give a positive int per level "
                                 f"({self.num_levels}), got {clusters!r}")
            return clusters
        if not isinstance(max_num_nodes, int) or max_num_nodes < 1:
            raise ValueError("DiffPool sizes its clusters by the largest graph: give "
                             "'max_num_nodes' (data_kwargs reads it from the data) or "
                             "'num_clusters'")
        clusters, size = [], max_num_nodes
        for _ in range(self.num_levels):
            size = max(1, math.ceil(self.pool_ratio * size))
            clusters.append(size)
        return tuple(clusters)

    @classmethod
    def data_kwargs(cls, data: Any) -> dict[str, Any]:
        """The largest graph of ``data``, which sizes DiffPool's clusters (and picks the
        pooling for ``'auto'``)."""
        return {"max_num_nodes": largest_graph(data)}

    # -- the hierarchy --------------------------------------------------------------------

    def hierarchy(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None,
                  batch: Tensor, num_graphs: int, *, depth: int | None = None) -> Hierarchy:
        """Embeds the graph(s) and pools ``depth`` levels (all by default)."""
        weight = edge_weight if getattr(self.encoder, "supports_edge_weight", False) else None
        z = self.encoder(x, edge_index) if weight is None else \
            self.encoder(x, edge_index, weight)
        levels: list[Level] = [SparseLevel(x, z, edge_index, weight, batch, num_graphs)]
        assignments, link, entropy = [], z.new_zeros(()), z.new_zeros(())
        for pool in self.pools[:depth]:
            result = pool(levels[-1])
            levels.append(result.level)
            if result.assignment is not None:
                assignments.append(result.assignment)
            link, entropy = link + result.link_loss, entropy + result.entropy_loss
        readout = torch.cat([level.readout(self.readout) for level in levels], dim=-1) \
            if depth is None or depth == self.num_levels else levels[0].readout(self.readout)
        return Hierarchy(levels, readout, tuple(assignments), link, entropy)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None,
                batch: Tensor | None = None) -> HierarchicalOutput:
        """The clean hierarchy, its summaries, and the corrupted graph's embeddings."""
        self.check_inputs(x, edge_index, edge_weight, batch=batch)
        batch, num_graphs = self._batch(x, batch)
        clean = self.hierarchy(x, edge_index, edge_weight, batch, num_graphs)
        summary = self.summary_head(torch.sigmoid(clean.readout))
        view = Data(x=x, edge_index=edge_index, batch=batch)
        if edge_weight is not None:
            view.edge_weight = edge_weight
        corrupted = self.corruption.augment(view)
        deep = len(self.level_critics) > 0 or len(self.transition_critics) > 0
        negative = self.hierarchy(corrupted.x, corrupted.edge_index,
                                  getattr(corrupted, "edge_weight", None), corrupted.batch,
                                  num_graphs, depth=None if deep else 0)
        regulariser = self.link_weight * clean.link_loss + \
            self.entropy_weight * clean.entropy_loss
        return HierarchicalOutput(
            clean.levels[0].z, negative.levels[0].z, negative.levels[0].batch, summary, batch,
            clean.readout, tuple(level.flat() for level in clean.levels[1:]),
            tuple(level.flat() for level in negative.levels[1:]) if deep else (),
            clean.assignments, regulariser)

    @staticmethod
    def _batch(x: Tensor, batch: Tensor | None) -> tuple[Tensor, int]:
        if batch is None:
            return x.new_zeros(x.size(0), dtype=torch.long), 1
        return batch, int(batch.max()) + 1 if batch.numel() else 0

    # -- the objective --------------------------------------------------------------------

    def _term(self, critic: torch.nn.Module, z: Tensor, batch: Tensor, neg_z: Tensor,
              neg_batch: Tensor, summary: Tensor) -> Tensor:
        return self.estimator(critic(z, summary[batch]), critic(neg_z, summary[neg_batch]))

    def loss(self, pos_z: Tensor, neg_z: Tensor, neg_batch: Tensor, summary: Tensor,
             batch: Tensor, readout: Tensor, levels: tuple[tuple[Tensor, Tensor], ...],
             neg_levels: tuple[tuple[Tensor, Tensor], ...], assignments: tuple[Tensor, ...],
             regulariser: Tensor) -> Tensor:
        """The negative sum of the chosen terms' MI estimates, plus the regularisers."""
        estimate = pos_z.new_zeros(())
        if "uhgr" in self.terms:
            estimate = estimate + self._term(self.discriminator, pos_z, batch, neg_z,
                                             neg_batch, summary)
        for critic, (z, b), (nz, nb) in zip(self.level_critics, levels, neg_levels):
            estimate = estimate + self._term(critic, z, b, nz, nb, summary)
        if len(self.transition_critics):
            lower = [(pos_z, batch), *levels]
            neg_lower = [(neg_z, neg_batch), *neg_levels]
            parts = torch.sigmoid(readout).split(self.channels, dim=-1)
            for index, critic in enumerate(self.transition_critics):
                (z, b), (nz, nb) = lower[index], neg_lower[index]
                estimate = estimate + self._term(critic, z, b, nz, nb, parts[index + 1])
        return -estimate + regulariser

    # -- embeddings -----------------------------------------------------------------------

    @torch.no_grad()
    def embed(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None,
              batch: Tensor | None = None, level: str = "node", nodes: bool = False
              ) -> Tensor | tuple[Tensor, Tensor]:
        """Level-0 node embeddings :math:`(N, F)` (``level='node'``, or ``nodes=True``),
        graph embeddings :math:`(B, (L+1)F)` (``level='graph'``) or both as a tuple
        (``level='both'``), in eval mode without gradient."""
        if level not in ("node", "graph", "both"):
            raise ValueError(f"'level' must be 'node', 'graph' or 'both', got {level!r}")
        self.check_inputs(x, edge_index, edge_weight, batch=batch)
        batch, num_graphs = self._batch(x, batch)
        was_training = self.training
        self.eval()
        try:
            if level == "node" or nodes:
                return self.hierarchy(x, edge_index, edge_weight, batch, num_graphs,
                                      depth=0).levels[0].z
            out = self.hierarchy(x, edge_index, edge_weight, batch, num_graphs)
        finally:
            self.train(was_training)
        return out.readout if level == "graph" else (out.levels[0].z, out.readout)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.hidden_channels}, "
                f"num_layers={self.num_layers}, num_levels={self.num_levels}, "
                f"pooling={self.pooling!r}, terms={self.terms})")
