r"""Mini-batch training of DGI-style models on neighbour-sampled batches, on one process or
many (:mod:`torch.distributed`), and layer-wise full-graph inference for exporting embeddings.

**A training step.** A batch is the subgraph that PyG's
:class:`~torch_geometric.loader.NeighborLoader` samples around :math:`B` seed nodes
(:func:`graphinfo.sampler.neighbor_loader`). The model runs on that subgraph as on a whole
graph, so the corruption (e.g. shuffling the node features) is applied inside the batch, among
its sampled nodes. The loss uses the seeds only: their clean embeddings
:math:`\mathbf{h}_1 \dots \mathbf{h}_B` are the positives, their corrupted embeddings the
negatives, and the summary is

* ``summary='batch'`` (the default): the readout of the batch's seeds,
  :math:`\mathbf{s}_t = \mathcal{R}(\mathbf{h}_1, \dots, \mathbf{h}_B)`; with :math:`B` in the
  hundreds it estimates the full-graph summary closely, and it is what PyG's mini-batch DGI
  example does;
* ``summary='ema'``: an exponential moving average of the batch summaries,
  :math:`\bar{\mathbf{s}}_t = m\,\bar{\mathbf{s}}_{t-1} + (1 - m)\,\mathbf{s}_t`, starting
  from :math:`\bar{\mathbf{s}}_1 = \mathbf{s}_1`; it smooths the summary over roughly the last
  :math:`1 / (1 - m)` batches (10 for the default :math:`m = 0.9`), not over the whole graph.
  The gradient flows through the current batch's share :math:`(1 - m)\,\mathbf{s}_t` only
  (:math:`\bar{\mathbf{s}}_{t-1}` is a constant), and through all of :math:`\mathbf{s}_1` at the
  first step.

With several processes each one trains on its own share of the seeds; the batch summary is
averaged over the processes with a differentiable all-reduce before it is used (so every
process scores against the same global summary) and the gradients are all-reduced by
:class:`~torch.nn.parallel.DistributedDataParallel`.

**GCN on a sampled subgraph.** Normalising a sampled subgraph by its own degrees, as a plain
GCN layer would, changes the operator: a neighbour sampled from the last hop has no edges of
its own in the subgraph. For :class:`graphinfo.nn.GCNEncoder` the batch therefore carries edge
weights built from the full graph's in-degrees :math:`d` (:func:`sampled_gcn_edges`): an edge
sampled for node :math:`i` weighs :math:`d_i / k_i` (:math:`k_i` neighbours sampled), so each
layer's neighbour sum, before the activation, is an unbiased estimate of the full graph's, and
node :math:`i`'s degree is exactly :math:`d_i + 1`; every node gets an explicit self-loop, of
weight :math:`1` for expanded nodes and :math:`d_j + 1` for the last hop's, whose degree is
then exact too. (Through the activations and across layers the estimate is no longer
unbiased, as with any sampled GNN.) When every neighbour is sampled the seeds' embeddings equal
the full-graph GCN's exactly.

**Memory** per step is bounded by the batch: the loader gathers the features of the sampled
nodes only, and nothing of the size of the graph is built per step. What stays for the whole
run grows with the graph: its features and edges, and the sampler's CSC copy of the edges
(built once, about 50 bytes per edge with PyG's edge permutation). **Export**
(:func:`embed_layerwise`) computes every node's embedding without sampling, one layer at a time
over the whole graph.
"""
from __future__ import annotations

import copy
import logging
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import remove_self_loops
from tqdm.auto import tqdm

from graphinfo import distributed
from graphinfo.io import save_torch
from graphinfo.nn.encoders import GCNEncoder, GINEncoder, SAGEEncoder
from graphinfo.runtime import allocator_tuning_enabled, tune_cpu_allocator
from graphinfo.sampler import TorchNeighborSampler, neighbor_loader
from graphinfo.train import (
    Callback,
    History,
    TrainingDivergedError,
    _copy_state,
    _model_device,
    _show_progress,
    check_loop_arguments,
    make_optimizer,
)

logger = logging.getLogger(__name__)

#: Summary modes of :func:`fit_minibatch`.
SUMMARY_MODES = ("batch", "ema")
#: Neighbours sampled per node and layer when ``num_neighbors`` is not given.
DEFAULT_FANOUT = 10


