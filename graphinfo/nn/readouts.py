r"""Readouts :math:`\mathcal{R}` that summarise node embeddings into one vector per graph.

Every readout is called as ``readout(z, *args, batch=None, **kwargs)``: the extra positional and
keyword arguments are the ones the model was called with (the calling convention of
:class:`torch_geometric.nn.DeepGraphInfomax`) and are ignored. Without ``batch`` the result is
one summary of shape :math:`(F,)`; with ``batch`` it is one summary per graph, :math:`(B, F)`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch_geometric.nn.aggr import AttentionalAggregation
from torch_geometric.utils import scatter

from graphinfo.resolver import resolve


class Readout(torch.nn.Module):
    """Base class: pools node embeddings over all nodes or per graph with ``reduce``."""

    reduce: str = "mean"

    def pool(self, z: Tensor, batch: Tensor | None) -> Tensor:
        if batch is None:
            return getattr(torch, self.reduce)(z, dim=0) if self.reduce != "max" \
                else z.max(dim=0).values
        return scatter(z, batch, dim=0, reduce=self.reduce)

    def forward(self, z: Tensor, *args: Any, batch: Tensor | None = None, **kwargs: Any) -> Tensor:
        return self.pool(z, batch)

    def reset_parameters(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"


class MeanReadout(Readout):
    r"""Mean of the node embeddings: :math:`\mathbf{s} = \frac{1}{N}\sum_i \mathbf{h}_i`."""

    reduce = "mean"


class SumReadout(Readout):
    r"""Sum of the node embeddings, as in InfoGraph: :math:`\mathbf{s} = \sum_i \mathbf{h}_i`."""

    reduce = "sum"


class MaxReadout(Readout):
    r"""Feature-wise maximum: :math:`\mathbf{s}_k = \max_i h_{ik}`."""

    reduce = "max"


class SigmoidMeanReadout(Readout):
    r"""The readout of Deep Graph Infomax (Veličković et al., ICLR 2019,
    `arXiv:1809.10341 <https://arxiv.org/abs/1809.10341>`_), the logistic sigmoid of the mean:

    .. math::
        \mathbf{s} = \sigma\Big(\frac{1}{N}\sum_{i=1}^{N} \mathbf{h}_i\Big).
    """

    reduce = "mean"

    def forward(self, z: Tensor, *args: Any, batch: Tensor | None = None, **kwargs: Any) -> Tensor:
        return torch.sigmoid(self.pool(z, batch))


class AttentionReadout(Readout):
    r"""Attention-weighted sum (Li et al., ICLR 2016, `arXiv:1511.05493
    <https://arxiv.org/abs/1511.05493>`_), computed by
    :class:`torch_geometric.nn.aggr.AttentionalAggregation`:

    .. math::
        \mathbf{s} = \sum_i \operatorname{softmax}_i\big(\mathbf{w}^\top \mathbf{h}_i\big)
        \,\mathbf{h}_i.

    Args:
        channels (int): Size of each node embedding.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.aggr = AttentionalAggregation(torch.nn.Linear(channels, 1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.aggr.reset_parameters()

    def forward(self, z: Tensor, *args: Any, batch: Tensor | None = None, **kwargs: Any) -> Tensor:
        out = self.aggr(z, batch)
        return out[0] if batch is None else out

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels})"


READOUTS: dict[str, Callable[..., Readout]] = {
    "sigmoid_mean": lambda channels: SigmoidMeanReadout(),
    "mean": lambda channels: MeanReadout(),
    "sum": lambda channels: SumReadout(),
    "max": lambda channels: MaxReadout(),
    "attention": lambda channels: AttentionReadout(channels),
}


def make_readout(summary: str | Callable[..., Tensor], channels: int) -> Callable[..., Tensor]:
    """Builds a named readout (``'sigmoid_mean'``, ``'mean'``, ``'sum'``, ``'max'``,
    ``'attention'``) for embeddings of size ``channels``, or returns the given callable."""
    return resolve("summary", summary, READOUTS, channels=channels)
