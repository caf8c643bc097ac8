r"""GNN encoders :math:`\mathcal{E}(\mathbf{X}, \mathbf{A}) = \mathbf{H}` on PyG's
:class:`~torch_geometric.nn.models.BasicGNN`.

Every encoder is a :class:`~torch_geometric.nn.models.BasicGNN` (same constructor arguments:
``num_layers``, ``out_channels``, ``dropout``, ``act``, ``act_first``, ``act_kwargs``, ``norm``,
``norm_kwargs``, ``jk``; same ``convs``/``norms`` and ``inference(loader)``) with what the DGI
family needs on top:

- ``act_last`` (default ``True``): the activation (and normalisation) also follows the last
  layer, as in the encoders of DGI, GMI and InfoGraph (PyG's models leave the last layer linear
  unless ``jk`` is set);
- one activation module per layer, so a PReLU learns its slopes per layer (``'prelu'`` is
  graphinfo's :class:`~graphinfo.nn.PReLU` with one slope per channel; any other name is
  resolved by PyG's activation resolver);
- ``jk`` without ``out_channels`` combines the layers' outputs and stops there (``'cat'`` gives
  ``num_layers * hidden_channels`` features, InfoGraph's node embedding), with ``out_channels``
  a final linear map follows, as in PyG;
- :meth:`GNNEncoder.layerwise`, a full-graph export one layer at a time, in chunks of target
  nodes, which never holds more than the messages into one chunk;
- hooks for mini-batch training on neighbour-sampled subgraphs (:meth:`GNNEncoder.sampling_graph`,
  :meth:`GNNEncoder.subgraph_inputs`), which :class:`GCNEncoder` specialises to keep the full
  graph's normalisation.

:class:`GCNEncoder` adds the fast path: a cached CSR operator and sparse gather-sums instead of
per-edge messages (see its docstring). Any PyG module, or any ``torch.nn.Module`` mapping
``(x, edge_index, ...)`` to node embeddings, can be passed to a model instead.
"""
from __future__ import annotations

import copy
import logging
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.nn import GATConv, GCNConv, GINConv, SAGEConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.models.basic_gnn import BasicGNN
from torch_geometric.nn.models.jumping_knowledge import JumpingKnowledge
from torch_geometric.nn.resolver import normalization_resolver
from torch_geometric.utils import add_self_loops, remove_self_loops

from graphinfo.nn.activations import ACTIVATIONS, make_activation
from graphinfo.resolver import check_part_kwargs, resolve
from graphinfo.sampler import sampled_gcn_edges
from graphinfo.sparse import DenseOperator, SparseOperator, feature_operator
from graphinfo.tensor_cache import AdjacencyCache, TensorCache

__all__ = ["ACTIVATIONS", "ENCODERS", "GATHER_COST_RATIO", "GAT_DENSE_MAX_SCORES",
           "GAT_DENSE_MIN_DENSITY", "GAT_FACTORISED_MAX_SPREAD", "GATEncoder", "GCNEncoder",
           "GINEncoder", "GNNEncoder", "SAGEEncoder", "make_activation", "make_encoder"]

logger = logging.getLogger(__name__)

#: How many times more a multiply-add costs in a sparse gather-sum than in a dense GEMM (22-30
#: measured on 2 CPU cores; a round figure at the low end); :class:`GCNEncoder` uses it to order
#: its first layer.
GATHER_COST_RATIO = 20.0

#: Jumping-knowledge modes of the encoders (those of :class:`torch_geometric.nn.models.BasicGNN`).
JK_MODES = (None, "last", "cat", "max", "lstm")

_UNSET: Any = object()


def _make_norm(norm: str | torch.nn.Module | None, channels: int,
               norm_kwargs: dict[str, Any] | None) -> torch.nn.Module:
    """One normalisation layer: a name resolved by PyG, a copy of a given module, or identity."""
    if norm is None:
        return torch.nn.Identity()
    if isinstance(norm, torch.nn.Module):
        return copy.deepcopy(norm)
    layer = normalization_resolver(norm, channels, **(norm_kwargs or {}))
    return torch.nn.Identity() if layer is None else layer


