r"""More augmentations of graph views, on the protocol of :mod:`graphinfo.nn.corruptions`:
node dropping, feature dropout, random-walk subgraphs, edge addition and rewiring, and a switch
to a precomputed (diffusion) view. GCA's centrality-adaptive augmentations are in
:mod:`graphinfo.nn.adaptive`.

Augmentations that remove nodes keep the node set by default (``relabel_nodes=False``): the
removed nodes lose their edges and their features are zeroed, so node :math:`i` of one view is
node :math:`i` of another, as node-level contrast (GRACE, MVGRL) needs; a boolean
``node_mask`` of the kept nodes is stored in the view. With ``relabel_nodes=True`` they are
removed (GraphCL's graph-level node dropping and subgraphs): node-level attributes (``x``,
``batch``, ``y`` ...) are filtered, edges relabelled, and ``node_index`` holds each kept node's
index in the input view. In a view with a ``batch`` vector no graph loses all its nodes, and
added edges stay inside their graph.
"""
from __future__ import annotations

import copy

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import dropout_edge, dropout_node, subgraph

from graphinfo.nn.corruptions import CORRUPTIONS, Augmentation, check_probability, drawing_from
from graphinfo.walks import random_walks

__all__ = ["DropNodes", "FeatureDropout", "RandomWalkSubgraph", "AddEdges", "RewireEdges",
           "UseView", "edge_attribute_keys", "encoder_inputs", "keep_nodes"]


def _is_stored_view(view: Data, key: str) -> bool:
    """Whether ``key`` belongs to a stored view (``<name>_edge_index`` / ``_edge_weight``)."""
    prefix = key.removesuffix("_edge_index").removesuffix("_edge_weight")
    return prefix != key and f"{prefix}_edge_index" in view


def edge_attribute_keys(view: Data) -> list[str]:
    """The attributes aligned with the view's own edges (``edge_weight``, ``edge_attr`` ...;
    not those of a stored view, ``<name>_edge_index`` / ``<name>_edge_weight``)."""
    return [key for key in view.keys() if key != "edge_index" and view.is_edge_attr(key)
            and not _is_stored_view(view, key)]


def encoder_inputs(view: Data) -> tuple[Tensor, ...]:
    """An encoder's positional inputs from a view: ``(x, edge_index[, edge_weight])``."""
    weight = getattr(view, "edge_weight", None)
    return (view.x, view.edge_index) if weight is None else (view.x, view.edge_index, weight)


def _node_keys(view: Data) -> list[str]:
    return [key for key in view.keys() if view.is_node_attr(key) and key != "edge_index"]


def _keep_every_graph(mask: Tensor, batch: Tensor | None) -> Tensor:
    """``mask`` with every graph of ``batch`` that lost all its nodes given them back."""
    if batch is None:
        return mask
    graphs = int(batch.max()) + 1 if batch.numel() else 0
    kept = torch.zeros(graphs, dtype=torch.long, device=mask.device).index_add_(
        0, batch, mask.long())
    return mask | (kept == 0)[batch]


def _stored_views(view: Data) -> list[str]:
    return [key.removesuffix("_edge_index") for key in view.keys()
            if key.endswith("_edge_index") and key != "edge_index"]


def keep_nodes(view: Data, mask: Tensor, relabel_nodes: bool) -> Data:
    """The view restricted to the nodes of ``mask`` (see the module docstring for the two
    ways); every edge-level attribute follows the kept edges, and a stored view
    (``<name>_edge_index``, e.g. a diffusion) is restricted the same way."""
    num_nodes = view.num_nodes
    out = copy.copy(view)
    graphs = [("", edge_attribute_keys(view))] + [
        (f"{name}_", [f"{name}_edge_weight"] if f"{name}_edge_weight" in view else [])
        for name in _stored_views(view)]
    for prefix, keys in graphs:
        edge_index = view[f"{prefix}edge_index"]
        kept_index, _, edge_mask = subgraph(mask, edge_index, relabel_nodes=relabel_nodes,
                                            num_nodes=num_nodes, return_edge_mask=True)
        out[f"{prefix}edge_index"] = kept_index
        for key in keys:
            out[key] = view[key][edge_mask]
    if relabel_nodes:
        for key in _node_keys(view):
            out[key] = view[key][mask]
        out.node_index = mask.nonzero().view(-1)
        out.num_nodes = int(mask.sum())
    else:
        out.x = view.x * mask.unsqueeze(-1).to(view.x.dtype) if view.x.dim() > 1 \
            else view.x * mask.to(view.x.dtype)
        out.node_mask = mask
    return out


