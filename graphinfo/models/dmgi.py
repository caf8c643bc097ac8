r"""Deep Multiplex Graph Infomax (Park et al., AAAI 2020, "Unsupervised Attributed Multiplex
Network Embedding", `arXiv:1911.06750 <https://arxiv.org/abs/1911.06750>`_)."""
from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.utils import remove_self_loops, scatter

from graphinfo.models.base import MIModel, ModelDefaults, make_estimator
from graphinfo.models.multiplex import (
    multiplex_inputs,
    multiplex_relations,
    sampled_propagate,
)
from graphinfo.nn.discriminators import BilinearDiscriminator
from graphinfo.sparse import DenseOperator, SparseOperator, propagation_operator
from graphinfo.tensor_cache import TensorCache
from graphinfo.validation import check_edge_index

#: How the relations' embeddings are combined into :math:`Q(\mathbf{H})`.
CONSENSUS_POOLING = ("attention", "mean")
#: The consensus regularisers: the paper's (linear in Z) and a bounded contrastive one.
CONSENSUS_LOSSES = ("paper", "contrastive")


class DMGIOutput(NamedTuple):
    """What :meth:`DMGI.forward` returns; ``model.loss(*out)`` takes it back."""

    pos: list[Tensor]
    """Per relation, the embeddings :math:`\\mathbf{H}^{(r)}` of the clean graph, :math:`(N, F)`."""
    neg: list[Tensor]
    """Per relation, the embeddings of the shuffled features (one permutation for all)."""
    summaries: list[Tensor]
    """Per relation, the summary :math:`\\sigma(\\operatorname{mean}_i \\mathbf{h}^{(r)}_i)`."""
    pos_pooled: Tensor
    """:math:`Q(\\mathbf{H})`, :math:`(N, F)`."""
    neg_pooled: Tensor
    """:math:`Q(\\tilde{\\mathbf{H}})`, :math:`(N, F)`."""


def self_loop_operator(edge_index: Tensor, num_nodes: int, self_loop_weight: float,
                       edge_weight: Tensor | None = None) -> SparseOperator | DenseOperator:
    r""":math:`\hat{\mathbf{A}} = \mathbf{D}^{-1/2}(\mathbf{A} + w\mathbf{I})\mathbf{D}^{-1/2}`
    with the graph's own self-loops removed first (DMGI's GCN; :math:`w = 3` in the paper's
    code), as a :class:`~graphinfo.sparse.SparseOperator` (a
    :class:`~graphinfo.sparse.DenseOperator` when dense enough)."""
    edge_index, edge_weight = remove_self_loops(edge_index, edge_weight)
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.size(1), device=edge_index.device)
    loops = torch.arange(num_nodes, device=edge_index.device)
    row = torch.cat([edge_index[1], loops])
    col = torch.cat([edge_index[0], loops])
    weight = torch.cat([edge_weight.float(),
                        torch.full((num_nodes,), float(self_loop_weight),
                                   device=edge_index.device)])
    degree = scatter(weight, row, dim=0, dim_size=num_nodes, reduce="sum")
    norm = degree.pow(-0.5).masked_fill_(degree == 0, 0.0)
    return propagation_operator(row, col, norm[row] * weight * norm[col], num_nodes)


