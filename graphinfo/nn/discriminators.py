r"""Critics :math:`T(\mathbf{h}, \mathbf{s})` that score node–summary pairs and return LOGITS.

Every critic is called as ``critic(z, summary)`` with node embeddings ``z`` of shape
:math:`(N, F_z)` and either one summary :math:`(F_s,)` shared by all nodes, or one summary per
node :math:`(N, F_s)` (row :math:`i` scored with node :math:`i`). It returns :math:`(N,)` logits;
the MI estimators of :mod:`graphinfo.estimators` turn them into a bound. ``critic.pairwise(z,
summaries)`` scores every node against every row of a :math:`(B, F_s)` summary matrix, the
:math:`(N, B)` logits that models contrasting each node with its own graph among many
(InfoGraph) read their positives and negatives from.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter

from graphinfo.resolver import check_part_kwargs, resolve


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
        T(\mathbf{h}_i, \mathbf{s}) = \mathbf{h}_i^{\top} \mathbf{W} \mathbf{s} \; (+\, b).

    With a shared summary :math:`\mathbf{W}\mathbf{s}` is computed once, so scoring costs one
    matrix–vector product. The weight is named ``weight``.

    Args:
        channels (int): Size :math:`F_z` of each node embedding.
        summary_channels (int, optional): Size :math:`F_s` of the summary; defaults to
            ``channels``.
        bias (bool, optional): Add a learnable bias :math:`b` (initially 0), as the
            ``torch.nn.Bilinear`` of the DGI authors' code does. (default: ``False``, as
            :class:`torch_geometric.nn.DeepGraphInfomax`)
        init (str, optional): ``'pyg'``: :math:`\mathcal{U}(-1/\sqrt{F_z}, 1/\sqrt{F_z})`, as
            :class:`torch_geometric.nn.DeepGraphInfomax`; ``'bilinear_xavier'``: Xavier-uniform
            of a ``torch.nn.Bilinear(F_z, F_s, 1)`` weight, bound
            :math:`\sqrt{6 / (F_z F_s + F_s)}`, as the DGI authors' code
            (github.com/PetarV-/DGI, ``layers/discriminator.py``). (default: :obj:`'pyg'`)
    """

    INITS = ("pyg", "bilinear_xavier")

    def __init__(self, channels: int, summary_channels: int | None = None, bias: bool = False,
                 init: str = "pyg") -> None:
        super().__init__()
        if init not in self.INITS:
            raise ValueError(f"'init' must be one of {self.INITS}, got {init!r}")
        self.channels = channels
        self.summary_channels = summary_channels or channels
        self.init = init
        self.weight = Parameter(torch.empty(channels, self.summary_channels))
        self.bias = Parameter(torch.zeros(())) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.init == "pyg":
            bound = 1.0 / math.sqrt(self.channels)
        else:
            bound = math.sqrt(6.0 / (self.channels * self.summary_channels
                                     + self.summary_channels))
        torch.nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            torch.nn.init.zeros_(self.bias)

    def forward(self, z: Tensor, summary: Tensor) -> Tensor:
        _check_pair(z, summary)
        if z.size(-1) != self.channels or summary.size(-1) != self.summary_channels:
            raise ValueError(f"{self.__class__.__name__} scores embeddings of size "
                             f"{self.channels} with summaries of size {self.summary_channels}, "
                             f"got {z.size(-1)} and {summary.size(-1)}")
        if summary.dim() == 1:
            scores = z @ (self.weight @ summary)
        else:
            scores = ((z @ self.weight) * summary).sum(dim=-1)
        return scores if self.bias is None else scores + self.bias

    def pairwise(self, z: Tensor, summaries: Tensor) -> Tensor:
        r"""Logits of every node against every summary, :math:`\mathbf{Z}\mathbf{W}
        \mathbf{S}^\top`, :math:`(N, B)`."""
        _check_pairwise(z, summaries)
        scores = z @ (self.weight @ summaries.t())
        return scores if self.bias is None else scores + self.bias

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

    def pairwise(self, z: Tensor, summaries: Tensor) -> Tensor:
        r"""Logits of every node against every summary, :math:`\mathbf{Z}\mathbf{S}^\top`."""
        _check_pairwise(z, summaries)
        return z @ summaries.t()

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

    def pairwise(self, z: Tensor, summaries: Tensor) -> Tensor:
        """Scaled cosine similarity of every node with every summary, :math:`(N, B)`."""
        _check_pairwise(z, summaries)
        return F.normalize(z, dim=-1) @ F.normalize(summaries, dim=-1).t() / self.temperature

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

    def pairwise(self, z: Tensor, summaries: Tensor) -> Tensor:
        r"""Logits of every node against every summary, :math:`(N, B)`, by broadcasting the two
        halves of the first layer (an :math:`N \times B \times H` intermediate)."""
        _check_pairwise(z, summaries)
        hidden = torch.relu(self.lin_z(z).unsqueeze(1) + self.lin_s(summaries).unsqueeze(0))
        return self.lin_out(hidden).squeeze(-1)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.channels}, hidden={self.hidden_channels}, "
                f"summary={self.summary_channels})")


