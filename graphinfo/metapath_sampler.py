r"""Mini-batches of a heterogeneous graph's target nodes with neighbours sampled along metapaths,
so that multiplex models train on graphs whose metapath graphs are too big to build.

**Sampling.** A relation is either a stored edge type among target nodes (a metapath graph the
dataset ships, ``('paper', 'PAP', 'paper')``: one hop) or a chain of typed edge types
(paper -> author -> paper, never materialised). For each seed node :math:`k` random walks follow
the chain, each hop to a uniformly chosen neighbour through a CSR copy of that edge type (built
once, 16 bytes per edge); a walk's end is a sampled neighbour. A walk that reaches a node
without neighbours is dropped. For a stored relation this is :math:`k` neighbours drawn with
replacement; for a chain, draws from the walk distribution :math:`\mathbf{P}_1\mathbf{P}_2
\cdots` (each :math:`\mathbf{P}` row-normalised), which weighs metapath neighbours by how many
walks reach them, without the product ever being formed.

**A batch** (:class:`MetapathBatch`) holds the seeds, every target node the walks reached
(``n_id``, seeds first), their features, per relation the :math:`B \times k` local indices of
the sampled neighbours (``-1`` for a dropped walk) and each seed's degree in a stored relation
(for a chain: ``None``). The model computes its loss on the seeds
(:meth:`graphinfo.models.DMGI.metapath_loss`, :meth:`graphinfo.models.HDGI.metapath_loss`).

**Memory** per step is bounded by the batch (:math:`B(1 + Rk)` feature rows at most); what
stays for the whole run is the graph and one CSR per edge type used.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.typing import EdgeType

from graphinfo import distributed
from graphinfo.data.hetero import metapath_edge_types, target_node_type
from graphinfo.sources import SeedBatches, SummaryTracker, epoch_seeds, seed_nodes

#: Walks (sampled neighbours) per seed and relation when none is given.
DEFAULT_WALKS = 10

Relation = EdgeType | Sequence[EdgeType]


@dataclass
class MetapathBatch:
    """One mini-batch: see the module docstring."""

    n_id: Tensor
    """Target nodes of the batch (global ids), the ``batch_size`` seeds first."""
    x: Tensor
    """Their features."""
    neighbors: list[Tensor]
    """Per relation, ``[B, k]`` local indices into ``n_id`` of the seeds' sampled neighbours
    (``-1``: none)."""
    degrees: list[Tensor | None]
    """Per relation, the seeds' degrees in a stored relation, or ``None`` for a chain."""
    batch_size: int

    def to(self, device: torch.device | str) -> MetapathBatch:
        return MetapathBatch(self.n_id.to(device), self.x.to(device),
                             [n.to(device) for n in self.neighbors],
                             [None if d is None else d.to(device) for d in self.degrees],
                             self.batch_size)


class _CSR:
    """One edge type as CSR (row pointers and columns), for uniform neighbour draws."""

    def __init__(self, edge_index: Tensor, num_src: int) -> None:
        order = torch.argsort(edge_index[0], stable=True)
        self.col = edge_index[1, order].contiguous()
        counts = torch.bincount(edge_index[0], minlength=num_src)
        self.rowptr = torch.zeros(num_src + 1, dtype=torch.long)
        torch.cumsum(counts, 0, out=self.rowptr[1:])
        self.degree = counts

    def step(self, nodes: Tensor, generator: torch.Generator) -> Tensor:
        """One uniform neighbour of each node (``-1`` stays ``-1``; no neighbour: ``-1``)."""
        if self.col.numel() == 0:
            return torch.full_like(nodes, -1)
        alive = nodes >= 0
        safe = nodes.clamp(min=0)
        degree = self.degree[safe]
        alive &= degree > 0
        offset = (torch.rand(nodes.numel(), generator=generator) * degree).long()
        offset = torch.minimum(offset, (degree - 1).clamp(min=0))
        picked = self.col[(self.rowptr[safe] + offset).clamp(max=self.col.numel() - 1)]
        return torch.where(alive, picked, torch.full_like(nodes, -1))


