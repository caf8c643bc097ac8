r"""Caches keyed by tensor identity: what is computed once per graph (its normalised adjacency,
the CSR form of its features, aggregated features) is reused for as long as the very same
tensors, unmodified, are passed again, and freed as soon as they are.

:class:`TensorRef` is a weak reference plus the tensor's version counter; :class:`TensorCache`
keeps a few entries keyed by such references; :class:`AdjacencyCache` specialises it to the
GCN-normalised adjacency of :mod:`graphinfo.sparse`.
"""
from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from graphinfo.sparse import DenseOperator, SparseOperator, gcn_adjacency, gcn_operator


class TensorRef:
    """A weak reference to a tensor plus its version counter at the time it was taken.

    Inference tensors have no version counter, so a reference to one never matches (whatever is
    cached for it is recomputed); a reference that went through pickling never matches either.
    """

    def __init__(self, tensor: Tensor | None,
                 on_death: Callable[[weakref.ref[Tensor]], None] | None = None) -> None:
        self.trackable = tensor is None or not tensor.is_inference()
        self.ref = None if tensor is None or not self.trackable \
            else weakref.ref(tensor, on_death)
        self.version = tensor._version if tensor is not None and self.trackable else None

    def refers_to(self, tensor: Tensor | None) -> bool:
        if not self.trackable:
            return False
        if tensor is None or self.ref is None:
            return tensor is None and self.ref is None
        return self.ref() is tensor and not tensor.is_inference() \
            and tensor._version == self.version

    def is_dead(self) -> bool:
        """Whether it referred to a tensor that no longer exists (or cannot be tracked)."""
        return not self.trackable or (self.ref is not None and self.ref() is None)

    def __getstate__(self) -> dict[str, Any]:
        # Weak references cannot be pickled; an unpickled reference matches nothing.
        return {"trackable": False, "ref": None, "version": None}


class TensorCache:
    """Remembers values computed from tensors, keyed by the tensors' identity.

    An entry is reused only while its key tensors are alive and unmodified in place (their
    version counters are unchanged) and the extra key is equal; an entry is dropped as soon as
    one of its tensors is garbage collected. Writes that bypass the version counter (through
    ``tensor.data``, NumPy or DLPack views) are not seen: call :meth:`clear` after them. The
    ``size`` most recent entries are kept. Values are always computed outside
    inference mode and without gradient, so they can serve a later backward pass.
    """

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._entries: list[tuple[tuple[TensorRef, ...], Any, Any]] = []

    def _evict_dead(self) -> None:
        self._entries = [entry for entry in self._entries
                         if not any(ref.is_dead() for ref in entry[0])]

    def _death_callback(self) -> Callable[[Any], None]:
        # Frees an entry's value as soon as one of its tensors is garbage collected; holds the
        # cache weakly so the callback does not keep it alive.
        cache = weakref.ref(self)

        def evict(_: Any) -> None:
            alive = cache()
            if alive is not None:
                alive._evict_dead()
        return evict

    def get(self, tensors: tuple[Tensor | None, ...], extra: Any,
            build: Callable[[], Any]) -> Any:
        """The cached value for ``tensors`` and ``extra``, computed with ``build()`` on a miss."""
        self._evict_dead()
        for refs, entry_extra, value in self._entries:
            if entry_extra == extra and all(ref.refers_to(t) for ref, t in zip(refs, tensors)):
                return value
        with torch.inference_mode(False), torch.no_grad():
            value = build()
        callback = self._death_callback()
        self._entries.insert(0, (tuple(TensorRef(t, callback) for t in tensors), extra, value))
        del self._entries[self.size:]
        return value

    def clear(self) -> None:
        self._entries.clear()

    def __getstate__(self) -> dict[str, Any]:
        # What is cached is derived from tensors outside the model: not part of a saved model.
        return {"size": self.size, "_entries": []}


class AdjacencyCache(TensorCache):
    """A :class:`TensorCache` of normalised adjacencies: :func:`~graphinfo.sparse.gcn_adjacency`
    (a torch CSR tensor) by default, or :func:`~graphinfo.sparse.gcn_operator` with
    ``operator=True``."""

    def get(self, edge_index: Tensor, num_nodes: int,  # type: ignore[override]
            edge_weight: Tensor | None = None, operator: bool = False,
            **options: Any) -> Tensor | SparseOperator | DenseOperator:
        """The cached adjacency for these inputs, computed on a miss."""
        build = gcn_operator if operator else gcn_adjacency
        extra = (num_nodes, operator, tuple(sorted(options.items())))
        return super().get((edge_index, edge_weight), extra,
                           lambda: build(edge_index, num_nodes, edge_weight, **options))
