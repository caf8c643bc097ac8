import math

import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.utils import to_undirected

from graphinfo.nn import GCNEncoder
from graphinfo.nn.pooling import DenseGNN, DenseLevel, DiffPoolLevel, SAGPoolLevel, SparseLevel


def _batch(sizes=(4, 7, 5), channels=3):
    graphs = []
    for size in sizes:
        nodes = torch.arange(size)
        edge_index = to_undirected(torch.stack([nodes, (nodes + 1) % size]), num_nodes=size)
        graphs.append(Data(x=torch.randn(size, channels), edge_index=edge_index))
    return Batch.from_data_list(graphs)


def _level(batch, z):
    return SparseLevel(batch.x, z, batch.edge_index, None, batch.batch, batch.num_graphs)


@pytest.mark.parametrize("conv", ["gcn", "sage", "gin", "graph"])
def test_dense_gnn_concatenates_its_layers(conv):
    gnn = DenseGNN(3, 5, num_layers=3, conv=conv)
    x, adj = torch.randn(2, 6, 3), torch.rand(2, 6, 6)
    out = gnn(x, adj)
    assert out.shape == (2, 6, 15) and gnn.out_channels == 15
    first = gnn.act(gnn.convs[0](x, adj))
    assert torch.allclose(out[..., :5], first, atol=1e-6)


def test_dense_gnn_rejects_unknown_convolutions():
    with pytest.raises(ValueError, match="'conv' must be one of"):
        DenseGNN(3, 5, conv="gat")


def test_diffpool_assignment_rows_sum_to_one_and_padded_rows_are_zero():
    torch.manual_seed(0)
    batch = _batch()
    encoder = GCNEncoder(3, 4, num_layers=2, jk="cat")
    pool = DiffPoolLevel(GCNEncoder(3, 4, num_layers=2, jk="cat"), 3, DenseGNN(8, 4, 2))
    result = pool(_level(batch, encoder(batch.x, batch.edge_index)))
    s = result.assignment
    assert s.shape == (3, 7, 3)
    sizes = torch.tensor([4, 7, 5])
    real = torch.arange(7).unsqueeze(0) < sizes.unsqueeze(1)
    assert torch.allclose(s.sum(-1)[real], torch.ones(int(sizes.sum())), atol=1e-6)
    assert torch.all(s[~real] == 0)
    assert isinstance(result.level, DenseLevel)
    assert result.level.z.shape == (3, 3, 8) and result.level.adj.shape == (3, 3, 3)
    assert result.link_loss > 0 and result.entropy_loss > 0


def test_a_padded_graph_pools_as_it_does_alone():
    torch.manual_seed(0)
    batch = _batch()
    encoder = GCNEncoder(3, 4, num_layers=2, jk="cat")
    pool = DiffPoolLevel(GCNEncoder(3, 4, num_layers=2, jk="cat"), 3, DenseGNN(8, 4, 2))
    together = pool(_level(batch, encoder(batch.x, batch.edge_index))).level
    first = Batch.from_data_list([batch.get_example(0)])
    alone = pool(_level(first, encoder(first.x, first.edge_index))).level
    assert torch.allclose(together.z[0], alone.z[0], atol=1e-5)
    assert torch.allclose(together.adj[0], alone.adj[0], atol=1e-5)


def test_sag_pooling_keeps_a_fraction_of_each_graph():
    torch.manual_seed(0)
    batch = _batch()
    pool = SAGPoolLevel(3, 0.5, GCNEncoder(3, 4, num_layers=2, jk="cat"))
    result = pool(_level(batch, batch.x))
    kept = torch.bincount(result.level.batch, minlength=3)
    assert kept.tolist() == [math.ceil(0.5 * n) for n in (4, 7, 5)]
    assert result.assignment is None and result.level.z.shape == (int(kept.sum()), 8)
    dense = DenseLevel(torch.randn(3, 2, 3), torch.randn(3, 2, 3), torch.rand(3, 2, 2))
    with pytest.raises(ValueError, match="pools sparse levels only"):
        pool(dense)