class SummaryTracker:
    """Turns each batch's summary into the summary the loss uses (see the module docstring):
    averaged over processes, then used as it is (``'batch'``) or through a moving average
    (``'ema'``).

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


def sampled_gcn_edges(batch: Data, in_degree: Tensor, fill_value: float = 1.0
                      ) -> tuple[Tensor, Tensor]:
    r"""Edges and weights that give a GCN on a neighbour-sampled batch the full graph's degree
    normalisation and an unbiased neighbour sum per layer (see the module docstring).

    Args:
        batch (Data): A batch of :func:`graphinfo.sampler.neighbor_loader` over a graph without
            self-loops: ``edge_index`` (local ids, messages to ``edge_index[1]``), ``n_id`` and
            ``num_sampled_nodes``.
        in_degree (Tensor): In-degree of every node of the full graph, :math:`(N,)`.
        fill_value (float): Self-loop weight of the expanded nodes. (default: ``1``, what
            :func:`torch_geometric.nn.conv.gcn_conv.gcn_norm` gives an unweighted graph, also
            with ``improved=True``, which only changes the loops it adds to weighted graphs)

    Returns:
        tuple[Tensor, Tensor]: ``edge_index`` with one self-loop per node appended, and its
        weights.
    """
    num_nodes = batch.num_nodes
    row, col = batch.edge_index
    degree = in_degree[batch.n_id].to(torch.float32)
    sampled = torch.zeros(num_nodes, dtype=torch.float32).index_add_(
        0, col, torch.ones(col.numel(), dtype=torch.float32))
    edge_weight = (degree / sampled.clamp(min=1))[col]
    expanded = num_nodes - int(batch.num_sampled_nodes[-1]) \
        if len(batch.num_sampled_nodes) > 1 else num_nodes
    loop_weight = torch.full((num_nodes,), float(fill_value))
    loop_weight[expanded:] += degree[expanded:]   # the last hop: no edges of their own here
    loops = torch.arange(num_nodes)
    return (torch.cat([batch.edge_index, torch.stack([loops, loops])], dim=1),
            torch.cat([edge_weight, loop_weight]))


def _load_checkpoint(checkpoint: str | os.PathLike | None,
                     device: torch.device) -> dict[str, Any] | None:
    """The checkpoint to resume from, or ``None`` when its file does not exist; in a distributed
    run rank 0 reads it and sends it to the others (no shared filesystem needed)."""
    state = None
    if checkpoint is not None and distributed.is_main_process() and Path(checkpoint).exists():
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    if distributed.is_distributed():
        box = [state]
        torch.distributed.broadcast_object_list(box, src=0)
        state = box[0]
    if state is not None:
        logger.info("resuming from %s", checkpoint)
    return state


def _check_model(model: torch.nn.Module) -> None:
    missing = [name for name in ("encoder", "summarise", "loss") if not hasattr(model, name)]
    if missing:
        raise TypeError(f"fit_minibatch trains models that contrast node embeddings with a "
                        f"summary (DGI-style: forward returns pos_z, neg_z, summary, and the "
                        f"model has encoder, summarise and loss); {type(model).__name__} lacks "
                        f"{', '.join(missing)}")


def _check_data(data: Data) -> None:
    if getattr(data, "x", None) is None or getattr(data, "edge_index", None) is None:
        raise ValueError("'data' must have node features 'x' and an 'edge_index'")
    for name in ("edge_weight", "edge_attr"):
        if getattr(data, name, None) is not None:
            raise ValueError(f"fit_minibatch samples unweighted graphs; 'data' has {name!r}. "
                             f"Train full-batch with graphinfo.train.fit, or drop it")
    if data.x.layout != torch.strided:
        raise ValueError("fit_minibatch needs dense node features 'x' (the loader gathers "
                         "rows); convert a sparse 'x' with x.to_dense()")


def _seed_nodes(input_nodes: Tensor | None, num_nodes: int) -> Tensor:
    """``input_nodes`` (indices or a boolean mask) as checked node indices; all nodes if None."""
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


def _fanout(model: torch.nn.Module, num_neighbors: Sequence[int] | None) -> list[int]:
    if num_neighbors is None:
        return [DEFAULT_FANOUT] * int(getattr(model.encoder, "num_layers", 1))
    fanout = [int(k) for k in num_neighbors]
    if not fanout or any(k == 0 or k < -1 for k in fanout):
        raise ValueError(f"'num_neighbors' must list one positive count (or -1 for all) per "
                         f"layer, got {list(num_neighbors)}")
    layers = getattr(model.encoder, "num_layers", None)
    if isinstance(layers, int) and len(fanout) != layers:
        raise ValueError(f"'num_neighbors' must give one count per encoder layer: the encoder has "
                         f"{layers} layer(s), got {len(fanout)} count(s) {fanout}")
    return fanout


class _BatchPreparer:
    """Builds the model's inputs for a batch: GCN-normalisation-preserving weights for a
    :class:`~graphinfo.nn.GCNEncoder` that adds self-loops, the sampled subgraph otherwise."""

    def __init__(self, model: torch.nn.Module, sampler: TorchNeighborSampler) -> None:
        encoder = model.encoder
        self.gcn = isinstance(encoder, GCNEncoder) and encoder.add_self_loops
        self.in_degree = (sampler.colptr[1:] - sampler.colptr[:-1]) if self.gcn else None
        if isinstance(encoder, GCNEncoder) and not self.gcn:
            logger.warning("GCNEncoder(add_self_loops=False) on sampled batches normalises by "
                           "the subgraph's degrees, not the full graph's")

    def __call__(self, batch: Data) -> tuple[Tensor, ...]:
        if self.gcn:
            edge_index, edge_weight = sampled_gcn_edges(batch, self.in_degree)
            return batch.x, edge_index, edge_weight
        return batch.x, batch.edge_index


def _epoch_seeds(inputs: Tensor, epoch: int, seed: int) -> Tensor:
    """This process's seed nodes for ``epoch``: one shuffle shared by all processes (seeded by
    ``seed`` and the epoch), split into equal shares (the few left over are dropped so that
    every process runs the same number of steps)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = inputs[torch.randperm(inputs.numel(), generator=generator)]
    world = distributed.world_size()
    share = order.numel() // world
    return order[distributed.rank() * share:(distributed.rank() + 1) * share]


