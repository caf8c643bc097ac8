"""HeteroData helpers: metapaths named by node-type initials, the single-relation view and the
checks that name the node or edge type at fault."""
from __future__ import annotations

import pytest
import torch
from torch_geometric.data import HeteroData

from graphinfo.data.hetero import (
    add_metapaths,
    check_hetero,
    metapath_edge_types,
    single_relation_graph,
)


def _tiny_hetero() -> HeteroData:
    data = HeteroData()
    data["movie"].x = torch.randn(4, 3)
    data["movie"].y = torch.tensor([0, 1, 0, 1])
    data["actor"].num_nodes = 2
    data["director"].num_nodes = 2
    data["movie", "to", "actor"].edge_index = torch.tensor([[0, 1, 2, 3], [0, 0, 1, 1]])
    data["actor", "to", "movie"].edge_index = torch.tensor([[0, 0, 1, 1], [0, 1, 2, 3]])
    data["movie", "by", "director"].edge_index = torch.tensor([[0, 2], [0, 0]])
    data["director", "made", "movie"].edge_index = torch.tensor([[0, 0], [0, 2]])
    return data


def test_metapaths_are_named_by_node_type_initials() -> None:
    data = _tiny_hetero()
    assert metapath_edge_types("MAM", data) == [("movie", "to", "actor"),
                                                ("actor", "to", "movie")]
    relations = add_metapaths(data, ["MAM", "mdm"])
    assert relations == [("movie", "MAM", "movie"), ("movie", "MDM", "movie")]
    mam = {tuple(e) for e in data["movie", "MAM", "movie"].edge_index.t().tolist()}
    assert mam == {(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3)}
    graph = single_relation_graph(data, "MDM")
    assert graph.relation == "MDM" and torch.equal(graph.x, data["movie"].x)
    with pytest.raises(ValueError, match="letter 'X' must name exactly one node type"):
        add_metapaths(data, ["MXM"])
    with pytest.raises(ValueError, match="must start and end at the target"):
        add_metapaths(data, ["AMA"])
    with pytest.raises(ValueError, match="at least three"):
        add_metapaths(data, ["MA"])


def test_bad_heterogeneous_graphs_say_which_type_is_wrong() -> None:
    data = _tiny_hetero()
    check_hetero(data)
    data["movie", "to", "actor"].edge_index = torch.tensor([[0], [2]])
    with pytest.raises(ValueError, match=r"\('movie', 'to', 'actor'\).*2 'actor' nodes"):
        check_hetero(data)
    data = _tiny_hetero()
    data["movie"].x[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"\['movie'\]\.x"):
        check_hetero(data)
    data = _tiny_hetero()
    data["actor"].y = torch.zeros(2)
    with pytest.raises(ValueError, match="cannot tell the target node type"):
        check_hetero(data)
