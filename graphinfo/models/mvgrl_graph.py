r"""MVGRL, graph level (Hassani & Khasahmadi, ICML 2020, "Contrastive Multi-View Representation
Learning on Graphs", `arXiv:2006.05582 <https://arxiv.org/abs/2006.05582>`_): graph embeddings
of a collection of small graphs, from two views of each graph contrasted node against graph."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch_geometric.utils import scatter

from graphinfo.models.base import MIModel, ModelDefaults, make_estimator
from graphinfo.models.infograph import local_global_estimate
from graphinfo.nn.discriminators import Projection
from graphinfo.nn.encoders import GCNEncoder
from graphinfo.transforms.diffusion import check_diffusion, per_graph_diffusion

__all__ = ["GraphMVGRL", "GraphMVGRLOutput", "GRAPH_MVGRL_EMBEDDINGS"]

#: What :meth:`GraphMVGRL.embed` returns: ``'projected'`` (the sum of both views' projected
#: graph embeddings, the authors') or ``'encoder'`` (the sum of both encoders' concatenated
#: per-layer sums, before the projection head).
GRAPH_MVGRL_EMBEDDINGS = ("projected", "encoder")


class GraphMVGRLOutput(NamedTuple):
    """What :meth:`GraphMVGRL.forward` returns; ``model.loss(*out)`` takes it back."""

    node_z: Tensor
    """Projected node embeddings of both views, :math:`(2, N, F)`."""
    graph_z: Tensor
    """Projected graph embeddings of both views, :math:`(2, B, F)`."""
    batch: Tensor
    """The graph of each node, :math:`(N)`."""


class GraphMVGRL(MIModel):
    r"""MVGRL's graph-level model: every graph is seen through its normalised adjacency
    :math:`\mathbf{S}_1 = \tilde{\mathbf{D}}^{-1/2}(\mathbf{A} + \mathbf{I})
    \tilde{\mathbf{D}}^{-1/2}` and its exact diffusion :math:`\mathbf{S}_2` (PPR
    :math:`\alpha(\mathbf{I} - (1 - \alpha)\mathbf{S}_1)^{-1}` or the heat kernel, computed
    per graph: :func:`graphinfo.transforms.per_graph_diffusion`); an :math:`L`-layer GCN per
    view gives node embeddings :math:`\mathbf{H}_v` (the last layer's) and graph embeddings
    :math:`\mathbf{g}_v` (the per-layer sums over the graph's nodes, concatenated); shared
    heads project them, :math:`\phi` for nodes and :math:`\psi` for graphs (three PReLU layers
    plus a linear shortcut), and the loss contrasts each view's nodes with the other view's
    graphs, InfoGraph's local-global objective across views:

    .. math::
        \mathcal{L} = -\hat I\big(\phi(\mathbf{H}_1)\,\psi(\mathbf{g}_2)^\top\big)
        - \hat I\big(\phi(\mathbf{H}_2)\,\psi(\mathbf{g}_1)^\top\big),

    where each :math:`N \times B` score matrix has its positives where node :math:`i` belongs
    to graph :math:`b` and every other graph of the batch as negatives. The exported embedding
    is :math:`\psi(\mathbf{g}_1) + \psi(\mathbf{g}_2)`.

    Where this follows the paper rather than the authors' code (``kavehhassani/mvgrl``,
    ``graph/``): the code keeps its GCN layers in a plain Python list, so they are not the
    model's parameters and are never trained (only the heads are; ``train_encoders=False``
    reproduces that); here they train. The code pads every graph to the largest one and, in
    its loss, masks each batch's padded rows with the node counts of the *unshuffled* graph
    order while the batch holds shuffled graphs, so real nodes are dropped and padded ones
    scored; here nothing is padded (a batch is a PyG ``Batch``) and only real nodes are
    scored. The code's PPR is computed before relabelling each networkx graph's nodes, which
    can misalign the diffusion with the features; here it is computed on the graph as stored.
    The features the code uses (one-hot node label and one-hot degree) are
    :func:`graphinfo.data.label_and_degree_features`.

    Args:
        in_channels (int): Node feature size.
        hidden_channels (int, optional): Units per layer and of the projections.
            (default: :obj:`512`, the authors')
        num_layers (int, optional): GCN layers per view; the graph embedding before its head
            has ``num_layers * hidden_channels`` features. (default: :obj:`4`)
        diffusion (str, optional): ``'ppr'`` or ``'heat'``. (default: :obj:`'ppr'`)
        alpha (float, optional): PPR's teleport probability. (default: :obj:`0.2`)
        t (float, optional): The heat kernel's time. (default: :obj:`5.0`)
        estimator (str or callable, optional): The MI estimator on (positive, negative)
            logits, as for :class:`~graphinfo.models.InfoGraph`. (default: :obj:`'jsd'`)
        embedding (str, optional): One of :data:`GRAPH_MVGRL_EMBEDDINGS`.
            (default: :obj:`'projected'`)
        train_encoders (bool, optional): Train the GCNs (``False``: frozen at their random
            initialisation, as the authors' code leaves them). (default: ``True``)
        encoder_kwargs (dict, optional): Further arguments of both
            :class:`~graphinfo.nn.GCNEncoder` (``act``, ``norm`` ...).
        estimator_kwargs (dict, optional): Arguments of a stateful estimator.

    Shapes:
        - **input:** ``x`` :math:`(N, F_{in})`, ``edge_index`` :math:`(2, E)`, ``batch``
          :math:`(N)`; optionally the diffusion as ``diffusion_edge_index`` /
          ``diffusion_edge_weight`` (computed per batch otherwise)
        - **output:** :class:`GraphMVGRLOutput`
    """

    level = "graph"
    #: The authors' code: 512 units, Adam 0.001 without weight decay, the lowest-loss epoch's
    #: weights (patience 20); layers, batch size and epochs from a grid ({2, 8, 12} x
    #: {32, 64, 128, 256} x {20, 40, 100}) chosen on the test folds. Here, as for every
    #: graph-level model (:func:`graphinfo.train.fit_graphs`), a budget fixed in advance and
    #: the final weights: DGL's example's 4 layers, 64 graphs per batch, 20 epochs.
    defaults = ModelDefaults(hidden_channels=512, num_layers=4, epochs=20, patience=None,
                             batch_size=64, protocol="graph_svm")

    def __init__(self, in_channels: int, hidden_channels: int = 512, num_layers: int = 4, *,
                 diffusion: str = "ppr", alpha: float = 0.2, t: float = 5.0,
                 estimator: Callable[..., Tensor] | str = "jsd", embedding: str = "projected",
                 train_encoders: bool = True, encoder_kwargs: dict[str, Any] | None = None,
                 estimator_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"'num_layers' must be a positive int, got {num_layers!r}")
        if not isinstance(hidden_channels, int) or hidden_channels < 1:
            raise ValueError(f"'hidden_channels' must be a positive int, got "
                             f"{hidden_channels!r}")
        check_diffusion(diffusion, alpha, t, name="diffusion")
        if embedding not in GRAPH_MVGRL_EMBEDDINGS:
            raise ValueError(f"'embedding' must be one of {GRAPH_MVGRL_EMBEDDINGS}, got "
                             f"{embedding!r}")
        settings = {"act": "prelu", **(encoder_kwargs or {}), "jk": "cat"}
        for key in ("normalize", "num_layers"):
            if key in settings:
                raise ValueError(f"'encoder_kwargs' cannot set {key!r}: GraphMVGRL sets it")
        self.encoders = torch.nn.ModuleList([
            GCNEncoder(in_channels, hidden_channels, num_layers, **settings),
            GCNEncoder(in_channels, hidden_channels, num_layers, normalize=False, **settings)])
        self.hidden_channels, self.num_layers = hidden_channels, num_layers
        self.local_head = Projection(hidden_channels, act="prelu")
        self.global_head = Projection(hidden_channels, in_channels=num_layers * hidden_channels,
                                      act="prelu")
        self.estimator = make_estimator(estimator, **(estimator_kwargs or {}))
        self.diffusion, self.alpha, self.t = diffusion, alpha, t
        self.embedding, self.train_encoders = embedding, train_encoders
        self.reset_parameters()
        self.encoders.requires_grad_(train_encoders)

    @property
    def encoder(self) -> torch.nn.Module:  # type: ignore[override]
        """The adjacency view's encoder (the contract's ``encoder``)."""
        return self.encoders[0]

    def reset_parameters(self) -> None:
        """Xavier-uniform weights and zero biases for every linear map, as the authors' code
        initialises them; fresh PReLU slopes."""
        super().reset_parameters()
        for module in self.modules():
            if isinstance(module, torch.nn.Linear):
                torch.nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    torch.nn.init.zeros_(module.bias)
        for encoder in self.encoders:
            for conv in encoder.convs:
                torch.nn.init.xavier_uniform_(conv.lin.weight)
                if conv.bias is not None:
                    torch.nn.init.zeros_(conv.bias)

    # -- data ----------------------------------------------------------------------------

    def inputs(self, data: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``(x, edge_index)`` with ``batch=`` and the stored diffusion, when the data carries
        one (``diffusion_edge_index`` / ``diffusion_edge_weight``)."""
        args, kwargs = super().inputs(data)
        for key in ("diffusion_edge_index", "diffusion_edge_weight"):
            if getattr(data, key, None) is not None:
                kwargs[key] = data[key]
        return args, kwargs

    def diffuse(self, edge_index: Tensor, batch: Tensor, num_nodes: int,
                edge_weight: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The diffusion view of every graph of the batch (exact, per graph)."""
        return per_graph_diffusion(edge_index, batch, num_nodes, method=self.diffusion,
                                   alpha=self.alpha, t=self.t, edge_weight=edge_weight)

    # -- the model -----------------------------------------------------------------------

    def _encode(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None,
                batch: Tensor, diffusion_edge_index: Tensor | None,
                diffusion_edge_weight: Tensor | None) -> tuple[list[Tensor], list[Tensor]]:
        """Each view's last-layer node embeddings and concatenated per-layer graph sums."""
        if diffusion_edge_index is None:
            diffusion_edge_index, diffusion_edge_weight = self.diffuse(
                edge_index, batch, x.size(0), edge_weight)
        graphs = int(batch.max()) + 1 if batch.numel() else 0
        views = ((edge_index, edge_weight), (diffusion_edge_index, diffusion_edge_weight))
        nodes, sums = [], []
        for encoder, (index, weight) in zip(self.encoders, views):
            layers = encoder(x, index, weight)         # (N, L * F): jk='cat'
            nodes.append(layers[:, -self.hidden_channels:])
            sums.append(scatter(layers, batch, dim=0, dim_size=graphs, reduce="sum"))
        return nodes, sums

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None, *,
                batch: Tensor | None = None, diffusion_edge_index: Tensor | None = None,
                diffusion_edge_weight: Tensor | None = None) -> GraphMVGRLOutput:
        self.check_inputs(x, edge_index, edge_weight, batch=batch)
        batch = batch if batch is not None else x.new_zeros(x.size(0), dtype=torch.long)
        nodes, sums = self._encode(x, edge_index, edge_weight, batch, diffusion_edge_index,
                                   diffusion_edge_weight)
        node_z = torch.stack([self.local_head(z) for z in nodes])
        graph_z = torch.stack([self.global_head(g) for g in sums])
        return GraphMVGRLOutput(node_z, graph_z, batch)

    def loss(self, node_z: Tensor, graph_z: Tensor, batch: Tensor) -> Tensor:
        """Each view's nodes against the other view's graphs, summed over both directions."""
        if graph_z.size(1) < 2:
            raise ValueError("GraphMVGRL contrasts graphs with each other: a batch needs at "
                             f"least two graphs, got {graph_z.size(1)}")
        terms = [local_global_estimate(self.estimator, node_z[a] @ graph_z[b].t(), batch)
                 for a, b in ((0, 1), (1, 0))]
        return -(terms[0] + terms[1])

    @torch.no_grad()
    def embed(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None, *,
              batch: Tensor | None = None, diffusion_edge_index: Tensor | None = None,
              diffusion_edge_weight: Tensor | None = None, level: str | None = None
              ) -> Tensor:
        """Graph embeddings :math:`(B, F)` (``embedding``: the sum of both views' projected
        graph embeddings, or of their encoders' :math:`(B, LF)`), or with ``level='node'``
        the node embeddings, the sum of both views' last layers :math:`(N, F)`; in eval mode
        without gradient."""
        self.check_inputs(x, edge_index, edge_weight, batch=batch)
        was_training = self.training
        self.eval()
        try:
            batch = batch if batch is not None else x.new_zeros(x.size(0), dtype=torch.long)
            nodes, sums = self._encode(x, edge_index, edge_weight, batch, diffusion_edge_index,
                                       diffusion_edge_weight)
            if level == "node":
                return nodes[0] + nodes[1]
            if self.embedding == "encoder":
                return sums[0] + sums[1]
            return self.global_head(sums[0]) + self.global_head(sums[1])
        finally:
            self.train(was_training)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.hidden_channels}, "
                f"num_layers={self.num_layers}, diffusion={self.diffusion!r})")
