r"""Critics :math:`T(\mathbf{h}, \mathbf{s})` that score node–summary pairs and return LOGITS.

Every critic is called as ``critic(z, summary)`` with node embeddings ``z`` of shape
:math:`(N, F_z)` and either one summary :math:`(F_s,)` shared by all nodes, or one summary per
node :math:`(N, F_s)` (row :math:`i` scored with node :math:`i`). It returns :math:`(N,)` logits;
the MI estimators of :mod:`graphinfo.estimators` turn them into a bound.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter

from graphinfo.resolver import resolve


def _check_pair(z: Tensor, summary: Tensor) -> None:
    if summary.dim() == 2 and summary.size(0) != z.size(0):
        raise ValueError(f"'summary' must have shape [F] or [N={z.size(0)}, F] (one row per "
                         f"node), got {tuple(summary.shape)}")
    if summary.dim() not in (1, 2):
        raise ValueError(f"'summary' must be 1- or 2-dimensional, got shape "
                         f"{tuple(summary.shape)}")


class BilinearDiscriminator(torch.nn.Module):
    r"""Bilinear critic of Deep Graph Infomax:

    .. math::
        T(\mathbf{h}_i, \mathbf{s}) = \mathbf{h}_i^{\top} \mathbf{W} \mathbf{s}.

    With a shared summary :math:`\mathbf{W}\mathbf{s}` is computed once, so scoring costs one
    matrix–vector product. The weight is named ``weight`` and initialised as in
    :class:`torch_geometric.nn.DeepGraphInfomax`, :math:`\mathcal{U}(-1/\sqrt{F}, 1/\sqrt{F})`.

    Args:
        channels (int): Size :math:`F_z` of each node embedding.
        summary_channels (int, optional): Size :math:`F_s` of the summary; defaults to
            ``channels``.
    """

    def __init__(self, channels: int, summary_channels: int | None = None) -> None:
        super().__init__()
        self.channels = channels
        self.summary_channels = summary_channels or channels
        self.weight = Parameter(torch.empty(channels, self.summary_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.channels)
        torch.nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, z: Tensor, summary: Tensor) -> Tensor:
        _check_pair(z, summary)
        if z.size(-1) != self.channels or summary.size(-1) != self.summary_channels:
            raise ValueError(f"{self.__class__.__name__} scores embeddings of size "
                             f"{self.channels} with summaries of size {self.summary_channels}, "
                             f"got {z.size(-1)} and {summary.size(-1)}")
        if summary.dim() == 1:
            return z @ (self.weight @ summary)
        return ((z @ self.weight) * summary).sum(dim=-1)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels}, {self.summary_channels})"


class InnerProductDiscriminator(torch.nn.Module):
    r"""Parameter-free inner-product critic:
    :math:`T(\mathbf{h}_i, \mathbf{s}) = \mathbf{h}_i^{\top}\mathbf{s}`."""

    def reset_parameters(self) -> None:
        pass

    def forward(self, z: Tensor, summary: Tensor) -> Tensor:
        _check_pair(z, summary)
        return z @ summary if summary.dim() == 1 else (z * summary).sum(dim=-1)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"


class CosineDiscriminator(torch.nn.Module):
    r"""Cosine similarity with a temperature, the critic of GRACE-style InfoNCE
    (Zhu et al. 2020, `arXiv:2006.04131 <https://arxiv.org/abs/2006.04131>`_):

    .. math::
        T(\mathbf{h}_i, \mathbf{s}) = \frac{\cos(\mathbf{h}_i, \mathbf{s})}{\tau}.

    Args:
        temperature (float, optional): :math:`\tau > 0`. (default: :obj:`0.5`)
    """

    def __init__(self, temperature: float = 0.5) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"'temperature' must be > 0, got {temperature!r}")
        self.temperature = temperature

    def reset_parameters(self) -> None:
        pass

    def forward(self, z: Tensor, summary: Tensor) -> Tensor:
        _check_pair(z, summary)
        z = F.normalize(z, dim=-1)
        summary = F.normalize(summary, dim=-1)
        scores = z @ summary if summary.dim() == 1 else (z * summary).sum(dim=-1)
        return scores / self.temperature

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(temperature={self.temperature})"


class MLPDiscriminator(torch.nn.Module):
    r"""A two-layer perceptron on the concatenated pair (the "concat" critic of
    Poole et al. 2019, `arXiv:1905.06922 <https://arxiv.org/abs/1905.06922>`_):

    .. math::
        T(\mathbf{h}_i, \mathbf{s}) = \mathbf{w}_2^{\top}\,\mathrm{ReLU}\big(
        \mathbf{W}_z\mathbf{h}_i + \mathbf{W}_s\mathbf{s} + \mathbf{b}_1\big) + b_2.

    The first layer is split into its node and summary parts, so a shared summary is
    transformed once instead of once per node.

    Args:
        channels (int): Size of each node embedding.
        hidden_channels (int, optional): Hidden width; defaults to ``channels``.
        summary_channels (int, optional): Size of the summary; defaults to ``channels``.
    """

    def __init__(self, channels: int, hidden_channels: int | None = None,
                 summary_channels: int | None = None) -> None:
        super().__init__()
        self.channels = channels
        self.hidden_channels = hidden_channels or channels
        self.summary_channels = summary_channels or channels
        self.lin_z = torch.nn.Linear(channels, self.hidden_channels)
        self.lin_s = torch.nn.Linear(self.summary_channels, self.hidden_channels, bias=False)
        self.lin_out = torch.nn.Linear(self.hidden_channels, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin_z.reset_parameters()
        self.lin_s.reset_parameters()
        self.lin_out.reset_parameters()

    def forward(self, z: Tensor, summary: Tensor) -> Tensor:
        _check_pair(z, summary)
        hidden = torch.relu(self.lin_z(z) + self.lin_s(summary))
        return self.lin_out(hidden).squeeze(-1)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.channels}, hidden={self.hidden_channels}, "
                f"summary={self.summary_channels})")


DISCRIMINATORS: dict[str, Callable[..., torch.nn.Module]] = {
    "bilinear": lambda channels, summary_channels=None: BilinearDiscriminator(
        channels, summary_channels),
    "inner_product": lambda channels, summary_channels=None: InnerProductDiscriminator(),
    "cosine": lambda channels, summary_channels=None: CosineDiscriminator(),
    "mlp": lambda channels, summary_channels=None: MLPDiscriminator(
        channels, summary_channels=summary_channels),
}


def make_discriminator(discriminator: str | Callable[[Tensor, Tensor], Tensor],
                       channels: int, summary_channels: int | None = None
                       ) -> Callable[[Tensor, Tensor], Tensor]:
    """Builds a named critic (``'bilinear'``, ``'inner_product'``, ``'cosine'``, ``'mlp'``) for
    embeddings of size ``channels`` scored against the other side's ``summary_channels``
    (default: ``channels``; the parameter-free critics need both equal), or returns the given
    callable."""
    return resolve("discriminator", discriminator, DISCRIMINATORS, channels=channels,
                   summary_channels=summary_channels)
