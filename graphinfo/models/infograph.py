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
from torch_geometric.nn.inits import reset
from torch_geometric.utils import scatter

from graphinfo.models.base import MIModel, ModelDefaults, make_estimator
from graphinfo.nn.discriminators import make_discriminator
from graphinfo.nn.encoders import make_encoder

#: The encoder settings of InfoGraph's code for a named encoder: ReLU before batch norm after
#: every layer, the layers' outputs concatenated. ``encoder_kwargs`` override them.
INFOGRAPH_ENCODER = {"act": "relu", "act_first": True, "norm": "batch_norm", "jk": "cat"}


class InfoGraphOutput(NamedTuple):
    """What :meth:`InfoGraph.forward` returns; ``model.loss(*out)`` takes it back."""

    node_z: Tensor
    """Node (patch) embeddings, the concatenation of every layer's output, :math:`(N, LF)`."""
    graph_z: Tensor
    """Graph embeddings, the per-graph sum of ``node_z``, :math:`(B, LF)`."""
    batch: Tensor
    """The graph of each node, :math:`(N)`."""


def local_global_estimate(estimator: Callable[..., Tensor], scores: Tensor, batch: Tensor
                          ) -> Tensor:
    r"""The MI estimate of an :math:`N \times B` matrix of node-graph critic scores: node
    :math:`i` against its own graph :math:`b(i)` (``batch``) is the positive pair, against every
    other graph of the batch a negative one (InfoGraph's local-global objective; no
    :math:`N \times N` mask is ever built)."""
    rows = torch.arange(scores.size(0), device=scores.device)
    positive = scores[rows, batch]
    negative_mask = torch.ones_like(scores, dtype=torch.bool)
    negative_mask[rows, batch] = False
    return estimator(positive, scores, None, negative_mask)


