import pytest
import torch
from torch_geometric.nn import GCNConv
from torch_geometric.utils import to_dense_adj

from graphinfo.transforms import NormalizedAdjacencyView


def test_the_stored_adjacency_is_gcns_normalisation_beside_the_graph(tiny_graph):
    out = NormalizedAdjacencyView()(tiny_graph)
    assert torch.equal(out.edge_index, tiny_graph.edge_index)
    assert "adjacency_edge_index" not in tiny_graph
    conv = GCNConv(4, 3)
    plain = GCNConv(4, 3, normalize=False)
    plain.load_state_dict(conv.state_dict())
    expected = conv(tiny_graph.x, tiny_graph.edge_index)
    got = plain(tiny_graph.x, out.adjacency_edge_index, out.adjacency_edge_weight)
    assert torch.allclose(got, expected, atol=1e-6)
    dense = to_dense_adj(out.adjacency_edge_index, edge_attr=out.adjacency_edge_weight)[0]
    assert torch.allclose(dense, dense.t()) and (dense.diagonal() > 0).all()
    with pytest.raises(ValueError, match="'name' must be a Python identifier"):
        NormalizedAdjacencyView(name="a-b")
