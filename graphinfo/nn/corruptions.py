r"""Corruption functions :math:`\mathcal{C}` that turn a graph view into a negative view.

A corruption is called with the encoder's arguments, ``corruption(x, edge_index, *rest)``, and
returns a tuple of the same structure (the convention of
:class:`torch_geometric.nn.DeepGraphInfomax`), so a PyG corruption function works wherever these
do. Randomness comes from the global torch generator, or from ``generator`` when given.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from graphinfo.resolver import resolve


def _check_probability(name: str, p: float) -> None:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"'{name}' must be in [0, 1), got {p!r}")


class ShuffleNodes:
    r"""Row-shuffles the feature matrix and keeps the graph, the corruption of Deep Graph
    Infomax: :math:`\mathcal{C}(\mathbf{X}, \mathbf{A}) = (\mathbf{P}\mathbf{X}, \mathbf{A})` for a
    uniformly random permutation matrix :math:`\mathbf{P}`.

    Args:
        generator (torch.Generator, optional): Source of randomness. (default: global)
    """

    def __init__(self, generator: torch.Generator | None = None) -> None:
        self.generator = generator

    def permutation(self, num_nodes: int, device: torch.device) -> Tensor:
        perm = torch.randperm(num_nodes, generator=self.generator,
                              device=self.generator.device if self.generator else "cpu")
        return perm.to(device)

    def __call__(self, x: Tensor, edge_index: Tensor, *args: Any, **kwargs: Any) -> tuple:
        perm = self.permutation(x.size(0), x.device)
        return (x.index_select(0, perm), edge_index, *args, *kwargs.values())

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"


class DropEdges:
    r"""Removes each edge independently with probability ``p`` (DropEdge / GRACE edge removal),
    dropping the matching edge weights too.

    Args:
        p (float, optional): Drop probability. (default: :obj:`0.2`)
        generator (torch.Generator, optional): Source of randomness. (default: global)
    """

    def __init__(self, p: float = 0.2, generator: torch.Generator | None = None) -> None:
        _check_probability("p", p)
        self.p = p
        self.generator = generator

    def __call__(self, x: Tensor, edge_index: Tensor, *args: Any, **kwargs: Any) -> tuple:
        num_edges = edge_index.size(1)
        keep = torch.rand(num_edges, generator=self.generator,
                          device=self.generator.device if self.generator else "cpu") >= self.p
        keep = keep.to(edge_index.device)
        rest = tuple(a[keep] if isinstance(a, Tensor) and a.dim() >= 1 and a.size(0) == num_edges
                     else a for a in (*args, *kwargs.values()))
        return (x, edge_index[:, keep], *rest)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p})"


class MaskFeatures:
    r"""Zeroes features at random: whole feature columns (``mode='column'``, as in GRACE) or
    single entries (``mode='entry'``), each with probability ``p``.

    Args:
        p (float, optional): Mask probability. (default: :obj:`0.2`)
        mode (str, optional): ``'column'`` or ``'entry'``. (default: :obj:`'column'`)
        generator (torch.Generator, optional): Source of randomness. (default: global)
    """

    def __init__(self, p: float = 0.2, mode: str = "column",
                 generator: torch.Generator | None = None) -> None:
        _check_probability("p", p)
        if mode not in ("column", "entry"):
            raise ValueError(f"'mode' must be 'column' or 'entry', got {mode!r}")
        self.p = p
        self.mode = mode
        self.generator = generator

    def __call__(self, x: Tensor, edge_index: Tensor, *args: Any, **kwargs: Any) -> tuple:
        shape = (x.size(1),) if self.mode == "column" else tuple(x.shape)
        keep = torch.rand(shape, generator=self.generator,
                          device=self.generator.device if self.generator else "cpu") >= self.p
        keep = keep.to(device=x.device, dtype=x.dtype)
        return (x * keep, edge_index, *args, *kwargs.values())

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p}, mode={self.mode!r})"


CORRUPTIONS: dict[str, Callable[..., Callable[..., tuple]]] = {
    "shuffle": ShuffleNodes,
    "drop_edges": DropEdges,
    "mask_features": MaskFeatures,
}


def make_corruption(corruption: str | Callable[..., Any]) -> Callable[..., Any]:
    """Builds a named corruption (``'shuffle'``, ``'drop_edges'``, ``'mask_features'``) with its
    default settings, or returns the given callable."""
    return resolve("corruption", corruption, CORRUPTIONS)
