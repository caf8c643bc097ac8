"""Multi-process training on :mod:`torch.distributed`: process-group setup, the collectives the
mini-batch trainer needs, and a launcher for ``--nproc`` runs on one machine.

A run is distributed when the process group is initialised. :func:`init_from_env` does that
from the variables ``torchrun`` sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``), with backend ``nccl`` when training on CUDA and ``gloo`` on
the CPU. The same command runs across machines by starting ``torchrun`` on each with
``--nnodes``, ``--node-rank`` and a common ``--rdzv-endpoint``/``--master-addr``: every
process finds its rank in the environment.
"""
from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

logger = logging.getLogger(__name__)

#: Environment variables that make a process part of a distributed run (set by ``torchrun``).
ENV_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def is_distributed() -> bool:
    """Whether this process belongs to an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (``0`` outside a distributed run)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """The number of processes (``1`` outside a distributed run)."""
    return dist.get_world_size() if is_distributed() else 1


def backend_name() -> str | None:
    """The backend of the default process group (``None`` when none is initialised)."""
    return str(dist.get_backend()) if dist.is_available() and dist.is_initialized() else None


def is_main_process() -> bool:
    """Whether this process writes outputs: rank 0, or the only process."""
    return rank() == 0


def launched_by_torchrun() -> bool:
    """Whether the environment describes a run of several processes (``WORLD_SIZE > 1``)."""
    return all(key in os.environ for key in ENV_VARIABLES) and int(os.environ["WORLD_SIZE"]) > 1


def default_backend(device: str | torch.device) -> str:
    """``'nccl'`` for CUDA devices, ``'gloo'`` otherwise."""
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


#: Minutes a collective waits for the other processes (``$GRAPHINFO_DIST_TIMEOUT_MINUTES``
#: overrides it): long enough for rank 0 to evaluate and write while the others wait.
DEFAULT_TIMEOUT_MINUTES = 120.0


def init_from_env(device: str | torch.device = "cpu", backend: str | None = None,
                  timeout_minutes: float | None = None) -> torch.device:
    """Initialises the default process group from ``torchrun``'s environment variables.

    Args:
        device: ``'cpu'`` or ``'cuda'``; with CUDA each process takes the GPU
            ``LOCAL_RANK`` (``cuda:<LOCAL_RANK>``).
        backend: Process-group backend; :func:`default_backend` by default.
        timeout_minutes: How long a collective waits for the other processes; default
            ``$GRAPHINFO_DIST_TIMEOUT_MINUTES``, else :data:`DEFAULT_TIMEOUT_MINUTES`. While
            rank 0 embeds and evaluates, the others wait in a collective: on large graphs this
            must cover the evaluation.

    Returns:
        torch.device: The device this process trains on.

    Raises:
        RuntimeError: If the environment lacks ``RANK``/``WORLD_SIZE``/``MASTER_ADDR``/
            ``MASTER_PORT``, or CUDA is requested but this process has no GPU.
    """
    missing = [key for key in ENV_VARIABLES if key not in os.environ]
    if missing:
        raise RuntimeError(f"A distributed run needs the environment variables "
                           f"{', '.join(ENV_VARIABLES)} (torchrun sets them); missing: "
                           f"{', '.join(missing)}")
    device = torch.device(device)
    if device.type == "cuda":
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(f"LOCAL_RANK {local_rank} has no GPU: this machine has "
                               f"{torch.cuda.device_count()}; start at most that many processes "
                               f"per machine")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if timeout_minutes is None:
        timeout_minutes = float(os.environ.get("GRAPHINFO_DIST_TIMEOUT_MINUTES",
                                               DEFAULT_TIMEOUT_MINUTES))
    if not dist.is_initialized():
        dist.init_process_group(backend or default_backend(device),
                                timeout=timedelta(minutes=timeout_minutes))
    logger.info("process %d of %d on %s (backend %s)", dist.get_rank(), dist.get_world_size(),
                device, dist.get_backend())
    return device


def all_reduce_mean(tensor: Tensor, group: Any = None) -> Tensor:
    """The mean of ``tensor`` over all processes, differentiable: the gradient reaching each
    process's input is the sum of the gradients of every process's output divided by the
    number of processes (identity outside a distributed run)."""
    if not is_distributed():
        return tensor
    return _AllReduceSum.apply(tensor, group) / dist.get_world_size(group)


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes; the backward pass sums the incoming gradients the same way (the
    gradient of every process's copy of the sum reaches every input)."""

    @staticmethod
    def forward(ctx: Any, tensor: Tensor, group: Any) -> Tensor:
        ctx.group = group
        out = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out, op=dist.ReduceOp.SUM, group=group)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        grad = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad, None


def all_reduce_scalar(value: float, device: torch.device | str = "cpu") -> float:
    """The mean of a Python float over all processes (the float itself when not distributed)."""
    if not is_distributed():
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return float(tensor) / dist.get_world_size()


def barrier() -> None:
    """Waits for every process (nothing outside a distributed run)."""
    if is_distributed():
        dist.barrier()


def free_port() -> int:
    """A TCP port that is free on this machine now (for a local rendezvous)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_rank(local_rank: int, world: int, port: int, fn: Callable[..., Any],
              args: tuple[Any, ...]) -> None:
    os.environ.update({"RANK": str(local_rank), "LOCAL_RANK": str(local_rank),
                       "WORLD_SIZE": str(world), "LOCAL_WORLD_SIZE": str(world),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    fn(*args)


def launch(nproc: int, fn: Callable[..., Any], *args: Any) -> None:
    """Runs ``fn(*args)`` in ``nproc`` new processes on this machine with ``torchrun``'s
    environment variables set (rank ``0 .. nproc-1``, a free local port), and waits for all.

    ``fn`` must be importable (a module-level function) and call :func:`init_from_env` itself.
    An exception in any process is raised here.

    Raises:
        ValueError: If ``nproc`` is below 1.
    """
    if nproc < 1:
        raise ValueError(f"'nproc' must be >= 1, got {nproc}")
    import torch.multiprocessing as mp

    mp.start_processes(_run_rank, args=(nproc, free_port(), fn, args), nprocs=nproc,
                       join=True, start_method="spawn")


def destroy() -> None:
    """Destroys the default process group when one is initialised."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
