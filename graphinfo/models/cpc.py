r"""Contrastive predictive coding over random walks (van den Oord et al., 2018, "Representation
Learning with Contrastive Predictive Coding", `arXiv:1807.03748
<https://arxiv.org/abs/1807.03748>`_), with GNN node embeddings as the sequence's elements."""
from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor

from graphinfo.estimators import infonce
from graphinfo.models.base import MIModel, ModelDefaults, make_estimator
from graphinfo.nn.encoders import make_encoder
from graphinfo.tensor_cache import TensorCache
from graphinfo.walks import random_walks, walk_csr

__all__ = ["GraphCPC", "GraphCPCOutput", "CPC_CONTEXTS"]

#: ``'gru'``: an autoregressive GRU over the walk so far; ``'identity'``: the current node's
#: embedding alone (the skip-gram ablation).
CPC_CONTEXTS = ("gru", "identity")


class GraphCPCOutput(NamedTuple):
    """What :meth:`GraphCPC.forward` returns; ``model.loss(*out)`` takes it back."""

    z: Tensor
    """Node embeddings along the walks, :math:`(W, L + 1, F)`."""
    context: Tensor
    """The context after each step, :math:`(W, L + 1, F_c)`."""
    walks: Tensor
    """The walks' nodes, :math:`(W, L + 1)`."""


