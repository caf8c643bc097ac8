"""Readable training loops for any graphinfo model.

:func:`fit` trains full-batch: one step per epoch on the whole graph, Adam, early stopping on the
loss with patience, the best state restored at the end, an optional atomic checkpoint that
training resumes from, and a clear error (keeping the last good checkpoint) when the loss turns
NaN. :func:`fit_graphs` trains a graph-level model on a collection of graphs in mini-batches of
whole graphs for a fixed number of epochs; :func:`embed` and :func:`embed_graphs` compute the
embeddings afterwards. Mini-batch training of node-level models on neighbour-sampled batches,
on one process or several, lives in :mod:`graphinfo.minibatch`
(:func:`~graphinfo.minibatch.fit_minibatch`, :func:`~graphinfo.minibatch.embed_layerwise`;
both can be imported from here too).
"""
from __future__ import annotations

import copy
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data
from tqdm.auto import tqdm

from graphinfo.io import save_torch
from graphinfo.runtime import allocator_tuning_enabled, tune_cpu_allocator

logger = logging.getLogger(__name__)

Callback = Callable[[int, float, torch.nn.Module], Any]


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite; the model holds its best state when this is raised."""


@dataclass
class History:
    """What :func:`fit` and :func:`fit_graphs` return: one loss per epoch (the mean batch loss
    for :func:`fit_graphs`) and where the lowest one was."""

    losses: list[float] = field(default_factory=list)
    epoch_times: list[float] = field(default_factory=list)
    best_epoch: int = -1
    best_loss: float = math.inf
    stopped_early: bool = False
    resumed_from_epoch: int = 0

    @property
    def epochs(self) -> int:
        return len(self.losses)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_optimizer(model: torch.nn.Module, lr: float = 1e-3,
                   weight_decay: float = 0.0) -> torch.optim.Adam:
    """The optimiser :func:`fit` uses: Adam, with the fused single-kernel update when every
    parameter is a floating tensor on the CPU or a CUDA device (the same update rule in one
    kernel, a few times faster on small models), else PyTorch's default implementation."""
    params = list(model.parameters())
    fused = bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda")
                                 for p in params)
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=fused or None)
    except (RuntimeError, TypeError):  # a torch without fused Adam for this device
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def model_inputs(data: Data) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The positional and keyword arguments a model is called with for a PyG ``data`` object:
    ``(x, edge_index[, edge_weight])`` and ``batch=`` when the object has one."""
    if getattr(data, "x", None) is None or getattr(data, "edge_index", None) is None:
        raise ValueError("'data' must have node features 'x' and an 'edge_index'")
    args: tuple[Any, ...] = (data.x, data.edge_index)
    edge_weight = getattr(data, "edge_weight", None)
    if edge_weight is not None:
        args = (*args, edge_weight)
    kwargs = {"batch": data.batch} if getattr(data, "batch", None) is not None else {}
    return args, kwargs


def _show_progress(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    return sys.stderr.isatty() and not os.environ.get("GRAPHINFO_NO_PROGRESS")


def check_loop_arguments(*, epochs: int, patience: int | None,
                         checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 1,
                         resume: bool = False, **counts: int) -> None:
    """Checks the arguments the training loops share (and any further ``counts`` that must be
    at least 1, such as ``batch_size``); raises ValueError naming the argument and its value."""
    for name, value in {"epochs": epochs, "checkpoint_every": checkpoint_every,
                        **counts}.items():
        if value < 1:
            raise ValueError(f"'{name}' must be >= 1, got {value}")
    if patience is not None and patience < 1:
        raise ValueError(f"'patience' must be >= 1 or None, got {patience}")
    if resume and checkpoint is None:
        raise ValueError("'resume=True' needs a 'checkpoint' path to resume from")


def fit(model: torch.nn.Module, data: Data, *, epochs: int = 1000, lr: float = 1e-3,
        weight_decay: float = 0.0, patience: int | None = 20, min_delta: float = 0.0,
        optimizer: torch.optim.Optimizer | None = None, device: str | torch.device | None = None,
        progress: bool | None = None, callbacks: Sequence[Callback] = (),
        checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 10,
        resume: bool = False) -> History:
    r"""Trains ``model`` full-batch on ``data``: each epoch computes
    ``loss = model.loss(*model(*args, **kwargs))`` on the whole graph and takes one optimiser step.

    Early stopping follows Deep Graph Infomax: an epoch whose loss is not at least ``min_delta``
    below the best so far counts against ``patience``; after ``patience`` such epochs in a row
    training stops. The best state — the weights that produced the lowest loss, i.e. before that
    epoch's optimiser step — is loaded back into ``model`` at the end.

    Args:
        model: Any graphinfo model (``forward`` + ``loss``).
        data: A PyG ``Data`` with ``x``, ``edge_index`` and optionally ``edge_weight``, ``batch``.
        epochs: Maximum number of epochs.
        lr: Adam learning rate (ignored when ``optimizer`` is given).
        weight_decay: Adam weight decay (ignored when ``optimizer`` is given).
        patience: Epochs without improvement before stopping; ``None`` never stops early.
        min_delta: Smallest loss decrease that counts as an improvement.
        optimizer: An optimiser over ``model``'s parameters; Adam by default.
        device: Where to train; defaults to where the model is.
        progress: Show a tqdm bar; ``None`` shows it only on a terminal.
        callbacks: Called as ``callback(epoch, loss, model)`` after every epoch; returning
            ``True`` stops training.
        checkpoint: A file written atomically every ``checkpoint_every`` epochs and at the end,
            holding model, best state, optimiser, history and the random number generators'
            states (never non-finite weights).
        checkpoint_every: Epochs between checkpoints.
        resume: Continue from ``checkpoint`` when the file exists.

    Returns:
        :class:`History` of the run.

    Raises:
        TrainingDivergedError: When the loss is NaN or infinite. The model is left in its best
            state and the last checkpoint on disk (if any) is the last good one.
    """
    check_loop_arguments(epochs=epochs, patience=patience, checkpoint=checkpoint,
                         checkpoint_every=checkpoint_every, resume=resume)
    if device is not None:
        model = model.to(device)
    else:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
    if torch.device(device).type == "cpu" and allocator_tuning_enabled():
        tune_cpu_allocator()
    data = copy.copy(data).to(device)  # the caller's object stays where it is
    args, kwargs = model_inputs(data)
    if optimizer is None:
        optimizer = make_optimizer(model, lr=lr, weight_decay=weight_decay)

    history = History()
    best_state = copy.deepcopy(model.state_dict())
    bad_epochs = 0
    start_epoch = 0
    if resume and checkpoint is not None and Path(checkpoint).exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        best_state = state["best_state"]
        history = History(**state["history"])
        history.stopped_early = False
        bad_epochs = state["bad_epochs"]
        start_epoch = history.epochs
        history.resumed_from_epoch = start_epoch
        torch.set_rng_state(state["rng"]["cpu"])
        if state["rng"]["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        logger.info("resumed from %s at epoch %d", checkpoint, start_epoch)

    def save_checkpoint() -> None:
        if checkpoint is None:
            return
        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            logger.warning("weights are not finite; keeping the previous checkpoint %s",
                           checkpoint)
            return
        rng = {"cpu": torch.get_rng_state(),
               "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}
        save_torch({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "best_state": best_state, "history": history.as_dict(),
                    "bad_epochs": bad_epochs, "rng": rng}, checkpoint)

    bar = tqdm(range(start_epoch, epochs), disable=not _show_progress(progress),
               desc="training", unit="epoch", initial=start_epoch, total=epochs)
    model.train()
    try:
        for epoch in bar:
            started = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            loss = model.loss(*model(*args, **kwargs))
            value = float(loss.detach())
            if not math.isfinite(value):
                model.load_state_dict(best_state)
                raise TrainingDivergedError(
                    f"The loss became {value} at epoch {epoch}; training stopped and the model "
                    f"was reset to its best state (epoch {history.best_epoch}, loss "
                    f"{history.best_loss:.6g})" + (f"; the last good checkpoint is {checkpoint}"
                                                   if checkpoint is not None else "") +
                    ". Try a lower learning rate or a bounded estimator such as 'jsd'.")
            # The weights that produced this loss are the ones before the step: keep those.
            if value < history.best_loss - min_delta:
                history.best_loss, history.best_epoch = value, epoch
                _copy_state(model.state_dict(), into=best_state)
                bad_epochs = 0
            else:
                bad_epochs += 1
            loss.backward()
            optimizer.step()
            history.losses.append(value)
            history.epoch_times.append(time.perf_counter() - started)
            bar.set_postfix(loss=f"{value:.4f}", best=f"{history.best_loss:.4f}")
            # Every callback runs each epoch, even after one has asked to stop.
            stop = any([callback(epoch, value, model) is True for callback in callbacks])
            if patience is not None and bad_epochs >= patience:
                history.stopped_early = True
                stop = True
            if checkpoint is not None and ((epoch + 1) % checkpoint_every == 0 or stop):
                save_checkpoint()
            if stop:
                break
    finally:
        bar.close()
    save_checkpoint()  # the latest state, to resume from; then hand back the best one
    model.load_state_dict(best_state)
    logger.info("trained %d epochs; best loss %.6g at epoch %d", history.epochs,
                history.best_loss, history.best_epoch)
    return history


def _copy_state(state: dict[str, Any], into: dict[str, Any]) -> None:
    """Copies ``state`` into ``into`` in place where shapes allow (no new allocations each
    improving epoch), by a fresh copy otherwise."""
    for key, value in state.items():
        old = into.get(key)
        if isinstance(value, Tensor) and isinstance(old, Tensor) and old.shape == value.shape \
                and old.dtype == value.dtype and old.device == value.device:
            old.copy_(value)
        else:
            into[key] = copy.deepcopy(value)


def embed(model: torch.nn.Module, data: Data, device: str | torch.device | None = None) -> Tensor:
    """Full-graph embeddings of ``data`` from ``model.embed`` (eval mode, no grad), on the CPU."""
    if device is not None:
        model = model.to(device)
        data = copy.copy(data).to(device)
    args, _ = model_inputs(data)
    return model.embed(*args).cpu()


Graphs = Sequence[Data]
"""A collection of graphs: a PyG ``Dataset`` (e.g. a ``TUDataset``) or a list of ``Data``."""


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


def _model_device(model: torch.nn.Module,
                  device: str | torch.device | None) -> tuple[torch.nn.Module, torch.device]:
    if device is not None:
        return model.to(device), torch.device(device)
    param = next(model.parameters(), None)
    return model, param.device if param is not None else torch.device("cpu")


def fit_graphs(model: torch.nn.Module, graphs: Graphs, *, epochs: int = 20,
               batch_size: int = 128, lr: float = 1e-3, weight_decay: float = 0.0,
               shuffle: bool = True, seed: int | None = None,
               optimizer: torch.optim.Optimizer | None = None,
               device: str | torch.device | None = None, progress: bool | None = None,
               callbacks: Sequence[Callback] = ()) -> History:
    r"""Trains ``model`` on a collection of graphs in mini-batches of whole graphs: each batch
    (a PyG ``Batch`` of up to ``batch_size`` graphs, with its ``batch`` vector) computes
    ``loss = model.loss(*model(*args, **kwargs))`` and takes one optimiser step.

    Training runs for exactly ``epochs`` epochs (unless a callback stops it) and the model keeps
    its final weights, as InfoGraph and other graph-level methods train: a fixed budget chosen
    in advance, no early stopping and no state picked by a score. ``History.losses`` holds the
    mean batch loss of each epoch; ``best_epoch``/``best_loss`` only report the lowest of them.

    When the last batch of an epoch would hold a single graph while the others hold more
    (``len(graphs) % batch_size == 1``), it is skipped: models that contrast the graphs of a
    batch with each other, such as :class:`~graphinfo.models.InfoGraph`, need at least two.
    With ``shuffle=True`` that graph lands in other batches in other epochs; with
    ``shuffle=False`` the last graph is never trained on (it is still embedded).

    Args:
        model: Any graphinfo model taking ``batch=`` (``forward`` + ``loss``).
        graphs: A PyG ``Dataset`` or a list of ``Data``, each with ``x`` and ``edge_index``.
        epochs: Number of epochs.
        batch_size: Graphs per batch.
        lr: Adam learning rate (ignored when ``optimizer`` is given).
        weight_decay: Adam weight decay (ignored when ``optimizer`` is given).
        shuffle: Reshuffle the graphs every epoch.
        seed: Seed of the shuffling order; ``None`` draws it from torch's global generator.
        optimizer: An optimiser over ``model``'s parameters; fused Adam
            (:func:`make_optimizer`) by default.
        device: Where to train; defaults to where the model is.
        progress: Show a tqdm bar; ``None`` shows it only on a terminal.
        callbacks: Called as ``callback(epoch, loss, model)`` after every epoch with the epoch's
            mean loss; returning ``True`` stops training.

    Returns:
        :class:`History` of the run.

    Raises:
        ValueError: On ``epochs`` or ``batch_size`` below 1, an empty collection, or graphs
            without node features.
        TrainingDivergedError: When a batch's loss is NaN or infinite; the model is reset to
            its weights at the end of the last complete epoch (the initial ones in epoch 0).
    """
    from torch_geometric.loader import DataLoader

    if epochs < 1:
        raise ValueError(f"'epochs' must be >= 1, got {epochs}")
    check_graphs(graphs, batch_size)
    model, device = _model_device(model, device)
    if device.type == "cpu" and allocator_tuning_enabled():
        tune_cpu_allocator()
    if optimizer is None:
        optimizer = make_optimizer(model, lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    loader = DataLoader(graphs, batch_size=batch_size, shuffle=shuffle, generator=generator)
    skip_single = batch_size > 1 and len(graphs) > 1

    history = History()
    good_state = copy.deepcopy(model.state_dict())  # the weights after the last full epoch
    bar = tqdm(range(epochs), disable=not _show_progress(progress), desc="training",
               unit="epoch")
    model.train()
    try:
        for epoch in bar:
            started = time.perf_counter()
            total, steps = 0.0, 0
            for index, batch in enumerate(loader):
                if skip_single and batch.num_graphs == 1:
                    continue
                batch = batch.to(device)
                args, kwargs = model_inputs(batch)
                optimizer.zero_grad(set_to_none=True)
                loss = model.loss(*model(*args, **kwargs))
                value = float(loss.detach())
                if not math.isfinite(value):
                    model.load_state_dict(good_state)
                    raise TrainingDivergedError(
                        f"The loss became {value} at epoch {epoch}, batch {index}; training "
                        f"stopped and the model was reset to its weights after epoch "
                        f"{epoch - 1}" + (" (the initial weights)" if epoch == 0 else "") +
                        ". Try a lower learning rate or a bounded estimator such as 'jsd'.")
                loss.backward()
                optimizer.step()
                total += value
                steps += 1
            mean = total / steps
            history.losses.append(mean)
            history.epoch_times.append(time.perf_counter() - started)
            if mean < history.best_loss:
                history.best_loss, history.best_epoch = mean, epoch
            _copy_state(model.state_dict(), into=good_state)
            bar.set_postfix(loss=f"{mean:.4f}")
            if any([callback(epoch, mean, model) is True for callback in callbacks]):
                break
    finally:
        bar.close()
    logger.info("trained %d epochs on %d graphs; final loss %.6g", history.epochs, len(graphs),
                history.losses[-1])
    return history


@torch.no_grad()
def embed_graphs(model: torch.nn.Module, graphs: Graphs, *, batch_size: int = 512,
                 device: str | torch.device | None = None, nodes: bool = False) -> Tensor:
    """Embeddings of every graph in ``graphs`` from ``model.embed(..., batch=..., nodes=...)``
    (eval mode, no grad), in the collection's order, concatenated on the CPU.

    Args:
        model: A model whose ``embed`` takes ``batch=`` and ``nodes=`` (e.g. InfoGraph).
        graphs: A PyG ``Dataset`` or a list of ``Data``, each with ``x`` and ``edge_index``.
        batch_size: Graphs embedded at once (it does not change the result).
        device: Where to compute; defaults to where the model is.
        nodes: Return node embeddings, graph by graph, instead of one row per graph.

    Returns:
        ``[len(graphs), F]`` graph embeddings (``[total nodes, F]`` with ``nodes=True``).

    Raises:
        ValueError: On ``batch_size`` below 1, an empty collection, or graphs without node
            features.
    """
    from torch_geometric.loader import DataLoader

    check_graphs(graphs, batch_size)
    model, device = _model_device(model, device)
    parts = []
    # A loader draws a base seed from its generator on every pass, even unshuffled; a private
    # generator keeps torch's global one untouched, so embedding between training epochs (e.g.
    # from a callback) does not change how training continues.
    loader = DataLoader(graphs, batch_size=batch_size, shuffle=False, generator=torch.Generator())
    for batch in loader:
        args, kwargs = model_inputs(batch.to(device))
        parts.append(model.embed(*args, **kwargs, nodes=nodes).cpu())
    return torch.cat(parts, dim=0)


def __getattr__(name: str) -> Any:
    # Mini-batch training lives in graphinfo.minibatch (which imports this module); its entry
    # points are importable from here as well.
    if name in ("fit_minibatch", "embed_layerwise"):
        from graphinfo import minibatch

        return getattr(minibatch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