class MetapathSampler:
    """Samples ``walks`` metapath neighbours per seed for each relation (module docstring).

    Args:
        data (HeteroData): The graph.
        relations (Sequence): Per relation, a stored edge type among target nodes, a chain of
            edge types, or a metapath name in node-type initials (``'PAP'``: the stored
            relation of that name if there is one, else the chain).
        walks (int): :math:`k`. (default: :data:`DEFAULT_WALKS`)
    """

    def __init__(self, data: HeteroData, relations: Sequence[Relation | str],
                 walks: int = DEFAULT_WALKS) -> None:
        if walks < 1:
            raise ValueError(f"'walks' must be >= 1, got {walks}")
        if not relations:
            raise ValueError("give at least one relation to sample")
        self.target = target_node_type(data)
        self.walks = walks
        self.chains: list[list[EdgeType]] = [self._chain(data, r) for r in relations]
        self._csr: dict[EdgeType, _CSR] = {}
        for chain in self.chains:
            for edge_type in chain:
                if edge_type not in self._csr:
                    self._csr[edge_type] = _CSR(data[edge_type].edge_index,
                                                data[edge_type[0]].num_nodes)

    def _chain(self, data: HeteroData, relation: Relation | str) -> list[EdgeType]:
        if isinstance(relation, str):
            stored = [t for t in data.edge_types if t[0] == self.target == t[2]
                      and t[1].lower() == relation.lower()]
            chain = [stored[0]] if stored else metapath_edge_types(relation, data)
        elif isinstance(relation, tuple) and len(relation) == 3 and isinstance(relation[0], str):
            chain = [relation]
        else:
            chain = [tuple(t) for t in relation]
        for edge_type in chain:
            if edge_type not in data.edge_types:
                raise ValueError(f"the graph has no edge type {edge_type}")
        if chain[0][0] != self.target or chain[-1][2] != self.target or any(
                a[2] != b[0] for a, b in zip(chain, chain[1:])):
            raise ValueError(f"a relation must lead from the target type {self.target!r} back "
                             f"to it, each edge type starting where the last ends; got {chain}")
        return chain

    def sample(self, seeds: Tensor, x: Tensor, generator: torch.Generator) -> MetapathBatch:
        """The batch of ``seeds`` (global target ids); ``x`` are all target features."""
        batch = seeds.numel()
        ends, degrees = [], []
        for chain in self.chains:
            nodes = seeds.repeat_interleave(self.walks)
            for edge_type in chain:
                nodes = self._csr[edge_type].step(nodes, generator)
            ends.append(nodes.view(batch, self.walks))
            degrees.append(self._csr[chain[0]].degree[seeds].float() if len(chain) == 1
                           else None)
        reached = torch.cat([e.view(-1) for e in ends])
        reached = reached[reached >= 0]
        others = torch.unique(reached)
        others = others[~torch.isin(others, seeds)]
        n_id = torch.cat([seeds, others])
        local = torch.full((x.size(0),), -1, dtype=torch.long) if x.size(0) <= 4 * n_id.numel() \
            else None
        if local is not None:
            local[n_id] = torch.arange(n_id.numel())
            neighbors = [torch.where(e >= 0, local[e.clamp(min=0)], e) for e in ends]
        else:       # a large graph: map by sorting instead of a table of its size
            order = torch.argsort(n_id)
            sorted_ids = n_id[order]
            neighbors = []
            for e in ends:
                where = torch.searchsorted(sorted_ids, e.clamp(min=0))
                neighbors.append(torch.where(e >= 0, order[where.clamp(max=n_id.numel() - 1)],
                                             e))
        return MetapathBatch(n_id, x[n_id], neighbors, degrees, batch)


class MetapathBatches(SeedBatches):
    """Mini-batches of target nodes with metapath-sampled neighbours (:class:`MetapathSampler`)
    as a source of the training engine. One epoch visits every seed once, in an order
    reshuffled each epoch; the loss is the model's ``metapath_loss(batch, global_summary)``
    on the seeds, against a :class:`~graphinfo.sources.SummaryTracker` (the batch's own
    summary or a moving average); the epoch loss is the mean over seeds. One process only.

    Args:
        data (HeteroData): The graph (kept on the CPU; batches move to the device).
        relations (Sequence, optional): As :class:`MetapathSampler` takes them; default the
            relations the model was built for (``model.relations``).
        walks (int): Sampled neighbours per seed and relation.
        batch_size (int): Seeds per batch.
        input_nodes (Tensor, optional): Seed nodes (indices or a mask); all target nodes.
        seed (int): Seeds the shuffles and the walks.
        summary (str): ``'batch'`` or ``'ema'``.
        summary_momentum (float): :math:`m` of ``'ema'``.
    """

    def __init__(self, data: HeteroData, relations: Sequence[Relation | str] | None = None,
                 walks: int = DEFAULT_WALKS, batch_size: int = 1024,
                 input_nodes: Tensor | None = None, seed: int = 0, summary: str = "batch",
                 summary_momentum: float = 0.9) -> None:
        if not isinstance(data, HeteroData):
            raise TypeError(f"MetapathBatches samples a HeteroData, got {type(data).__name__}")
        if batch_size < 1:
            raise ValueError(f"'batch_size' must be >= 1, got {batch_size}")
        self.data = data
        self.target = target_node_type(data)
        self.relations = relations
        self.walks = walks
        self.batch_size = batch_size
        self.inputs = seed_nodes(input_nodes, data[self.target].num_nodes)
        self.seed = seed
        self.tracker = SummaryTracker(summary, summary_momentum)

    def setup(self, model: torch.nn.Module, device: torch.device) -> None:
        if not callable(getattr(model, "metapath_loss", None)):
            raise TypeError(f"{type(model).__name__} does not train on metapath-sampled "
                            f"batches (it defines no metapath_loss); train it full-batch")
        if distributed.is_distributed():
            raise ValueError("metapath-sampled mini-batches run on one process")
        super().setup(model, device)
        relations = self.relations if self.relations is not None else \
            getattr(model, "sampled_relations", None) or getattr(model, "relations", None)
        if relations is None:
            raise ValueError("give the relations to sample (the model names none)")
        self.sampler = MetapathSampler(self.data, relations, self.walks)
        self.x = self.data[self.target].x
        self.generator = torch.Generator().manual_seed(self.seed)
        self.tracker.average = None

    def batches(self, epoch: int) -> Iterable[Any]:
        seeds = epoch_seeds(self.inputs, epoch, self.seed)
        for start in range(0, seeds.numel(), self.batch_size):
            chunk = seeds[start:start + self.batch_size]
            yield self.sampler.sample(chunk, self.x, self.generator).to(self.device)

    def loss(self, model: torch.nn.Module, batch: Any) -> Tensor:
        return model.metapath_loss(batch, self.tracker)