class DropNodes(Augmentation):
    r"""Drops each node independently with probability ``p`` (GraphCL's node dropping;
    :func:`torch_geometric.utils.dropout_node` draws the nodes), with its edges.

    Args:
        p (float, optional): Drop probability. (default: :obj:`0.2`)
        relabel_nodes (bool, optional): Remove the nodes (``True``) or keep them, isolated and
            with zero features (``False``). (default: ``False``)
        generator (torch.Generator, optional): Source of randomness. (default: global)
    """

    def __init__(self, p: float = 0.2, relabel_nodes: bool = False,
                 generator: torch.Generator | None = None) -> None:
        check_probability("p", p)
        self.p, self.relabel_nodes, self.generator = p, relabel_nodes, generator

    def augment(self, view: Data) -> Data:
        edge_index = getattr(view, "edge_index", None)
        if edge_index is None:
            raise ValueError("DropNodes needs a view with an 'edge_index'")
        with drawing_from(self.generator, edge_index.device):
            _, _, mask = dropout_node(edge_index, p=self.p, num_nodes=view.num_nodes)
        mask = _keep_every_graph(mask, getattr(view, "batch", None))
        return keep_nodes(view, mask, self.relabel_nodes)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p}, relabel_nodes={self.relabel_nodes})"


class FeatureDropout(Augmentation):
    r"""Dropout on the features: each entry zeroed with probability ``p`` and the others scaled
    by :math:`1 / (1 - p)` (:func:`torch.nn.functional.dropout`; :class:`MaskFeatures` with
    ``mode='entry'`` zeroes without scaling).

    Args:
        p (float, optional): Drop probability. (default: :obj:`0.2`)
        generator (torch.Generator, optional): Source of randomness. (default: global)
    """

    def __init__(self, p: float = 0.2, generator: torch.Generator | None = None) -> None:
        check_probability("p", p)
        self.p, self.generator = p, generator

    def augment(self, view: Data) -> Data:
        out = copy.copy(view)
        x = view.x.to_dense() if view.x.layout != torch.strided else view.x
        with drawing_from(self.generator, x.device):
            out.x = torch.nn.functional.dropout(x, p=self.p, training=True)
        return out

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p})"


