r"""Where the batches of a training epoch come from: the sources that plug into the one
training engine, :func:`graphinfo.train.train`.

A source prepares itself once for a model and a device (:meth:`BatchSource.setup`), yields
this process's batches of each epoch (:meth:`BatchSource.batches`), computes a batch's loss
through the model contract (:meth:`BatchSource.loss`) and says how much each batch weighs in
the epoch's mean loss. In a distributed run (:mod:`torch.distributed` initialised) the sampling
sources give each process its own share of the epoch (:class:`FullGraph` gives each the whole
graph, whose corruptions then differ per process); the engine wraps the model in
:class:`~torch.nn.parallel.DistributedDataParallel` and averages the losses.

- :class:`FullGraph`: one step per epoch on the whole graph (a ``Data`` or ``HeteroData``,
  views and relations included): :meth:`MIModel.training_loss
  <graphinfo.models.MIModel.training_loss>`.
- :class:`GraphBatches`: mini-batches of whole graphs from a collection (PyG's
  :class:`~torch_geometric.loader.DataLoader`), as graph-level models train.
- :class:`NeighborBatches`: neighbour-sampled subgraphs around seed nodes (PyG's
  :class:`~torch_geometric.loader.NeighborLoader`): :meth:`MIModel.subgraph_loss
  <graphinfo.models.MIModel.subgraph_loss>` on the seeds, scored against a summary that is the
  batch's own or a moving average of batch summaries (:class:`SummaryTracker`).
- :class:`SubgraphWindows`: random node windows of a graph and the subgraphs they induce, in
  every view, each treated as a whole graph (MVGRL's sub-sampled training).
"""
from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData
from torch_geometric.utils import subgraph

from graphinfo import distributed
from graphinfo.models.base import supports_subgraphs, training_loss
from graphinfo.sampler import TorchNeighborSampler, neighbor_loader

#: Summary modes of :class:`NeighborBatches`.
SUMMARY_MODES = ("batch", "ema")
#: Neighbours sampled per node and layer when ``num_neighbors`` is not given.
DEFAULT_FANOUT = 10

Graphs = Sequence[Data]
"""A collection of graphs: a PyG ``Dataset`` (e.g. a ``TUDataset``) or a list of ``Data``."""


class BatchSource:
    """Base class of the batch sources (see the module docstring).

    Attributes:
        single_step (bool): Each epoch is one step on the same data (the full graph); the
            engine then judges early stopping on the weights before the step, which produced
            the loss.
    """

    single_step: bool = False

    def setup(self, model: torch.nn.Module, device: torch.device) -> None:
        """Prepares the source for ``model`` on ``device`` (once, before the first epoch)."""
        self.device = device

    def batches(self, epoch: int) -> Iterable[Any]:
        """This process's batches of ``epoch``, on the device."""
        raise NotImplementedError

    def loss(self, model: torch.nn.Module, batch: Any) -> Tensor:
        """The loss of one batch."""
        return training_loss(model, batch)

    def weight(self, batch: Any) -> float:
        """The batch's weight in the epoch's mean loss."""
        return 1.0

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint must hold for a resumed run to equal an uninterrupted one."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores :meth:`state_dict`."""

    def close(self) -> None:
        """Releases what :meth:`setup` acquired."""


class FullGraph(BatchSource):
    """One step per epoch on the whole graph: a ``Data``, a ``Batch`` or a ``HeteroData`` (the
    caller's object is not moved; a shallow copy is)."""

    single_step = True

    def __init__(self, data: Data | HeteroData) -> None:
        if not isinstance(data, (Data, HeteroData)):
            raise ValueError(f"'data' must be a PyG Data or HeteroData object, got "
                             f"{type(data).__name__}")
        self.data = data

    def setup(self, model: torch.nn.Module, device: torch.device) -> None:
        super().setup(model, device)
        self._on_device = copy.copy(self.data).to(device)

    def batches(self, epoch: int) -> Iterable[Any]:
        return (self._on_device,)

    def close(self) -> None:
        self._on_device = None


