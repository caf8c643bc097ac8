r"""GNN encoders :math:`\mathcal{E}(\mathbf{X}, \mathbf{A}) = \mathbf{H}` over PyG convolutions.

Every encoder stacks ``num_layers`` PyG convolutions, each followed by an activation (and
optional dropout), and exposes ``in_channels`` / ``out_channels`` so models can check the
inputs they are given. Any PyG module (or any ``torch.nn.Module`` mapping
``(x, edge_index, ...)`` to node embeddings) can be passed to a model instead.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch_geometric.nn import GATConv, GCNConv, GINConv, SAGEConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.nn.dense.linear import Linear

from graphinfo.nn.activations import ACTIVATIONS, make_activation
from graphinfo.resolver import resolve
from graphinfo.sparse import SparseOperator, feature_operator
from graphinfo.tensor_cache import AdjacencyCache, TensorCache

__all__ = ["ACTIVATIONS", "ENCODERS", "GATHER_COST_RATIO", "GATEncoder", "GCNEncoder",
           "GINEncoder", "GNNEncoder", "SAGEEncoder", "make_activation", "make_encoder"]

#: How many times more a multiply-add costs in a sparse gather-sum than in a dense GEMM (22-30
#: measured on 2 CPU cores; a round figure at the low end); :class:`GCNEncoder` uses it to order
#: its first layer.
GATHER_COST_RATIO = 20.0

class GNNEncoder(torch.nn.Module):
    r"""A stack of graph convolutions, each followed by an activation:

    .. math::
        \mathbf{H}^{(l)} = \sigma\big(\mathrm{Conv}^{(l)}(\mathbf{H}^{(l-1)}, \mathbf{A})\big),
        \qquad \mathbf{H}^{(0)} = \mathbf{X}.

    Subclasses implement :meth:`make_conv`.

    Args:
        in_channels (int): Size of each input node feature.
        hidden_channels (int): Size of each hidden and output node embedding.
        num_layers (int, optional): Number of convolutions. (default: :obj:`1`)
        activation (str or torch.nn.Module, optional): Activation after each convolution;
            a module given here is shared by all layers. (default: :obj:`'prelu'`)
        dropout (float, optional): Dropout on the input of every layer but the first.
            (default: :obj:`0.0`)

    Shapes:
        - **input:** node features :math:`(N, F_{in})`, edge index :math:`(2, E)`,
          edge weights :math:`(E)` *(optional)*
        - **output:** node embeddings :math:`(N, F_{hidden})`
    """

    supports_edge_weight: bool = False

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int = 1,
                 activation: str | torch.nn.Module | None = "prelu", dropout: float = 0.0,
                 **conv_kwargs: Any) -> None:
        super().__init__()
        if not isinstance(in_channels, int) or in_channels <= 0:
            raise ValueError(f"'in_channels' must be a positive int, got {in_channels!r}")
        if not isinstance(hidden_channels, int) or hidden_channels <= 0:
            raise ValueError(f"'hidden_channels' must be a positive int, got "
                             f"{hidden_channels!r}")
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"'num_layers' must be an int >= 1, got {num_layers!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"'dropout' must be in [0, 1), got {dropout!r}")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = hidden_channels
        self.num_layers = num_layers
        self.dropout = dropout
        self.convs = torch.nn.ModuleList()
        self.acts = torch.nn.ModuleList()
        for layer in range(num_layers):
            source = in_channels if layer == 0 else hidden_channels
            self.convs.append(self.make_conv(source, hidden_channels, layer, **conv_kwargs))
            self.acts.append(make_activation(activation, hidden_channels))
        self.reset_parameters()

    def make_conv(self, in_channels: int, out_channels: int, layer: int,
                  **kwargs: Any) -> torch.nn.Module:
        raise NotImplementedError

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()
        for act in self.acts:
            if isinstance(act, torch.nn.PReLU):
                torch.nn.init.constant_(act.weight, 0.25)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        if edge_weight is not None and not self.supports_edge_weight:
            raise ValueError(f"{self.__class__.__name__} cannot use 'edge_weight' (its "
                             f"convolution ignores edge weights); drop it or use GCNEncoder")
        for layer, (conv, act) in enumerate(zip(self.convs, self.acts)):
            if layer > 0 and self.dropout > 0:
                x = torch.nn.functional.dropout(x, p=self.dropout, training=self.training)
            if edge_weight is not None:
                x = conv(x, edge_index, edge_weight)
            else:
                x = conv(x, edge_index)
            x = act(x)
        return x

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, "
                f"num_layers={self.num_layers})")


def _has_hooks(module: torch.nn.Module) -> bool:
    return bool(module._forward_hooks or module._forward_pre_hooks
                or module._backward_hooks or getattr(module, "_backward_pre_hooks", None))


def _plain_gcn_conv(conv: torch.nn.Module) -> bool:
    """Whether the fast path computes exactly what this convolution's forward would: a PyG
    ``GCNConv`` without normalisation, sum aggregation along source -> target, its own linear
    layer, no hooks and no explainer attached."""
    return type(conv) is GCNConv and not conv.normalize and conv.aggr == "add" \
        and conv.flow == "source_to_target" and type(conv.lin) is Linear \
        and not getattr(conv, "explain", False) and not _has_hooks(conv) \
        and not _has_hooks(conv.lin)


class GCNEncoder(GNNEncoder):
    r"""Graph convolutional encoder (Kipf & Welling, ICLR 2017,
    `arXiv:1609.02907 <https://arxiv.org/abs/1609.02907>`_):

    .. math::
        \mathbf{H}^{(l)} = \sigma\big(\hat{\mathbf{D}}^{-1/2}\hat{\mathbf{A}}
        \hat{\mathbf{D}}^{-1/2}\mathbf{H}^{(l-1)}\mathbf{W}^{(l)} + \mathbf{b}^{(l)}\big),
        \qquad \hat{\mathbf{A}} = \mathbf{A} + \mathbf{I}.

    With ``num_layers=1`` and ``activation='prelu'`` this is the encoder of the Deep Graph
    Infomax paper for transductive tasks. The layers are :class:`torch_geometric.nn.GCNConv`
    modules, so the parameters (and ``state_dict``) are PyG's.

    **Fast path** (used when ``fast_path`` is on, ``edge_index`` is a dense ``[2, E]`` tensor
    and edge weights, if any, are not learnable; otherwise the general path: PyG's edge-list
    convolutions on the GCN-normalised edges):

    - the normalised adjacency :math:`\mathbf{S}` is built once per graph
      (:func:`graphinfo.sparse.gcn_operator`, cached while the same unmodified tensors are
      passed) and aggregation is a sparse gather-sum, never an :math:`E \times F` message
      tensor;
    - input features at most :data:`graphinfo.sparse.SPARSE_FEATURES_MAX_DENSITY` dense (or
      given as a sparse tensor) are multiplied as a sparse matrix;
    - with dense features the first layer can aggregate first, :math:`(\mathbf{S}\mathbf{X})
      \mathbf{W}` with :math:`\mathbf{S}\mathbf{X}` computed once per graph, which removes the
      sparse product from the backward pass; it is chosen when cheaper by a cost model
      (:data:`GATHER_COST_RATIO`) unless ``aggregate_first`` says otherwise;
    - :meth:`forward_shuffled` embeds a graph and its node-shuffled corruption together,
      sharing the first layer's work (a shuffle commutes with any node-wise map).

    All orderings compute the same function up to float rounding.

    Args:
        improved (bool, optional): Use :math:`\mathbf{A} + 2\mathbf{I}`. (default: ``False``)
        add_self_loops (bool, optional): Add self-loops before normalising. (default: ``True``)
        aggregate_first (bool, optional): Force (``True``) or forbid (``False``) aggregating
            dense input features before the first weight matrix; ``None`` decides by cost.
        fast_path (bool, optional): Use the fast path when it applies. (default: ``True``)

    Other keyword arguments (``bias`` ...) go to :class:`torch_geometric.nn.GCNConv`.
    """

    supports_edge_weight = True

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int = 1,
                 activation: str | torch.nn.Module | None = "prelu", dropout: float = 0.0,
                 improved: bool = False, add_self_loops: bool = True,
                 aggregate_first: bool | None = None, fast_path: bool = True,
                 **conv_kwargs: Any) -> None:
        for name in ("cached", "normalize"):
            conv_kwargs.pop(name, None)  # the adjacency is always normalised and safely cached
        self.improved = improved
        self.add_self_loops = add_self_loops
        self.aggregate_first = aggregate_first
        self.fast_path = fast_path
        self._adjacency = AdjacencyCache()
        self._features = TensorCache(size=2)
        self._aggregated = TensorCache(size=2)
        super().__init__(in_channels, hidden_channels, num_layers, activation, dropout,
                         **conv_kwargs)

    def make_conv(self, in_channels: int, out_channels: int, layer: int,
                  **kwargs: Any) -> torch.nn.Module:
        return GCNConv(in_channels, out_channels, normalize=False, **kwargs)

    def _options(self, x: Tensor) -> dict[str, Any]:
        return {"add_self_loops": self.add_self_loops, "improved": self.improved,
                "dtype": x.dtype}

    def uses_fast_path(self, x: Tensor, edge_index: Any,
                       edge_weight: Tensor | None = None) -> bool:
        """Whether these inputs take the sparse fast path."""
        return self.fast_path and isinstance(edge_index, Tensor) \
            and edge_index.layout == torch.strided \
            and not (edge_weight is not None and edge_weight.requires_grad) \
            and all(_plain_gcn_conv(conv) for conv in self.convs)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        if not self.uses_fast_path(x, edge_index, edge_weight):
            edge_index, edge_weight = gcn_norm(edge_index, edge_weight, x.size(0),
                                               **self._options(x))
            return super().forward(x, edge_index, edge_weight)
        adjacency = self._adjacency_of(x, edge_index, edge_weight)
        pre = self._first_layer(x, edge_index, edge_weight, adjacency, perm=None)[0]
        return self._remaining_layers(self.acts[0](pre), adjacency)

    def forward_shuffled(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None,
                         *, perm: Tensor) -> tuple[Tensor, Tensor]:
        """``(self(x, edge_index, edge_weight), self(x[perm], edge_index, edge_weight))``,
        computed together on the fast path (call :meth:`uses_fast_path` first)."""
        if not self.uses_fast_path(x, edge_index, edge_weight):
            raise ValueError(f"forward_shuffled needs inputs of the fast path: fast_path on (it is "
                             f"{self.fast_path}), a [2, E] edge_index tensor (got "
                             f"{type(edge_index).__name__}) and no learnable edge weights; "
                             f"call forward on each view otherwise")
        if perm.dim() != 1 or perm.numel() != x.size(0):
            raise ValueError(f"'perm' must be a permutation of the {x.size(0)} nodes, got shape "
                             f"{tuple(perm.shape)}")
        adjacency = self._adjacency_of(x, edge_index, edge_weight)
        pre_pos, pre_neg = self._first_layer(x, edge_index, edge_weight, adjacency, perm=perm)
        pos = self._remaining_layers(self.acts[0](pre_pos), adjacency)
        neg = self._remaining_layers(self.acts[0](pre_neg), adjacency)
        return pos, neg

    def clear_cache(self) -> None:
        """Forgets the cached adjacency, feature forms and aggregated features (they are also
        dropped automatically when the tensors they were computed from are freed)."""
        for cache in (self._adjacency, self._features, self._aggregated):
            cache.clear()

    def _adjacency_of(self, x: Tensor, edge_index: Tensor,
                      edge_weight: Tensor | None) -> SparseOperator:
        return self._adjacency.get(edge_index, x.size(0), edge_weight, operator=True,
                                   **self._options(x))

    def _feature_operator(self, x: Tensor) -> SparseOperator | None:
        return self._features.get((x,), None, lambda: feature_operator(x))

    def _aggregates_first(self, x: Tensor, adjacency: SparseOperator) -> bool:
        r"""Whether :math:`(\mathbf{S}\mathbf{X})\mathbf{W}` is cheaper than
        :math:`\mathbf{S}(\mathbf{X}\mathbf{W})` for a training step with a shuffled view:
        four GEMMs plus one gather-sum of :math:`\mathbf{X}` against two GEMMs plus four
        gather-sums of width :math:`F_{out}`."""
        if self.aggregate_first is not None:
            return self.aggregate_first
        num_nodes, in_channels = x.shape
        out_channels = self.hidden_channels
        transform_first = 2 * num_nodes * in_channels * out_channels \
            + 4 * GATHER_COST_RATIO * adjacency.nnz * out_channels
        aggregate_first = 4 * num_nodes * in_channels * out_channels \
            + GATHER_COST_RATIO * adjacency.nnz * in_channels
        return aggregate_first < transform_first

    def _first_layer(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None,
                     adjacency: SparseOperator, perm: Tensor | None) -> list[Tensor]:
        """Pre-activations of the first layer for the clean view (and the shuffled one)."""
        conv = self.convs[0]
        weight_t, bias = conv.lin.weight.t(), conv.bias
        # Cached forms of x are computed without gradient: a feature matrix that requires one
        # is multiplied as it is.
        features = None if x.requires_grad else self._feature_operator(x)
        if features is None and not x.requires_grad and x.layout == torch.strided \
                and self._aggregates_first(x, adjacency):
            aggregated = [self._aggregated.get((x, edge_index, edge_weight),
                                               tuple(self._options(x).items()),
                                               lambda: adjacency.matmul(x))]
            if perm is not None:
                with torch.no_grad():
                    aggregated.append(adjacency.permute_columns(perm).matmul(x))
            return [torch.addmm(bias, a, weight_t) if bias is not None else a @ weight_t
                    for a in aggregated]
        transformed = features.matmul(weight_t) if features is not None else x @ weight_t
        operators = [adjacency] if perm is None else [adjacency, adjacency.permute_columns(perm)]
        outputs = [op.matmul(transformed) for op in operators]
        return [out.add_(bias) if bias is not None else out for out in outputs]

    def _remaining_layers(self, h: Tensor, adjacency: SparseOperator) -> Tensor:
        for conv, act in zip(self.convs[1:], self.acts[1:]):
            if self.dropout > 0:
                h = torch.nn.functional.dropout(h, p=self.dropout, training=self.training)
            out = adjacency.matmul(h @ conv.lin.weight.t())
            h = act(out.add_(conv.bias) if conv.bias is not None else out)
        return h


class SAGEEncoder(GNNEncoder):
    r"""GraphSAGE encoder (Hamilton et al., NeurIPS 2017,
    `arXiv:1706.02216 <https://arxiv.org/abs/1706.02216>`_):

    .. math::
        \mathbf{h}_i^{(l)} = \sigma\big(\mathbf{W}_1\mathbf{h}_i^{(l-1)} + \mathbf{W}_2
        \operatorname{mean}_{j \in \mathcal{N}(i)} \mathbf{h}_j^{(l-1)}\big).

    Extra keyword arguments (``aggr``, ``normalize`` ...) go to
    :class:`torch_geometric.nn.SAGEConv`.
    """

    def make_conv(self, in_channels: int, out_channels: int, layer: int,
                  **kwargs: Any) -> torch.nn.Module:
        return SAGEConv(in_channels, out_channels, **kwargs)


class GINEncoder(GNNEncoder):
    r"""Graph isomorphism network encoder (Xu et al., ICLR 2019,
    `arXiv:1810.00826 <https://arxiv.org/abs/1810.00826>`_), each layer a two-layer MLP:

    .. math::
        \mathbf{h}_i^{(l)} = \sigma\Big(\mathrm{MLP}^{(l)}\big((1 + \epsilon)\,
        \mathbf{h}_i^{(l-1)} + \textstyle\sum_{j \in \mathcal{N}(i)} \mathbf{h}_j^{(l-1)}\big)\Big).

    Extra keyword arguments (``train_eps`` ...) go to :class:`torch_geometric.nn.GINConv`.
    """

    def make_conv(self, in_channels: int, out_channels: int, layer: int,
                  **kwargs: Any) -> torch.nn.Module:
        mlp = torch.nn.Sequential(
            torch.nn.Linear(in_channels, out_channels),
            torch.nn.ReLU(),
            torch.nn.Linear(out_channels, out_channels),
        )
        return GINConv(mlp, **kwargs)


class GATEncoder(GNNEncoder):
    r"""Graph attention encoder (Veličković et al., ICLR 2018,
    `arXiv:1710.10903 <https://arxiv.org/abs/1710.10903>`_):

    .. math::
        \mathbf{h}_i^{(l)} = \sigma\Big(\big\Vert_{k=1}^{K} \textstyle\sum_{j \in
        \mathcal{N}(i) \cup \{i\}} \alpha_{ij}^{k} \mathbf{W}^{k} \mathbf{h}_j^{(l-1)}\Big).

    Args:
        heads (int, optional): Attention heads per layer; their outputs are concatenated, so
            ``hidden_channels`` must be divisible by ``heads``. (default: :obj:`1`)

    Other keyword arguments go to :class:`torch_geometric.nn.GATConv`.
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int = 1,
                 activation: str | torch.nn.Module | None = "prelu", dropout: float = 0.0,
                 heads: int = 1, **conv_kwargs: Any) -> None:
        if not isinstance(heads, int) or heads < 1 or hidden_channels % heads != 0:
            raise ValueError(f"'heads' must be a positive int dividing hidden_channels="
                             f"{hidden_channels}, got {heads!r}")
        self.heads = heads
        super().__init__(in_channels, hidden_channels, num_layers, activation, dropout,
                         **conv_kwargs)

    def make_conv(self, in_channels: int, out_channels: int, layer: int,
                  **kwargs: Any) -> torch.nn.Module:
        return GATConv(in_channels, out_channels // self.heads, heads=self.heads, **kwargs)


ENCODERS: dict[str, type[GNNEncoder]] = {
    "gcn": GCNEncoder,
    "sage": SAGEEncoder,
    "gin": GINEncoder,
    "gat": GATEncoder,
}


def make_encoder(encoder: str | torch.nn.Module, in_channels: int | None,
                 hidden_channels: int, **kwargs: Any) -> torch.nn.Module:
    """Builds a named encoder (``'gcn'``, ``'sage'``, ``'gin'``, ``'gat'``) for
    ``in_channels`` -> ``hidden_channels``, or returns the given module unchanged."""
    if isinstance(encoder, str) and in_channels is None:
        raise ValueError(f"'in_channels' is required to build the encoder {encoder!r} by name; "
                         f"pass in_channels=<number of node features> or an encoder module")
    return resolve("encoder", encoder, ENCODERS, in_channels=in_channels,
                   hidden_channels=hidden_channels, **kwargs) if isinstance(encoder, str) \
        else encoder
