"""Node features for graphs that come without any (IMDB-BINARY, COLLAB, REDDIT-*, plain graphs)."""
from __future__ import annotations

import logging
from collections.abc import Iterable

import torch
from torch_geometric.data import Data, InMemoryDataset
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import degree, one_hot

logger = logging.getLogger(__name__)

#: Degrees above this are folded into the last one-hot column by default.
DEFAULT_MAX_DEGREE = 256


class CappedOneHotDegree(BaseTransform):
    r"""Sets ``x`` to the one-hot encoded node degree, with degrees above ``max_degree`` capped.

    Like :class:`torch_geometric.transforms.OneHotDegree` (out-degree, i.e. counted on
    ``edge_index[0]``), but a node whose degree exceeds ``max_degree`` falls into the last column
    instead of raising, so one transform serves graphs not seen when ``max_degree`` was chosen.
    The feature dimension is ``max_degree + 1``. Existing features are replaced, or with
    ``append=True`` kept in front of the degree columns (MVGRL's graph features: one-hot node
    label, then one-hot degree).

    Args:
        max_degree (int): Largest degree with its own column.
        append (bool, optional): Append to existing features instead of replacing them.
            (default: ``False``)
    """

    def __init__(self, max_degree: int, append: bool = False) -> None:
        if max_degree < 0:
            raise ValueError(f"'max_degree' must be non-negative, got {max_degree}")
        self.max_degree = max_degree
        self.append = append

    def forward(self, data: Data) -> Data:
        """Adds the capped one-hot degree features to ``data``.

        Args:
            data (Data): A graph with ``edge_index`` and a known number of nodes.

        Returns:
            Data: The same object with ``x`` float32 of shape ``[num_nodes, max_degree + 1]``
            (with ``append``: ``[num_nodes, F + max_degree + 1]``).
        """
        deg = degree(data.edge_index[0], data.num_nodes, dtype=torch.long)
        features = one_hot(deg.clamp(max=self.max_degree), self.max_degree + 1,
                           dtype=torch.float)
        existing = getattr(data, "x", None)
        if self.append and existing is not None:
            features = torch.cat([existing.to(torch.float).view(features.size(0), -1),
                                  features], dim=1)
        data.x = features
        return data

    def __repr__(self) -> str:
        append = ", append=True" if self.append else ""
        return f"{self.__class__.__name__}({self.max_degree}{append})"


def max_degree_of(graphs: Iterable[Data], cap: int = DEFAULT_MAX_DEGREE) -> int:
    """Returns the largest node (out-)degree over ``graphs``, capped at ``cap``.

    For an :class:`~torch_geometric.data.InMemoryDataset` the degrees are counted in one pass over
    its collated storage; other iterables are walked graph by graph.

    Args:
        graphs (Iterable[Data]): Graphs with ``edge_index`` (a list, a PyG dataset ...).
        cap (int): Upper bound of the result. (default: ``256``)

    Returns:
        int: ``min(max degree, cap)`` (0 for graphs without edges).
    """
    fast = _collated_max_degree(graphs)
    if fast is not None:
        return min(fast, cap)
    best = 0
    for graph in graphs:
        if graph.edge_index is not None and graph.edge_index.numel() > 0:
            deg = degree(graph.edge_index[0], graph.num_nodes, dtype=torch.long)
            best = max(best, int(deg.max()))
        if best >= cap:
            return cap
    return best


def _collated_max_degree(graphs: Iterable[Data]) -> int | None:
    """Max out-degree from an in-memory dataset's collated ``edge_index``, else ``None``."""
    if not isinstance(graphs, InMemoryDataset) or graphs._indices is not None:
        return None
    store, slices = graphs._data, graphs.slices
    if slices is None or "edge_index" not in slices or store.edge_index is None:
        return None
    edge_index = store.edge_index
    if edge_index.numel() == 0:
        return 0
    # Collated edge indices are local to each graph: key each source by (graph, local index).
    counts = slices["edge_index"].diff()
    graph_of_edge = torch.repeat_interleave(torch.arange(counts.numel()), counts)
    key = graph_of_edge * (int(edge_index[0].max()) + 1) + edge_index[0]
    return int(torch.bincount(key).max())
