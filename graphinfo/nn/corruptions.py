r"""Augmentations and corruptions: random maps from a graph view to a graph view.

A *graph view* is a PyG :class:`~torch_geometric.data.Data` holding ``x``, ``edge_index`` and,
optionally, ``edge_weight``, ``edge_attr``, ``batch`` or any other attribute. Every
:class:`Augmentation` works two ways:

- on a view, ``augment(view) -> view`` (also ``aug(view)``): the protocol that multi-view models,
  :class:`Compose` and :class:`RandomChoice` use; the input view is never modified;
- PyG-style on tensors, ``aug(x, edge_index, *rest, **kwargs) -> tuple`` of the same structure
  (the corruption convention of :class:`torch_geometric.nn.DeepGraphInfomax`), so every
  augmentation is a DGI corruption and PyG code can call it unchanged. The third positional
  argument is read as ``edge_weight``; keyword arguments keep their names.

A plain PyG-style corruption function becomes an augmentation of views with
:func:`as_augmentation`. Randomness comes from torch's global generator, or from a CPU
``generator`` when one is given.

The augmentations wrap PyG's utilities (:func:`torch_geometric.utils.dropout_edge`,
:func:`~torch_geometric.utils.mask_feature`, :func:`~torch_geometric.utils.shuffle_node`) and
draw the same random numbers they do.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.data.data import BaseData
from torch_geometric.utils import dropout_edge, mask_feature, shuffle_node

from graphinfo.resolver import check_part_kwargs, resolve

__all__ = ["Augmentation", "ShuffleNodes", "DropEdges", "MaskFeatures", "Compose",
           "RandomChoice", "as_augmentation", "make_corruption", "CORRUPTIONS"]

#: Names under which the positional arguments after ``x, edge_index`` are put in a view.
_POSITIONAL_NAMES = ("edge_weight",)


def check_probability(name: str, p: float) -> None:
    """Raises ValueError unless ``p`` (the argument ``name``) is in [0, 1)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"'{name}' must be in [0, 1), got {p!r}")


@contextmanager
def drawing_from(generator: torch.Generator | None,
                 device: torch.device | None = None) -> Iterator[None]:
    """Makes torch's global CPU generator draw from ``generator`` inside the block (and
    advances ``generator`` by what was drawn); nothing changes when it is ``None``. Lets PyG's
    utilities, which take no generator, draw reproducibly from one. They draw on the device of
    the tensor they get, so the tensors (``device``) must be on the CPU too."""
    if generator is None:
        yield
        return
    if generator.device.type != "cpu" or (device is not None and device.type != "cpu"):
        raise ValueError(f"a 'generator' drives the augmentations of CPU tensors only (with a "
                         f"generator on {generator.device} and tensors on {device}); leave it "
                         f"out to draw from torch's generator of the device")
    with torch.random.fork_rng(devices=[]):
        torch.set_rng_state(generator.get_state())
        yield
        generator.set_state(torch.get_rng_state())


def view_from_tensors(args: Sequence[Any], kwargs: dict[str, Any]) -> tuple[Data, list[str]]:
    """A view holding PyG-style corruption arguments, and the names of ``args[2:]`` in it."""
    if not args:
        raise TypeError("an augmentation needs at least the node features 'x'")
    names = [_POSITIONAL_NAMES[i] if i < len(_POSITIONAL_NAMES) else f"arg{i + 2}"
             for i in range(len(args) - 2)]
    overlap = set(names) & set(kwargs)
    if overlap:
        raise TypeError(f"{sorted(overlap)} given both by position and by name")
    view = Data(x=args[0])
    if len(args) > 1:
        view.edge_index = args[1]
    for name, value in zip(names, args[2:]):
        view[name] = value
    for name, value in kwargs.items():
        view[name] = value
    return view, names


def tensors_from_view(view: Data, num_args: int, names: list[str],
                      keys: Sequence[str]) -> tuple[Any, ...]:
    """The inverse of :func:`view_from_tensors`: positional arguments, then keyword values."""
    out: list[Any] = [view.x]
    if num_args > 1:
        out.append(view.edge_index)
    out += [view[name] for name in names]
    out += [view[key] for key in keys]
    return tuple(out)


class Augmentation:
    """Base class: subclasses implement :meth:`augment` (a view in, a new view out)."""

    def augment(self, view: Data) -> Data:
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and isinstance(args[0], BaseData):
            return self.augment(args[0])
        view, names = view_from_tensors(args, kwargs)
        return tensors_from_view(self.augment(view), len(args), names, list(kwargs))

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"