def check_graphs(graphs: Graphs, batch_size: int) -> Data:
    """Checks a collection of graphs (non-empty, node features) and a batch size; returns the
    first graph. Raises ValueError naming the argument otherwise."""
    if batch_size < 1:
        raise ValueError(f"'batch_size' must be >= 1, got {batch_size}")
    if isinstance(graphs, Data) or not hasattr(graphs, "__len__") \
            or not hasattr(graphs, "__getitem__"):
        raise ValueError("'graphs' must be a PyG Dataset or a list of Data objects, got "
                         f"{type(graphs).__name__}" + (" (for a Batch, pass batch.to_data_list())"
                                                       if isinstance(graphs, Data) else ""))
    if len(graphs) == 0:
        raise ValueError("'graphs' is empty; expected at least one graph")
    first = graphs[0]
    if getattr(first, "x", None) is None:
        raise ValueError("the graphs in 'graphs' must have node features 'x' (graph 0 has "
                         "none); give featureless graphs features first, e.g. one-hot degrees "
                         "(graphinfo.data.load_dataset does this for TU datasets)")
    return first


class GraphBatches(BatchSource):
    r"""Mini-batches of whole graphs: each batch is a PyG ``Batch`` of up to ``batch_size``
    graphs with its ``batch`` vector, and its loss is the model's
    :meth:`~graphinfo.models.MIModel.training_loss`; the epoch's loss is the mean batch loss.

    When the last batch of an epoch would hold a single graph while the others hold more
    (``len(graphs) % batch_size == 1``), it is skipped: models that contrast the graphs of a
    batch with each other, such as :class:`~graphinfo.models.InfoGraph`, need at least two.
    With ``shuffle=True`` that graph lands in other batches in other epochs; with
    ``shuffle=False`` the last graph is never trained on.

    Args:
        graphs: A PyG ``Dataset`` or a list of ``Data``, each with ``x`` and ``edge_index``.
        batch_size: Graphs per batch (per process).
        shuffle: Reshuffle the graphs every epoch.
        seed: Seed of the shuffling order; ``None`` draws it from torch's global generator
            (whose state a checkpoint keeps). In a distributed run each process takes its
            share of one order that all of them draw alike (PyG's ``DistributedSampler``,
            seeded by ``seed``, 0 when ``None``, and the epoch); the graphs beyond a multiple
            of the number of processes are left out of that epoch, and the lone-graph rule
            applies to each process's share. Batch-norm statistics are rank 0's
            (``DistributedDataParallel`` broadcasts buffers).
    """

    def __init__(self, graphs: Graphs, batch_size: int = 128, shuffle: bool = True,
                 seed: int | None = None) -> None:
        check_graphs(graphs, batch_size)
        self.graphs = graphs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.skip_single = batch_size > 1 and len(graphs) > 1

    def setup(self, model: torch.nn.Module, device: torch.device) -> None:
        from torch_geometric.loader import DataLoader

        super().setup(model, device)
        # A fresh generator per run: a source trained twice shuffles the same way twice.
        self.generator = torch.Generator().manual_seed(self.seed) \
            if self.seed is not None else None
        self.sampler = None
        if distributed.is_distributed():
            from torch.utils.data.distributed import DistributedSampler

            self.sampler = DistributedSampler(self.graphs, shuffle=self.shuffle,
                                              seed=self.seed or 0, drop_last=True)
            self.loader = DataLoader(self.graphs, batch_size=self.batch_size,
                                     sampler=self.sampler, generator=self.generator)
        else:
            self.loader = DataLoader(self.graphs, batch_size=self.batch_size,
                                     shuffle=self.shuffle, generator=self.generator)

    def batches(self, epoch: int) -> Iterable[Any]:
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)
        for batch in self.loader:
            if self.skip_single and batch.num_graphs == 1:
                continue
            yield batch.to(self.device)

    def state_dict(self) -> dict[str, Any]:
        generator = getattr(self, "generator", None)
        return {"loader_generator": generator.get_state()} if generator is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        generator = getattr(self, "generator", None)
        if generator is not None and state.get("loader_generator") is not None:
            generator.set_state(state["loader_generator"])


