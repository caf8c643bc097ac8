import pytest
import torch
from torch_geometric.data import HeteroData

from graphinfo.transforms import MetapathGraphs

WRITTEN = ("paper", "written_by", "author")
WRITES = ("author", "writes", "paper")


def _papers():
    data = HeteroData()
    data["paper"].x = torch.randn(4, 3)
    data["author"].num_nodes = 3
    data[WRITTEN].edge_index = torch.tensor([[0, 1, 2, 3], [0, 0, 1, 2]])
    data[WRITES].edge_index = data[WRITTEN].edge_index.flip(0)
    return data


def test_metapath_relations_get_their_names_and_the_original_ones_stay():
    out = MetapathGraphs([[WRITTEN, WRITES]], names=["coauthor"])(_papers())
    assert ("paper", "coauthor", "paper") in out.edge_types
    assert WRITTEN in out.edge_types and WRITES in out.edge_types
    pairs = set(map(tuple, out["paper", "coauthor", "paper"].edge_index.t().tolist()))
    assert {(0, 1), (1, 0), (0, 0), (1, 1), (2, 2), (3, 3)} == pairs   # papers 0, 1 share one
    assert not any("metapath_0" in t[1] for t in out.edge_types)


def test_bad_metapaths_are_refused():
    with pytest.raises(ValueError, match="each starting where the previous ends"):
        MetapathGraphs([[WRITTEN, WRITTEN]])
    with pytest.raises(ValueError, match="one distinct name per metapath"):
        MetapathGraphs([[WRITTEN, WRITES]], names=["a", "b"])
    with pytest.raises(ValueError, match="has no relation"):
        MetapathGraphs([[("paper", "cites", "paper"), ("paper", "cites", "paper")]])(_papers())