class RandomWalkSubgraph(Augmentation):
    r"""The subgraph induced by the nodes that random walks visit (GraphCL's subgraph
    augmentation): ``root_ratio`` of the nodes (at least one per graph) start a uniform walk of
    ``walk_length`` steps (:func:`graphinfo.walks.random_walks`); every visited node is kept.

    Args:
        root_ratio (float, optional): Share of nodes that start a walk, in :math:`(0, 1]`.
            (default: :obj:`0.1`)
        walk_length (int, optional): Steps per walk. (default: :obj:`10`)
        relabel_nodes (bool, optional): Remove the other nodes, or isolate and zero them.
            (default: ``False``)
        generator (torch.Generator, optional): Source of randomness. (default: global)
    """

    def __init__(self, root_ratio: float = 0.1, walk_length: int = 10,
                 relabel_nodes: bool = False,
                 generator: torch.Generator | None = None) -> None:
        if not 0.0 < root_ratio <= 1.0:
            raise ValueError(f"'root_ratio' must be in (0, 1], got {root_ratio!r}")
        if not isinstance(walk_length, int) or walk_length < 0:
            raise ValueError(f"'walk_length' must be a non-negative int, got {walk_length!r}")
        self.root_ratio, self.walk_length = root_ratio, walk_length
        self.relabel_nodes, self.generator = relabel_nodes, generator

    def augment(self, view: Data) -> Data:
        edge_index = getattr(view, "edge_index", None)
        if edge_index is None:
            raise ValueError("RandomWalkSubgraph needs a view with an 'edge_index'")
        n, device = view.num_nodes, edge_index.device
        with drawing_from(self.generator, device):
            draw = torch.rand(n, device=device)
            roots = draw < self.root_ratio
            batch = getattr(view, "batch", None)
            if batch is None:
                if n:
                    roots[int(draw.argmin())] = True
            else:   # the node of each graph with the smallest draw starts a walk too
                order = torch.argsort(draw)
                order = order[torch.argsort(batch[order], stable=True)]
                first = torch.ones(n, dtype=torch.bool, device=device)
                first[1:] = batch[order][1:] != batch[order][:-1]
                roots[order[first]] = True
            walks = random_walks(edge_index, roots.nonzero().view(-1), self.walk_length,
                                 num_nodes=n)
        mask = torch.zeros(n, dtype=torch.bool, device=device)
        mask[walks.reshape(-1)] = True
        return keep_nodes(view, mask, self.relabel_nodes)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(root_ratio={self.root_ratio}, "
                f"walk_length={self.walk_length}, relabel_nodes={self.relabel_nodes})")


def _random_edges(view: Data, count: int, force_undirected: bool) -> Tensor:
    """``count`` uniformly random node pairs (both directions with ``force_undirected``),
    each inside one graph of the view's ``batch`` when it has one."""
    n, device = view.num_nodes, view.edge_index.device
    source = torch.randint(0, n, (count,), device=device)
    batch = getattr(view, "batch", None)
    if batch is None:
        target = torch.randint(0, n, (count,), device=device)
    else:
        sizes = torch.bincount(batch)
        starts = torch.cumsum(sizes, 0) - sizes
        graph = batch[source]
        target = starts[graph] + (torch.rand(count, device=device)
                                  * sizes[graph]).long().clamp_max(sizes[graph] - 1)
    pairs = torch.stack([source, target])
    return torch.cat([pairs, pairs.flip(0)], 1) if force_undirected else pairs


def _with_edges(view: Data, kept: Tensor | None, added: Tensor,
                kept_index: Tensor | None = None) -> Data:
    """The view with its edges ``kept_index`` (those of ``kept``, a mask or indices; all when
    ``None``) and then ``added``: an ``edge_weight`` of an added edge is 1, other edge
    attributes of added edges are zero."""
    out = copy.copy(view)
    base = view.edge_index if kept is None else kept_index
    out.edge_index = torch.cat([base, added], 1)
    for key in edge_attribute_keys(view):
        value = view[key] if kept is None else view[key][kept]
        fill = torch.ones if key == "edge_weight" else torch.zeros
        out[key] = torch.cat([value, fill((added.size(1),) + value.shape[1:], dtype=value.dtype,
                                          device=value.device)])
    return out


class AddEdges(Augmentation):
    r"""Adds :math:`\lfloor pE \rceil` uniformly random edges (GraphCL's edge perturbation, its
    adding half; inside each graph of a batch), ``edge_weight`` 1 on the new edges.

    Args:
        p (float, optional): New edges per existing edge. (default: :obj:`0.2`)
        force_undirected (bool, optional): Add both directions (then :math:`2\lfloor pE/2
            \rceil` edges). (default: ``False``)
        generator (torch.Generator, optional): Source of randomness. (default: global)
    """

    def __init__(self, p: float = 0.2, force_undirected: bool = False,
                 generator: torch.Generator | None = None) -> None:
        if not 0.0 <= p:
            raise ValueError(f"'p' must be >= 0, got {p!r}")
        self.p, self.force_undirected, self.generator = p, force_undirected, generator

    def augment(self, view: Data) -> Data:
        if getattr(view, "edge_index", None) is None:
            raise ValueError("AddEdges needs a view with an 'edge_index'")
        edges = view.edge_index.size(1)
        count = round(self.p * edges / (2 if self.force_undirected else 1))
        with drawing_from(self.generator, view.edge_index.device):
            added = _random_edges(view, count, self.force_undirected)
        return _with_edges(view, None, added)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p})"


