"""Metapath relations of a heterogeneous graph, named.

PyG's :class:`~torch_geometric.transforms.AddMetaPaths` adds one relation per metapath (a chain
of edge types, e.g. paper -> author -> paper), called ``metapath_0``, ``metapath_1`` ...;
:class:`MetapathGraphs` gives them the names you choose (``'PAP'``), so that a multiplex model
can read its relations by name.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch_geometric.data import HeteroData
from torch_geometric.transforms import AddMetaPaths, BaseTransform
from torch_geometric.typing import EdgeType


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
        data = self.add(data)
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