def fit_minibatch(model: torch.nn.Module, data: Data, *,
                  num_neighbors: Sequence[int] | None = None, batch_size: int = 1024,
                  epochs: int = 100, lr: float = 1e-3, weight_decay: float = 0.0,
                  patience: int | None = 20, min_delta: float = 0.0,
                  summary: str = "batch", summary_momentum: float = 0.9,
                  input_nodes: Tensor | None = None, seed: int = 0,
                  optimizer: torch.optim.Optimizer | None = None,
                  device: str | torch.device | None = None, progress: bool | None = None,
                  callbacks: Sequence[Callback] = (),
                  checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 1,
                  resume: bool = False, num_workers: int = 0) -> History:
    r"""Trains a DGI-style ``model`` on neighbour-sampled mini-batches (see the module
    docstring for the step, the summary and the GCN weighting).

    One epoch visits every node of ``input_nodes`` once as a seed, in an order reshuffled each
    epoch. Early stopping works on the epoch's mean loss as :func:`graphinfo.train.fit` does
    on the full-batch loss: after ``patience`` epochs without an improvement of at least
    ``min_delta`` training stops, and the weights at the end of the best epoch are loaded back.

    In a distributed run (the default process group initialised, e.g. by
    :func:`graphinfo.distributed.init_from_env`) the model is wrapped in
    :class:`~torch.nn.parallel.DistributedDataParallel`, each process takes an equal share of
    each epoch's seeds, the epoch loss is averaged over processes (so all stop together) and
    only rank 0 writes the checkpoint. Seed each process differently after building the model
    (DDP copies rank 0's weights to all) so that they sample and corrupt independently.

    Args:
        model: A DGI-style model (:class:`graphinfo.models.DGI`).
        data: The graph, ``x`` and ``edge_index``, kept on the CPU; batches move to ``device``.
        num_neighbors: Neighbours sampled per node and layer (``-1``: all); default
            :data:`DEFAULT_FANOUT` per encoder layer.
        batch_size: Seed nodes per batch (per process).
        epochs: Maximum number of epochs.
        lr: Adam learning rate (ignored when ``optimizer`` is given).
        weight_decay: Adam weight decay (ignored when ``optimizer`` is given).
        patience: Epochs without improvement before stopping; ``None`` never stops early.
        min_delta: Smallest decrease of the epoch loss that counts as an improvement.
        summary: ``'batch'`` or ``'ema'`` (module docstring).
        summary_momentum: :math:`m` of ``'ema'``.
        input_nodes: Seed nodes (index tensor); all nodes by default.
        seed: Seeds the per-epoch shuffles of the seed nodes (shared by all processes).
        optimizer: An optimiser over ``model``'s parameters; fused Adam by default.
        device: Where to train; defaults to where the model is.
        progress: Show a tqdm bar; ``None`` shows it only on a terminal (rank 0 only).
        callbacks: Called as ``callback(epoch, loss, model)`` after every epoch with the epoch's
            mean loss; returning ``True`` stops training (in a distributed run every process
            must return the same).
        checkpoint: A file written atomically every ``checkpoint_every`` epochs and at the end
            (model, best state, optimiser, summary average, history; by rank 0).
        checkpoint_every: Epochs between checkpoints.
        resume: Continue from ``checkpoint`` when the file exists.
        num_workers: Sampling worker processes of the loader.

    Returns:
        :class:`graphinfo.train.History`; ``losses`` are epoch means over seeds.

    Raises:
        TypeError: If ``model`` is not DGI-style.
        ValueError: On invalid arguments, weighted graphs or sparse features.
        TrainingDivergedError: When a batch loss is NaN or infinite; the model is reset to its
            best state.
    """
    _check_model(model)
    _check_data(data)
    check_loop_arguments(epochs=epochs, patience=patience, checkpoint=checkpoint,
                         checkpoint_every=checkpoint_every, resume=resume, batch_size=batch_size)
    fanout = _fanout(model, num_neighbors)
    inputs = _seed_nodes(input_nodes, data.num_nodes)
    tracker = SummaryTracker(summary, summary_momentum)
    model, device = _model_device(model, device)
    if device.type == "cpu" and allocator_tuning_enabled():
        tune_cpu_allocator()

    graph = copy.copy(data)
    if isinstance(model.encoder, GCNEncoder):
        graph.edge_index = remove_self_loops(data.edge_index)[0]  # the weights add their own
    sampler = TorchNeighborSampler(graph, fanout)
    prepare = _BatchPreparer(model, sampler)

    network: torch.nn.Module = model
    if distributed.is_distributed():
        from torch.nn.parallel import DistributedDataParallel

        tracker.group = torch.distributed.new_group()   # keeps DDP's own collectives apart
        network = DistributedDataParallel(
            model, device_ids=[device] if device.type == "cuda" else None)
    if optimizer is None:
        optimizer = make_optimizer(model, lr=lr, weight_decay=weight_decay)

    history = History()
    best_state = copy.deepcopy(model.state_dict())
    bad_epochs, start_epoch = 0, 0
    state = _load_checkpoint(checkpoint, device) if resume else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        best_state, bad_epochs = state["best_state"], state["bad_epochs"]
        history = History(**state["history"])
        history.stopped_early = False
        tracker.load_state_dict(state["summary"])
        if not distributed.is_distributed():   # each process has its own generator otherwise
            torch.set_rng_state(state["rng"])
        start_epoch = history.resumed_from_epoch = history.epochs
        logger.info("resumed from %s at epoch %d", checkpoint, start_epoch)

    def save_checkpoint() -> None:
        if checkpoint is None or not distributed.is_main_process():
            return
        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            logger.warning("weights are not finite; keeping the previous checkpoint %s",
                           checkpoint)
            return
        save_torch({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "best_state": best_state, "history": history.as_dict(),
                    "bad_epochs": bad_epochs, "summary": tracker.state_dict(),
                    "rng": torch.get_rng_state()}, checkpoint)

    show = _show_progress(progress) and distributed.is_main_process()
    bar = tqdm(range(start_epoch, epochs), disable=not show, desc="training", unit="epoch",
               initial=start_epoch, total=epochs)
    network.train()
    try:
        for epoch in bar:
            started = time.perf_counter()
            total, seen = 0.0, 0
            loader = neighbor_loader(graph, fanout, input_nodes=_epoch_seeds(inputs, epoch, seed),
                                     batch_size=batch_size, sampler=sampler,
                                     num_workers=num_workers)
            for index, batch in enumerate(loader):
                seeds = int(batch.batch_size)
                inputs_ = tuple(t.to(device) for t in prepare(batch))
                optimizer.zero_grad(set_to_none=True)
                out = network(*inputs_)
                pos_z, neg_z = out.pos_z[:seeds], out.neg_z[:seeds]
                loss = model.loss(pos_z, neg_z, tracker(model.summarise(pos_z)))
                value = float(loss.detach())
                # Averaged over processes, a NaN anywhere stops every process together.
                checked = distributed.all_reduce_scalar(value, device)
                if not math.isfinite(checked):
                    model.load_state_dict(best_state)
                    raise TrainingDivergedError(
                        f"The loss became {checked} at epoch {epoch}, batch {index}; training "
                        f"stopped and the model was reset to its best state (epoch "
                        f"{history.best_epoch}). Try a lower learning rate or a bounded "
                        f"estimator such as 'jsd'.")
                loss.backward()
                optimizer.step()
                total += value * seeds
                seen += seeds
            mean = distributed.all_reduce_scalar(total / max(seen, 1), device)
            history.losses.append(mean)
            history.epoch_times.append(time.perf_counter() - started)
            if mean < history.best_loss - min_delta:
                history.best_loss, history.best_epoch = mean, epoch
                _copy_state(model.state_dict(), into=best_state)
                bad_epochs = 0
            else:
                bad_epochs += 1
            bar.set_postfix(loss=f"{mean:.4f}", best=f"{history.best_loss:.4f}")
            stop = any([callback(epoch, mean, model) is True for callback in callbacks])
            if patience is not None and bad_epochs >= patience:
                history.stopped_early = stop = True
            if (epoch + 1) % checkpoint_every == 0 or stop:
                save_checkpoint()
            if stop:
                break
    finally:
        bar.close()
        if tracker.group is not None:
            torch.distributed.destroy_process_group(tracker.group)
    save_checkpoint()
    model.load_state_dict(best_state)
    logger.info("trained %d epochs on mini-batches of %d seeds; best loss %.6g at epoch %d",
                history.epochs, batch_size, history.best_loss, history.best_epoch)
    return history