class RewireEdges(Augmentation):
    r"""Moves edges: each is dropped with probability ``p``
    (:func:`torch_geometric.utils.dropout_edge`) and as many uniformly random ones are added
    (inside each graph of a batch), so the edge count is kept: GraphCL's edge perturbation.

    Args:
        p (float, optional): Share of edges moved. (default: :obj:`0.2`)
        force_undirected (bool, optional): Move both directions of an edge together.
            (default: ``False``)
        generator (torch.Generator, optional): Source of randomness. (default: global)
    """

    def __init__(self, p: float = 0.2, force_undirected: bool = False,
                 generator: torch.Generator | None = None) -> None:
        check_probability("p", p)
        self.p, self.force_undirected, self.generator = p, force_undirected, generator

    def augment(self, view: Data) -> Data:
        edge_index = getattr(view, "edge_index", None)
        if edge_index is None:
            raise ValueError("RewireEdges needs a view with an 'edge_index'")
        # Self-loops stay (PyG's dropout_edge mirrors them with force_undirected); the other
        # edges are dropped and as many random ones added.
        loop = edge_index[0] == edge_index[1]
        loops, others = loop.nonzero().view(-1), (~loop).nonzero().view(-1)
        with drawing_from(self.generator, edge_index.device):
            # With force_undirected PyG returns the kept edges' indices, else a mask.
            kept_index, kept = dropout_edge(edge_index[:, others], p=self.p,
                                            force_undirected=self.force_undirected)
            kept_index = torch.cat([edge_index[:, loops], kept_index], 1)
            kept = torch.cat([loops, others[kept]])
            dropped = max(0, edge_index.size(1) - kept_index.size(1))
            added = _random_edges(view, dropped // 2 if self.force_undirected else dropped,
                                  self.force_undirected)
        return _with_edges(view, kept, added, kept_index)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p})"


class UseView(Augmentation):
    r"""Replaces the view's graph by a stored one: ``edge_index`` and ``edge_weight`` become
    ``<name>_edge_index`` and ``<name>_edge_weight`` (e.g. the diffusion of
    :class:`graphinfo.transforms.DiffusionView`, computed once per dataset); other edge
    attributes, which belong to the old edges, are dropped. Deterministic.

    Args:
        name (str, optional): The stored view. (default: :obj:`'diffusion'`)
    """

    def __init__(self, name: str = "diffusion") -> None:
        self.name = name

    def augment(self, view: Data) -> Data:
        index_key, weight_key = f"{self.name}_edge_index", f"{self.name}_edge_weight"
        if getattr(view, index_key, None) is None:
            raise ValueError(f"UseView({self.name!r}) needs data.{index_key}: apply "
                             f"graphinfo.transforms.DiffusionView(name={self.name!r}) to the "
                             f"data first")
        out = copy.copy(view)
        for key in edge_attribute_keys(view):
            del out[key]
        out.edge_index = view[index_key]
        weight = getattr(view, weight_key, None)
        if weight is not None:
            out.edge_weight = weight
        return out

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.name!r})"


CORRUPTIONS.update({"drop_nodes": DropNodes, "feature_dropout": FeatureDropout,
                    "random_walk_subgraph": RandomWalkSubgraph, "add_edges": AddEdges,
                    "rewire_edges": RewireEdges, "use_view": UseView})