class SummaryTracker:
    r"""Turns each batch's summary into the summary the loss uses: averaged over processes,
    then used as it is (``'batch'``) or through a moving average (``'ema'``).

    ``'ema'`` keeps :math:`\bar{\mathbf{s}}_t = m\,\bar{\mathbf{s}}_{t-1} + (1 - m)\,
    \mathbf{s}_t` from :math:`\bar{\mathbf{s}}_1 = \mathbf{s}_1`: it smooths the summary over
    roughly the last :math:`1 / (1 - m)` batches (10 for the default :math:`m = 0.9`), not over
    the whole graph. The gradient flows through the current batch's share
    :math:`(1 - m)\,\mathbf{s}_t` only (:math:`\bar{\mathbf{s}}_{t-1}` is a constant), and
    through all of :math:`\mathbf{s}_1` at the first step.

    Args:
        mode (str): ``'batch'`` or ``'ema'``.
        momentum (float): :math:`m` of the moving average, in :math:`[0, 1)`.
        group: Process group of the all-reduce (default: the global one).
    """

    def __init__(self, mode: str = "batch", momentum: float = 0.9, group: Any = None) -> None:
        if mode not in SUMMARY_MODES:
            raise ValueError(f"'summary' must be one of {', '.join(map(repr, SUMMARY_MODES))}, "
                             f"got {mode!r}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"'summary_momentum' must be in [0, 1), got {momentum!r}")
        self.mode = mode
        self.momentum = momentum
        self.group = group
        self.average: Tensor | None = None

    def __call__(self, summary: Tensor) -> Tensor:
        summary = distributed.all_reduce_mean(summary, self.group)
        if self.mode == "batch":
            return summary
        if self.average is None or self.average.shape != summary.shape:
            used = summary
        else:
            used = self.momentum * self.average.to(summary) + (1.0 - self.momentum) * summary
        self.average = used.detach()
        return used

    def state_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "momentum": self.momentum, "average": self.average}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.average = state.get("average")


def seed_nodes(input_nodes: Tensor | None, num_nodes: int) -> Tensor:
    """``input_nodes`` (indices or a boolean mask) as checked node indices; all nodes if None.

    Raises:
        ValueError: On a mask of the wrong size, float indices, indices out of range, or fewer
            seeds than processes.
    """
    if input_nodes is None:
        return torch.arange(num_nodes)
    nodes = torch.as_tensor(input_nodes).view(-1)
    if nodes.dtype == torch.bool:
        if nodes.numel() != num_nodes:
            raise ValueError(f"'input_nodes' as a boolean mask must have one entry per node "
                             f"({num_nodes}), got {nodes.numel()}")
        nodes = nodes.nonzero().view(-1)
    elif nodes.is_floating_point() or nodes.is_complex():
        raise ValueError(f"'input_nodes' must be integer node indices or a boolean mask, got "
                         f"dtype {nodes.dtype}")
    nodes = nodes.long()
    if nodes.numel() == 0 or int(nodes.min()) < 0 or int(nodes.max()) >= num_nodes:
        raise ValueError(f"'input_nodes' must be non-empty node indices in [0, {num_nodes}), "
                         f"got {nodes.numel()} entries")
    if nodes.numel() < distributed.world_size():
        raise ValueError(f"'input_nodes' has {nodes.numel()} node(s), fewer than the "
                         f"{distributed.world_size()} processes training on them")
    return nodes


