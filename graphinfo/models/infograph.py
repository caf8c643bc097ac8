r"""InfoGraph (Sun et al., ICLR 2020, `arXiv:1908.01000 <https://arxiv.org/abs/1908.01000>`_):
graph-level representations by maximising the mutual information between each graph's
embedding and the embeddings of its own nodes ("patches"), contrasted with other graphs'.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import GINConv
from torch_geometric.utils import scatter

from graphinfo.models.base import MIModel, make_estimator


class InfoGraphOutput(NamedTuple):
    """What :meth:`InfoGraph.forward` returns; ``model.loss(*out)`` takes it back."""

    node_z: Tensor
    """Node (patch) embeddings, the concatenation of every layer's output, :math:`(N, LF)`."""
    graph_z: Tensor
    """Graph embeddings, the per-graph sum of ``node_z``, :math:`(B, LF)`."""
    batch: Tensor
    """The graph of each node, :math:`(N)`."""


class GINLayerEncoder(torch.nn.Module):
    r"""``num_layers`` GIN convolutions (two-layer MLPs, ReLU, batch norm) whose outputs are
    concatenated: :math:`\mathbf{h}_i = [\mathbf{h}_i^{(1)} \Vert \dots \Vert
    \mathbf{h}_i^{(L)}]`, the node encoder of InfoGraph."""

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"'num_layers' must be >= 1, got {num_layers}")
        self.in_channels = in_channels
        self.out_channels = hidden_channels * num_layers
        self.convs = torch.nn.ModuleList()
        self.norms = torch.nn.ModuleList()
        for layer in range(num_layers):
            source = in_channels if layer == 0 else hidden_channels
            mlp = torch.nn.Sequential(torch.nn.Linear(source, hidden_channels), torch.nn.ReLU(),
                                      torch.nn.Linear(hidden_channels, hidden_channels))
            self.convs.append(GINConv(mlp))
            self.norms.append(torch.nn.BatchNorm1d(hidden_channels))

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        outputs = []
        for conv, norm in zip(self.convs, self.norms):
            x = norm(F.relu(conv(x, edge_index)))
            outputs.append(x)
        return torch.cat(outputs, dim=-1)