class DMGI(MIModel):
    r"""Deep Multiplex Graph Infomax: DGI on every relation of a multiplex graph (one node type,
    several edge types), tied together by a learned consensus embedding (Park et al., AAAI 2020,
    `arXiv:1911.06750 <https://arxiv.org/abs/1911.06750>`_).

    For relation :math:`r` with adjacency :math:`\mathbf{A}^{(r)}` a one-layer GCN of its own
    gives :math:`\mathbf{H}^{(r)} = \operatorname{ReLU}(\hat{\mathbf{A}}^{(r)}\mathbf{X}
    \mathbf{W}^{(r)})`, :math:`\hat{\mathbf{A}}^{(r)} = \mathbf{D}^{-1/2}(\mathbf{A}^{(r)} +
    w\mathbf{I})\mathbf{D}^{-1/2}`; the negatives :math:`\tilde{\mathbf{H}}^{(r)}` come from the
    same rows of :math:`\mathbf{X}` shuffled by **one** permutation shared by all relations, the
    summary is :math:`\mathbf{s}^{(r)} = \sigma(\frac{1}{N}\sum_i \mathbf{h}^{(r)}_i)`, and one
    bilinear critic :math:`T(\mathbf{h}, \mathbf{s}) = \mathbf{h}^\top\mathbf{M}\mathbf{s}`
    scores every relation. The loss is

    .. math::
        \mathcal{L} = \sum_r -\widehat{I}\big(T(\mathbf{h}^{(r)}_i, \mathbf{s}^{(r)}),
        T(\tilde{\mathbf{h}}^{(r)}_j, \mathbf{s}^{(r)})\big)
        + \alpha\,\ell_{\mathrm{cs}} + \gamma\,\ell_{\mathrm{sup}},

    with :math:`\widehat{I}` the chosen MI estimator (``'jsd'``: the paper's binary
    cross-entropy), the consensus regulariser on the learned embedding
    :math:`\mathbf{Z} \in \mathbb{R}^{N \times F}`

    .. math::
        \ell_{\mathrm{cs}} = \lVert \mathbf{Z} - Q(\mathbf{H}) \rVert_F^2
        - \lVert \mathbf{Z} - Q(\tilde{\mathbf{H}}) \rVert_F^2,

    where :math:`Q` pools the relations node by node: ``'attention'``
    (:math:`a^{(r)}_i = \operatorname{softmax}_r(\mathbf{q}^{(r)\top}\mathbf{h}^{(r)}_i)`, one
    learned vector per relation, the same weights for clean and shuffled) or ``'mean'``; and,
    when labels are given to :meth:`loss`, :math:`\ell_{\mathrm{sup}}` the cross-entropy of a
    linear classifier on :math:`\mathbf{Z}` at the labelled nodes (the paper's semi-supervised
    variant).

    **Z is bounded only by weight decay.** :math:`\ell_{\mathrm{cs}} =
    -2\langle \mathbf{Z}, Q(\mathbf{H}) - Q(\tilde{\mathbf{H}}) \rangle + \text{const}` is
    linear in :math:`\mathbf{Z}`: without weight decay (the authors use 1e-4 on every parameter,
    :math:`\mathbf{Z}` included) it has no minimum and :math:`\mathbf{Z}` grows without limit.
    ``consensus_loss='contrastive'`` replaces it with the bounded contrastive loss (Hadsell et
    al., CVPR 2006) :math:`\sum_i \lVert \mathbf{z}_i - Q(\mathbf{H})_i \rVert^2 +
    \max(0, m - \lVert \mathbf{z}_i - Q(\tilde{\mathbf{H}})_i\rVert)^2` (``margin``
    :math:`m`): it pulls :math:`\mathbf{z}_i` to its clean pooled embedding and pushes it from the
    shuffled one only while they are closer than :math:`m`, so it is at least zero and its
    minimum in :math:`\mathbf{Z}` lies within :math:`m` of :math:`Q(\mathbf{H})`.

    Embeddings: :meth:`embed` returns :math:`\mathbf{Z}` (transductive, what the paper
    evaluates); :meth:`embed_pooled` returns :math:`Q(\mathbf{H})`, computed from the features
    and relations, so it embeds nodes of a new graph too (inductive).

    Differences from the authors' code: the propagation is sparse (theirs is dense
    :math:`N \times N`), and any estimator can replace the binary cross-entropy.

    Args:
        in_channels (int): Node feature size.
        num_relations (int): Number of relations (edge types) :math:`R \ge 1`.
        num_nodes (int): Number of nodes (the rows of :math:`\mathbf{Z}`).
        hidden_channels (int): Embedding size. (default: ``64``)
        self_loop_weight (float): :math:`w`. (default: ``3.0``)
        dropout (float): Dropout on the input features of every GCN. (default: ``0.5``)
        alpha (float): Weight of the consensus regulariser. (default: ``1e-3``)
        pooling (str): ``'attention'`` or ``'mean'``. (default: ``'attention'``)
        consensus_loss (str): ``'paper'`` or ``'contrastive'`` (bounded). (default: ``'paper'``)
        margin (float): :math:`m` of the contrastive loss. (default: ``1.0``)
        num_classes (int, optional): Classes of the semi-supervised term's classifier; ``None``
            builds none (unsupervised). (default: ``None``)
        gamma (float): Weight of the semi-supervised term. (default: ``0.1``)
        bias (bool): A bias in every relation's GCN. (default: ``False``)
        estimator (str or callable): The MI estimator. (default: ``'jsd'``)
        estimator_kwargs (dict, optional): Keyword arguments of a stateful estimator.
        node_type (str, optional): With a ``HeteroData``: the node type (read by
            :meth:`from_data`). (default: ``None``)
        relations (list, optional): With a ``HeteroData``: the edge types, in order.
            (default: ``None``)
        metapaths (list[str], optional): Metapaths to sample in mini-batch training
            (:mod:`graphinfo.metapath_sampler`) when their graphs are not stored, e.g.
            ``['PAP', 'PFP']`` on ogbn-mag; such a model trains on mini-batches only.
            (default: ``None``)
    """

    level = "node"
    heterogeneous = True
    #: The authors' settings: 64 units, Adam 5e-4 with weight decay 1e-4 (what bounds Z),
    #: early stopping with patience 20 within at most 10,000 epochs. (``fit`` itself takes
    #: weight decay only when given it: the CLI, the Embedder and the reproductions pass these.)
    defaults = ModelDefaults(hidden_channels=64, num_layers=1, epochs=10000, patience=20,
                             lr=5e-4, weight_decay=1e-4)

    def __init__(self, in_channels: int, num_relations: int, num_nodes: int,
                 hidden_channels: int = 64, *, self_loop_weight: float = 3.0,
                 dropout: float = 0.5, alpha: float = 1e-3, pooling: str = "attention",
                 consensus_loss: str = "paper", margin: float = 1.0,
                 num_classes: int | None = None, gamma: float = 0.1, bias: bool = False,
                 estimator: Any = "jsd", estimator_kwargs: dict[str, Any] | None = None,
                 node_type: str | None = None,
                 relations: list[tuple[str, str, str]] | None = None,
                 metapaths: list[str] | None = None) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("num_relations", num_relations),
                            ("num_nodes", num_nodes), ("hidden_channels", hidden_channels)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"'{name}' must be a positive int, got {value!r}")
        if pooling not in CONSENSUS_POOLING:
            raise ValueError(f"'pooling' must be one of {CONSENSUS_POOLING}, got {pooling!r}")
        if consensus_loss not in CONSENSUS_LOSSES:
            raise ValueError(f"'consensus_loss' must be one of {CONSENSUS_LOSSES}, got "
                             f"{consensus_loss!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"'dropout' must be in [0, 1), got {dropout}")
        if relations is not None and len(relations) != num_relations:
            raise ValueError(f"'relations' names {len(relations)} edge types for "
                             f"num_relations={num_relations}")
        if metapaths is not None and len(metapaths) != num_relations:
            raise ValueError(f"'metapaths' names {len(metapaths)} metapaths for "
                             f"num_relations={num_relations}")
        self.sampled_relations = list(metapaths) if metapaths is not None else None
        self.hidden_channels = hidden_channels
        self.num_relations = num_relations
        self.self_loop_weight = float(self_loop_weight)
        self.dropout = dropout
        self.alpha = alpha
        self.pooling = pooling
        self.consensus_loss = consensus_loss
        self.margin = margin
        self.gamma = gamma
        self.node_type = node_type
        self.relations = [tuple(r) for r in relations] if relations is not None else None
        self.encoder = None         # no single encoder: one GCN per relation (self.lins)
        self.lins = torch.nn.ModuleList(torch.nn.Linear(in_channels, hidden_channels, bias=bias)
                                        for _ in range(num_relations))
        self.discriminator = BilinearDiscriminator(hidden_channels)
        self.attention = torch.nn.Parameter(torch.empty(num_relations, hidden_channels)) \
            if pooling == "attention" else None
        self.Z = torch.nn.Parameter(torch.empty(num_nodes, hidden_channels))
        self.classifier = torch.nn.Linear(hidden_channels, num_classes) \
            if num_classes is not None else None
        self.estimator = make_estimator(estimator, **(estimator_kwargs or {}))
        self._operators = TensorCache(size=max(2, num_relations))
        self._features = TensorCache(size=2)
        self.reset_parameters()

    @property
    def in_channels(self) -> int:
        return self.lins[0].in_features

    def reset_parameters(self) -> None:
        for lin in self.lins:
            torch.nn.init.xavier_uniform_(lin.weight)
            if lin.bias is not None:
                torch.nn.init.zeros_(lin.bias)
        self.discriminator.reset_parameters()
        if self.attention is not None:
            torch.nn.init.xavier_uniform_(self.attention)
        torch.nn.init.xavier_uniform_(self.Z)
        if self.classifier is not None:
            self.classifier.reset_parameters()
        reset = getattr(self.estimator, "reset_parameters", None)
        if callable(reset):
            reset()

    # -- the contract ----------------------------------------------------------------------

    @classmethod
    def from_data(cls, data: Any, **hparams: Any) -> DMGI:
        """Built for a multiplex ``HeteroData``: the relations of
        :func:`~graphinfo.models.multiplex.multiplex_relations` (the dataset's default
        metapaths, or ``relations=`` / ``node_type=``)."""
        metapaths = hparams.pop("metapaths", None)
        if metapaths is not None:      # sampled along their chains, never materialised
            from graphinfo.data.hetero import target_node_type

            node_type = hparams.pop("node_type", None) or target_node_type(data)
            store = data[node_type]
            return cls(int(store.x.size(1)), len(metapaths), int(store.num_nodes),
                       node_type=node_type, metapaths=list(metapaths), **hparams)
        node_type, relations = multiplex_relations(data, hparams.pop("node_type", None),
                                                   hparams.pop("relations", None))
        store = data[node_type]
        if getattr(store, "x", None) is None:
            raise ValueError(f"DMGI needs node features: data[{node_type!r}].x is missing")
        return cls(int(store.x.size(1)), len(relations), int(store.num_nodes),
                   node_type=node_type, relations=relations, **hparams)

    def inputs(self, data: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return multiplex_inputs(data, self.node_type, self.relations, "DMGI")

    def training_loss(self, data: Any) -> Tensor:
        args, _ = self.inputs(data)
        out = self(*args)
        y, mask = None, None
        if self.classifier is not None and isinstance(data, HeteroData):
            store = data[self.node_type]
            y, mask = getattr(store, "y", None), getattr(store, "train_mask", None)
        return self.loss(*out, y=y, train_mask=mask)

    # -- the model -------------------------------------------------------------------------

    def _operator(self, edge_index: Tensor, num_nodes: int) -> SparseOperator | DenseOperator:
        return self._operators.get(
            (edge_index,), (num_nodes, self.self_loop_weight, str(edge_index.device)),
            lambda: self_loop_operator(edge_index, num_nodes, self.self_loop_weight))

    def _check(self, x: Tensor, edge_indices: tuple[Tensor, ...]) -> None:
        if len(edge_indices) != self.num_relations:
            raise ValueError(f"DMGI was built for {self.num_relations} relations, got "
                             f"{len(edge_indices)} edge indices")
        self.check_inputs(x, edge_indices[0])
        for edge_index in edge_indices[1:]:
            check_edge_index(edge_index, x.size(0))

    def _sparse_features(self, x: Tensor) -> SparseOperator | None:
        """``x`` as a sparse operator (cached while ``x`` is unchanged) when at most 10 % of it
        is non-zero, else ``None``."""
        def build() -> SparseOperator | None:
            if x.layout != torch.strided or int(torch.count_nonzero(x)) > 0.1 * x.numel():
                return None
            csr = x.to_sparse_csr()
            return SparseOperator(csr.crow_indices(), csr.col_indices(), csr.values(),
                                  x.size(1))
        return self._features.get((x,), str(x.device), build)

    def _transform(self, lin: torch.nn.Linear, x: Tensor) -> Tensor:
        """``lin(dropout(x))``. For sparse-enough ``x`` only the non-zero entries are dropped
        (the zeros stay zero either way, so it is the same dropout) and the product is sparse."""
        features = self._sparse_features(x) if self.dropout > 0 else None
        if features is None:
            return lin(F.dropout(x, self.dropout, training=self.training))
        val = F.dropout(features.val, self.dropout, training=self.training)
        out = features.with_values(val) @ lin.weight.t()
        return out if lin.bias is None else out + lin.bias

    def _encode(self, x: Tensor, edge_indices: tuple[Tensor, ...]) -> list[Tensor]:
        return [torch.relu(self._operator(edge_index, x.size(0)) @ self._transform(lin, x))
                for lin, edge_index in zip(self.lins, edge_indices)]

    def _encode_pair(self, x: Tensor, edge_indices: tuple[Tensor, ...],
                     perm: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """The clean and the shuffled embeddings of every relation. Each relation propagates
        both in one sparse product (``[XW, (XW)[perm]]``, twice the columns): the operator is
        read once instead of twice. With dropout in training each gets its own mask, as two
        separate passes would."""
        pos, neg = [], []
        for lin, edge_index in zip(self.lins, edge_indices):
            h = self._transform(lin, x)
            redraw = self.training and self.dropout > 0
            # (x[perm]) W = (x W)[perm]: the shuffled features, without copying x.
            h_neg = (self._transform(lin, x) if redraw else h)[perm]
            both = torch.relu(self._operator(edge_index, x.size(0)) @ torch.cat([h, h_neg], 1))
            pos.append(both[:, :h.size(1)])
            neg.append(both[:, h.size(1):])
        return pos, neg

    def encode(self, x: Tensor, *edge_indices: Tensor) -> list[Tensor]:
        """:math:`\\mathbf{H}^{(r)}` of every relation (dropout on ``x`` in training mode)."""
        self._check(x, edge_indices)
        return self._encode(x, edge_indices)

    def pool(self, per_relation: list[Tensor]) -> Tensor:
        """:math:`Q(\\mathbf{H})`: node-wise attention or the mean over relations."""
        stacked = torch.stack(per_relation)                       # (R, N, F)
        if self.attention is None:
            return stacked.mean(0)
        scores = (stacked * self.attention.unsqueeze(1)).sum(-1)  # (R, N)
        return (torch.softmax(scores, dim=0).unsqueeze(-1) * stacked).sum(0)

    def forward(self, x: Tensor, *edge_indices: Tensor) -> DMGIOutput:
        self._check(x, edge_indices)
        perm = torch.randperm(x.size(0), device=x.device)      # one permutation for all
        pos, neg = self._encode_pair(x, edge_indices, perm)
        summaries = [torch.sigmoid(h.mean(0)) for h in pos]
        return DMGIOutput(pos, neg, summaries, self.pool(pos), self.pool(neg))

    def consensus(self, pos_pooled: Tensor, neg_pooled: Tensor,
                  z: Tensor | None = None) -> Tensor:
        """:math:`\\ell_{\\mathrm{cs}}` (``'paper'``) or the bounded contrastive loss
        (``'contrastive'``), over all rows of :math:`\\mathbf{Z}` or the rows ``z`` given."""
        z = self.Z if z is None else z
        to_pos = (z - pos_pooled).pow(2).sum(-1)
        if self.consensus_loss == "paper":
            return (to_pos - (z - neg_pooled).pow(2).sum(-1)).sum()
        to_neg = (z - neg_pooled).norm(dim=-1)
        return (to_pos + torch.relu(self.margin - to_neg).pow(2)).sum()

    def loss(self, pos: list[Tensor], neg: list[Tensor], summaries: list[Tensor],
             pos_pooled: Tensor, neg_pooled: Tensor, *, y: Tensor | None = None,
             train_mask: Tensor | None = None) -> Tensor:
        """The negative MI estimates summed over relations, plus ``alpha`` times the consensus
        term and, with a classifier and ``y`` / ``train_mask``, ``gamma`` times its
        cross-entropy on the labelled nodes."""
        total = sum(-self.estimator(self.discriminator(h, s), self.discriminator(n, s))
                    for h, n, s in zip(pos, neg, summaries))
        total = total + self.alpha * self.consensus(pos_pooled, neg_pooled)
        if self.classifier is not None and y is not None and train_mask is not None:
            logits = self.classifier(self.Z[train_mask])
            total = total + self.gamma * F.cross_entropy(logits, y[train_mask])
        return total

    # -- mini-batches on sampled metapath neighbourhoods ----------------------------------

    def metapath_loss(self, batch: Any, global_summary: Any) -> Tensor:
        """The loss of one mini-batch of seeds with sampled metapath neighbours
        (:class:`graphinfo.metapath_sampler.MetapathBatch`): every relation's DGI term on the
        seeds (negatives: the batch's node features shuffled by one permutation for all
        relations), summaries from the seeds through ``global_summary``, and the consensus
        term on the seeds' rows of :math:`\\mathbf{Z}`."""
        size = batch.batch_size
        x = batch.x
        perm = torch.randperm(x.size(0), device=x.device)
        redraw = self.training and self.dropout > 0
        pos, neg = [], []
        for lin, neighbors, degree in zip(self.lins, batch.neighbors, batch.degrees):
            h = lin(F.dropout(x, self.dropout, training=self.training))
            h_neg = (lin(F.dropout(x, self.dropout, training=self.training)) if redraw
                     else h)[perm]
            pos.append(torch.relu(sampled_propagate(h, neighbors, degree, size,
                                                    self.self_loop_weight)))
            neg.append(torch.relu(sampled_propagate(h_neg, neighbors, degree, size,
                                                    self.self_loop_weight)))
        summaries = global_summary(torch.stack([torch.sigmoid(h.mean(0)) for h in pos]))
        total = sum(-self.estimator(self.discriminator(h, s), self.discriminator(n, s))
                    for h, n, s in zip(pos, neg, summaries))
        z = self.Z[batch.n_id[:size]]
        return total + self.alpha * self.consensus(self.pool(pos), self.pool(neg), z)

    def embed_data(self, data: Any, **kwargs: Any) -> Tensor:
        """:math:`\\mathbf{Z}`, however the model was trained (full graph or mini-batches)."""
        return self.embed()

    @torch.no_grad()
    def embed(self, x: Tensor | None = None, *edge_indices: Tensor) -> Tensor:
        """The consensus embedding :math:`\\mathbf{Z}` (the arguments are accepted for the
        contract and not read)."""
        return self.Z.detach().clone()

    @torch.no_grad()
    def embed_pooled(self, x: Tensor, *edge_indices: Tensor) -> Tensor:
        """:math:`Q(\\mathbf{H})` in eval mode: embeds the nodes of any graph with these
        relations and feature size."""
        was_training = self.training
        self.eval()
        try:
            return self.pool(self.encode(x, *edge_indices))
        finally:
            self.train(was_training)

