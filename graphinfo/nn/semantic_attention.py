r"""Semantic-level attention over metapaths (Wang et al., WWW 2019, "Heterogeneous Graph
Attention Network", `arXiv:1903.07293 <https://arxiv.org/abs/1903.07293>`_)."""
from __future__ import annotations

import torch
from torch import Tensor


class SemanticAttention(torch.nn.Module):
    r"""HAN's semantic attention: one weight per metapath, shared by all nodes.

    For the per-metapath embeddings :math:`\mathbf{H}^{(p)} \in \mathbb{R}^{N \times F}`,

    .. math::
        w_p = \frac{1}{N}\sum_{i=1}^{N} \mathbf{q}^\top \tanh(\mathbf{W}\mathbf{h}^{(p)}_i +
        \mathbf{b}), \qquad \beta_p = \operatorname{softmax}_p(w_p), \qquad
        \mathbf{H} = \sum_p \beta_p \mathbf{H}^{(p)}.

    Args:
        channels (int): :math:`F`.
        attention_channels (int): Rows of :math:`\mathbf{W}`. (default: ``16``)
    """

    def __init__(self, channels: int, attention_channels: int = 16) -> None:
        super().__init__()
        if channels < 1 or attention_channels < 1:
            raise ValueError(f"'channels' and 'attention_channels' must be positive, got "
                             f"{channels} and {attention_channels}")
        self.project = torch.nn.Linear(channels, attention_channels)
        self.query = torch.nn.Parameter(torch.empty(attention_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.project.weight)
        torch.nn.init.zeros_(self.project.bias)
        torch.nn.init.normal_(self.query, std=self.query.numel() ** -0.5)

    def weights(self, stacked: Tensor) -> Tensor:
        """:math:`\\beta`, shape :math:`(P,)`, of embeddings stacked as :math:`(P, N, F)`."""
        if stacked.dim() != 3:
            raise ValueError(f"expected per-metapath embeddings stacked as (P, N, F), got shape "
                             f"{tuple(stacked.shape)}")
        scores = (torch.tanh(self.project(stacked)) @ self.query).mean(dim=1)   # (P,)
        return torch.softmax(scores, dim=0)

    def forward(self, stacked: Tensor) -> Tensor:
        """:math:`\\mathbf{H} = \\sum_p \\beta_p \\mathbf{H}^{(p)}`, shape :math:`(N, F)`."""
        beta = self.weights(stacked)
        return (beta.view(-1, 1, 1) * stacked).sum(dim=0)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.project.in_features}, "
                f"attention_channels={self.project.out_features})")
