r"""The one training engine for every graphinfo model.

:func:`train` runs one loop, whatever the model and wherever its batches come from::

    for epoch in range(start, epochs):
        for batch in source.batches(epoch):           # the full graph, graphs, subgraphs ...
            loss = step(batch)                        # the model contract, through DDP if any
            check that the loss is finite             # else: restore, raise, keep checkpoint
            loss.backward(); optimizer.step()
        epoch loss = weighted mean of batch losses    # averaged over processes
        early stopping, callbacks, progress, checkpoint

The batch sources (:mod:`graphinfo.sources`) plug into it: :class:`~graphinfo.sources.FullGraph`,
:class:`~graphinfo.sources.GraphBatches` (whole graphs), :class:`~graphinfo.sources.NeighborBatches`
(neighbour-sampled subgraphs) and :class:`~graphinfo.sources.SubgraphWindows` (node windows). In a
distributed run (:mod:`graphinfo.distributed`) the engine wraps the model in
:class:`~torch.nn.parallel.DistributedDataParallel`, the sampling sources give every process its
share, losses are averaged over processes (so all stop together), only rank 0 writes
checkpoints, and a checkpoint keeps every process's random state.

One :class:`EarlyStopping` object keeps the best score and the weights that produced it, for the
loss here and for selection on the validation split
(:class:`graphinfo.experiment.ValidationSelection`). One checkpoint format (:func:`train`'s
``checkpoint``) holds weights, optimiser, early-stopping state, history, the source's state and the
random number generators', and a resumed run equals an uninterrupted one.

:func:`fit`, :func:`fit_graphs` and :func:`fit_minibatch` are :func:`train` with a source and the
defaults of full-batch, graph-batch and mini-batch training; :func:`embed`, :func:`embed_graphs`
and :func:`embed_layerwise` compute embeddings afterwards.
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
from torch_geometric.data import Data, HeteroData
from tqdm.auto import tqdm

from graphinfo import distributed
from graphinfo.data.cache_entry import UnreadableFileError, safe_torch_load
from graphinfo.io import save_torch
from graphinfo.models.base import default_inputs, embed_data
from graphinfo.runtime import allocator_tuning_enabled, tune_cpu_allocator
from graphinfo.sources import (
    BatchSource,
    FullGraph,
    GraphBatches,
    Graphs,
    NeighborBatches,
    check_graphs,
)

logger = logging.getLogger(__name__)

Callback = Callable[[int, float, torch.nn.Module], Any]

#: Seconds between two progress lines in the log when no progress bar is shown.
LOG_INTERVAL = 30.0

__all__ = ["Callback", "EarlyStopping", "History", "TrainingDivergedError", "check_graphs",
           "check_loop_arguments", "embed", "embed_graphs", "embed_layerwise", "fit",
           "fit_graphs", "fit_minibatch", "make_optimizer", "model_inputs", "train", "Graphs"]


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite; the model holds its best state when this is raised."""


@dataclass
class History:
    """What the training loops return: one loss per epoch (the weighted mean of the epoch's
    batch losses) and where the lowest one was."""

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


def copy_state(state: dict[str, Any], into: dict[str, Any]) -> None:
    """Copies ``state`` into ``into`` in place where shapes allow (no new allocations each
    improving epoch), by a fresh copy otherwise."""
    for key, value in state.items():
        old = into.get(key)
        if isinstance(value, Tensor) and isinstance(old, Tensor) and old.shape == value.shape \
                and old.dtype == value.dtype and old.device == value.device:
            old.copy_(value)
        else:
            into[key] = copy.deepcopy(value)


