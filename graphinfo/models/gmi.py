r"""Graphical Mutual Information (Peng et al., WWW 2020, `arXiv:2002.01169
<https://arxiv.org/abs/2002.01169>`_): node embeddings that keep the MI with their
neighbourhood's input features and with the graph's topology, with no readout at all."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.utils import coalesce, remove_self_loops

from graphinfo.estimators import jsd
from graphinfo.models.base import MIModel, ModelDefaults, make_estimator
from graphinfo.nn.discriminators import BilinearDiscriminator, make_discriminator
from graphinfo.nn.encoders import make_encoder
from graphinfo.sparse import feature_operator, pair_dot
from graphinfo.tensor_cache import TensorCache

#: With ``topology_negatives='auto'``, graphs with at most this many nodes score every node pair
#: in the topology term (the public code's dense reconstruction); larger graphs sample
#: :data:`AUTO_TOPOLOGY_SAMPLES` pairs per node.
AUTO_TOPOLOGY_MAX_NODES = 8192
AUTO_TOPOLOGY_SAMPLES = 64
_SAMPLING_ATTEMPTS = 10


class _Gram(torch.autograd.Function):
    r""":math:`\mathbf{Z}\mathbf{Z}^\top` whose backward is one product,
    :math:`(\mathbf{G} + \mathbf{G}^\top)\mathbf{Z}`, instead of autograd's two."""

    @staticmethod
    def forward(ctx: Any, z: Tensor) -> Tensor:
        ctx.save_for_backward(z)
        return z @ z.t()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (z,) = ctx.saved_tensors
        return (grad + grad.t()) @ z


class GMIOutput(NamedTuple):
    """What :meth:`GMI.forward` returns; ``model.loss(*out)`` takes it back."""

    z: Tensor
    r"""Node embeddings :math:`\mathbf{H}`, :math:`(N, F)`."""
    feature_pos: Tensor
    r"""Critic logits :math:`T(\mathbf{h}_i, \mathbf{x}_j)` of every neighbourhood pair
    :math:`(i, j)`, :math:`(P)`."""
    feature_neg: Tensor
    r"""Critic logits :math:`T(\mathbf{h}_i, \mathbf{x}_k)` of node :math:`i` with random nodes
    :math:`k \ne i`, :math:`(NK)`."""
    pair_weight: Tensor
    r"""The weight :math:`w_{ij}` of each neighbourhood pair; each node's weights sum to one,
    :math:`(P)`."""
    topology_pos: Tensor
    r"""Similarity logits :math:`\mathbf{h}_i^\top \mathbf{h}_j` of the neighbourhood pairs
    (:math:`a_{ij} = 1`), :math:`(P)`."""
    topology_neg: Tensor
    r"""Similarity logits of non-adjacent pairs (:math:`a_{ij} = 0`): a sample :math:`(Q)`, or,
    when all pairs are used, the full :math:`(N, N)` matrix :math:`\mathbf{H}\mathbf{H}^\top`
    whose adjacent entries (those of ``topology_pos``) the loss leaves out."""