class Projection(torch.nn.Module):
    r"""InfoGraph's projection head: a three-layer MLP plus a linear shortcut,
    :math:`\phi(\mathbf{x}) = \mathrm{MLP}(\mathbf{x}) + \mathbf{W}\mathbf{x}`, from
    ``in_channels`` (default: ``channels``) to ``channels`` features, each layer followed by
    ``act`` (``'relu'``, InfoGraph's, or ``'prelu'``, MVGRL's: one slope per layer)."""

    def __init__(self, channels: int, *, in_channels: int | None = None,
                 act: str = "relu") -> None:
        super().__init__()
        if act not in ("relu", "prelu"):
            raise ValueError(f"'act' must be 'relu' or 'prelu', got {act!r}")
        width = channels if in_channels is None else in_channels

        def activation() -> torch.nn.Module:
            return torch.nn.ReLU() if act == "relu" else torch.nn.PReLU()
        self.block = torch.nn.Sequential(
            torch.nn.Linear(width, channels), activation(),
            torch.nn.Linear(channels, channels), activation(),
            torch.nn.Linear(channels, channels), activation())
        self.shortcut = torch.nn.Linear(width, channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x) + self.shortcut(x)


class ProjectionDiscriminator(torch.nn.Module):
    r"""The critic of InfoGraph (Sun et al., ICLR 2020, `arXiv:1908.01000
    <https://arxiv.org/abs/1908.01000>`_): an inner product after a projection of each side,

    .. math::
        T(\mathbf{h}_i, \mathbf{s}) = \phi(\mathbf{h}_i)^{\top}\psi(\mathbf{s}),

    where :math:`\phi` and :math:`\psi` are :class:`Projection` heads (three ReLU layers plus
    a linear shortcut).

    Args:
        channels (int): Size of each node embedding.
        summary_channels (int, optional): Size of the summary; must equal ``channels``.
    """

    def __init__(self, channels: int, summary_channels: int | None = None) -> None:
        super().__init__()
        if summary_channels not in (None, channels):
            raise ValueError(f"{self.__class__.__name__} projects both sides to {channels} "
                             f"features: 'summary_channels' must equal 'channels', got "
                             f"{summary_channels}")
        self.channels = channels
        self.local_projection = Projection(channels)
        self.global_projection = Projection(channels)

    def reset_parameters(self) -> None:
        for module in self.modules():
            if isinstance(module, torch.nn.Linear):
                module.reset_parameters()

    def forward(self, z: Tensor, summary: Tensor) -> Tensor:
        _check_pair(z, summary)
        local, projected = self.local_projection(z), self.global_projection(summary)
        return local @ projected if projected.dim() == 1 else (local * projected).sum(dim=-1)

    def pairwise(self, z: Tensor, summaries: Tensor) -> Tensor:
        r"""Logits of every node against every summary, :math:`\phi(\mathbf{Z})\,
        \psi(\mathbf{S})^\top`, :math:`(N, B)`."""
        _check_pairwise(z, summaries)
        return self.local_projection(z) @ self.global_projection(summaries).t()

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels})"


def _check_pairwise(z: Tensor, summaries: Tensor) -> None:
    if z.dim() != 2 or summaries.dim() != 2:
        raise ValueError(f"pairwise scores need 2-D node embeddings and summaries, got shapes "
                         f"{tuple(z.shape)} and {tuple(summaries.shape)}")


DISCRIMINATORS: dict[str, Callable[..., torch.nn.Module]] = {
    "bilinear": lambda channels, summary_channels=None, **kwargs: BilinearDiscriminator(
        channels, summary_channels, **kwargs),
    "inner_product": lambda channels, summary_channels=None: InnerProductDiscriminator(),
    "cosine": lambda channels, summary_channels=None, **kwargs: CosineDiscriminator(**kwargs),
    "mlp": lambda channels, summary_channels=None, **kwargs: MLPDiscriminator(
        channels, summary_channels=summary_channels, **kwargs),
    "projection": lambda channels, summary_channels=None: ProjectionDiscriminator(
        channels, summary_channels),
}


def make_discriminator(discriminator: str | Callable[[Tensor, Tensor], Tensor],
                       channels: int, summary_channels: int | None = None, **kwargs: Any
                       ) -> Callable[[Tensor, Tensor], Tensor]:
    """Builds a named critic (``'bilinear'``, ``'inner_product'``, ``'cosine'``, ``'mlp'``,
    ``'projection'``) for embeddings of size ``channels`` scored against the other side's
    ``summary_channels`` (default: ``channels``; the parameter-free critics need both equal),
    or returns the given callable. ``kwargs`` (a model's ``discriminator_kwargs``, e.g.
    ``temperature`` for ``'cosine'``, ``hidden_channels`` for ``'mlp'``) configure a named
    critic only."""
    check_part_kwargs("discriminator", discriminator, kwargs)
    return resolve("discriminator", discriminator, DISCRIMINATORS, channels=channels,
                   summary_channels=summary_channels, **kwargs)
