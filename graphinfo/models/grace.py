r"""GRACE (Zhu et al., 2020, "Deep Graph Contrastive Representation Learning",
`arXiv:2006.04131 <https://arxiv.org/abs/2006.04131>`_) and GCA, its adaptive-augmentation
setting (Zhu et al., WWW 2021, `arXiv:2010.14945 <https://arxiv.org/abs/2010.14945>`_)."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint
from torch_geometric.data import Data

from graphinfo.models.base import MIModel, ModelDefaults, make_estimator
from graphinfo.nn.adaptive import AdaptiveDropEdges, AdaptiveMaskFeatures
from graphinfo.nn.augmentations import encoder_inputs
from graphinfo.nn.corruptions import Compose, DropEdges, MaskFeatures, as_augmentation
from graphinfo.nn.encoders import make_encoder

__all__ = ["GRACE", "GCA", "GRACEOutput", "node_infonce_loss"]


class GRACEOutput(NamedTuple):
    """What :meth:`GRACE.forward` returns; ``model.loss(*out)`` takes it back."""

    u: Tensor
    """Projections of the first augmented view, :math:`(N, F_p)`."""
    v: Tensor
    """Projections of the second augmented view, :math:`(N, F_p)`."""


def _rows_loss(anchors: Tensor, same: Tensor, other: Tensor, rows: Tensor, tau: float,
               intra_view: bool) -> Tensor:
    """Per-anchor GRACE loss of unit-norm ``anchors`` (rows ``rows`` of ``same``). The
    temperature scales the anchors before the products and the two views' log-sum-exps are
    combined with ``logaddexp``, so no (chunk x 2N) concatenation is ever built."""
    scaled = anchors / tau
    inter = scaled @ other.t()
    index = torch.arange(rows.numel(), device=rows.device)
    positive = inter[index, rows]
    if not intra_view:
        return torch.logsumexp(inter, dim=1) - positive
    intra = (scaled @ same.t()).index_put((index, rows),
                                          torch.tensor(float("-inf"), device=rows.device))
    return torch.logaddexp(torch.logsumexp(inter, dim=1),
                           torch.logsumexp(intra, dim=1)) - positive


def node_infonce_loss(u: Tensor, v: Tensor, tau: float = 0.5, *, intra_view: bool = True,
                      chunk_size: int | None = None) -> Tensor:
    r"""GRACE's symmetric node-node contrastive loss of two views' projections:

    .. math::
        \ell(\mathbf{u}_i, \mathbf{v}_i) = -\log\frac{e^{\theta(\mathbf{u}_i, \mathbf{v}_i)/\tau}}
        {\sum_{k} e^{\theta(\mathbf{u}_i, \mathbf{v}_k)/\tau}
        + \sum_{k \ne i} e^{\theta(\mathbf{u}_i, \mathbf{u}_k)/\tau}}, \qquad
        \mathcal{J} = \frac{1}{2N}\sum_i \big[\ell(\mathbf{u}_i, \mathbf{v}_i)
        + \ell(\mathbf{v}_i, \mathbf{u}_i)\big],

    :math:`\theta` the cosine similarity; without ``intra_view`` the second sum (negatives from
    the anchor's own view) is left out. With ``chunk_size`` the anchors are taken
    ``chunk_size`` rows at a time and each chunk is recomputed in the backward pass
    (:func:`torch.utils.checkpoint.checkpoint`), so memory is :math:`O(\text{chunk} \times N)`
    instead of :math:`O(N^2)`, for the same value and gradients (tested).
    """
    if u.shape != v.shape or u.dim() != 2:
        raise ValueError(f"'u' and 'v' must be two (N, F) matrices of the same shape, got "
                         f"{tuple(u.shape)} and {tuple(v.shape)}")
    if not tau > 0:
        raise ValueError(f"'tau' must be > 0, got {tau!r}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"'chunk_size' must be a positive int, got {chunk_size!r}")
    u, v = F.normalize(u, dim=1), F.normalize(v, dim=1)
    n = u.size(0)
    step = n if chunk_size is None else chunk_size
    total = u.new_zeros(())
    for anchors, same, other in ((u, u, v), (v, v, u)):
        for start in range(0, n, step):
            rows = torch.arange(start, min(start + step, n), device=u.device)
            if step < n and torch.is_grad_enabled():
                part = checkpoint(_rows_loss, anchors[rows], same, other, rows, tau,
                                  intra_view, use_reentrant=False)
            else:
                part = _rows_loss(anchors[rows], same, other, rows, tau, intra_view)
            total = total + part.sum()
    return total / (2 * n)


class GRACE(MIModel):
    r"""GRACE: two stochastic views of the graph (edges removed with probability
    :math:`p_{e,1}, p_{e,2}`, feature columns masked with :math:`p_{f,1}, p_{f,2}`), one shared
    GNN encoder :math:`f` and a two-layer ELU projection head :math:`g`, and the node-node
    contrastive loss :func:`node_infonce_loss` on :math:`\mathbf{U} = g(f(\tilde{\mathbf{X}}_1,
    \tilde{\mathbf{A}}_1))` and :math:`\mathbf{V} = g(f(\tilde{\mathbf{X}}_2,
    \tilde{\mathbf{A}}_2))`: each node's two views are a positive pair, every other node of
    either view a negative. The embedding is :math:`f(\mathbf{X}, \mathbf{A})`.

    The loss reported is :math:`\mathcal{J} - \log(2N - 1)`, the negative InfoNCE estimate
    (:func:`graphinfo.estimators.infonce` on the :math:`N \times 2N` score matrix with the
    anchor's own entry masked), so :math:`-\mathcal{L} \le \log(2N - 1)` nats; its gradient is
    GRACE's. Another ``estimator`` (``'jsd'``, ``'dv'``, ``'nwj'``, ``'mine'``) scores the
    positive pairs against one negative per node and view drawn at random (the other view's and
    the own view's node of a random permutation), in :math:`O(N)` memory.

    Memory: the exact loss is :math:`O(N^2)`; ``chunk_size`` makes it
    :math:`O(\text{chunk} \times N)` (same value), ``sample_size`` scores a random subset of
    that many nodes against each other each step (:math:`O(\text{sample}^2)`, an unbiased
    estimate of a smaller-:math:`N` loss), and :meth:`subgraph_loss` trains on
    neighbour-sampled batches (:func:`graphinfo.train.fit_minibatch`), contrasting the seeds.

    Args:
        hidden_channels (int, optional): Embedding size; the encoder's other layers have twice
            as many units, as in the authors' code. (default: :obj:`128`)
        in_channels (int): Input features.
        num_layers (int, optional): Encoder layers. (default: :obj:`2`)
        encoder (str, optional): The encoder. (default: :obj:`'gcn'`)
        activation (str, optional): The encoder's activation. (default: :obj:`'relu'`)
        projection_channels (int, optional): The projection head's size. (default: the
            embedding size)
        tau (float, optional): Temperature. (default: :obj:`0.5`)
        drop_edge (pair of float, optional): :math:`(p_{e,1}, p_{e,2})`.
            (default: :obj:`(0.2, 0.4)`, Cora's)
        drop_feature (pair of float, optional): :math:`(p_{f,1}, p_{f,2})`.
            (default: :obj:`(0.3, 0.4)`)
        augmentations (pair of callables, optional): The two views' augmentations instead.
        intra_view (bool, optional): Negatives from the anchor's own view too.
            (default: ``True``)
        chunk_size (int, optional): Anchors per chunk of the exact loss.
        sample_size (int, optional): Nodes scored per step (sub-sampled loss).
        estimator (str or callable, optional): ``'infonce'`` (GRACE's loss) or another.
            (default: :obj:`'infonce'`)
        encoder_kwargs (dict, optional): Further arguments of the named encoder.
    """

    level = "node"
    #: The authors' Cora settings: 2 GCN layers of 256 and 128 units, 200 epochs of Adam 5e-4
    #: with weight decay 1e-5, no early stopping.
    defaults = ModelDefaults(hidden_channels=128, num_layers=2, epochs=200, patience=None,
                             lr=5e-4, weight_decay=1e-5)

    def __init__(self, hidden_channels: int = 128, *, in_channels: int | None = None,
                 num_layers: int = 2, encoder: str | torch.nn.Module = "gcn",
                 activation: str = "relu", projection_channels: int | None = None,
                 tau: float = 0.5, drop_edge: Sequence[float] = (0.2, 0.4),
                 drop_feature: Sequence[float] = (0.3, 0.4),
                 augmentations: Sequence[Callable[..., Any]] | None = None,
                 intra_view: bool = True, chunk_size: int | None = None,
                 sample_size: int | None = None, estimator: Any = "infonce",
                 estimator_kwargs: dict[str, Any] | None = None,
                 encoder_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        if not isinstance(hidden_channels, int) or hidden_channels <= 0:
            raise ValueError(f"'hidden_channels' must be a positive int, got {hidden_channels!r}")
        if not tau > 0:
            raise ValueError(f"'tau' must be > 0, got {tau!r}")
        if sample_size is not None and (not isinstance(sample_size, int) or sample_size < 2):
            raise ValueError(f"'sample_size' must be an int >= 2, got {sample_size!r}")
        self.hidden_channels, self.tau, self.intra_view = hidden_channels, tau, intra_view
        self.chunk_size, self.sample_size = chunk_size, sample_size
        kwargs = dict(encoder_kwargs or {})
        if isinstance(encoder, str):
            kwargs.setdefault("act", activation)
            if num_layers > 1:
                kwargs.setdefault("out_channels", hidden_channels)
            width = 2 * hidden_channels if num_layers > 1 else hidden_channels
            self.encoder = make_encoder(encoder, in_channels, width, num_layers=num_layers,
                                        **kwargs)
        else:
            self.encoder = make_encoder(encoder, in_channels, hidden_channels, **kwargs)
        projection = projection_channels or hidden_channels
        self.projection = torch.nn.Sequential(torch.nn.Linear(hidden_channels, projection),
                                              torch.nn.ELU(),
                                              torch.nn.Linear(projection, hidden_channels))
        self.augmentations = self._augmentations(augmentations, drop_edge, drop_feature)
        self.estimator = None if estimator == "infonce" else \
            make_estimator(estimator, **(estimator_kwargs or {}))
        self.reset_parameters()

    @staticmethod
    def _augmentations(augmentations: Sequence[Callable[..., Any]] | None,
                       drop_edge: Sequence[float],
                       drop_feature: Sequence[float]) -> list[Callable[[Data], Data]]:
        if augmentations is not None:
            if len(augmentations) != 2:
                raise ValueError(f"'augmentations' must hold two augmentations, got "
                                 f"{len(augmentations)}")
            return [as_augmentation(a) for a in augmentations]
        if len(drop_edge) != 2 or len(drop_feature) != 2:
            raise ValueError(f"'drop_edge' and 'drop_feature' must be pairs, got {drop_edge!r} "
                             f"and {drop_feature!r}")
        return [Compose([DropEdges(pe), MaskFeatures(pf, mode="column")])
                for pe, pf in zip(drop_edge, drop_feature)]

    def project(self, h: Tensor) -> Tensor:
        """The projection head :math:`g`."""
        return self.projection(h)

    def _encode(self, view: Data) -> Tensor:
        return self.encoder(*encoder_inputs(view))

    def forward(self, x: Tensor, edge_index: Tensor,
                edge_weight: Tensor | None = None) -> GRACEOutput:
        self.check_inputs(x, edge_index, edge_weight)
        base = Data(x=x, edge_index=edge_index, num_nodes=x.size(0))
        if edge_weight is not None:
            base.edge_weight = edge_weight
        u, v = (self.project(self._encode(aug(base))) for aug in self.augmentations)
        return GRACEOutput(u, v)

    def loss(self, u: Tensor, v: Tensor) -> Tensor:
        """The negative MI estimate (see the class docstring)."""
        if self.sample_size is not None and self.sample_size < u.size(0):
            nodes = torch.randperm(u.size(0), device=u.device)[:self.sample_size]
            u, v = u[nodes], v[nodes]
        n = u.size(0)
        if self.estimator is None:
            loss = node_infonce_loss(u, v, self.tau, intra_view=self.intra_view,
                                     chunk_size=self.chunk_size)
            return loss - math.log(2 * n - 1 if self.intra_view else n)
        u, v = F.normalize(u, dim=1), F.normalize(v, dim=1)
        positive = (u * v).sum(1) / self.tau
        perm = torch.randperm(n, device=u.device)
        negative = [(u * v[perm]).sum(1) / self.tau]
        if self.intra_view:
            negative.append((u * u[perm]).sum(1) / self.tau)
        return -self.estimator(positive, torch.cat(negative))

    def subgraph_loss(self, batch: Any, global_summary: Callable[[Tensor], Tensor]) -> Tensor:
        """The loss of a neighbour-sampled batch: both views of the sampled subgraph are
        encoded and the seed nodes (the first ``batch.batch_size``) contrasted with each other
        (``global_summary`` is not used: GRACE has no summary)."""
        seeds = int(batch.batch_size)
        out = self(*self.subgraph_inputs(batch))     # the full graph's GCN normalisation
        return self.loss(out.u[:seeds], out.v[:seeds])

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.hidden_channels}, tau={self.tau}, "
                f"augmentations={self.augmentations})")


class GCA(GRACE):
    r"""GCA: GRACE with centrality-adaptive augmentations
    (:class:`~graphinfo.nn.AdaptiveDropEdges`, :class:`~graphinfo.nn.AdaptiveMaskFeatures`,
    cut-off 0.7): unimportant edges and feature dimensions are dropped more. ``drop_edge`` and
    ``drop_feature`` are the mean probabilities :math:`p_e, p_f` of each view.

    Args:
        centrality (str, optional): ``'degree'``, ``'pagerank'`` or ``'eigenvector'``.
            (default: :obj:`'degree'`)
        cutoff (float, optional): :math:`p_\tau`. (default: :obj:`0.7`)

    The other arguments are :class:`GRACE`'s.
    """

    def __init__(self, hidden_channels: int = 128, *, in_channels: int | None = None,
                 centrality: str = "degree", cutoff: float = 0.7,
                 drop_edge: Sequence[float] = (0.2, 0.4),
                 drop_feature: Sequence[float] = (0.3, 0.4), **kwargs: Any) -> None:
        if "augmentations" in kwargs:
            raise ValueError("GCA builds its own augmentations; use GRACE(augmentations=...)")
        if len(drop_edge) != 2 or len(drop_feature) != 2:
            raise ValueError(f"'drop_edge' and 'drop_feature' must be pairs, got {drop_edge!r} "
                             f"and {drop_feature!r}")
        # Features first: both read the input graph's centrality (computed once, cached),
        # as the authors' code does, not that of an edge-dropped view.
        augmentations = [Compose([AdaptiveMaskFeatures(pf, centrality=centrality,
                                                       cutoff=cutoff),
                                  AdaptiveDropEdges(pe, centrality=centrality, cutoff=cutoff)])
                         for pe, pf in zip(drop_edge, drop_feature)]
        self.centrality = centrality
        super().__init__(hidden_channels, in_channels=in_channels, augmentations=augmentations,
                         **kwargs)