class Projection(torch.nn.Module):
    """InfoGraph's critic head: a three-layer ReLU MLP plus a linear shortcut."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block = torch.nn.Sequential(
            torch.nn.Linear(channels, channels), torch.nn.ReLU(),
            torch.nn.Linear(channels, channels), torch.nn.ReLU(),
            torch.nn.Linear(channels, channels), torch.nn.ReLU())
        self.shortcut = torch.nn.Linear(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x) + self.shortcut(x)


class InfoGraph(MIModel):
    r"""InfoGraph: maximises the MI between every node embedding :math:`\mathbf{h}_i` and the
    embedding :math:`\mathbf{g}_{b(i)}` of its own graph, against the other graphs in the batch.

    With projections :math:`\phi` (nodes) and :math:`\psi` (graphs), the critic is
    :math:`T(\mathbf{h}_i, \mathbf{g}_b) = \phi(\mathbf{h}_i)^\top \psi(\mathbf{g}_b)`; a pair is
    positive exactly when :math:`b = b(i)`, read off ``batch`` (an :math:`N \times B` score
    matrix, never an :math:`N \times N` mask). The loss is the negative estimate of the chosen
    estimator (JSD by default, as in the paper), plus, with ``prior=True``, Deep InfoMax's
    prior-matching term weighted by ``prior_weight``: a discriminator :math:`D` between
    samples of :math:`\mathcal{U}[0, 1)` and the graph embeddings,
    :math:`-\mathbb{E}[\log D(\mathbf{u})] - \mathbb{E}[\log(1 - D(\mathbf{g}))]`, minimised
    jointly with the rest as in the authors' code (not as a min-max game).

    Args:
        in_channels (int): Node feature size.
        hidden_channels (int, optional): Units per GIN layer. (default: :obj:`32`)
        num_layers (int, optional): GIN layers; embeddings have
            ``hidden_channels * num_layers`` dimensions. (default: :obj:`5`)
        estimator (str or callable, optional): MI estimator on (positive, negative) logits,
            as for :class:`~graphinfo.models.DGI`. Sum-pooled graph embeddings give logits in the
            tens to thousands at initialisation (MUTAG: mean magnitude about 70), where
            ``'nwj'``'s :math:`e^{T}` term overflows float32; prefer ``'jsd'``, ``'dv'`` or
            ``'infonce'``.
            (default: :obj:`'jsd'`)
        prior (bool, optional): Add the prior-matching term. (default: :obj:`False`)
        prior_weight (float, optional): Its weight :math:`\gamma`. (default: :obj:`0.1`)
    """

    def __init__(self, in_channels: int, hidden_channels: int = 32, num_layers: int = 5, *,
                 estimator: Callable[..., Tensor] | str = "jsd", prior: bool = False,
                 prior_weight: float = 0.1) -> None:
        super().__init__()
        self.encoder = GINLayerEncoder(in_channels, hidden_channels, num_layers)
        channels = self.encoder.out_channels
        self.local_projection = Projection(channels)
        self.global_projection = Projection(channels)
        self.estimator = make_estimator(estimator)
        self.prior = prior
        self.prior_weight = prior_weight
        self.prior_discriminator = torch.nn.Sequential(
            torch.nn.Linear(channels, channels), torch.nn.ReLU(),
            torch.nn.Linear(channels, channels), torch.nn.ReLU(),
            torch.nn.Linear(channels, 1)) if prior else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialises every layer as the authors' code does: Xavier-uniform weights and
        zero biases for the linear layers, fresh batch-norm statistics."""
        super().reset_parameters()
        for module in self.modules():
            if isinstance(module, torch.nn.Linear):
                torch.nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    torch.nn.init.zeros_(module.bias)

    @staticmethod
    def _batch(x: Tensor, batch: Tensor | None) -> Tensor:
        return batch if batch is not None else x.new_zeros(x.size(0), dtype=torch.long)

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None
                ) -> InfoGraphOutput:
        """Node embeddings of every graph in the batch and each graph's sum-pooled embedding."""
        self.check_inputs(x, edge_index, batch=batch)
        batch = self._batch(x, batch)
        node_z = self.encoder(x, edge_index)
        graph_z = scatter(node_z, batch, dim=0, reduce="sum")
        return InfoGraphOutput(node_z, graph_z, batch)

    def scores(self, node_z: Tensor, graph_z: Tensor) -> Tensor:
        r"""Critic logits of every node against every graph, :math:`(N, B)`."""
        return self.local_projection(node_z) @ self.global_projection(graph_z).t()

    def loss(self, node_z: Tensor, graph_z: Tensor, batch: Tensor) -> Tensor:
        """Negative local–global MI estimate (plus the prior term when enabled)."""
        if graph_z.size(0) < 2:
            raise ValueError("InfoGraph contrasts graphs with each other: a batch needs at least "
                             f"two graphs, got {graph_z.size(0)}")
        scores = self.scores(node_z, graph_z)
        rows = torch.arange(node_z.size(0), device=node_z.device)
        positive = scores[rows, batch]
        negative_mask = torch.ones_like(scores, dtype=torch.bool)
        negative_mask[rows, batch] = False
        loss = -self.estimator(positive, scores, None, negative_mask)
        if self.prior_discriminator is not None:
            sample = torch.rand_like(graph_z)
            real = self.prior_discriminator(sample)
            fake = self.prior_discriminator(graph_z)
            prior_term = F.softplus(-real).mean() + F.softplus(fake).mean()
            loss = loss + self.prior_weight * prior_term
        return loss

    @torch.no_grad()
    def embed(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None,
              nodes: bool = False, **kwargs: Any) -> Tensor:
        """Graph embeddings :math:`(B, LF)` (node embeddings :math:`(N, LF)` with
        ``nodes=True``), in eval mode without gradient."""
        was_training = self.training
        self.eval()
        try:
            out = self(x, edge_index, batch)
        finally:
            self.train(was_training)
        return out.node_z if nodes else out.graph_z