@torch.no_grad()
def embed_layerwise(model: torch.nn.Module, data: Data, *, chunk_size: int = 65536,
                    device: str | torch.device | None = None) -> Tensor:
    r"""Every node's embedding, computed layer by layer over the whole graph, without sampling
    (eval mode, no gradient), on the CPU.

    * :class:`~graphinfo.nn.GCNEncoder` runs its sparse path on the full graph: each layer is
      one product with the cached normalised CSR adjacency, no :math:`E \times F` tensor;
    * :class:`~graphinfo.nn.SAGEEncoder` and :class:`~graphinfo.nn.GINEncoder` compute each
      layer for ``chunk_size`` target nodes at a time from all nodes' previous-layer output,
      so at most the edges into one chunk are held as messages;
    * any other encoder is called once on the whole graph (``model.embed``).

    The result equals ``model.embed(data.x, data.edge_index)`` up to float rounding.

    Args:
        model: A trained model with an ``encoder``.
        data: The full graph.
        chunk_size: Target nodes per step of the chunked layers.
        device: Where to compute; defaults to where the model is.

    Returns:
        Tensor: :math:`(N, F)` embeddings.
    """
    if chunk_size < 1:
        raise ValueError(f"'chunk_size' must be >= 1, got {chunk_size}")
    model, device = _model_device(model, device)
    encoder = getattr(model, "encoder", None)
    was_training = model.training
    model.eval()
    try:
        if type(encoder) in (SAGEEncoder, GINEncoder) and getattr(data, "edge_weight",
                                                                  None) is None:
            if hasattr(model, "check_inputs"):
                model.check_inputs(data.x, data.edge_index)
            return _chunked_layers(encoder, data, chunk_size, device).cpu()
        args = (data.x.to(device), data.edge_index.to(device))
        if getattr(data, "edge_weight", None) is not None:
            args = (*args, data.edge_weight.to(device))
        return model.embed(*args).cpu()
    finally:
        model.train(was_training)


def _chunked_layers(encoder: torch.nn.Module, data: Data, chunk_size: int,
                    device: torch.device) -> Tensor:
    """Layer-wise inference of a SAGE/GIN stack in chunks of target nodes (bipartite calls)."""
    num_nodes = data.num_nodes
    source, target = data.edge_index
    order = torch.argsort(target, stable=True)
    source, target = source[order], target[order]
    bounds = torch.searchsorted(target, torch.arange(0, num_nodes + chunk_size, chunk_size)
                                .clamp(max=num_nodes))
    h = data.x.to(device)
    for conv, act in zip(encoder.convs, encoder.acts):
        out = None
        for start in range(0, num_nodes, chunk_size):
            stop = min(start + chunk_size, num_nodes)
            chunk = start // chunk_size
            lo, hi = int(bounds[chunk]), int(bounds[chunk + 1])
            edges = torch.stack([source[lo:hi], target[lo:hi] - start]).to(device)
            part = act(conv((h, h[start:stop]), edges, size=(num_nodes, stop - start)))
            if out is None:
                out = h.new_empty(num_nodes, part.size(1))
            out[start:stop] = part
        h = out
    return h