class EarlyStopping:
    """The best score seen, the epoch and the weights that produced it, and patience.

    ``update(value, epoch, model)`` records an epoch's score; it is an improvement when it
    beats the best by more than ``min_delta`` (below it with ``mode='min'``, above with
    ``'max'``), and the model's state is then copied (in place, no allocation after the first
    time). After ``patience`` updates in a row without improvement, :attr:`should_stop` is
    true. :meth:`restore` loads the kept weights.

    Args:
        patience: Updates without improvement before stopping; ``None`` never stops.
        min_delta: Smallest change that counts as an improvement.
        mode: ``'min'`` (a loss) or ``'max'`` (an accuracy).
        keep_state: Copy the weights of the best epoch (otherwise only the score is kept).
    """

    def __init__(self, patience: int | None = None, min_delta: float = 0.0,
                 mode: str = "min", keep_state: bool = True) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"'mode' must be 'min' or 'max', got {mode!r}")
        if patience is not None and patience < 1:
            raise ValueError(f"'patience' must be >= 1 or None, got {patience}")
        self.patience, self.min_delta, self.mode = patience, min_delta, mode
        self.keep_state = keep_state
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = -1
        self.bad_epochs = 0
        self.best_state: dict[str, Any] | None = None

    def start(self, model: torch.nn.Module) -> None:
        """Keeps the initial weights as the best ones until an epoch improves on them."""
        if self.keep_state:
            self.best_state = copy.deepcopy(model.state_dict())

    def improves(self, value: float) -> bool:
        """Whether ``value`` would be an improvement."""
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, value: float, epoch: int, model: torch.nn.Module) -> bool:
        """Records ``value`` for ``epoch``; returns whether it improved (the state is kept)."""
        if self.improves(value):
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            if self.keep_state:
                if self.best_state is None:
                    self.best_state = copy.deepcopy(model.state_dict())
                else:
                    copy_state(model.state_dict(), into=self.best_state)
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.bad_epochs >= self.patience

    def restore(self, model: torch.nn.Module) -> None:
        """Loads the kept weights into ``model``."""
        if self.best_state is None:
            raise RuntimeError("no weights were kept: nothing has been recorded yet")
        model.load_state_dict(self.best_state)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
                "best_state": self.best_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.bad_epochs, self.best_state = state["bad_epochs"], state["best_state"]