class GraphCPC(MIModel):
    r"""CPC along random walks: a GNN embeds every node, :math:`\mathbf{z}_v = f(\mathbf{X},
    \mathbf{A})_v`; :math:`W` uniform random walks :math:`(w_0, \dots, w_L)` are drawn
    (:func:`graphinfo.walks.random_walks`); an autoregressive context :math:`\mathbf{c}_t =
    \mathrm{GRU}(\mathbf{z}_{w_0}, \dots, \mathbf{z}_{w_t})` predicts the embeddings
    :math:`k = 1 \dots K` steps ahead through one linear map per step, scored
    :math:`T_k(t, j) = (\mathbf{P}_k\mathbf{c}^{(i)}_t)^\top \mathbf{z}_{w^{(j)}_{t+k}}` against the
    same step of every walk :math:`j` of the batch. Walk :math:`i`'s own node is the positive,
    the others are in-batch negatives, and a walk that stands on the same node as the positive
    (a collision) is masked out rather than counted as a negative. The loss is the negative
    InfoNCE estimate (:func:`graphinfo.estimators.infonce`) averaged over :math:`t` and
    :math:`k`; another estimator scores the positives against the unmasked negatives.

    With ``context='identity'``, ``predictor='identity'``, ``steps=1`` and ``estimator='jsd'``
    this is skip-gram with negative sampling on walks (DeepWalk/node2vec's objective with
    in-batch negatives; tested): :math:`-\mathbb{E}\log\sigma(\mathbf{z}_{w_t}^\top
    \mathbf{z}_{w_{t+1}}) - \mathbb{E}\log\sigma(-\mathbf{z}_{w_t}^\top\mathbf{z}_{n})`.

    Args:
        hidden_channels (int, optional): Embedding size. (default: :obj:`128`)
        in_channels (int): Input features.
        encoder (str or module, optional): The GNN. (default: :obj:`'gcn'`)
        num_layers (int, optional): Its layers. (default: :obj:`2`)
        context (str, optional): ``'gru'`` or ``'identity'``. (default: :obj:`'gru'`)
        predictor (str, optional): ``'linear'`` (one map per step) or ``'identity'``.
            (default: :obj:`'linear'`)
        steps (int, optional): Steps predicted ahead, :math:`K`. (default: :obj:`3`)
        walk_length (int, optional): :math:`L`. (default: :obj:`10`)
        walks_per_step (int, optional): :math:`W`, walks per training step (start nodes drawn
            uniformly). (default: :obj:`256`)
        estimator (str or callable, optional): ``'infonce'`` or another estimator.
            (default: :obj:`'infonce'`)
        encoder_kwargs (dict, optional): Further arguments of the named encoder.
    """

    level = "node"
    defaults = ModelDefaults(hidden_channels=128, num_layers=2, epochs=300, patience=50,
                             lr=1e-3)

    def __init__(self, hidden_channels: int = 128, *, in_channels: int | None = None,
                 encoder: str | torch.nn.Module = "gcn", num_layers: int = 2,
                 context: str = "gru", predictor: str = "linear", steps: int = 3,
                 walk_length: int = 10, walks_per_step: int = 256, estimator: Any = "infonce",
                 estimator_kwargs: dict[str, Any] | None = None,
                 encoder_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        if context not in CPC_CONTEXTS:
            raise ValueError(f"'context' must be one of {CPC_CONTEXTS}, got {context!r}")
        if predictor not in ("linear", "identity"):
            raise ValueError(f"'predictor' must be 'linear' or 'identity', got {predictor!r}")
        for name, value in (("steps", steps), ("walk_length", walk_length),
                            ("walks_per_step", walks_per_step)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"'{name}' must be a positive int, got {value!r}")
        if steps > walk_length:
            raise ValueError(f"'steps' ({steps}) cannot exceed 'walk_length' ({walk_length})")
        if walks_per_step < 2:
            raise ValueError("'walks_per_step' must be >= 2: the other walks are the negatives")
        self.hidden_channels, self.steps, self.walk_length = hidden_channels, steps, walk_length
        self.walks_per_step, self.context_kind, self.predictor_kind = \
            walks_per_step, context, predictor
        kwargs = dict(encoder_kwargs or {})
        if isinstance(encoder, str):
            kwargs.setdefault("num_layers", num_layers)
        self.encoder = make_encoder(encoder, in_channels, hidden_channels, **kwargs)
        self.gru = torch.nn.GRU(hidden_channels, hidden_channels, batch_first=True) \
            if context == "gru" else None
        self.predictors = torch.nn.ModuleList(
            torch.nn.Linear(hidden_channels, hidden_channels, bias=False)
            for _ in range(steps)) if predictor == "linear" else None
        self.estimator = None if estimator == "infonce" else \
            make_estimator(estimator, **(estimator_kwargs or {}))
        self._csr = TensorCache(size=1)
        self.reset_parameters()

    def sample_walks(self, edge_index: Tensor, num_nodes: int,
                     start: Tensor | None = None) -> Tensor:
        """``walks_per_step`` walks of ``walk_length`` steps from uniform start nodes (or
        ``start``)."""
        csr = self._csr.get((edge_index,), num_nodes, lambda: walk_csr(edge_index, num_nodes))
        if start is None:
            start = torch.randint(0, num_nodes, (self.walks_per_step,),
                                  device=edge_index.device)
        return random_walks(csr, start, self.walk_length)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None, *,
                walks: Tensor | None = None) -> GraphCPCOutput:
        """Embeds the graph, draws the walks (or takes ``walks``) and runs the context."""
        self.check_inputs(x, edge_index, edge_weight)
        args = (edge_index,) if edge_weight is None else (edge_index, edge_weight)
        z_all = self.encoder(x, *args)
        if walks is None:
            walks = self.sample_walks(edge_index, x.size(0))
        z = z_all[walks]
        context = self.gru(z)[0] if self.gru is not None else z
        return GraphCPCOutput(z, context, walks)

    def _prediction(self, context: Tensor, k: int) -> Tensor:
        return self.predictors[k - 1](context) if self.predictors is not None else context

    def loss(self, z: Tensor, context: Tensor, walks: Tensor) -> Tensor:
        """The negative MI estimate averaged over positions :math:`t` and steps :math:`k`."""
        terms = []
        for k in range(1, self.steps + 1):
            for t in range(0, walks.size(1) - k):
                prediction = self._prediction(context[:, t], k)        # (W, F)
                targets = z[:, t + k]                                   # (W, F)
                scores = prediction @ targets.t()                       # (W, W)
                nodes = walks[:, t + k]
                collision = nodes.unsqueeze(1) == nodes.unsqueeze(0)
                keep = ~collision | torch.eye(nodes.numel(), dtype=torch.bool,
                                              device=nodes.device)
                if self.estimator is None:
                    terms.append(infonce(scores, keep))
                else:
                    negatives = ~collision
                    terms.append(self.estimator(scores.diagonal(), scores[negatives]))
        return -torch.stack(terms).mean()

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.hidden_channels}, context="
                f"{self.context_kind!r}, steps={self.steps}, walk_length={self.walk_length})")