class GMI(MIModel):
    r"""Graphical Mutual Information maximisation (Peng et al., WWW 2020,
    `arXiv:2002.01169 <https://arxiv.org/abs/2002.01169>`_).

    GMI maximises, for every node :math:`i`, the MI between its embedding
    :math:`\mathbf{h}_i = \mathcal{E}(\mathbf{X}, \mathbf{A})_i` and the input it was computed
    from: the features of its neighbourhood :math:`\mathcal{N}(i)` (here including :math:`i`,
    as a GCN's input is) and the edges. The paper lower-bounds the feature part by a convex
    combination of pairwise terms (its Theorem 1) and adds a topology term:

    .. math::
        \max \; \frac{1}{N}\sum_{i} \Big[\alpha \sum_{j \in \mathcal{N}(i)} w_{ij}\,
        I(\mathbf{h}_i; \mathbf{x}_j) + \gamma\, I(w_{ij}; a_{ij})\Big],
        \qquad \sum_{j \in \mathcal{N}(i)} w_{ij} = 1.

    Each :math:`I(\mathbf{h}_i; \mathbf{x}_j)` is estimated by a critic
    :math:`T(\mathbf{h}_i, \mathbf{x}_j) = \mathbf{h}_i^\top \mathbf{W} \mathbf{x}_j` on the
    raw input features: neighbourhood pairs are the positives, pairs of :math:`i` with
    ``negatives`` random other nodes the negatives, and the weights :math:`w_{ij}` make the
    positive expectation a weighted one (``pos_weight`` of :mod:`graphinfo.estimators`), so any
    estimator applies (JSD by default, as in the paper). The weights are

    - ``variant='mean'`` (GMI-mean): :math:`w_{ij} = 1 / |\mathcal{N}(i)|`;
    - ``variant='adaptive'`` (GMI-adaptive): the learned neighbour similarity
      :math:`\sigma(\mathbf{h}_i^\top\mathbf{h}_j)`, normalised over :math:`\mathcal{N}(i)` so
      that the combination stays convex as the theorem needs; gradients flow through it.

    The topology term is the JSD estimate between the similarities
    :math:`\sigma(\mathbf{h}_i^\top\mathbf{h}_j)` and the adjacency, i.e. the negative
    class-balanced binary cross-entropy of reconstructing :math:`\mathbf{A} + \mathbf{I}` from
    :math:`\mathbf{h}_i^\top\mathbf{h}_j` (mean over edges plus mean over non-edges).

    **Paper and public code.** The authors' code (github.com/zpeng27/GMI) differs from the
    paper, and this class follows the paper where they differ:

    - the code has no per-neighbour terms and no weights: it scores :math:`\mathbf{h}_i`
      against node :math:`i`'s own raw features (weight 0.8) and, with a second critic, against
      the PReLU'd mean of its neighbours' first-layer features :math:`\mathbf{x}_j\mathbf{W}_1`
      (weight 1.0), and ships GMI-mean only;
    - its second critic contrasts a node's neighbour mean with *other nodes' embeddings*
      :math:`\mathbf{h}_k` (the first contrasts :math:`\mathbf{h}_i` with other nodes'
      features); here every negative pairs :math:`\mathbf{h}_i` with another node's features;
    - its critics pass their logits through a sigmoid before the JSD's softplus, which bounds
      the logits to :math:`(0, 1)`; here the critic's logits go to the estimator unchanged;
    - its topology term weights the positive entries twice (it divides by half their count);
      here both classes are averaged separately with equal weight;
    - its negatives are drawn per node as here (``negatives=5``), uniformly over the other
      nodes; its linear-probe iterations were chosen on the test split — graphinfo's
      evaluation chooses on the validation split only.

    The authors' ``execute.py`` defaults: 512 units, Adam lr 0.001, at most 550 epochs with
    early stopping (patience 20) on the loss, 5 negatives; a comment in its ``models/gmi.py``
    asks for a two-layer GCN on Cora and one layer on CiteSeer and PubMed. (Read from
    github.com/zpeng27/GMI: ``models/gmi.py``, ``layers/discriminator.py``,
    ``utils/process.py``, ``execute.py``.)

    Args:
        hidden_channels (int): Size of the node embeddings.
        encoder (torch.nn.Module or str, optional): The encoder, or a name built with
            ``in_channels`` and ``encoder_kwargs``. (default: :obj:`'gcn'` with PReLU)
        in_channels (int, optional): Number of input features; required.
        variant (str, optional): ``'mean'`` or ``'adaptive'`` neighbour weights.
            (default: :obj:`'mean'`)
        estimator (str or callable, optional): The MI estimator on (positive, negative) logits;
            a callable must accept ``pos_weight=``. (default: :obj:`'jsd'`)
        discriminator (torch.nn.Module or str, optional): The critic of embeddings
            against input features, called as ``critic(h, x)`` with one row per pair; the
            bilinear one (default) is evaluated without gathering feature rows.
            (default: :obj:`'bilinear'`)
        negatives (int, optional): Random nodes contrasted with each node. (default: :obj:`5`)
        feature_weight (float, optional): :math:`\alpha`. (default: :obj:`1.0`)
        topology_weight (float, optional): :math:`\gamma`. (default: :obj:`1.0`)
        topology_negatives (int or str, optional): Non-adjacent pairs in the topology term:
            ``'all'`` (exact, :math:`O(N^2)`), an int :math:`k` (that many random pairs per
            node, :math:`O(Nk)`; pairs that hit a neighbour are left out), or ``'auto'``:
            ``'all'`` up to :data:`AUTO_TOPOLOGY_MAX_NODES` nodes, else
            :data:`AUTO_TOPOLOGY_SAMPLES`. (default: :obj:`'auto'`)
        encoder_kwargs (dict, optional): Keyword arguments for a named encoder
            (``num_layers`` ...).
        discriminator_kwargs, estimator_kwargs (dict, optional): Keyword arguments of the
            named critic and of a stateful estimator.

    Shapes:
        - **input:** node features :math:`(N, F_{in})`, edge index :math:`(2, E)`, optional
          edge weights :math:`(E)` (used by the encoder only)
        - **output:** :class:`GMIOutput`
    """

    level = "node"
    #: The authors' ``execute.py``: 512 units, Adam 0.001, at most 550 epochs with patience
    #: 20 on the loss (one GCN layer; their code asks for two on Cora).
    defaults = ModelDefaults(hidden_channels=512, num_layers=1, epochs=550, patience=20)

    def __init__(self, hidden_channels: int, encoder: torch.nn.Module | str = "gcn", *,
                 in_channels: int | None = None, variant: str = "mean",
                 estimator: Callable[..., Tensor] | str = "jsd",
                 discriminator: torch.nn.Module | str = "bilinear", negatives: int = 5,
                 feature_weight: float = 1.0, topology_weight: float = 1.0,
                 topology_negatives: int | str = "auto",
                 encoder_kwargs: dict[str, Any] | None = None,
                 discriminator_kwargs: dict[str, Any] | None = None,
                 estimator_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        if not isinstance(hidden_channels, int) or hidden_channels <= 0:
            raise ValueError(f"'hidden_channels' must be a positive int, got {hidden_channels!r}")
        if not isinstance(in_channels, int) or in_channels <= 0:
            raise ValueError("GMI scores embeddings against the input features: 'in_channels' "
                             f"must be the (positive) number of node features, got "
                             f"{in_channels!r}")
        if variant not in ("mean", "adaptive"):
            raise ValueError(f"'variant' must be 'mean' or 'adaptive', got {variant!r}")
        if isinstance(negatives, bool) or not isinstance(negatives, int) or negatives < 1:
            raise ValueError(f"'negatives' must be an int >= 1, got {negatives!r}")
        for name, value in (("feature_weight", feature_weight),
                            ("topology_weight", topology_weight)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"'{name}' must be a number >= 0, got {value!r}")
        if not (topology_negatives in ("all", "auto") or (
                isinstance(topology_negatives, int) and not isinstance(topology_negatives, bool)
                and topology_negatives >= 1)):
            raise ValueError(f"'topology_negatives' must be 'all', 'auto' or an int >= 1, got "
                             f"{topology_negatives!r}")
        self.hidden_channels = hidden_channels
        self.variant = variant
        self.negatives = negatives
        self.feature_weight = float(feature_weight)
        self.topology_weight = float(topology_weight)
        self.topology_negatives = topology_negatives
        self.encoder = make_encoder(encoder, in_channels, hidden_channels,
                                    **(encoder_kwargs or {}))
        if isinstance(discriminator, str) and discriminator.lower().replace("-", "_") in (
                "inner_product", "cosine") and in_channels != hidden_channels:
            raise ValueError(f"The critic {discriminator!r} has no weights, so it can only score "
                             f"embeddings against features of the same size; got "
                             f"hidden_channels={hidden_channels} and in_channels={in_channels}. "
                             f"Use 'bilinear' or 'mlp'")
        self.feature_channels = in_channels
        self.discriminator = make_discriminator(discriminator, hidden_channels, in_channels,
                                                **(discriminator_kwargs or {}))
        self.estimator = make_estimator(estimator, **(estimator_kwargs or {}))
        self._features = TensorCache(size=2)
        self._neighbourhoods = TensorCache(size=2)
        self.reset_parameters()

    @property
    def in_channels(self) -> int:
        """Number of input features, the size the critic scores embeddings against."""
        return self.feature_channels

    def neighbourhood(self, edge_index: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
        r"""The pairs :math:`(i, j)`, :math:`j \in \mathcal{N}(i) \cup \{i\}`, as ``(rows,
        cols)`` sorted by row, without duplicates; :math:`j \to i` edges make :math:`j` a
        neighbour of :math:`i` (PyG's source-to-target flow). Cached per ``edge_index``."""
        def build() -> tuple[Tensor, Tensor]:
            ei, _ = remove_self_loops(edge_index)
            loops = torch.arange(num_nodes, device=edge_index.device)
            rows = torch.cat([ei[1], loops])
            cols = torch.cat([ei[0], loops])
            pairs = coalesce(torch.stack([rows, cols]), num_nodes=num_nodes)
            return pairs[0], pairs[1]
        return self._neighbourhoods.get((edge_index,), num_nodes, build)

    def _projected_features(self, x: Tensor) -> Tensor:
        r""":math:`\mathbf{X}\mathbf{W}^\top` for the bilinear critic, so that
        :math:`T(\mathbf{h}_i, \mathbf{x}_j)` is a dot product; sparse features stay sparse."""
        weight = self.discriminator.weight  # (hidden, in)
        operator = self._features.get((x,), None, lambda: feature_operator(x))
        if operator is not None:
            return operator.matmul(weight.t().contiguous())
        return x @ weight.t()

    def _feature_scores(self, x: Tensor, z: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
        if isinstance(self.discriminator, BilinearDiscriminator):
            projected = self._projected_features(x)
            scores = pair_dot(z, rows, projected, cols)
            bias = self.discriminator.bias
            return scores if bias is None else scores + bias
        dense = x.to_dense() if x.layout != torch.strided else x
        return self.discriminator(z.index_select(0, rows), dense.index_select(0, cols))

    @staticmethod
    def _random_others(num_nodes: int, count: int, device: torch.device
                       ) -> tuple[Tensor, Tensor]:
        """``count`` nodes drawn uniformly for each node, never the node itself."""
        rows = torch.arange(num_nodes, device=device).repeat_interleave(count)
        cols = torch.randint(0, num_nodes - 1, (num_nodes * count,), device=device)
        return rows, cols + (cols >= rows).long()

    def forward(self, x: Tensor, edge_index: Tensor, *args: Any, batch: Tensor | None = None,
                **kwargs: Any) -> GMIOutput:
        """Embeds the graph and scores the feature and topology pairs."""
        self.check_inputs(x, edge_index, *args, batch=batch, **kwargs)
        num_nodes = x.size(0)
        if num_nodes < 2:
            raise ValueError(f"GMI contrasts each node with other nodes: the graph needs at "
                             f"least 2 nodes, got {num_nodes}")
        z = self.encoder(x, edge_index, *args, **kwargs)
        rows, cols = self.neighbourhood(edge_index, num_nodes)

        feature_pos = self._feature_scores(x, z, rows, cols)
        neg_rows, neg_cols = self._random_others(num_nodes, self.negatives, z.device)
        feature_neg = self._feature_scores(x, z, neg_rows, neg_cols)

        topology_pos = pair_dot(z, rows, z, cols)
        topology_neg = self._non_edge_logits(z, rows, cols) if self.topology_weight > 0 \
            else z.new_empty(0)
        if self.variant == "mean":
            degree = torch.bincount(rows, minlength=num_nodes).to(z.dtype)
            weight = degree.reciprocal()[rows]
        else:
            similarity = torch.sigmoid(topology_pos)
            total = torch.zeros(num_nodes, dtype=z.dtype, device=z.device).index_add(
                0, rows, similarity)
            weight = similarity / total[rows]
        return GMIOutput(z, feature_pos, feature_neg, weight, topology_pos, topology_neg)

    def _non_edge_logits(self, z: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
        num_nodes = z.size(0)
        mode = self.topology_negatives
        if mode == "auto":
            mode = "all" if num_nodes <= AUTO_TOPOLOGY_MAX_NODES else AUTO_TOPOLOGY_SAMPLES
        if rows.numel() == num_nodes * num_nodes:
            raise ValueError("The graph is complete: the topology term has no non-adjacent "
                             "pair to contrast; set topology_weight=0")
        if mode == "all":
            # Every pair's logit; the loss removes the adjacent ones from the sum (no masking).
            return _Gram.apply(z) if torch.is_grad_enabled() and z.requires_grad else z @ z.t()
        keys = rows * num_nodes + cols  # sorted: rows are sorted, cols sorted within a row
        for _ in range(_SAMPLING_ATTEMPTS):
            neg_rows, neg_cols = self._random_others(num_nodes, int(mode), z.device)
            sampled = neg_rows * num_nodes + neg_cols
            position = torch.searchsorted(keys, sampled).clamp(max=keys.numel() - 1)
            keep = keys[position] != sampled
            if bool(keep.any()):
                return pair_dot(z, neg_rows[keep], z, neg_cols[keep])
        raise ValueError(f"{_SAMPLING_ATTEMPTS} draws of {num_nodes * int(mode)} random pairs "
                         f"found no non-adjacent one: the graph is nearly complete; use "
                         f"topology_negatives='all' or topology_weight=0")

    def loss(self, z: Tensor, feature_pos: Tensor, feature_neg: Tensor, pair_weight: Tensor,
             topology_pos: Tensor, topology_neg: Tensor) -> Tensor:
        r""":math:`-\alpha\,\hat I_{\mathrm{feature}} - \gamma\,\hat I_{\mathrm{topology}}`."""
        loss = z.new_zeros(())
        if self.feature_weight > 0:
            loss = loss - self.feature_weight * self.estimator(
                feature_pos, feature_neg, pos_weight=pair_weight)
        if self.topology_weight > 0:
            loss = loss - self.topology_weight * self.topology_estimate(topology_pos,
                                                                        topology_neg)
        return loss

    @staticmethod
    def topology_estimate(topology_pos: Tensor, topology_neg: Tensor) -> Tensor:
        r"""JSD estimate between similarities and adjacency: the negative class-balanced
        cross-entropy :math:`\operatorname{mean}_{a_{ij}=1} \log\sigma(s_{ij})
        + \operatorname{mean}_{a_{ij}=0} \log\sigma(-s_{ij})`. With the full
        :math:`N \times N` logit matrix the non-adjacent sum is the sum over all pairs minus
        the adjacent ones, computed without a boolean mask."""
        if topology_neg.dim() != 2:
            return jsd(topology_pos, topology_neg)
        count = topology_neg.numel() - topology_pos.numel()
        non_adjacent = (F.logsigmoid(-topology_neg).sum()
                        - F.logsigmoid(-topology_pos).sum()) / count
        return F.logsigmoid(topology_pos).mean() + non_adjacent

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.hidden_channels}, variant={self.variant!r}, "
                f"negatives={self.negatives}, encoder={self.encoder})")