def make_optimizer(model: torch.nn.Module, lr: float = 1e-3,
                   weight_decay: float = 0.0) -> torch.optim.Adam:
    """The optimiser the engine uses: Adam, with the fused single-kernel update when every
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
    """The positional and keyword arguments a model is called with for a PyG ``data`` object
    by default (:func:`graphinfo.models.base.default_inputs`): ``(x, edge_index[,
    edge_weight])`` and ``batch=`` when the object has one."""
    return default_inputs(data)


def check_loop_arguments(*, epochs: int, patience: int | None,
                         checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 1,
                         resume: bool = False, **counts: int) -> None:
    """Checks the arguments of the loop (and any further ``counts`` that must be at least 1,
    such as ``batch_size``); raises ValueError naming the argument and its value."""
    for name, value in {"epochs": epochs, "checkpoint_every": checkpoint_every,
                        **counts}.items():
        if value < 1:
            raise ValueError(f"'{name}' must be >= 1, got {value}")
    if patience is not None and patience < 1:
        raise ValueError(f"'patience' must be >= 1 or None, got {patience}")
    if resume and checkpoint is None:
        raise ValueError("'resume=True' needs a 'checkpoint' path to resume from")


def place(model: torch.nn.Module,
          device: str | torch.device | None) -> tuple[torch.nn.Module, torch.device]:
    """``model`` on ``device`` (default: where its parameters are, else the CPU)."""
    if device is not None:
        return model.to(device), torch.device(device)
    param = next(model.parameters(), None)
    return model, param.device if param is not None else torch.device("cpu")


class LossStep(torch.nn.Module):
    """The model's loss on a batch as a module's ``forward``, so that
    :class:`~torch.nn.parallel.DistributedDataParallel` sees the whole computation."""

    def __init__(self, model: torch.nn.Module, source: BatchSource) -> None:
        super().__init__()
        self.model = model
        self.source = source

    def forward(self, batch: Any) -> Tensor:
        return self.source.loss(self.model, batch)


class Progress:
    """A tqdm bar on a terminal; otherwise a log line every :data:`LOG_INTERVAL` seconds."""

    def __init__(self, epochs: int, start: int, show: bool | None) -> None:
        if show is None:
            show = sys.stderr.isatty() and not os.environ.get("GRAPHINFO_NO_PROGRESS")
        show = show and distributed.is_main_process()
        self.epochs = epochs
        self.bar = tqdm(total=epochs, initial=start, desc="training", unit="epoch") \
            if show else None
        self.last_line = time.monotonic()

    def update(self, epoch: int, loss: float, best: float, best_epoch: int) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4f}", best=f"{best:.4f}")
        elif time.monotonic() - self.last_line >= LOG_INTERVAL and distributed.is_main_process():
            self.last_line = time.monotonic()
            logger.info("epoch %d/%d: loss %.6g (best %.6g at epoch %d)", epoch + 1,
                        self.epochs, loss, best, best_epoch)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def load_checkpoint(checkpoint: str | os.PathLike | None) -> dict[str, Any] | None:
    """The checkpoint to resume from, or ``None`` when its file does not exist; in a
    distributed run rank 0 reads it and sends it to the others (no shared filesystem needed).

    The file is read with ``torch.load(weights_only=True)``: tensors and plain containers only,
    so a file that would run code when unpickled is refused, never executed.

    Raises:
        ValueError: If the file is not a checkpoint this engine wrote (truncated, corrupt, or
            holding anything but tensors and plain values); the message names the file.
    """
    state = None
    if checkpoint is not None and distributed.is_main_process() and Path(checkpoint).exists():
        try:
            state = safe_torch_load(checkpoint)
        except UnreadableFileError as error:   # truncated, corrupt or unsafe: named, kept
            raise ValueError(f"checkpoint {error}; it is kept as it is (remove it to train "
                             f"from the start)") from None
        missing = [key for key in ("model", "optimizer", "history")
                   if not isinstance(state, dict) or key not in state]
        if missing:
            raise ValueError(f"checkpoint {checkpoint} is not a graphinfo checkpoint (it has no "
                             f"{', '.join(map(repr, missing))})")
    if distributed.is_distributed():
        box = [state]
        torch.distributed.broadcast_object_list(box, src=0)
        state = box[0]
    return state


def _rng_state() -> dict[str, Any]:
    return {"cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def _set_rng_state(rng: Any) -> None:
    if isinstance(rng, Tensor):          # a checkpoint of an earlier version
        rng = {"cpu": rng, "cuda": None}
    torch.set_rng_state(rng["cpu"])
    if rng.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


def train(model: torch.nn.Module, source: BatchSource, *, epochs: int = 1000,
          lr: float = 1e-3, weight_decay: float = 0.0, patience: int | None = 20,
          min_delta: float = 0.0, restore_best: bool = True,
          optimizer: torch.optim.Optimizer | None = None,
          device: str | torch.device | None = None, progress: bool | None = None,
          callbacks: Sequence[Callback] = (), checkpoint: str | os.PathLike | None = None,
          checkpoint_every: int = 10, resume: bool = False,
          max_grad_norm: float | None = None) -> History:
    r"""Trains ``model`` on the batches of ``source`` (see the module docstring).

    Each step computes the batch's loss through the model contract (``source.loss``), checks it
    is finite, back-propagates and steps the optimiser. An epoch's loss is the weighted mean of
    its batch losses. Early stopping: an epoch whose loss is not at least ``min_delta`` below
    the best so far counts against ``patience``; after ``patience`` such epochs in a row
    training stops. With ``restore_best`` the best state — the weights that produced the lowest
    loss: before the step on a one-step-per-epoch source (the full graph), at the end of the
    epoch otherwise — is loaded back at the end; without it the model keeps its final weights
    (a fixed budget, as graph-level models train).

    Args:
        model: Any graphinfo model, or a module with ``forward`` and ``loss``.
        source: Where the batches come from (:mod:`graphinfo.sources`).
        epochs: Maximum number of epochs.
        lr: Adam learning rate (ignored when ``optimizer`` is given).
        weight_decay: Adam weight decay (ignored when ``optimizer`` is given).
        patience: Epochs without improvement before stopping; ``None`` never stops early.
        min_delta: Smallest loss decrease that counts as an improvement.
        restore_best: Load the best weights back at the end (and on divergence); otherwise
            keep the final weights (and on divergence go back to the last complete epoch's).
        optimizer: An optimiser over ``model``'s parameters; :func:`make_optimizer` by default.
        device: Where to train; defaults to where the model is.
        progress: Show a tqdm bar; ``None`` shows it only on a terminal (otherwise a log line
            every :data:`LOG_INTERVAL` seconds, at INFO level).
        callbacks: Called as ``callback(epoch, loss, model)`` after every epoch; returning
            ``True`` stops training (in a distributed run every process must return the same).
            Every callback runs each epoch, even after an earlier one asked to stop.
        checkpoint: A file written atomically every ``checkpoint_every`` epochs and at the end
            (by rank 0): weights (``model``), optimiser, best state and patience counter
            (``best_state``, ``bad_epochs``), ``history``, the random number generators'
            states (``rng``) and the source's state (e.g. ``summary``); never non-finite
            weights.
        checkpoint_every: Epochs between checkpoints.
        resume: Continue from ``checkpoint`` when the file exists. A checkpoint of a finished
            run (it stopped early, or reached ``epochs``) is not trained further: its result
            is returned (the best state, or the final weights without ``restore_best``).
            The learning rate and weight decay asked for here apply to the resumed run (a
            warning says when they differ from the checkpoint's). A checkpoint that cannot be
            read safely is a ``ValueError`` naming the file.
        max_grad_norm: Clip the gradients' total 2-norm to this before every step
            (:func:`torch.nn.utils.clip_grad_norm_`); ``None`` does not clip.

    Returns:
        :class:`History` of the run.

    Raises:
        ValueError: On invalid arguments.
        TrainingDivergedError: When a loss is NaN or infinite. The model is left in its best
            state (or the last complete epoch's without ``restore_best``) and the last
            checkpoint on disk, if any, is the last good one.
    """
    check_loop_arguments(epochs=epochs, patience=patience, checkpoint=checkpoint,
                         checkpoint_every=checkpoint_every, resume=resume)
    if max_grad_norm is not None and not (math.isfinite(max_grad_norm) and max_grad_norm > 0):
        raise ValueError(f"'max_grad_norm' must be a positive number or None, got "
                         f"{max_grad_norm!r}")
    model, device = place(model, device)
    if device.type == "cpu" and allocator_tuning_enabled():
        tune_cpu_allocator()
    source.setup(model, device)
    try:
        return _run(model, source, device, epochs=epochs, lr=lr, weight_decay=weight_decay,
                    patience=patience, min_delta=min_delta, restore_best=restore_best,
                    optimizer=optimizer, progress=progress, callbacks=callbacks,
                    checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume,
                    max_grad_norm=max_grad_norm)
    finally:
        source.close()


#: Checkpoint keys of the engine; a source's state may not use them.
CHECKPOINT_KEYS = ("format", "model", "optimizer", "best_state", "bad_epochs", "history",
                   "rng", "rng_per_rank")


def _rng_states() -> dict[str, Any]:
    """This process's generator states and, in a distributed run, every process's (gathered
    on all of them: call it on every rank)."""
    own = _rng_state()
    if not distributed.is_distributed():
        return {"rng": own}
    states: list[Any] = [None] * distributed.world_size()
    torch.distributed.all_gather_object(states, own)
    return {"rng": own, "rng_per_rank": states}


def _apply_requested_settings(optimizer: torch.optim.Optimizer,
                              requested: list[tuple[float, float]],
                              checkpoint: str | os.PathLike | None) -> None:
    """After ``optimizer.load_state_dict`` (which brings back the checkpoint's learning rate and
    weight decay): applies the ones this call asked for, saying so when they differ."""
    for group, (lr, weight_decay) in zip(optimizer.param_groups, requested):
        if (group["lr"], group["weight_decay"]) != (lr, weight_decay):
            logger.warning("resuming %s with lr %g and weight_decay %g (it was trained with "
                           "lr %g and weight_decay %g)", checkpoint, lr, weight_decay,
                           group["lr"], group["weight_decay"])
            group["lr"], group["weight_decay"] = lr, weight_decay


def _run(model: torch.nn.Module, source: BatchSource, device: torch.device, *, epochs: int,
         lr: float, weight_decay: float, patience: int | None, min_delta: float,
         restore_best: bool, optimizer: torch.optim.Optimizer | None, progress: bool | None,
         callbacks: Sequence[Callback], checkpoint: str | os.PathLike | None,
         checkpoint_every: int, resume: bool, max_grad_norm: float | None) -> History:
    """The loop of :func:`train`, once the source is set up (see there)."""
    step: torch.nn.Module = LossStep(model, source)
    if distributed.is_distributed():
        from torch.nn.parallel import DistributedDataParallel

        step = DistributedDataParallel(step, device_ids=[device] if device.type == "cuda"
                                       else None)
    own_optimizer = optimizer is None
    if optimizer is None:
        optimizer = make_optimizer(model, lr=lr, weight_decay=weight_decay)

    history = History()
    stopper = EarlyStopping(patience, min_delta, keep_state=restore_best)
    stopper.start(model)
    last_good = copy.deepcopy(model.state_dict()) if not restore_best else None
    start_epoch = 0
    state = load_checkpoint(checkpoint) if resume else None
    requested = [(group["lr"], group["weight_decay"]) for group in optimizer.param_groups]
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if own_optimizer:
            _apply_requested_settings(optimizer, requested, checkpoint)
        history = History(**state["history"])
        if history.stopped_early or history.epochs >= epochs:
            # A finished run: its result, not more training (and other weights).
            logger.info("%s holds a finished run (%d epochs%s); returning it without "
                        "training", checkpoint, history.epochs,
                        ", stopped early" if history.stopped_early else "")
            if restore_best and state["best_state"] is not None:
                model.load_state_dict(state["best_state"])
            history.resumed_from_epoch = history.epochs
            return history
        history.stopped_early = False
        stopper.best, stopper.best_epoch = history.best_loss, history.best_epoch
        stopper.bad_epochs, stopper.best_state = state["bad_epochs"], state["best_state"]
        if last_good is not None:
            copy_state(model.state_dict(), into=last_good)
        source.load_state_dict(state)
        per_rank = state.get("rng_per_rank")
        if not distributed.is_distributed():
            _set_rng_state(state["rng"])
        elif per_rank is not None and len(per_rank) == distributed.world_size():
            _set_rng_state(per_rank[distributed.rank()])   # each process its own generators
        else:
            logger.warning("the checkpoint holds no random state for %d processes; each "
                           "process keeps its own", distributed.world_size())
        start_epoch = history.resumed_from_epoch = history.epochs
        logger.info("resumed from %s at epoch %d", checkpoint, start_epoch)

    def save_checkpoint() -> None:
        if checkpoint is None:
            return
        rng = _rng_states()             # a collective in a distributed run: on every rank
        if not distributed.is_main_process():
            return
        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            logger.warning("weights are not finite; keeping the previous checkpoint %s",
                           checkpoint)
            return
        source_state = source.state_dict()
        clash = sorted(set(source_state) & set(CHECKPOINT_KEYS))
        if clash:
            raise ValueError(f"{type(source).__name__}.state_dict() uses the checkpoint keys "
                             f"{clash} of the engine; rename them")
        save_torch({"format": "graphinfo-checkpoint/1", "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(), "best_state": stopper.best_state,
                    "bad_epochs": stopper.bad_epochs, "history": history.as_dict(),
                    **rng, **source_state}, checkpoint)

    def diverged(value: float, epoch: int, index: int) -> TrainingDivergedError:
        where = f"epoch {epoch}" if source.single_step else f"epoch {epoch}, batch {index}"
        if restore_best:
            stopper.restore(model)
            state_text = (f"its best state (epoch {history.best_epoch}, loss "
                          f"{history.best_loss:.6g})" if history.best_epoch >= 0
                          else "its initial weights")
        else:
            assert last_good is not None
            model.load_state_dict(last_good)
            state_text = f"its weights after epoch {epoch - 1}" + \
                (" (the initial weights)" if epoch == 0 else "")
        return TrainingDivergedError(
            f"The loss became {value} at {where}; training stopped and the model was reset to "
            f"{state_text}" + (f"; the last good checkpoint is {checkpoint}"
                               if checkpoint is not None else "") +
            ". Try a lower learning rate or a bounded estimator such as 'jsd'.")

    bar = Progress(epochs, start_epoch, progress)
    step.train()
    try:
        for epoch in range(start_epoch, epochs):
            started = time.perf_counter()
            total, weights = 0.0, 0.0
            for index, batch in enumerate(source.batches(epoch)):
                optimizer.zero_grad(set_to_none=True)
                loss = step(batch)
                value = float(loss.detach())
                # Averaged over processes, so a NaN anywhere stops every process together.
                checked = distributed.all_reduce_scalar(value, device)
                if not math.isfinite(checked):
                    raise diverged(checked, epoch, index)
                if source.single_step:
                    # The weights that produced this loss are the ones before the step.
                    stopper.update(checked, epoch, model)
                loss.backward()
                if max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
                optimizer.step()
                weight = source.weight(batch)
                total += value * weight
                weights += weight
            if weights == 0:
                raise ValueError(f"epoch {epoch} had no batch to train on; check the source's "
                                 f"data and batch size")
            mean = distributed.all_reduce_scalar(total / weights, device)
            history.losses.append(mean)
            history.epoch_times.append(time.perf_counter() - started)
            if not source.single_step:
                stopper.update(mean, epoch, model)
            history.best_loss, history.best_epoch = stopper.best, stopper.best_epoch
            if last_good is not None:
                copy_state(model.state_dict(), into=last_good)
            bar.update(epoch, mean, history.best_loss, history.best_epoch)
            stop = any([callback(epoch, mean, model) is True for callback in callbacks])
            if stopper.should_stop:
                history.stopped_early = stop = True
            if checkpoint is not None and ((epoch + 1) % checkpoint_every == 0 or stop):
                save_checkpoint()
            if stop:
                break
    finally:
        bar.close()
    save_checkpoint()  # the latest state, to resume from; then hand back the best one
    if restore_best:
        stopper.restore(model)
    if history.losses:
        logger.info("trained %d epochs; best loss %.6g at epoch %d", history.epochs,
                    history.best_loss, history.best_epoch)
    return history


def fit(model: torch.nn.Module, data: Data, *, epochs: int = 1000, lr: float = 1e-3,
        weight_decay: float = 0.0, patience: int | None = 20, min_delta: float = 0.0,
        optimizer: torch.optim.Optimizer | None = None, device: str | torch.device | None = None,
        progress: bool | None = None, callbacks: Sequence[Callback] = (),
        checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 10,
        resume: bool = False, max_grad_norm: float | None = None) -> History:
    r"""Trains ``model`` full-batch on ``data`` (a ``Data`` or ``HeteroData``, views and
    relations included): :func:`train` on a :class:`~graphinfo.sources.FullGraph`, one step
    per epoch with ``loss = model.training_loss(data)`` (for a plain module
    ``model.loss(*model(x, edge_index[, edge_weight]))``), early stopping on the loss as Deep
    Graph Infomax does and the best state — the weights before the best epoch's step —
    restored at the end. The arguments are :func:`train`'s; the caller's ``data`` stays where
    it is.
    """
    return train(model, FullGraph(data), epochs=epochs, lr=lr, weight_decay=weight_decay,
                 patience=patience, min_delta=min_delta, optimizer=optimizer, device=device,
                 progress=progress, callbacks=callbacks, checkpoint=checkpoint,
                 checkpoint_every=checkpoint_every, resume=resume, max_grad_norm=max_grad_norm)


def fit_graphs(model: torch.nn.Module, graphs: Graphs, *, epochs: int = 20,
               batch_size: int = 128, lr: float = 1e-3, weight_decay: float = 0.0,
               shuffle: bool = True, seed: int | None = None,
               optimizer: torch.optim.Optimizer | None = None,
               device: str | torch.device | None = None, progress: bool | None = None,
               callbacks: Sequence[Callback] = (),
               checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 1,
               resume: bool = False, max_grad_norm: float | None = None) -> History:
    r"""Trains ``model`` on a collection of graphs in mini-batches of whole graphs:
    :func:`train` on :class:`~graphinfo.sources.GraphBatches` for exactly ``epochs`` epochs
    (unless a callback stops it), keeping the final weights, as InfoGraph and other graph-level
    methods train: a fixed budget chosen in advance, no early stopping and no state picked by a
    score. ``History.losses`` holds the mean batch loss of each epoch; ``best_epoch`` /
    ``best_loss`` only report the lowest of them. A lone trailing graph is skipped (see
    :class:`~graphinfo.sources.GraphBatches`).

    Raises:
        ValueError: On ``epochs`` or ``batch_size`` below 1, an empty collection, or graphs
            without node features.
        TrainingDivergedError: When a batch's loss is NaN or infinite; the model is reset to
            its weights at the end of the last complete epoch (the initial ones in epoch 0).
    """
    return train(model, GraphBatches(graphs, batch_size=batch_size, shuffle=shuffle, seed=seed),
                 epochs=epochs, lr=lr, weight_decay=weight_decay, patience=None,
                 restore_best=False, optimizer=optimizer, device=device, progress=progress,
                 callbacks=callbacks, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                 resume=resume, max_grad_norm=max_grad_norm)


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
                  resume: bool = False, num_workers: int = 0,
                  max_grad_norm: float | None = None) -> History:
    r"""Trains a model on neighbour-sampled mini-batches: :func:`train` on
    :class:`~graphinfo.sources.NeighborBatches` (its docstring describes the step, the summary
    and the memory), with early stopping on the epoch's mean loss and the weights at the end of
    the best epoch restored. The model must define
    :meth:`~graphinfo.models.MIModel.subgraph_loss` (DGI does).

    On a ``HeteroData`` the batches are target nodes with neighbours sampled along each
    metapath (:class:`~graphinfo.metapath_sampler.MetapathBatches`; ``num_neighbors=[k]``
    walks per seed and metapath) and the model must define ``metapath_loss`` (DMGI does).

    In a distributed run (the default process group initialised, e.g. by
    :func:`graphinfo.distributed.init_from_env`) each process takes an equal share of each
    epoch's seeds; seed each process differently after building the model (DDP copies rank
    0's weights to all) so that they sample and corrupt independently.

    Raises:
        TypeError: If ``model`` does not train on sampled subgraphs.
        ValueError: On invalid arguments, weighted graphs or sparse features.
        TrainingDivergedError: When a batch loss is NaN or infinite; the model is reset to its
            best state.
    """
    if isinstance(data, HeteroData):     # a multiplex model on metapath-sampled batches
        from graphinfo.metapath_sampler import DEFAULT_WALKS, MetapathBatches

        walks = list(num_neighbors) if num_neighbors is not None else [DEFAULT_WALKS]
        if len(walks) != 1 or walks[0] < 1:
            raise ValueError(f"on a HeteroData 'num_neighbors' is one count: the walks "
                             f"sampled per seed and metapath, got {walks}")
        source: BatchSource = MetapathBatches(data, walks=walks[0], batch_size=batch_size,
                                              input_nodes=input_nodes, seed=seed,
                                              summary=summary,
                                              summary_momentum=summary_momentum)
    else:
        source = NeighborBatches(data, num_neighbors=num_neighbors, batch_size=batch_size,
                                 input_nodes=input_nodes, seed=seed, summary=summary,
                                 summary_momentum=summary_momentum, num_workers=num_workers)
    return train(model, source, epochs=epochs, lr=lr, weight_decay=weight_decay,
                 patience=patience, min_delta=min_delta, optimizer=optimizer, device=device,
                 progress=progress, callbacks=callbacks, checkpoint=checkpoint,
                 checkpoint_every=checkpoint_every, resume=resume)


def embed(model: torch.nn.Module, data: Data, device: str | torch.device | None = None) -> Tensor:
    """Full-graph embeddings of ``data`` (eval mode, no grad) from the model contract
    (:meth:`~graphinfo.models.MIModel.embed_data`), on the CPU."""
    if device is not None:
        model = model.to(device)
        data = copy.copy(data).to(device)
    return embed_data(model, data).cpu()


@torch.no_grad()
def embed_graphs(model: torch.nn.Module, graphs: Graphs, *, batch_size: int = 512,
                 device: str | torch.device | None = None, nodes: bool = False) -> Tensor:
    """Embeddings of every graph in ``graphs`` (eval mode, no grad), in the collection's order,
    concatenated on the CPU: the model's ``embed_data`` of each batch of graphs.

    Args:
        model: A graph-level (or ``'both'``-level) model, e.g. InfoGraph.
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
    model, device = place(model, device)
    parts = []
    # A loader draws a base seed from its generator on every pass, even unshuffled; a private
    # generator keeps torch's global one untouched, so embedding between training epochs (e.g.
    # from a callback) does not change how training continues.
    loader = DataLoader(graphs, batch_size=batch_size, shuffle=False, generator=torch.Generator())
    for batch in loader:
        batch = batch.to(device)
        parts.append(embed_data(model, batch, level="node" if nodes else "graph").cpu())
    return torch.cat(parts, dim=0)


@torch.no_grad()
def embed_layerwise(model: torch.nn.Module, data: Data, *, chunk_size: int = 65536,
                    device: str | torch.device | None = None) -> Tensor:
    r"""Every node's embedding, computed without sampling, one layer at a time over the whole
    graph when the model's embedding is its encoder's and the encoder can
    (:meth:`graphinfo.nn.GNNEncoder.layerwise`: GCN through its sparse full-graph path, SAGE and
    GIN in chunks of ``chunk_size`` target nodes), else by the model's ``embed_data`` in one
    piece; eval mode, no gradient, on the CPU. Equals ``model.embed(data.x, data.edge_index)``
    up to float rounding."""
    if chunk_size < 1:
        raise ValueError(f"'chunk_size' must be >= 1, got {chunk_size}")
    model, device = place(model, device)
    data = copy.copy(data).to(device)
    return embed_data(model, data, layerwise=True, chunk_size=chunk_size).cpu()
