r"""Heterogeneous Deep Graph Infomax (Ren et al., 2019, "Heterogeneous Deep Graph Infomax",
`arXiv:1911.08538 <https://arxiv.org/abs/1911.08538>`_)."""
from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor

from graphinfo.models.base import MIModel, ModelDefaults, make_estimator
from graphinfo.models.multiplex import (
    multiplex_inputs,
    multiplex_relations,
    sampled_propagate,
)
from graphinfo.nn.discriminators import BilinearDiscriminator
from graphinfo.nn.encoders import GATEncoder, GCNEncoder, make_encoder
from graphinfo.nn.semantic_attention import SemanticAttention
from graphinfo.validation import check_edge_index

#: The per-metapath encoders: HDGI-C (GCN) and HDGI-A (sparse GAT).
HDGI_ENCODERS = ("gcn", "gat")
#: The summaries: DGI's sigmoid of the mean, or a linear map of the feature-wise max.
HDGI_READOUTS = ("mean", "max")


class HDGIOutput(NamedTuple):
    """What :meth:`HDGI.forward` returns; ``model.loss(*out)`` takes it back."""

    pos: Tensor
    """:math:`\\mathbf{H}`: the semantic-attention mix of the clean graph, :math:`(N, F)`."""
    neg: Tensor
    """:math:`\\tilde{\\mathbf{H}}`: the same of the shuffled features."""
    summary: Tensor
    """:math:`\\mathbf{s} = R(\\mathbf{H})`, :math:`(F,)`."""


