"""Metapath relations of a heterogeneous graph, named.

PyG's :class:`~torch_geometric.transforms.AddMetaPaths` adds one relation per metapath (a chain
of edge types, e.g. paper -> author -> paper), called ``metapath_0``, ``metapath_1`` ...;
:class:`MetapathGraphs` gives them the names you choose (``'PAP'``), so that a multiplex model
can read its relations by name.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch_geometric import EdgeIndex
from torch_geometric.data import HeteroData
from torch_geometric.transforms import AddMetaPaths, BaseTransform
from torch_geometric.typing import EdgeType
from torch_geometric.utils import coalesce


def _coalesced(data: HeteroData, edge_types: set[EdgeType], weighted: bool) -> HeteroData:
    """A shallow copy of ``data`` whose relations ``edge_types`` hold each edge once, sorted by
    source, then target (:func:`torch_geometric.utils.coalesce`), as an
    :class:`~torch_geometric.EdgeIndex` that says so. ``AddMetaPaths`` multiplies CSR matrices
    built from its relations after sorting them by source with an unstable sort, and torch
    2.13's CPU kernel crashes (a segmentation fault) on CSR rows whose columns are unsorted or
    repeated (a multigraph: a paper listing one author twice); an ``EdgeIndex`` already sorted
    by row is not sorted again. Repeated edges are summed into ``edge_weight`` when the
    metapaths are weighted (so path counts are kept); other edge attributes are left out
    (``AddMetaPaths`` reads none)."""
    out = copy.copy(data)
    for edge_type in edge_types:
        store = data[edge_type]
        edge_index = store.edge_index
        num_nodes = max(int(data[edge_type[0]].num_nodes or 0),
                        int(data[edge_type[2]].num_nodes or 0))
        weight = store.get("edge_weight")
        if weighted and weight is None:
            weight = torch.ones(edge_index.size(1), device=edge_index.device)
        target = out[edge_type]
        for key in [key for key in target.keys() if key != "edge_index"
                    and target.is_edge_attr(key)]:
            del target[key]
        if weighted:
            edge_index, target.edge_weight = coalesce(edge_index, weight, num_nodes,
                                                      reduce="sum")
        else:
            edge_index = coalesce(edge_index, num_nodes=num_nodes)
        target.edge_index = EdgeIndex(edge_index, sparse_size=store.size(),
                                      sort_order="row")
    return out


class MetapathGraphs(BaseTransform):
    """Adds a relation for each metapath through :class:`~torch_geometric.transforms.AddMetaPaths`
    (its arguments pass through; the original relations are kept by default) and names it.

    Args:
        metapaths (Sequence[Sequence[EdgeType]]): Each a chain of edge types, the destination
            of one the source of the next.
        names (Sequence[str], optional): The relation name of each metapath (default: PyG's
            ``metapath_<i>``).
        **kwargs: Arguments of :class:`~torch_geometric.transforms.AddMetaPaths`
            (``drop_orig_edge_types``, ``weighted``, ``max_sample`` ...).
    """

    def __init__(self, metapaths: Sequence[Sequence[EdgeType]],
                 names: Sequence[str] | None = None, **kwargs: Any) -> None:
        metapaths = [list(path) for path in metapaths]
        if not metapaths:
            raise ValueError("MetapathGraphs needs at least one metapath")
        for path in metapaths:
            if len(path) < 2 or any(a[2] != b[0] for a, b in zip(path, path[1:])):
                raise ValueError(f"a metapath must chain at least two edge types, each "
                                 f"starting where the previous ends; got {path}")
        if names is not None and (len(names) != len(metapaths) or len(set(names)) != len(names)):
            raise ValueError(f"'names' must give one distinct name per metapath "
                             f"({len(metapaths)}), got {list(names)}")
        self.metapaths = metapaths
        self.names = list(names) if names is not None else None
        self.add = AddMetaPaths(metapaths, **kwargs)

    def forward(self, data: HeteroData) -> HeteroData:
        if not isinstance(data, HeteroData):
            raise ValueError(f"MetapathGraphs transforms a HeteroData, got {type(data).__name__}")
        for path in self.metapaths:
            missing = [edge_type for edge_type in path if edge_type not in data.edge_types]
            if missing:
                raise ValueError(f"the graph has no relation {missing[0]} (metapath {path}); "
                                 f"it has {data.edge_types}")
        used = {edge_type for path in self.metapaths for edge_type in path}
        data, original = self.add(_coalesced(data, used, self.add.weighted)), data
        for edge_type in used & set(data.edge_types):      # the kept relations, as given
            store = data[edge_type]
            for key in list(store.keys()):
                del store[key]
            for key, value in original[edge_type].items():
                store[key] = value
        if self.names is None:
            return data
        for index, (name, path) in enumerate(zip(self.names, self.metapaths)):
            old = (path[0][0], f"metapath_{index}", path[-1][2])
            new = (path[0][0], name, path[-1][2])
            store = data[old]
            for key, value in store.items():
                data[new][key] = value
            del data[old]
        if hasattr(data, "metapath_dict"):
            data.metapath_dict = {(path[0][0], name, path[-1][2]): path
                                  for name, path in zip(self.names, self.metapaths)}
        return data

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.names or len(self.metapaths)})"