class ShuffleNodes(Augmentation):
    r"""Row-shuffles the feature matrix and keeps the graph, the corruption of Deep Graph
    Infomax: :math:`\mathcal{C}(\mathbf{X}, \mathbf{A}) = (\mathbf{P}\mathbf{X}, \mathbf{A})` for a
    uniformly random permutation matrix :math:`\mathbf{P}`. A view with a ``batch`` vector is
    shuffled within each graph (:func:`torch_geometric.utils.shuffle_node`).

    Without ``batch`` the permutation is drawn by :meth:`permutation`, which DGI's fast path
    calls too: it never materialises :math:`\mathbf{P}\mathbf{X}` (it relabels the columns of
    the cached adjacency instead), so both paths draw one permutation the same way and one seed
    gives both the same corruption. Without a generator it draws from torch's generator of the
    features' device, as PyG's DGI example does (on a GPU a host-side draw and copy would cost
    more than the rest of the corruption), and equals ``shuffle_node``'s draw on any device;
    one seed therefore gives one corruption on the CPU and another on a GPU.

    Args:
        generator (torch.Generator, optional): Source of randomness. (default: global)
    """

    def __init__(self, generator: torch.Generator | None = None) -> None:
        self.generator = generator

    def permutation(self, num_nodes: int, device: torch.device) -> Tensor:
        perm = torch.randperm(num_nodes, generator=self.generator,
                              device=self.generator.device if self.generator else device)
        return perm.to(device)

    def augment(self, view: Data) -> Data:
        out = copy.copy(view)
        batch = getattr(view, "batch", None)
        if batch is not None:
            with drawing_from(self.generator, view.x.device):
                out.x = shuffle_node(view.x, batch)[0]
        else:
            out.x = view.x.index_select(0, self.permutation(view.x.size(0), view.x.device))
        return out


class DropEdges(Augmentation):
    r"""Removes each edge independently with probability ``p`` (DropEdge, GRACE's edge
    removal) through :func:`torch_geometric.utils.dropout_edge`, and every edge-level attribute
    of the view with it (``edge_weight``, ``edge_attr`` ...).

    Args:
        p (float, optional): Drop probability. (default: :obj:`0.2`)
        generator (torch.Generator, optional): Source of randomness. (default: global)
        force_undirected (bool, optional): Drop both directions of an edge together.
            (default: ``False``)
    """

    def __init__(self, p: float = 0.2, generator: torch.Generator | None = None, *,
                 force_undirected: bool = False) -> None:
        check_probability("p", p)
        self.p = p
        self.force_undirected = force_undirected
        self.generator = generator

    def augment(self, view: Data) -> Data:
        edge_index = getattr(view, "edge_index", None)
        if edge_index is None:
            raise ValueError("DropEdges needs a view with an 'edge_index'")
        edge_keys = [key for key in view.keys()
                     if key != "edge_index" and view.is_edge_attr(key)]
        with drawing_from(self.generator, edge_index.device):
            kept, mask = dropout_edge(edge_index, p=self.p,
                                      force_undirected=self.force_undirected)
        out = copy.copy(view)
        out.edge_index = kept
        for key in edge_keys:
            out[key] = view[key][mask]
        return out

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p})"


class MaskFeatures(Augmentation):
    r"""Sets features to zero at random through :func:`torch_geometric.utils.mask_feature`:
    whole feature columns (``mode='column'``, as in GRACE), whole nodes (``'row'``) or single
    entries (``'entry'``), each with probability ``p``.

    Args:
        p (float, optional): Mask probability. (default: :obj:`0.2`)
        mode (str, optional): ``'column'`` (PyG: ``'col'``), ``'row'`` or ``'entry'``
            (PyG: ``'all'``). (default: :obj:`'column'`)
        fill_value (float, optional): The value of masked features. (default: :obj:`0.0`)
        generator (torch.Generator, optional): Source of randomness. (default: global)
    """

    _MODES = {"column": "col", "col": "col", "row": "row", "entry": "all", "all": "all"}

    def __init__(self, p: float = 0.2, mode: str = "column", fill_value: float = 0.0,
                 generator: torch.Generator | None = None) -> None:
        check_probability("p", p)
        if mode not in self._MODES:
            raise ValueError(f"'mode' must be 'column', 'row' or 'entry', got {mode!r}")
        self.p = p
        self.mode = mode
        self.fill_value = fill_value
        self.generator = generator

    def augment(self, view: Data) -> Data:
        out = copy.copy(view)
        with drawing_from(self.generator, view.x.device):
            out.x = mask_feature(view.x, p=self.p, mode=self._MODES[self.mode],
                                 fill_value=self.fill_value)[0]
        return out

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p}, mode={self.mode!r})"