class InfoGraph(MIModel):
    r"""InfoGraph: maximises the MI between every node embedding :math:`\mathbf{h}_i` and the
    embedding :math:`\mathbf{g}_{b(i)}` of its own graph, against the other graphs in the batch.

    The node embeddings are the concatenated outputs of every encoder layer (GIN layers with
    ReLU and batch norm by default, as in the paper) and each graph's embedding is their sum
    over its nodes. The critic scores every node against every graph of the batch
    (``discriminator.pairwise``; by default InfoGraph's
    :class:`~graphinfo.nn.discriminators.ProjectionDiscriminator`,
    :math:`T(\mathbf{h}_i, \mathbf{g}_b) = \phi(\mathbf{h}_i)^\top \psi(\mathbf{g}_b)`); a pair is
    positive exactly when :math:`b = b(i)`, read off ``batch`` (an :math:`N \times B` score
    matrix, never an :math:`N \times N` mask). The loss is the negative estimate of the chosen
    estimator (JSD by default, as in the paper), plus, with ``prior=True``, Deep InfoMax's
    prior-matching term weighted by ``prior_weight``: a discriminator :math:`D` between
    samples of :math:`\mathcal{U}[0, 1)` and the graph embeddings,
    :math:`-\mathbb{E}[\log D(\mathbf{u})] - \mathbb{E}[\log(1 - D(\mathbf{g}))]`, minimised
    jointly with the rest as in the authors' code (not as a min-max game).

    Args:
        in_channels (int): Node feature size.
        hidden_channels (int, optional): Units per encoder layer. (default: :obj:`32`)
        num_layers (int, optional): Encoder layers; with the default ``jk='cat'`` embeddings
            have ``hidden_channels * num_layers`` dimensions. (default: :obj:`5`)
        encoder (torch.nn.Module or str, optional): The node encoder; a name is built with
            :data:`INFOGRAPH_ENCODER`'s settings updated by ``encoder_kwargs``; a module must
            have ``out_channels``. (default: :obj:`'gin'`)
        discriminator (torch.nn.Module or str, optional): A critic with ``pairwise(z, g)``.
            (default: :obj:`'projection'`)
        estimator (str or callable, optional): MI estimator on (positive, negative) logits,
            as for :class:`~graphinfo.models.DGI`. Sum-pooled graph embeddings give logits in the
            tens to thousands at initialisation (MUTAG: mean magnitude about 70), where
            ``'nwj'``'s :math:`e^{T}` term overflows float32; prefer ``'jsd'``, ``'dv'`` or
            ``'infonce'``.
            (default: :obj:`'jsd'`)
        prior (bool, optional): Add the prior-matching term. (default: :obj:`False`)
        prior_weight (float, optional): Its weight :math:`\gamma`. (default: :obj:`0.1`)
        encoder_kwargs, discriminator_kwargs, estimator_kwargs (dict, optional): Keyword
            arguments of the named parts.
    """

    level = "graph"
    #: The authors' code: 5 layers of 32 units, Adam 0.001, batch 128, 20 epochs, final
    #: weights; scored by the SVM protocol.
    defaults = ModelDefaults(hidden_channels=32, num_layers=5, epochs=20, patience=None,
                             batch_size=128, protocol="graph_svm")

    def __init__(self, in_channels: int, hidden_channels: int = 32, num_layers: int = 5, *,
                 encoder: torch.nn.Module | str = "gin",
                 discriminator: torch.nn.Module | str = "projection",
                 estimator: Callable[..., Tensor] | str = "jsd", prior: bool = False,
                 prior_weight: float = 0.1, encoder_kwargs: dict[str, Any] | None = None,
                 discriminator_kwargs: dict[str, Any] | None = None,
                 estimator_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"'num_layers' must be >= 1, got {num_layers}")
        settings = {**INFOGRAPH_ENCODER, **(encoder_kwargs or {})} \
            if isinstance(encoder, str) else dict(encoder_kwargs or {})
        if isinstance(encoder, str):
            settings["num_layers"] = num_layers
        self.encoder = make_encoder(encoder, in_channels, hidden_channels, **settings)
        channels = getattr(self.encoder, "out_channels", None)
        if not isinstance(channels, int):
            raise ValueError("InfoGraph's encoder must say its output size ('out_channels')")
        self.channels = channels
        self.discriminator = make_discriminator(discriminator, channels,
                                                **(discriminator_kwargs or {}))
        if not callable(getattr(self.discriminator, "pairwise", None)):
            raise ValueError(f"InfoGraph scores every node against every graph: the critic "
                             f"must have pairwise(z, g); {type(self.discriminator).__name__} "
                             f"has not")
        self.estimator = make_estimator(estimator, **(estimator_kwargs or {}))
        self.prior = prior
        self.prior_weight = prior_weight
        self.prior_discriminator = torch.nn.Sequential(
            torch.nn.Linear(channels, channels), torch.nn.ReLU(),
            torch.nn.Linear(channels, channels), torch.nn.ReLU(),
            torch.nn.Linear(channels, 1)) if prior else None
        self._register_load_state_dict_pre_hook(self._load_earlier_keys)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialises every layer as the authors' code does: Xavier-uniform weights and
        zero biases for all linear layers, fresh batch-norm statistics. The encoder's linear
        layers get only the Xavier draw (its own reset would be overwritten by it); the
        other parts are reset first, as ``torch.nn`` does, then drawn again."""
        for child in self.children():
            if child is not self.encoder:
                reset(child)
            else:
                for norm in getattr(child, "norms", ()):
                    reset(norm)
        for module in self.modules():
            if isinstance(module, torch.nn.Linear):
                torch.nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    torch.nn.init.zeros_(module.bias)

    def _load_earlier_keys(self, state_dict: dict[str, Tensor], prefix: str,
                           *args: Any) -> None:
        # graphinfo 0.1's InfoGraph kept the projection heads at the top level and plain
        # BatchNorm1d layers in its encoder: rename those keys to today's.
        for key in list(state_dict):
            name = key[len(prefix):] if key.startswith(prefix) else None
            if name is None:
                continue
            if name.startswith(("local_projection.", "global_projection.")):
                state_dict[f"{prefix}discriminator.{name}"] = state_dict.pop(key)
                continue
            parts = name.split(".")
            if len(parts) == 4 and parts[:2] == ["encoder", "norms"] and parts[3] in (
                    "weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                norm = self.encoder.norms[int(parts[2])]
                if isinstance(getattr(norm, "module", None), torch.nn.BatchNorm1d):
                    state_dict[f"{prefix}encoder.norms.{parts[2]}.module.{parts[3]}"] = \
                        state_dict.pop(key)

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
        return self.discriminator.pairwise(node_z, graph_z)

    def loss(self, node_z: Tensor, graph_z: Tensor, batch: Tensor) -> Tensor:
        """Negative local–global MI estimate (plus the prior term when enabled)."""
        if graph_z.size(0) < 2:
            raise ValueError("InfoGraph contrasts graphs with each other: a batch needs at least "
                             f"two graphs, got {graph_z.size(0)}")
        loss = -local_global_estimate(self.estimator, self.scores(node_z, graph_z), batch)
        if self.prior_discriminator is not None:
            sample = torch.rand_like(graph_z)
            real = self.prior_discriminator(sample)
            fake = self.prior_discriminator(graph_z)
            prior_term = F.softplus(-real).mean() + F.softplus(fake).mean()
            loss = loss + self.prior_weight * prior_term
        return loss

    @torch.no_grad()
    def embed(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None,
              nodes: bool = False, level: str | None = None, **kwargs: Any) -> Tensor:
        """Graph embeddings :math:`(B, LF)` (node embeddings :math:`(N, LF)` with
        ``nodes=True`` or ``level='node'``), in eval mode without gradient."""
        was_training = self.training
        self.eval()
        try:
            out = self(x, edge_index, batch)
        finally:
            self.train(was_training)
        return out.node_z if nodes or level == "node" else out.graph_z
