r"""Heterogeneous Deep Graph Infomax (Ren et al., 2019, "Heterogeneous Deep Graph Infomax",
`arXiv:1911.08538 <https://arxiv.org/abs/1911.08538>`_)."""
from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor

from graphinfo.models.base import MIModel, ModelDefaults, make_estimator
from graphinfo.models.multiplex import multiplex_inputs, multiplex_relations
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
                 relations: list[tuple[str, str, str]] | None = None) -> None:
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
        metapaths, or ``relations=`` / ``node_type=``)."""
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