class HDGI(MIModel):
    r"""Heterogeneous Deep Graph Infomax: DGI on the metapath graphs of a heterogeneous graph,
    combined by HAN's semantic attention (Ren et al., 2019,
    `arXiv:1911.08538 <https://arxiv.org/abs/1911.08538>`_).

    For each metapath :math:`p` an encoder of its own gives node-level embeddings
    :math:`\mathbf{H}^{(p)} = f_p(\mathbf{X}, \mathbf{A}^{(p)})`: a one-layer GCN with PReLU
    (``encoder='gcn'``, HDGI-C) or a one-layer multi-head GAT with ELU (``'gat'``, HDGI-A;
    PyG's sparse :class:`~torch_geometric.nn.GATConv`, not the authors' dense :math:`N \times N`
    attention). Semantic attention (:class:`~graphinfo.nn.SemanticAttention`) mixes them:
    :math:`\mathbf{H} = \sum_p \beta_p \mathbf{H}^{(p)}`. The negatives
    :math:`\tilde{\mathbf{H}}` are the same model on the rows of :math:`\mathbf{X}` shuffled by
    one permutation shared by every metapath, the summary is :math:`\mathbf{s} =
    \sigma(\frac{1}{N}\sum_i \mathbf{h}_i)` (``readout='mean'``) or
    :math:`\sigma(\mathbf{W}_s \max_i \mathbf{h}_i)` (``'max'``), and a bilinear critic
    :math:`T(\mathbf{h}, \mathbf{s}) = \mathbf{h}^\top\mathbf{M}\mathbf{s}` scores them:

    .. math::
        \mathcal{L} = -\widehat{I}\big(T(\mathbf{h}_i, \mathbf{s}),
        T(\tilde{\mathbf{h}}_j, \mathbf{s})\big)

    with :math:`\widehat{I}` the chosen MI estimator (``'jsd'``: the paper's binary
    cross-entropy). :meth:`embed` returns :math:`\mathbf{H}` in eval mode; it is inductive (any
    graph with these metapaths and feature size).

    Differences from the authors' code: sparse propagation throughout (theirs is dense), the
    authors' GCN adds the identity again after normalising (:math:`\hat{\mathbf{A}} +
    \mathbf{I}`) where this uses the plain GCN operator, and any estimator can replace the
    binary cross-entropy.

    Args:
        in_channels (int): Node feature size.
        num_relations (int): Number of metapaths :math:`P \ge 1`.
        hidden_channels (int): Embedding size (all heads together for GAT). (default: ``64``)
        encoder (str): ``'gcn'`` (HDGI-C) or ``'gat'`` (HDGI-A). (default: ``'gcn'``)
        heads (int): GAT heads (``hidden_channels`` must be divisible by it). (default: ``4``)
        semantic_channels (int): Size of the semantic attention's projection.
            (default: ``16``)
        readout (str): ``'mean'`` or ``'max'``. (default: ``'mean'``)
        dropout (float): GAT attention dropout. (default: ``0.0``)
        estimator (str or callable): The MI estimator. (default: ``'jsd'``)
        estimator_kwargs (dict, optional): Keyword arguments of a stateful estimator.
        encoder_kwargs (dict, optional): Further arguments of each metapath's encoder
            (``act``, ``num_layers`` ...).
        node_type (str, optional): With a ``HeteroData``: the node type. (default: ``None``)
        relations (list, optional): With a ``HeteroData``: the metapath relations, in order.
        metapaths (list, optional): Metapaths sampled along their chains for mini-batch
            training (``['PAP', 'PFP']``; :class:`~graphinfo.metapath_sampler.MetapathSampler`),
            for graphs whose metapath graphs are never built.

    **Mini-batches** (:meth:`metapath_loss`, through :func:`~graphinfo.train.fit_minibatch` on
    a ``HeteroData``): each seed's row of :math:`\mathbf{H}^{(p)}` is estimated from
    :math:`k` neighbours sampled along metapath :math:`p`. HDGI-C takes
    :math:`\operatorname{PReLU}(\mathbf{b} + (\mathbf{W}\mathbf{x}_i + d_i\,
    \overline{\mathbf{W}\mathbf{x}}_{S(i)}) / (1 + d_i))`, the mean over the sample standing
    in for the mean over
    all neighbours (:math:`d_i` the degree in a stored relation, else :math:`k`: random-walk
    normalised, where full-batch HDGI-C is symmetric); HDGI-A attends over the seed and its
    sampled neighbours (a neighbour drawn twice counts twice). Semantic attention, the summary
    (of the seeds) and the critic are those of the full model. One-layer encoders only.
    """

    level = "node"
    heterogeneous = True
    #: The authors' code: Adam 1e-3, no weight decay, early stopping with patience 50 within
    #: at most 10,000 epochs; 64 units (their README).
    defaults = ModelDefaults(hidden_channels=64, num_layers=1, epochs=10000, patience=50,
                             lr=1e-3)

    def __init__(self, in_channels: int, num_relations: int, hidden_channels: int = 64, *,
                 encoder: str = "gcn", heads: int = 4, semantic_channels: int = 16,
                 readout: str = "mean", dropout: float = 0.0, estimator: Any = "jsd",
                 estimator_kwargs: dict[str, Any] | None = None,
                 encoder_kwargs: dict[str, Any] | None = None, node_type: str | None = None,
                 relations: list[tuple[str, str, str]] | None = None,
                 metapaths: list[Any] | None = None) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("num_relations", num_relations),
                            ("hidden_channels", hidden_channels)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"'{name}' must be a positive int, got {value!r}")
        if encoder not in HDGI_ENCODERS:
            raise ValueError(f"'encoder' must be one of {HDGI_ENCODERS}, got {encoder!r}")
        if readout not in HDGI_READOUTS:
            raise ValueError(f"'readout' must be one of {HDGI_READOUTS}, got {readout!r}")
        if relations is not None and len(relations) != num_relations:
            raise ValueError(f"'relations' names {len(relations)} edge types for "
                             f"num_relations={num_relations}")
        if metapaths is not None and len(metapaths) != num_relations:
            raise ValueError(f"'metapaths' names {len(metapaths)} metapaths for "
                             f"num_relations={num_relations}")
        self.sampled_relations = list(metapaths) if metapaths is not None else None
        self.hidden_channels = hidden_channels
        self.num_relations = num_relations
        self.encoder_name = encoder
        self.readout = readout
        self.node_type = node_type
        self.relations = [tuple(r) for r in relations] if relations is not None else None
        kwargs = dict(encoder_kwargs or {})
        if encoder == "gat":
            kwargs.setdefault("act", "elu")
            kwargs.setdefault("heads", heads)
            kwargs.setdefault("dropout", dropout)
        else:
            kwargs.setdefault("act", "prelu")
        self.encoder = None     # no single encoder: one per metapath (self.encoders)
        self.encoders = torch.nn.ModuleList(
            make_encoder(encoder, in_channels, hidden_channels, **kwargs)
            for _ in range(num_relations))
        self.semantic = SemanticAttention(hidden_channels, semantic_channels)
        self.summary_lin = torch.nn.Linear(hidden_channels, hidden_channels) \
            if readout == "max" else None
        self.discriminator = BilinearDiscriminator(hidden_channels)
        self.estimator = make_estimator(estimator, **(estimator_kwargs or {}))
        self._in_channels = in_channels
        self.reset_parameters()

    @property
    def in_channels(self) -> int:
        return self._in_channels

    def reset_parameters(self) -> None:
        for encoder in self.encoders:
            encoder.reset_parameters()
        self.semantic.reset_parameters()
        if self.summary_lin is not None:
            self.summary_lin.reset_parameters()
        self.discriminator.reset_parameters()
        reset = getattr(self.estimator, "reset_parameters", None)
        if callable(reset):
            reset()

    # -- the contract ----------------------------------------------------------------------

    @classmethod
    def from_data(cls, data: Any, **hparams: Any) -> HDGI:
        """Built for a ``HeteroData``: the metapath relations of
        :func:`~graphinfo.models.multiplex.multiplex_relations` (the dataset's default
        metapaths, or ``relations=`` / ``node_type=``), or ``metapaths=`` to sample along
        (mini-batch training only)."""
        metapaths = hparams.pop("metapaths", None)
        if metapaths is not None:      # sampled along their chains, never materialised
            from graphinfo.data.hetero import target_node_type

            node_type = hparams.pop("node_type", None) or target_node_type(data)
            return cls(int(data[node_type].x.size(1)), len(metapaths), node_type=node_type,
                       metapaths=list(metapaths), **hparams)
        node_type, relations = multiplex_relations(data, hparams.pop("node_type", None),
                                                   hparams.pop("relations", None))
        store = data[node_type]
        if getattr(store, "x", None) is None:
            raise ValueError(f"HDGI needs node features: data[{node_type!r}].x is missing")
        return cls(int(store.x.size(1)), len(relations), node_type=node_type,
                   relations=relations, **hparams)

    def inputs(self, data: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return multiplex_inputs(data, self.node_type, self.relations, "HDGI")

    # -- the model -------------------------------------------------------------------------

    def _check(self, x: Tensor, edge_indices: tuple[Tensor, ...]) -> None:
        if len(edge_indices) != self.num_relations:
            raise ValueError(f"HDGI was built for {self.num_relations} metapaths, got "
                             f"{len(edge_indices)} edge indices")
        self.check_inputs(x, edge_indices[0])
        for edge_index in edge_indices[1:]:
            check_edge_index(edge_index, x.size(0))

    def encode(self, x: Tensor, *edge_indices: Tensor) -> list[Tensor]:
        """:math:`\\mathbf{H}^{(p)}` of every metapath."""
        self._check(x, edge_indices)
        return [encoder(x, edge_index) for encoder, edge_index in zip(self.encoders,
                                                                     edge_indices)]

    def _encode_pair(self, x: Tensor, edge_indices: tuple[Tensor, ...],
                     perm: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        pos, neg = [], []
        for encoder, edge_index in zip(self.encoders, edge_indices):
            if isinstance(encoder, GCNEncoder) and encoder.uses_fast_path(x, edge_index):
                p, n = encoder.forward_shuffled(x, edge_index, perm=perm)
            elif isinstance(encoder, GATEncoder):
                p, n = encoder.forward_shuffled(x, edge_index, perm=perm)
            else:
                p, n = encoder(x, edge_index), encoder(x[perm], edge_index)
            pos.append(p)
            neg.append(n)
        return pos, neg

    def summarise(self, h: Tensor) -> Tensor:
        """:math:`\\mathbf{s} = R(\\mathbf{H})`."""
        if self.summary_lin is None:
            return torch.sigmoid(h.mean(dim=0))
        return torch.sigmoid(self.summary_lin(h.max(dim=0).values))

    def forward(self, x: Tensor, *edge_indices: Tensor) -> HDGIOutput:
        self._check(x, edge_indices)
        perm = torch.randperm(x.size(0), device=x.device)   # one permutation for all
        pos, neg = self._encode_pair(x, edge_indices, perm)
        h = self.semantic(torch.stack(pos))
        h_neg = self.semantic(torch.stack(neg))
        return HDGIOutput(h, h_neg, self.summarise(h))

    def loss(self, pos: Tensor, neg: Tensor, summary: Tensor) -> Tensor:
        """The negative MI estimate between node embeddings and the summary."""
        return -self.estimator(self.discriminator(pos, summary),
                               self.discriminator(neg, summary))

    # -- mini-batches of metapath-sampled neighbourhoods ----------------------------------

    def _sampled_rows(self, encoder: torch.nn.Module, x: Tensor, neighbors: Tensor,
                      degree: Tensor | None, batch_size: int) -> Tensor:
        r"""The seeds' rows of one metapath's encoder, from their sampled neighbours
        (``neighbors``: :math:`B \times k` local indices, ``-1`` for none)."""
        if len(encoder.convs) != 1:
            raise ValueError(f"mini-batch HDGI supports one-layer encoders (num_layers=1), "
                             f"got num_layers={len(encoder.convs)}")
        conv = encoder.convs[0]
        valid = neighbors >= 0
        index = neighbors.clamp(min=0)
        if isinstance(encoder, GCNEncoder):
            loop = (2.0 if encoder.improved else 1.0) if encoder.add_self_loops else 0.0
            out = sampled_propagate(x @ conv.lin.weight.t(), neighbors, degree, batch_size,
                                    loop)
            return encoder.post_conv(0, out + conv.bias if conv.bias is not None else out)
        heads, channels = conv.heads, conv.out_channels
        h = conv.lin(x).view(-1, heads, channels)
        alpha_src = (h * conv.att_src).sum(-1)                       # (n, H)
        alpha_dst = (h[:batch_size] * conv.att_dst).sum(-1)          # (B, H)
        seeds = torch.arange(batch_size, device=x.device).view(-1, 1)
        candidates = torch.cat([seeds, index], dim=1)                # the seed's own loop first
        keep = torch.cat([torch.ones_like(seeds, dtype=torch.bool), valid], dim=1)
        scores = torch.nn.functional.leaky_relu(alpha_dst.unsqueeze(1) + alpha_src[candidates],
                                                conv.negative_slope)
        scores = scores.masked_fill(~keep.unsqueeze(-1), float("-inf"))
        weights = torch.nn.functional.dropout(torch.softmax(scores, dim=1), p=conv.dropout,
                                              training=self.training)
        out = (weights.unsqueeze(-1) * h[candidates]).sum(1)        # (B, H, C)
        out = out.reshape(batch_size, -1) if conv.concat else out.mean(dim=1)
        return encoder.post_conv(0, out + conv.bias if conv.bias is not None else out)

    def metapath_loss(self, batch: Any, global_summary: Any) -> Tensor:
        """The loss of one mini-batch of seeds with sampled metapath neighbours
        (:class:`graphinfo.metapath_sampler.MetapathBatch`): the seeds' semantic-attention mix
        against the summary of the seeds (through ``global_summary``); negatives from the
        batch's features shuffled by one permutation for all metapaths."""
        size = batch.batch_size
        perm = torch.randperm(batch.x.size(0), device=batch.x.device)
        shuffled = batch.x[perm]
        pos, neg = [], []
        for encoder, neighbors, degree in zip(self.encoders, batch.neighbors, batch.degrees):
            pos.append(self._sampled_rows(encoder, batch.x, neighbors, degree, size))
            neg.append(self._sampled_rows(encoder, shuffled, neighbors, degree, size))
        h, h_neg = self.semantic(torch.stack(pos)), self.semantic(torch.stack(neg))
        summary = global_summary(self.summarise(h).unsqueeze(0))[0]
        return self.loss(h, h_neg, summary)

    @torch.no_grad()
    def embed_sampled(self, data: Any, walks: int = 50, batch_size: int = 4096,
                      seed: int = 0) -> Tensor:
        r""":math:`\mathbf{H}` of every target node from ``walks`` sampled neighbours per
        metapath (eval mode): the embedding of a model trained on metapaths that are never
        built. ``walks`` larger than in training makes the estimate closer to the mean over
        all metapath neighbours."""
        from graphinfo.metapath_sampler import MetapathSampler

        relations = self.sampled_relations or self.relations
        if relations is None:
            raise ValueError("HDGI.embed_sampled needs the model's metapaths or relations; "
                             "this model was built with neither")
        sampler = MetapathSampler(data, relations, walks)
        x = data[sampler.target].x
        generator = torch.Generator().manual_seed(seed)
        device = next(self.parameters()).device
        with _eval(self):
            parts = []
            for start in range(0, x.size(0), batch_size):
                seeds = torch.arange(start, min(start + batch_size, x.size(0)))
                batch = sampler.sample(seeds, x, generator).to(device)
                rows = [self._sampled_rows(encoder, batch.x, n, d, batch.batch_size)
                        for encoder, n, d in zip(self.encoders, batch.neighbors,
                                                 batch.degrees)]
                parts.append(self.semantic(torch.stack(rows)).cpu())
        return torch.cat(parts)

    def embed_data(self, data: Any, **kwargs: Any) -> Tensor:
        r""":math:`\mathbf{H}` of ``data``: the full metapath graphs when the model reads them,
        else sampled (:meth:`embed_sampled`, a model built with ``metapaths=``)."""
        if self.relations is None and self.sampled_relations is not None:
            return self.embed_sampled(data)
        return super().embed_data(data, **kwargs)

    def semantic_weights(self, x: Tensor, *edge_indices: Tensor) -> Tensor:
        """:math:`\\beta` of each metapath on this graph (eval mode), shape :math:`(P,)`."""
        with torch.no_grad(), _eval(self):
            return self.semantic.weights(torch.stack(self.encode(x, *edge_indices)))

    @torch.no_grad()
    def embed(self, x: Tensor, *edge_indices: Tensor) -> Tensor:
        """:math:`\\mathbf{H}` in eval mode."""
        with _eval(self):
            return self.semantic(torch.stack(self.encode(x, *edge_indices)))


class _eval:
    """Puts a module in eval mode for a ``with`` block and restores its mode after."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module, self.was_training = module, module.training

    def __enter__(self) -> None:
        self.module.eval()

    def __exit__(self, *exc: Any) -> None:
        self.module.train(self.was_training)