class GNNEncoder(BasicGNN):
    r"""A stack of graph convolutions, each followed by a normalisation and an activation:

    .. math::
        \mathbf{H}^{(l)} = \sigma\Big(\mathrm{Norm}^{(l)}\big(\mathrm{Conv}^{(l)}(
        \mathrm{Dropout}(\mathbf{H}^{(l-1)}), \mathbf{A})\big)\Big), \qquad
        \mathbf{H}^{(0)} = \mathbf{X},

    (dropout only on the inputs of layers 2 to :math:`L`; with ``act_first`` the activation
    comes before the normalisation), and with ``jk`` the layers' outputs combined,
    :math:`\mathbf{H} = \mathrm{JK}(\mathbf{H}^{(1)}, \dots, \mathbf{H}^{(L)})`. Subclasses
    implement :meth:`init_conv` (PyG's ``BasicGNN`` hook).

    Args:
        in_channels (int): Size of each input node feature.
        hidden_channels (int): Size of each hidden node embedding.
        num_layers (int, optional): Number of convolutions. (default: :obj:`1`)
        out_channels (int, optional): Size of the output: without ``jk`` the last convolution's
            output size, with ``jk`` the size of a final linear map. (default: ``None``, the
            hidden size, or what ``jk`` gives)
        dropout (float, optional): Dropout on the input of every layer but the first.
            (default: :obj:`0.0`)
        act (str or torch.nn.Module, optional): The activation after each layer: a name
            (``'prelu'``, ``'relu'``, ``'elu'``, ``'identity'`` or any name PyG's activation
            resolver knows, e.g. ``'gelu'``), a module (shared by all layers), or ``None``.
            (default: :obj:`'prelu'`)
        act_first (bool, optional): Apply the activation before the normalisation.
            (default: ``False``)
        act_kwargs (dict, optional): Keyword arguments of a named activation.
        norm (str or torch.nn.Module, optional): A normalisation after each layer, by PyG name
            (``'batch_norm'``, ``'layer_norm'``, ``'graph_norm'`` ...) or as a module (copied per
            layer). (default: ``None``)
        norm_kwargs (dict, optional): Keyword arguments of a named normalisation.
        jk (str, optional): Jumping knowledge: ``None``, ``'last'``, ``'cat'``, ``'max'`` or
            ``'lstm'``. (default: ``None``)
        act_last (bool, optional): Activate (and normalise) the last layer's output too; with
            ``jk`` every layer's output is. (default: ``True``)
        activation: Alias of ``act`` (graphinfo's earlier name for it).
        **kwargs: Further arguments of the convolutions.

    Shapes:
        - **input:** node features :math:`(N, F_{in})`, edge index :math:`(2, E)`,
          edge weights :math:`(E)` *(optional, where the convolution takes them)*
        - **output:** node embeddings :math:`(N, F_{out})`
    """

    supports_edge_weight: bool = False
    supports_edge_attr: bool = False
    #: Whether a convolution takes a bipartite ``(x_source, x_target)`` input, which
    #: :meth:`layerwise` uses to export in chunks of target nodes.
    supports_bipartite: bool = True

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int = 1,
                 out_channels: int | None = None, dropout: float = 0.0,
                 act: str | torch.nn.Module | None = "prelu", act_first: bool = False,
                 act_kwargs: dict[str, Any] | None = None,
                 norm: str | torch.nn.Module | None = None,
                 norm_kwargs: dict[str, Any] | None = None, jk: str | None = None,
                 act_last: bool = True, activation: Any = _UNSET, **kwargs: Any) -> None:
        if not isinstance(in_channels, int) or isinstance(in_channels, bool) or in_channels <= 0:
            raise ValueError(f"'in_channels' must be a positive int, got {in_channels!r}")
        if not isinstance(hidden_channels, int) or hidden_channels <= 0:
            raise ValueError(f"'hidden_channels' must be a positive int, got "
                             f"{hidden_channels!r}")
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"'num_layers' must be an int >= 1, got {num_layers!r}")
        if out_channels is not None and (not isinstance(out_channels, int) or out_channels <= 0):
            raise ValueError(f"'out_channels' must be a positive int or None, got "
                             f"{out_channels!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"'dropout' must be in [0, 1), got {dropout!r}")
        if jk not in JK_MODES:
            raise ValueError(f"'jk' must be one of {JK_MODES}, got {jk!r}")
        if activation is not _UNSET:
            act = activation
        # PyG builds the convolutions; activations, norms and the JK head are built here (one
        # activation per layer, the last layer's too).
        super().__init__(in_channels, hidden_channels, num_layers,
                         out_channels=out_channels if jk is None else None, dropout=dropout,
                         act=None, jk=None, **kwargs)
        self.act_first = act_first
        self.act_last = act_last
        self.jk_mode = jk
        self.norm = norm if isinstance(norm, str) else None
        self.norm_kwargs = norm_kwargs
        last = out_channels if out_channels is not None and jk is None else hidden_channels
        sizes = [hidden_channels] * (num_layers - 1) + [last]
        activate_last = act_last or jk is not None
        self.acts = torch.nn.ModuleList()
        self.norms = torch.nn.ModuleList()
        for layer, channels in enumerate(sizes):
            is_last = layer == num_layers - 1
            self.acts.append(make_activation(act, channels, **(act_kwargs or {}))
                             if activate_last or not is_last else torch.nn.Identity())
            self.norms.append(_make_norm(norm, channels, norm_kwargs)
                              if activate_last or not is_last else torch.nn.Identity())
        self._norm_takes_batch = [_takes_batch(norm) for norm in self.norms]
        self.supports_norm_batch = any(self._norm_takes_batch)
        if jk is not None and jk != "last":
            self.jk = JumpingKnowledge(jk, hidden_channels, num_layers)
        combined = hidden_channels * num_layers if jk == "cat" else hidden_channels
        if jk is not None and out_channels is not None:
            self.lin = Linear(combined, out_channels)
        if jk is not None:
            self.out_channels = out_channels if out_channels is not None else combined
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Resets convolutions, norms, the JK head and the output map; PReLU slopes go back
        to 0.25 (PyTorch's initial value)."""
        super().reset_parameters()
        for act in self.acts:
            if isinstance(act, torch.nn.PReLU):
                torch.nn.init.constant_(act.weight, 0.25)

    def init_conv(self, in_channels: int, out_channels: int,
                  **kwargs: Any) -> torch.nn.Module:
        raise NotImplementedError

    def _check_edge_weight(self, edge_weight: Tensor | None) -> None:
        if edge_weight is not None and not self.supports_edge_weight:
            raise ValueError(f"{self.__class__.__name__} cannot use 'edge_weight' (its "
                             f"convolution ignores edge weights); drop it or use GCNEncoder")

    def conv_at(self, layer: int, x: Any, edge_index: Tensor, edge_weight: Tensor | None = None,
                edge_attr: Tensor | None = None, **kwargs: Any) -> Tensor:
        """Layer ``layer``'s convolution alone (no normalisation, no activation)."""
        conv = self.convs[layer]
        if self.supports_edge_weight and edge_weight is not None:
            kwargs["edge_weight"] = edge_weight
        if self.supports_edge_attr and edge_attr is not None:
            kwargs["edge_attr"] = edge_attr
        return conv(x, edge_index, **kwargs)

    def post_conv(self, layer: int, x: Tensor, batch: Tensor | None = None,
                  batch_size: int | None = None) -> Tensor:
        """Normalisation and activation of layer ``layer``'s convolution output."""
        act, norm = self.acts[layer], self.norms[layer]
        if self.act_first:
            x = act(x)
        x = norm(x, batch, batch_size) if self._norm_takes_batch[layer] else norm(x)
        if not self.act_first:
            x = act(x)
        return x

    def combine(self, outputs: list[Tensor]) -> Tensor:
        """The encoder's output from every layer's output: the last one, or their
        jumping-knowledge combination, then the final linear map if there is one."""
        x = self.jk(outputs) if hasattr(self, "jk") else outputs[-1]
        return self.lin(x) if hasattr(self, "lin") else x

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None,
                edge_attr: Tensor | None = None, batch: Tensor | None = None,
                batch_size: int | None = None) -> Tensor:
        """Node embeddings; ``batch`` / ``batch_size`` reach normalisations that take them."""
        self._check_edge_weight(edge_weight)
        outputs: list[Tensor] = []
        for layer in range(self.num_layers):
            if layer > 0:
                x = self.dropout(x)
            x = self.post_conv(layer, self.conv_at(layer, x, edge_index, edge_weight, edge_attr),
                               batch, batch_size)
            outputs.append(x)
        return self.combine(outputs)

    @torch.no_grad()
    def inference_per_layer(self, layer: int, x: Tensor, edge_index: Tensor,
                            batch_size: int) -> Tensor:
        """One layer for the targets of a full-neighbourhood batch (PyG's ``inference``)."""
        if self.jk_mode not in (None, "last"):
            raise ValueError(f"Layer-wise inference through a loader needs jk=None or 'last' "
                             f"(got {self.jk_mode!r}); use layerwise(x, edge_index) instead")
        out = self.post_conv(layer, self.conv_at(layer, x, edge_index)[:batch_size])
        if layer == self.num_layers - 1 and hasattr(self, "lin"):
            out = self.lin(out)
        return out

    def sampling_graph(self, data: Data) -> Data:
        """The graph that neighbours are sampled from for mini-batch training: ``data``
        itself (:class:`GCNEncoder` drops self-loops that its weights add back)."""
        return data

    def subgraph_inputs(self, batch: Data) -> tuple[Any, ...]:
        """The encoder's inputs for a neighbour-sampled subgraph: ``(x, edge_index)``."""
        return batch.x, batch.edge_index

    @torch.no_grad()
    def layerwise(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None,
                  chunk_size: int = 65536) -> Tensor:
        r"""The output for every node, one layer at a time over the whole graph (eval mode is
        the caller's business): each layer is computed for ``chunk_size`` target nodes at a time
        from every node's previous output (bipartite convolutions), so at most the messages
        into one chunk exist at once. Convolutions without bipartite input
        (``supports_bipartite = False``) run each layer on the whole graph. Equals
        ``self(x, edge_index, edge_weight)`` up to float rounding."""
        if chunk_size < 1:
            raise ValueError(f"'chunk_size' must be >= 1, got {chunk_size}")
        self._check_edge_weight(edge_weight)
        num_nodes = x.size(0)
        if not self.supports_bipartite or x.layout != torch.strided \
                or not isinstance(edge_index, Tensor) or edge_index.layout != torch.strided:
            return self(x, edge_index, edge_weight)
        source, target = edge_index
        order = torch.argsort(target, stable=True)
        source, target = source[order], target[order]
        weight = edge_weight[order] if edge_weight is not None else None
        bounds = torch.searchsorted(target, torch.arange(0, num_nodes + chunk_size, chunk_size,
                                                         device=target.device)
                                    .clamp(max=num_nodes))
        h, outputs = x, []
        for layer in range(self.num_layers):
            out: Tensor | None = None
            for start in range(0, num_nodes, chunk_size):
                stop = min(start + chunk_size, num_nodes)
                lo, hi = int(bounds[start // chunk_size]), int(bounds[start // chunk_size + 1])
                edges = torch.stack([source[lo:hi], target[lo:hi] - start])
                part = self.post_conv(layer, self.conv_at(
                    layer, (h, h[start:stop]), edges,
                    weight[lo:hi] if weight is not None else None, size=(num_nodes, stop - start)))
                if out is None:
                    out = h.new_empty(num_nodes, part.size(1))
                out[start:stop] = part
            assert out is not None
            h = out
            outputs.append(h)
        return self.combine(outputs)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
                f"num_layers={self.num_layers})")


def _takes_batch(module: torch.nn.Module) -> bool:
    """Whether a normalisation's forward takes a ``batch`` vector (PyG's graph-wise norms)."""
    import inspect

    forward = getattr(module, "forward", None)
    return forward is not None and "batch" in inspect.signature(forward).parameters


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


def _permutes_rows(adjacency: SparseOperator | DenseOperator, width: int) -> bool:
    r"""Whether a shuffled view multiplies :math:`\mathbf{S}` with the shuffled rows
    :math:`\mathbf{D}[\pi]` (both views then in one product of twice the width) rather than
    :math:`\mathbf{S}\mathbf{P}` with :math:`\mathbf{D}`. Relabelling the operator's columns
    costs a pass over every stored entry (and the transpose for the backward pass) per step,
    shuffling rows a pass over :math:`N \times F` values. Measured on one core, 4,000 nodes,
    width 64, forward and backward: equal near :math:`\mathrm{nnz} = 0.4\,NF`; at
    :math:`\mathrm{nnz} = 4\,NF` rows 47 ms, columns 80 ms. A dense metapath graph (DBLP's
    APCPA: 5 million entries on 4,057 nodes) is shuffled by rows, a citation graph by columns."""
    return isinstance(adjacency, DenseOperator) or 2 * adjacency.nnz > adjacency.shape[1] * width


class GCNEncoder(GNNEncoder):
    r"""Graph convolutional encoder (Kipf & Welling, ICLR 2017,
    `arXiv:1609.02907 <https://arxiv.org/abs/1609.02907>`_):

    .. math::
        \mathbf{H}^{(l)} = \sigma\big(\hat{\mathbf{D}}^{-1/2}\hat{\mathbf{A}}
        \hat{\mathbf{D}}^{-1/2}\mathbf{H}^{(l-1)}\mathbf{W}^{(l)} + \mathbf{b}^{(l)}\big),
        \qquad \hat{\mathbf{A}} = \mathbf{A} + \mathbf{I}.

    With ``num_layers=1`` and ``act='prelu'`` (the defaults) this is the encoder of the Deep
    Graph Infomax paper for transductive tasks. The layers are :class:`torch_geometric.nn.GCNConv`
    modules, so the parameters (and ``state_dict``) are PyG's.

    **Fast path** (used when ``fast_path`` is on, ``edge_index`` is a dense ``[2, E]`` tensor,
    edge weights, if any, are not learnable, and the stack is plain: no ``norm``, no ``jk``;
    otherwise the general path: PyG's edge-list convolutions on the GCN-normalised edges):

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
        improved (bool, optional): ``GCNConv(improved=True)``: self-loops of weight 2. As in
            torch-geometric 2.8, an unweighted graph still gets weight-1 loops (PyG honours
            ``improved`` only with edge weights; kept for parity with PyG's layer; pass unit
            ``edge_weight`` for :math:`\mathbf{A} + 2\mathbf{I}`). (default: ``False``)
        add_self_loops (bool, optional): Add self-loops before normalising. (default: ``True``)
        normalize (bool, optional): Normalise the adjacency (``False``: propagate over the
            weighted edges as given, with no self-loops added, e.g. a precomputed diffusion;
            ``GCNConv(normalize=False)``). (default: ``True``)
        aggregate_first (bool, optional): Force (``True``) or forbid (``False``) aggregating
            dense input features before the first weight matrix; ``None`` decides by cost.
        fast_path (bool, optional): Use the fast path when it applies. (default: ``True``)

    The other arguments are those of :class:`GNNEncoder`; further keyword arguments
    (``bias`` ...) go to :class:`torch_geometric.nn.GCNConv`.

    **On sampled subgraphs** (:meth:`subgraph_inputs`) the encoder takes edge weights built
    from the full graph's in-degrees (:func:`graphinfo.sampler.sampled_gcn_edges`), so that each
    layer's neighbour sum is an unbiased estimate of the full graph's and every node's degree
    normalisation is exact; neighbours are sampled from the graph without its self-loops
    (:meth:`sampling_graph`), which the weights add back.
    """

    supports_edge_weight = True
    supports_bipartite = False

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int = 1, *,
                 improved: bool = False, add_self_loops: bool = True, normalize: bool = True,
                 aggregate_first: bool | None = None, fast_path: bool = True,
                 **kwargs: Any) -> None:
        kwargs.pop("cached", None)  # the adjacency is always cached, safely
        self.improved = improved
        self.add_self_loops = add_self_loops
        self.normalize = normalize
        self.aggregate_first = aggregate_first
        self.fast_path = fast_path
        self._adjacency = AdjacencyCache()
        self._features = TensorCache(size=2)
        self._aggregated = TensorCache(size=2)
        self._warned_unnormalised_sampling = False
        super().__init__(in_channels, hidden_channels, num_layers, **kwargs)

    def init_conv(self, in_channels: int, out_channels: int,
                  **kwargs: Any) -> torch.nn.Module:
        return GCNConv(in_channels, out_channels, normalize=False, **kwargs)

    def _options(self, x: Tensor) -> dict[str, Any]:
        return {"add_self_loops": self.add_self_loops, "improved": self.improved,
                "dtype": x.dtype, "normalize": self.normalize}

    def uses_fast_path(self, x: Tensor, edge_index: Any,
                       edge_weight: Tensor | None = None) -> bool:
        """Whether these inputs take the sparse fast path."""
        return self.fast_path and isinstance(edge_index, Tensor) \
            and edge_index.layout == torch.strided \
            and not (edge_weight is not None and edge_weight.requires_grad) \
            and not hasattr(self, "jk") and not hasattr(self, "lin") \
            and all(type(norm) is torch.nn.Identity for norm in self.norms) \
            and all(_plain_gcn_conv(conv) for conv in self.convs)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None,
                edge_attr: Tensor | None = None, batch: Tensor | None = None,
                batch_size: int | None = None) -> Tensor:
        if not self.uses_fast_path(x, edge_index, edge_weight):
            if self.normalize:
                edge_index, edge_weight = gcn_norm(edge_index, edge_weight, x.size(0),
                                                   add_self_loops=self.add_self_loops,
                                                   improved=self.improved, dtype=x.dtype)
            return super().forward(x, edge_index, edge_weight, batch=batch,
                                   batch_size=batch_size)
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
                      edge_weight: Tensor | None) -> SparseOperator | DenseOperator:
        return self._adjacency.get(edge_index, x.size(0), edge_weight, operator=True,
                                   **self._options(x))

    def _feature_operator(self, x: Tensor) -> SparseOperator | None:
        return self._features.get((x,), None, lambda: feature_operator(x))

    def _aggregates_first(self, x: Tensor, adjacency: SparseOperator | DenseOperator) -> bool:
        r"""Whether :math:`(\mathbf{S}\mathbf{X})\mathbf{W}` is cheaper than
        :math:`\mathbf{S}(\mathbf{X}\mathbf{W})` for a training step with a shuffled view:
        four GEMMs plus one gather-sum of :math:`\mathbf{X}` against two GEMMs plus four
        gather-sums of width :math:`F_{out}`."""
        if self.aggregate_first is not None:
            return self.aggregate_first
        num_nodes, in_channels = x.shape
        out_channels = self.hidden_channels
        # Multiply-adds per column of one product with the adjacency, in GEMM units.
        per_column = num_nodes * num_nodes if isinstance(adjacency, DenseOperator) \
            else GATHER_COST_RATIO * adjacency.nnz
        transform_first = 2 * num_nodes * in_channels * out_channels \
            + 4 * per_column * out_channels
        aggregate_first = 4 * num_nodes * in_channels * out_channels + per_column * in_channels
        return aggregate_first < transform_first

    def _first_layer(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None,
                     adjacency: SparseOperator | DenseOperator,
                     perm: Tensor | None) -> list[Tensor]:
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
                    aggregated.append(adjacency.matmul(x[perm])
                                      if _permutes_rows(adjacency, x.size(1))
                                      else adjacency.permute_columns(perm).matmul(x))
            return [torch.addmm(bias, a, weight_t) if bias is not None else a @ weight_t
                    for a in aggregated]
        transformed = features.matmul(weight_t) if features is not None else x @ weight_t
        if perm is not None and _permutes_rows(adjacency, transformed.size(1)):
            # Both views in one product of twice the width: [S XW, S (XW)[perm]].
            both = adjacency.matmul(torch.cat([transformed, transformed[perm]], dim=1))
            if bias is not None:
                both = both.add_(bias.repeat(2))
            return list(both.chunk(2, dim=1))
        operators = [adjacency] if perm is None else [adjacency, adjacency.permute_columns(perm)]
        outputs = [op.matmul(transformed) for op in operators]
        return [out.add_(bias) if bias is not None else out for out in outputs]

    def _remaining_layers(self, h: Tensor, adjacency: SparseOperator | DenseOperator) -> Tensor:
        for conv, act in zip(self.convs[1:], self.acts[1:]):
            if self.dropout.p > 0:
                h = torch.nn.functional.dropout(h, p=self.dropout.p, training=self.training)
            out = adjacency.matmul(h @ conv.lin.weight.t())
            h = act(out.add_(conv.bias) if conv.bias is not None else out)
        return h


    @torch.no_grad()
    def layerwise(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None,
                  chunk_size: int = 65536) -> Tensor:
        r"""The whole graph at once (``GCNConv`` takes no bipartite input): on the fast path
        each layer is one product with the cached CSR operator, no :math:`E \times F` tensor,
        so chunking would only add work."""
        if chunk_size < 1:
            raise ValueError(f"'chunk_size' must be >= 1, got {chunk_size}")
        return self(x, edge_index, edge_weight)

    @torch.no_grad()
    def inference(self, loader: Any, device: str | torch.device | None = None,
                  embedding_device: str | torch.device = "cpu", progress_bar: bool = False,
                  cache: bool = False) -> Tensor:
        """PyG's layer-wise inference signature. A GCN layer needs every source node's
        full-graph degree, which a 1-hop batch of the loader does not carry (these convolutions
        do not normalise); the loader's graph is therefore embedded by :meth:`layerwise`, whose
        sparse full-graph path holds no per-edge tensor either."""
        data = loader.data
        device = torch.device(device) if device is not None else data.x.device
        args = [data.x.to(device), data.edge_index.to(device)]
        weight = getattr(data, "edge_weight", None)
        out = self.layerwise(*args, weight.to(device) if weight is not None else None)
        return out.to(embedding_device)

    def sampling_graph(self, data: Data) -> Data:
        """``data`` without self-loops when the encoder adds its own (the sampled subgraph's
        weights put them back with the right weight), else ``data``."""
        if not self.add_self_loops or not self.normalize:
            return data
        graph = copy.copy(data)
        graph.edge_index = remove_self_loops(data.edge_index)[0]
        return graph

    def subgraph_inputs(self, batch: Data) -> tuple[Any, ...]:
        """``(x, edge_index, edge_weight)`` of a neighbour-sampled batch that carries the full
        graph's in-degree of its nodes (``batch.in_degree``, set by
        :class:`graphinfo.sources.NeighborBatches`): weights that keep the full graph's GCN
        normalisation (see the class docstring). Without normalisation, the batch's own
        weighted edges."""
        if not self.normalize:
            return batch.x, batch.edge_index, getattr(batch, "edge_weight", None)
        if self.add_self_loops:
            if getattr(batch, "in_degree", None) is None:
                raise ValueError("GCNEncoder on a sampled subgraph needs the full graph's "
                                 "in-degree of its nodes ('batch.in_degree', as "
                                 "graphinfo.sources.NeighborBatches sets it) to keep the full "
                                 "graph's normalisation")
            return (batch.x, *sampled_gcn_edges(batch))
        if not self._warned_unnormalised_sampling:
            logger.warning("GCNEncoder(add_self_loops=False) on sampled batches normalises by "
                           "the subgraph's degrees, not the full graph's")
            self._warned_unnormalised_sampling = True
        return batch.x, batch.edge_index