class Compose(Augmentation):
    """Applies augmentations one after another.

    Args:
        augmentations (Sequence[callable]): Augmentations, or PyG-style corruption functions
            (wrapped by :func:`as_augmentation`).
    """

    def __init__(self, augmentations: Sequence[Callable[..., Any]]) -> None:
        if not augmentations:
            raise ValueError("Compose needs at least one augmentation")
        self.augmentations = [as_augmentation(a) for a in augmentations]

    def augment(self, view: Data) -> Data:
        for augmentation in self.augmentations:
            view = augmentation.augment(view)
        return view

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.augmentations})"


class RandomChoice(Augmentation):
    """Applies one augmentation drawn at random each call (uniformly, or with ``p``).

    Args:
        augmentations (Sequence[callable]): Augmentations, or PyG-style corruption functions.
        p (Sequence[float], optional): The probability of each; normalised to sum to one.
        generator (torch.Generator, optional): Source of randomness of the choice.
            (default: global)
    """

    def __init__(self, augmentations: Sequence[Callable[..., Any]],
                 p: Sequence[float] | None = None,
                 generator: torch.Generator | None = None) -> None:
        if not augmentations:
            raise ValueError("RandomChoice needs at least one augmentation")
        weights = torch.ones(len(augmentations)) if p is None else \
            torch.as_tensor(list(p), dtype=torch.float64)
        if weights.numel() != len(augmentations) or bool((weights < 0).any()) \
                or not float(weights.sum()) > 0:
            raise ValueError(f"'p' must give one non-negative probability per augmentation "
                             f"({len(augmentations)}), not all zero; got {p}")
        self.augmentations = [as_augmentation(a) for a in augmentations]
        self.p = (weights / weights.sum()).tolist()
        self.generator = generator

    def augment(self, view: Data) -> Data:
        index = int(torch.multinomial(torch.tensor(self.p), 1, generator=self.generator))
        return self.augmentations[index].augment(view)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.augmentations}, p={self.p})"


class _TupleFunction(Augmentation):
    """A PyG-style corruption function (tensors in, tuple or tensor out) on views."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.arity = _positional_arity(function)

    def augment(self, view: Data) -> Data:
        keys = [key for key in ("edge_index", "edge_weight") if key in view]
        keys = keys[:max(self.arity - 1, 0)]
        result = self.function(view.x, *(view[key] for key in keys))
        result = result if isinstance(result, tuple) else (result,)
        out = copy.copy(view)
        out.x = result[0]
        for key, value in zip(keys, result[1:]):
            out[key] = value
        return out

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and isinstance(args[0], BaseData):
            return self.augment(args[0])
        return self.function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"as_augmentation({self.function!r})"


def _positional_arity(function: Callable[..., Any]) -> int:
    """How many positional arguments ``function`` takes (a large number for ``*args``)."""
    import inspect

    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return 1 << 30
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return 1 << 30
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)


def as_augmentation(function: Callable[..., Any]) -> Augmentation:
    """An :class:`Augmentation` from a PyG-style corruption function, called as
    ``function(x, edge_index, edge_weight)`` with as many of the view's tensors as it takes
    positional arguments (those the view has) and returning them corrupted (a tuple, or just
    ``x``); an augmentation is returned unchanged."""
    if isinstance(function, Augmentation):
        return function
    if not callable(function):
        raise TypeError(f"an augmentation must be callable, got {type(function).__name__}")
    return _TupleFunction(function)


CORRUPTIONS: dict[str, Callable[..., Augmentation]] = {
    "shuffle": ShuffleNodes,
    "drop_edges": DropEdges,
    "mask_features": MaskFeatures,
}


def make_corruption(corruption: str | Callable[..., Any], **kwargs: Any) -> Callable[..., Any]:
    """Builds a named corruption with ``kwargs`` (a model's ``corruption_kwargs``, e.g.
    ``p=0.3``), or returns the given callable unchanged (PyG-style functions keep working as
    they are). Names: ``'shuffle'``, ``'drop_edges'``, ``'mask_features'``, and those of
    :mod:`graphinfo.nn.augmentations` (``'drop_nodes'``, ``'feature_dropout'``,
    ``'random_walk_subgraph'``, ``'add_edges'``, ``'rewire_edges'``, ``'use_view'``) and
    :mod:`graphinfo.nn.adaptive` (``'adaptive_drop_edges'``, ``'adaptive_mask_features'``)."""
    check_part_kwargs("corruption", corruption, kwargs)
    return resolve("corruption", corruption, CORRUPTIONS, **kwargs)
