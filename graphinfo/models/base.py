"""What every MI model shares: input checks, ``embed`` and ``reset_parameters``."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch_geometric.nn.inits import reset

from graphinfo.estimators import ESTIMATORS
from graphinfo.resolver import resolve
from graphinfo.tensor_cache import TensorRef
from graphinfo.validation import check_graph


def make_estimator(estimator: str | Callable[[Tensor, Tensor], Tensor]
                   ) -> Callable[[Tensor, Tensor], Tensor]:
    """Resolves an MI estimator name of :data:`graphinfo.estimators.ESTIMATORS` to its
    (positive logits, negative logits) -> estimate callable; stateful ones (``'mine'``) are
    instantiated. A callable is returned unchanged."""
    registry = {name: (fn if isinstance(fn, type) else (lambda fn=fn: fn))
                for name, fn in ESTIMATORS.items()}
    return resolve("estimator", estimator, registry)


class MIModel(torch.nn.Module):
    """Base class of graphinfo's models.

    Subclasses define ``encoder`` (a module mapping the graph inputs to node embeddings),
    ``forward`` returning a NamedTuple, and ``loss(*out)`` returning the negative MI estimate
    plus regularisers as a scalar.
    """

    encoder: torch.nn.Module

    @property
    def in_channels(self) -> int | None:
        """Number of input features the encoder expects, when it says so."""
        value = getattr(self.encoder, "in_channels", None)
        return value if isinstance(value, int) and value > 0 else None

    def check_inputs(self, x: Tensor, edge_index: Tensor, *args: Any,
                     batch: Tensor | None = None, **kwargs: Any) -> None:
        """Raises a clear ValueError/TypeError on malformed graph inputs; the third positional
        argument (or ``edge_weight=``) is checked as edge weights.

        Inputs that passed are remembered (weakly, with their version counters): calling again
        with the very same unmodified tensors, as a training loop does every epoch, skips the
        checks."""
        edge_weight = args[0] if args and isinstance(args[0], Tensor) else \
            kwargs.get("edge_weight")
        param = next(self.parameters(), None)
        dtype = param.dtype if param is not None else None
        tensors = (x, edge_index, edge_weight, batch)
        extra = (self.in_channels, dtype)
        checked = getattr(self, "_checked_inputs", None)
        if checked is not None and checked[1] == extra and all(
                isinstance(t, Tensor | None) and ref.refers_to(t)
                for ref, t in zip(checked[0], tensors)):
            return
        check_graph(x, edge_index, edge_weight, batch, in_channels=self.in_channels, dtype=dtype)
        if all(isinstance(t, Tensor | None) for t in tensors):
            self._checked_inputs = (tuple(TensorRef(t) for t in tensors), extra)

    def reset_parameters(self) -> None:
        """Resets all learnable parameters of the module."""
        for child in self.children():
            reset(child)

    @torch.no_grad()
    def embed(self, x: Tensor, edge_index: Tensor, *args: Any, batch: Tensor | None = None,
              **kwargs: Any) -> Tensor:
        """Node embeddings from the encoder, computed in eval mode without gradient.

        ``batch`` is accepted for symmetry with ``forward`` and, as there, not passed to the
        encoder. The module's training mode is restored afterwards.
        """
        self.check_inputs(x, edge_index, *args, batch=batch, **kwargs)
        was_training = self.training
        self.eval()
        try:
            return self.encoder(x, edge_index, *args, **kwargs)
        finally:
            self.train(was_training)