class SAGEEncoder(GNNEncoder):
    r"""GraphSAGE encoder (Hamilton et al., NeurIPS 2017,
    `arXiv:1706.02216 <https://arxiv.org/abs/1706.02216>`_):

    .. math::
        \mathbf{h}_i^{(l)} = \sigma\big(\mathbf{W}_1\mathbf{h}_i^{(l-1)} + \mathbf{W}_2
        \operatorname{mean}_{j \in \mathcal{N}(i)} \mathbf{h}_j^{(l-1)}\big).

    The arguments are those of :class:`GNNEncoder`; further keyword arguments (``aggr``,
    ``normalize`` ...) go to :class:`torch_geometric.nn.SAGEConv`.
    """

    def init_conv(self, in_channels: int, out_channels: int,
                  **kwargs: Any) -> torch.nn.Module:
        return SAGEConv(in_channels, out_channels, **kwargs)


class GINEncoder(GNNEncoder):
    r"""Graph isomorphism network encoder (Xu et al., ICLR 2019,
    `arXiv:1810.00826 <https://arxiv.org/abs/1810.00826>`_), each layer a two-layer MLP:

    .. math::
        \mathbf{h}_i^{(l)} = \sigma\Big(\mathrm{MLP}^{(l)}\big((1 + \epsilon)\,
        \mathbf{h}_i^{(l-1)} + \textstyle\sum_{j \in \mathcal{N}(i)} \mathbf{h}_j^{(l-1)}\big)\Big),
        \qquad \mathrm{MLP}(\mathbf{h}) = \mathbf{W}_2\,\mathrm{ReLU}(\mathbf{W}_1\mathbf{h}
        + \mathbf{b}_1) + \mathbf{b}_2.

    With ``act='relu', act_first=True, norm='batch_norm', jk='cat'`` it is InfoGraph's
    encoder. The arguments are those of :class:`GNNEncoder`; further keyword arguments
    (``train_eps`` ...) go to :class:`torch_geometric.nn.GINConv`.
    """

    def init_conv(self, in_channels: int, out_channels: int,
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
            ``hidden_channels`` (and ``out_channels``) must be divisible by ``heads``.
            (default: :obj:`1`)

    The other arguments are those of :class:`GNNEncoder`; further keyword arguments (``edge_dim``
    ...) go to :class:`torch_geometric.nn.GATConv`. Its self-loops make a bipartite chunk wrong,
    so :meth:`~GNNEncoder.layerwise` runs each layer on the whole graph.
    """

    supports_edge_attr = True
    supports_bipartite = False

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int = 1, *,
                 heads: int = 1, **kwargs: Any) -> None:
        outputs = [hidden_channels, kwargs.get("out_channels") or hidden_channels]
        if not isinstance(heads, int) or heads < 1 or any(c % heads for c in outputs):
            raise ValueError(f"'heads' must be a positive int dividing hidden_channels="
                             f"{hidden_channels}, got {heads!r}")
        self.heads = heads
        self._features = TensorCache(size=2)
        self._loops = TensorCache(size=4)
        super().__init__(in_channels, hidden_channels, num_layers, **kwargs)

    def init_conv(self, in_channels: int, out_channels: int,
                  **kwargs: Any) -> torch.nn.Module:
        return GATConv(in_channels, out_channels // self.heads, heads=self.heads, **kwargs)

    def shares_projection(self, x: Tensor, edge_index: Any) -> bool:
        """Whether :meth:`forward_shuffled` can compute both views together for these inputs:
        an edge-list graph and a first ``GATConv`` with one shared linear map, no residual
        and no edge features."""
        conv = self.convs[0]
        return isinstance(edge_index, Tensor) and edge_index.layout == torch.strided \
            and x.layout in (torch.strided, torch.sparse_coo) \
            and getattr(conv, "lin", None) is not None and getattr(conv, "res", None) is None \
            and conv.edge_dim is None

    def forward_shuffled(self, x: Tensor, edge_index: Tensor, *,
                         perm: Tensor) -> tuple[Tensor, Tensor]:
        r"""``(self(x, edge_index), self(x[perm], edge_index))``, computed together. The first
        layer projects the features once, :math:`(\mathbf{X}[\pi])\mathbf{W} =
        (\mathbf{X}\mathbf{W})[\pi]` (a sparse product when :math:`\mathbf{X}` is sparse
        enough, :func:`~graphinfo.sparse.feature_operator`), and scores the attention of both
        views in one pass over the edges, their heads side by side (PyG's own
        ``edge_updater`` and ``propagate`` of the layer); later layers run per view. Inputs
        that :meth:`shares_projection` refuses are run as two calls of :meth:`forward`."""
        if perm.dim() != 1 or perm.numel() != x.size(0):
            raise ValueError(f"'perm' must be a permutation of the {x.size(0)} nodes, got shape "
                             f"{tuple(perm.shape)}")
        if not self.shares_projection(x, edge_index):
            return self(x, edge_index), self(x.index_select(0, perm) if x.layout ==
                                              torch.strided else x.to_dense()[perm], edge_index)
        conv = self.convs[0]
        heads, channels = conv.heads, conv.out_channels
        features = None if x.requires_grad else self._features.get(
            (x,), None, lambda: feature_operator(x))
        weight_t = conv.lin.weight.t()
        if features is not None:
            projected = features.matmul(weight_t)
        else:
            projected = (x.to_dense() if x.layout != torch.strided else x) @ weight_t
        if conv.lin.bias is not None:
            projected = projected + conv.lin.bias
        both = torch.cat([projected.view(-1, heads, channels),
                          projected[perm].view(-1, heads, channels)], dim=1)
        att_src, att_dst = conv.att_src.repeat(1, 2, 1), conv.att_dst.repeat(1, 2, 1)
        alpha = ((both * att_src).sum(-1), (both * att_dst).sum(-1))
        adjacency = self._dense_mask(edge_index, x.size(0), 2 * heads) \
            if conv.add_self_loops else None
        if adjacency is not None:
            out = _dense_attention(conv, both, alpha, adjacency)
        else:
            looped = self._looped(edge_index, x.size(0)) if conv.add_self_loops else edge_index
            alpha = conv.edge_updater(looped, alpha=alpha, edge_attr=None, size=None)
            out = conv.propagate(looped, x=(both, both), alpha=alpha, size=None)
        views = out.chunk(2, dim=1)
        firsts = [v.reshape(-1, heads * channels) if conv.concat else v.mean(dim=1)
                  for v in views]
        if conv.bias is not None:
            firsts = [first + conv.bias for first in firsts]
        results = []
        for first in firsts:
            h = self.post_conv(0, first)
            outputs = [h]
            for layer in range(1, self.num_layers):
                h = self.post_conv(layer, self.conv_at(layer, self.dropout(h), edge_index))
                outputs.append(h)
            results.append(self.combine(outputs))
        return results[0], results[1]

    def _dense_mask(self, edge_index: Tensor, num_nodes: int, heads: int) -> Tensor | None:
        """The dense adjacency (1.0 on an edge or the diagonal, 0.0 elsewhere; row: target,
        column: source) when the graph is small and dense enough for
        :func:`_dense_attention`, else None (also for a graph with a repeated edge:
        ``GATConv`` weighs each copy, a dense matrix holds one)."""
        entries = num_nodes * num_nodes
        if heads * entries > GAT_DENSE_MAX_SCORES \
                or edge_index.size(1) < GAT_DENSE_MIN_DENSITY * entries:
            return None

        def build() -> Tensor | None:
            plain, _ = remove_self_loops(edge_index)
            linear = plain[1] * num_nodes + plain[0]
            if torch.unique(linear).numel() != linear.numel():
                return None
            adjacency = torch.zeros(entries, device=edge_index.device)
            adjacency[linear] = 1.0
            adjacency = adjacency.view(num_nodes, num_nodes)
            adjacency.diagonal().fill_(1.0)
            return adjacency
        return self._loops.get((edge_index,), ("dense", num_nodes), build)

    def _looped(self, edge_index: Tensor, num_nodes: int) -> Tensor:
        """``edge_index`` with its self-loops replaced by one per node (as ``GATConv`` does on
        every call), kept while the same unmodified tensor comes back."""
        def build() -> Tensor:
            return add_self_loops(remove_self_loops(edge_index)[0], num_nodes=num_nodes)[0]
        return self._loops.get((edge_index,), num_nodes, build)


#: :class:`GATEncoder`'s shuffled pair scores a graph at least this dense as masked dense
#: matrices (:func:`_dense_attention`) ...
GAT_DENSE_MIN_DENSITY = 0.05
#: ... when all its heads' scores fit in this many entries (512 MiB in float32; the two masks
#: of the factorised form are kept for the backward pass, 1 GiB). A message
#: tensor (E x heads x channels) outgrows the dense scores (heads x N x N) from a density of
#: 1 / channels on, and the sum over neighbours becomes a GEMM.
GAT_DENSE_MAX_SCORES = 1 << 27


#: :func:`_dense_attention` factorises the attention when every head's source scores span at
#: most this much (then no factor under- or overflows in float32: each lies in
#: :math:`[e^{-R}, 1]`), and runs the masked softmax otherwise.
GAT_FACTORISED_MAX_SPREAD = 60.0


def _dense_attention(conv: GATConv, x: Tensor, alpha: tuple[Tensor, Tensor],
                     adjacency: Tensor) -> Tensor:
    r"""``GATConv``'s attention and aggregation (before the bias) over a dense adjacency
    :math:`\mathbf{A}` (self-loops included): :math:`\mathbf{out}^k_i = \sum_j \alpha^k_{ij}
    \mathbf{x}^k_j`, :math:`\alpha^k_{ij} = \mathrm{softmax}_{j: A_{ij} = 1}
    (\mathrm{LeakyReLU}(u^k_i + v^k_j))` with :math:`u` the target and :math:`v` the source
    scores. ``x``: :math:`(N, K, C)`, ``alpha``: :math:`(v, u)`, each :math:`(N, K)`;
    returns :math:`(N, K, C)`.

    The scores are a rank-one sum, so the exponential splits into a row and a column factor
    on each side of the LeakyReLU's kink (slope :math:`s`): with :math:`c = \max_j v_j`,
    :math:`m_i = \mathrm{LeakyReLU}(u_i + c)` (an upper bound of row :math:`i`'s scores),
    :math:`\mathbf{B}^{+} = \mathbf{A} \odot [u_i + v_j > 0]` and :math:`\mathbf{B}^{-} =
    \mathbf{A} - \mathbf{B}^{+}`,

    .. math::
        \sum_j A_{ij} e^{\mathrm{LeakyReLU}(u_i + v_j) - m_i} [\mathbf{x}_j, 1]
        = e^{u_i + c - m_i} (\mathbf{B}^{+} e^{v - c} [\mathbf{X}, 1])_i
        + e^{s(u_i + c) - m_i} (\mathbf{B}^{-} e^{s(v - c)} [\mathbf{X}, 1])_i,

    and the output is the first :math:`C` columns over the last: two masked GEMMs forward and
    two backward instead of a softmax, a LeakyReLU and their backward passes over
    :math:`K \times N \times N` scores (2-3x faster on ACM3025's PLP). Attention dropout in
    training, a slope outside :math:`[0, 1]` or scores spread wider than
    :data:`GAT_FACTORISED_MAX_SPREAD` take the masked softmax instead."""
    alpha_src, alpha_dst = alpha
    slope = float(conv.negative_slope)
    v = alpha_src.t().contiguous()                  # (K, N): the layout the GEMMs want
    u = alpha_dst.t().contiguous()
    dropout = conv.dropout > 0 and conv.training
    if dropout or not 0.0 <= slope <= 1.0 or v.size(1) == 0 or \
            float((v.amax(1) - v.amin(1)).max().detach()) > GAT_FACTORISED_MAX_SPREAD:
        scores = torch.nn.functional.leaky_relu(u.unsqueeze(2) + v.unsqueeze(1), slope)
        scores = scores.masked_fill(adjacency == 0, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        weights = torch.nn.functional.dropout(weights, p=conv.dropout, training=dropout)
        return torch.bmm(weights, x.transpose(0, 1)).transpose(0, 1)
    with torch.no_grad():                           # the masks, and shifts the output ignores
        above = torch.empty(u.size(0), u.size(1), u.size(1), device=u.device, dtype=u.dtype)
        torch.gt(u.unsqueeze(2), -v.unsqueeze(1), out=above)
        above.mul_(adjacency)
        below = torch.sub(adjacency, above)
        shift = v.amax(1, keepdim=True)                               # c, (K, 1)
        top = torch.nn.functional.leaky_relu(u + shift, slope)        # m, (K, N)
    values = torch.cat([x.transpose(0, 1), x.new_ones(x.size(1), x.size(0), 1)], dim=2)
    total = (torch.exp(u + shift - top).unsqueeze(2)
             * torch.bmm(above, values * torch.exp(v - shift).unsqueeze(2))
             + torch.exp(slope * (u + shift) - top).unsqueeze(2)
             * torch.bmm(below, values * torch.exp(slope * (v - shift)).unsqueeze(2)))
    return (total[..., :-1] / total[..., -1:]).transpose(0, 1)


ENCODERS: dict[str, type[GNNEncoder]] = {
    "gcn": GCNEncoder,
    "sage": SAGEEncoder,
    "gin": GINEncoder,
    "gat": GATEncoder,
}


def make_encoder(encoder: str | torch.nn.Module, in_channels: int | None,
                 hidden_channels: int, **kwargs: Any) -> torch.nn.Module:
    """Builds a named encoder (``'gcn'``, ``'sage'``, ``'gin'``, ``'gat'``) for
    ``in_channels`` -> ``hidden_channels`` with ``kwargs`` (``num_layers``, ``act``, ``norm``,
    ``jk`` ...), or returns the given module unchanged (then ``kwargs`` must be empty)."""
    check_part_kwargs("encoder", encoder, kwargs)
    if not isinstance(encoder, str):
        return resolve("encoder", encoder, ENCODERS)
    if in_channels is None:
        raise ValueError(f"'in_channels' is required to build the encoder {encoder!r} by name; "
                         f"pass in_channels=<number of node features> or an encoder module")
    return resolve("encoder", encoder, ENCODERS, in_channels=in_channels,
                   hidden_channels=hidden_channels, **kwargs)