def epoch_seeds(inputs: Tensor, epoch: int, seed: int) -> Tensor:
    """This process's seed nodes for ``epoch``: one shuffle shared by all processes (seeded by
    ``seed`` and the epoch), split into equal shares (the few left over are dropped so that
    every process runs the same number of steps)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = inputs[torch.randperm(inputs.numel(), generator=generator)]
    world = distributed.world_size()
    share = order.numel() // world
    return order[distributed.rank() * share:(distributed.rank() + 1) * share]


class SeedBatches(BatchSource):
    """What the seed-node sources share: each batch weighs its number of seeds
    (``batch.batch_size``) and the summary tracker (``self.tracker``) is their state."""

    tracker: SummaryTracker

    def weight(self, batch: Any) -> float:
        return float(batch.batch_size)

    def state_dict(self) -> dict[str, Any]:
        return {"summary": self.tracker.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("summary") is not None:
            self.tracker.load_state_dict(state["summary"])


class NeighborBatches(SeedBatches):
    r"""Neighbour-sampled subgraphs around seed nodes (PyG's
    :class:`~torch_geometric.loader.NeighborLoader`; :func:`graphinfo.sampler.neighbor_loader`
    stands in for ``pyg-lib``).

    One epoch visits every node of ``input_nodes`` once as a seed, in an order reshuffled each
    epoch (shared by all processes, each taking an equal share). A batch is the subgraph
    sampled around :math:`B` seeds, the first :math:`B` of its nodes, carrying the full
    graph's in-degree of each sampled node (``batch.in_degree``; GCN encoders weight their
    edges with it); its loss is the model's :meth:`~graphinfo.models.MIModel.subgraph_loss`
    on the seeds, with a :class:`SummaryTracker` as the global summary: the batch's own
    summary (``summary='batch'``, the default, what PyG's mini-batch DGI example does) or a
    moving average of batch summaries (``'ema'``), averaged over processes either way. The
    epoch loss is the mean over seeds.

    **Memory** per step is bounded by the batch: the loader gathers the features of the sampled
    nodes only. What stays for the whole run grows with the graph: its features and edges, and
    the sampler's CSC copy of the edges (about 50 bytes per edge with PyG's edge permutation).

    Args:
        data: The graph (``x``, ``edge_index``), kept on the CPU; batches move to the device.
        num_neighbors: Neighbours sampled per node and layer (``-1``: all); default
            :data:`DEFAULT_FANOUT` per layer the model's embedding depends on
            (:attr:`~graphinfo.models.MIModel.num_hops`).
        batch_size: Seed nodes per batch (per process).
        input_nodes: Seed nodes (indices or a boolean mask); all nodes by default.
        seed: Seeds the per-epoch shuffles of the seed nodes.
        summary: ``'batch'`` or ``'ema'``.
        summary_momentum: :math:`m` of ``'ema'``.
        num_workers: Sampling worker processes of the loader.
    """

    def __init__(self, data: Data, num_neighbors: Sequence[int] | None = None,
                 batch_size: int = 1024, input_nodes: Tensor | None = None, seed: int = 0,
                 summary: str = "batch", summary_momentum: float = 0.9,
                 num_workers: int = 0) -> None:
        if getattr(data, "x", None) is None or getattr(data, "edge_index", None) is None:
            raise ValueError("'data' must have node features 'x' and an 'edge_index'")
        for name in ("edge_weight", "edge_attr"):
            if getattr(data, name, None) is not None:
                raise ValueError(f"fit_minibatch samples unweighted graphs; 'data' has {name!r}. "
                                 f"Train full-batch with graphinfo.train.fit, or drop it")
        if data.x.layout != torch.strided:
            raise ValueError("fit_minibatch needs dense node features 'x' (the loader gathers "
                             "rows); convert a sparse 'x' with x.to_dense()")
        if batch_size < 1:
            raise ValueError(f"'batch_size' must be >= 1, got {batch_size}")
        if num_neighbors is not None:
            fanout = [int(k) for k in num_neighbors]
            if not fanout or any(k == 0 or k < -1 for k in fanout):
                raise ValueError(f"'num_neighbors' must list one positive count (or -1 for "
                                 f"all) per layer, got {list(num_neighbors)}")
        self.data = data
        self.num_neighbors = None if num_neighbors is None else [int(k) for k in num_neighbors]
        self.batch_size = batch_size
        self.inputs = seed_nodes(input_nodes, data.num_nodes)
        self.seed = seed
        self.tracker = SummaryTracker(summary, summary_momentum)
        self.num_workers = num_workers

    def setup(self, model: torch.nn.Module, device: torch.device) -> None:
        if not supports_subgraphs(model):
            raise TypeError(f"fit_minibatch trains models that contrast the seed nodes of "
                            f"sampled subgraphs, i.e. that define subgraph_loss(batch, "
                            f"global_summary) (DGI does); {type(model).__name__} does not. "
                            f"Train it full-batch with graphinfo.train.fit")
        super().setup(model, device)
        hops = getattr(model, "num_hops", None)      # None: an encoder that does not say
        if self.num_neighbors is None:
            self.fanout = [DEFAULT_FANOUT] * (hops or 1)
        elif hops is not None and len(self.num_neighbors) != hops:
            raise ValueError(f"'num_neighbors' must give one count per encoder layer: the "
                             f"encoder has {hops} layer(s), got {len(self.num_neighbors)} "
                             f"count(s) {self.num_neighbors}")
        else:
            self.fanout = self.num_neighbors
        hook = getattr(model, "sampling_graph", None)
        self.graph = hook(self.data) if callable(hook) else self.data
        self.sampler = TorchNeighborSampler(self.graph, self.fanout)
        self.in_degree = self.sampler.colptr[1:] - self.sampler.colptr[:-1]
        self.tracker.average = None                  # no moving average from an earlier run
        if distributed.is_distributed():
            self.tracker.group = torch.distributed.new_group()  # apart from DDP's collectives

    def batches(self, epoch: int) -> Iterable[Any]:
        loader = neighbor_loader(self.graph, self.fanout,
                                 input_nodes=epoch_seeds(self.inputs, epoch, self.seed),
                                 batch_size=self.batch_size, sampler=self.sampler,
                                 num_workers=self.num_workers)
        for batch in loader:
            batch.in_degree = self.in_degree[batch.n_id]
            yield batch.to(self.device)

    def loss(self, model: torch.nn.Module, batch: Any) -> Tensor:
        return model.subgraph_loss(batch, self.tracker)

    def close(self) -> None:
        if self.tracker.group is not None:
            torch.distributed.destroy_process_group(self.tracker.group)
            self.tracker.group = None


def induced_subgraph(data: Data, nodes: Tensor) -> Data:
    """The subgraph of ``data`` induced by ``nodes`` (relabelled ``0 .. len(nodes) - 1`` in the
    given order) in every view: each ``*edge_index`` attribute keeps its edges between the
    nodes, with the attributes of the same prefix (``<prefix>edge_weight``,
    ``<prefix>edge_attr``) and, for the main ``edge_index``, every attribute PyG counts as
    edge-level (``edge_type`` ...); node-level attributes are indexed, the rest copied."""
    num_nodes = data.num_nodes
    if getattr(data, "edge_index", None) is not None:
        nodes = nodes.to(data.edge_index.device)
    out = copy.copy(data)
    edge_sets = [key for key in data.keys() if key.endswith("edge_index")]
    view_keys = {f"{key[:-len('edge_index')]}{suffix}" for key in edge_sets
                 if key != "edge_index" for suffix in ("edge_index", "edge_weight", "edge_attr")}
    edge_keys: set[str] = set()
    for key in edge_sets:
        prefix = key[: -len("edge_index")]
        companions = [name for name in (f"{prefix}edge_weight", f"{prefix}edge_attr")
                      if name in data]
        if key == "edge_index":
            companions += [name for name in data.keys() if name not in companions
                           and name not in view_keys and name != key
                           and data.is_edge_attr(name)]
        edge_keys.update([key, *companions])
        edge_index, _, mask = subgraph(nodes, data[key], relabel_nodes=True,
                                       num_nodes=num_nodes, return_edge_mask=True)
        out[key] = edge_index
        for name in companions:
            out[name] = data[name][mask]
    for key in data.keys():
        if key in edge_keys:
            continue
        value = data[key]
        if isinstance(value, Tensor) and value.dim() >= 1 and value.size(0) == num_nodes:
            out[key] = value[nodes]
    out.num_nodes = int(nodes.numel())
    return out


class SubgraphWindows(BatchSource):
    """Random node windows of one graph and the subgraphs they induce in every view
    (:func:`induced_subgraph`), each treated as a whole graph by the model's
    :meth:`~graphinfo.models.MIModel.training_loss` (MVGRL trains this way where the full
    graph does not fit).

    Args:
        data: The graph, with any number of views (``edge_index``,
            ``diffusion_edge_index`` ...).
        size: Nodes per window.
        steps: Windows (optimiser steps) per epoch (per process).
        mode: ``'contiguous'``: ``size`` consecutive node ids from a random start, as the
            MVGRL authors' code samples; ``'random'``: ``size`` nodes drawn without
            replacement.
        seed: Seeds the windows of each epoch (with the epoch and the process's rank, so a
            resumed run draws the windows an uninterrupted one would); ``None`` draws from
            torch's global generator.
    """

    def __init__(self, data: Data, size: int, steps: int = 1, mode: str = "contiguous",
                 seed: int | None = None) -> None:
        if not isinstance(data, Data):
            raise ValueError(f"SubgraphWindows samples a homogeneous Data with views, got "
                             f"{type(data).__name__}")
        if size < 1 or steps < 1:
            raise ValueError(f"'size' and 'steps' must be >= 1, got {size} and {steps}")
        if size > data.num_nodes:
            raise ValueError(f"'size' ({size}) exceeds the graph's {data.num_nodes} nodes")
        if mode not in ("contiguous", "random"):
            raise ValueError(f"'mode' must be 'contiguous' or 'random', got {mode!r}")
        self.data, self.size, self.steps, self.mode, self.seed = data, size, steps, mode, seed

    def window(self, generator: torch.Generator | None = None) -> Tensor:
        """The node ids of one window, drawn from ``generator`` (default: torch's global)."""
        num_nodes = self.data.num_nodes
        if self.mode == "contiguous":
            start = int(torch.randint(0, num_nodes - self.size + 1, (1,), generator=generator))
            return torch.arange(start, start + self.size)
        return torch.randperm(num_nodes, generator=generator)[:self.size]

    def batches(self, epoch: int) -> Iterable[Any]:
        generator = None if self.seed is None else torch.Generator().manual_seed(
            (self.seed * 1_000_003 + epoch) * 7919 + distributed.rank())
        for _ in range(self.steps):
            yield induced_subgraph(self.data, self.window(generator)).to(self.device)
