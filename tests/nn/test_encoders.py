import pytest
import torch
from torch_geometric.nn import GCNConv

from graphinfo.nn import GATEncoder, GCNEncoder, GINEncoder, SAGEEncoder, make_encoder


@pytest.mark.parametrize("cls", [GCNEncoder, SAGEEncoder, GINEncoder, GATEncoder])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_shapes_gradients_and_reset(cls, num_layers, tiny_graph):
    torch.manual_seed(0)
    encoder = cls(4, 8, num_layers=num_layers)
    assert (encoder.in_channels, encoder.out_channels) == (4, 8)
    z = encoder(tiny_graph.x, tiny_graph.edge_index)
    assert z.shape == (6, 8)
    z.sum().backward()
    grads = [p.grad for p in encoder.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)

    torch.manual_seed(1)
    encoder.reset_parameters()
    first = encoder(tiny_graph.x, tiny_graph.edge_index)
    torch.manual_seed(1)
    encoder.reset_parameters()
    assert torch.equal(first, encoder(tiny_graph.x, tiny_graph.edge_index))
    torch.manual_seed(2)
    encoder.reset_parameters()
    assert not torch.equal(first, encoder(tiny_graph.x, tiny_graph.edge_index))


def test_gcn_encoder_is_the_papers_gcn_plus_prelu(tiny_graph):
    encoder = GCNEncoder(4, 8)
    conv, act = GCNConv(4, 8), torch.nn.PReLU(8)
    conv.load_state_dict(encoder.convs[0].state_dict())
    act.load_state_dict(encoder.acts[0].state_dict())
    expected = act(conv(tiny_graph.x, tiny_graph.edge_index))
    assert torch.allclose(encoder(tiny_graph.x, tiny_graph.edge_index), expected)


def test_gcn_encoder_uses_edge_weights(tiny_graph):
    encoder = GCNEncoder(4, 8)
    weight = torch.rand(tiny_graph.edge_index.size(1))
    plain = encoder(tiny_graph.x, tiny_graph.edge_index)
    weighted = encoder(tiny_graph.x, tiny_graph.edge_index, weight)
    assert not torch.allclose(plain, weighted)


def test_gat_heads_must_divide_hidden():
    with pytest.raises(ValueError, match="'heads' must be a positive int dividing"):
        GATEncoder(4, 10, heads=3)
    assert GATEncoder(4, 12, heads=3)(torch.randn(3, 4), torch.tensor([[0, 1], [1, 2]])).shape \
        == (3, 12)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="'in_channels' must be a positive int, got 0"):
        GCNEncoder(0, 8)
    with pytest.raises(ValueError, match="'num_layers' must be an int >= 1"):
        GCNEncoder(4, 8, num_layers=0)
    with pytest.raises(ValueError, match="Unknown activation 'swish'"):
        GCNEncoder(4, 8, activation="swish")


def test_make_encoder_by_name_and_object():
    assert isinstance(make_encoder("GCN", 4, 8), GCNEncoder)
    assert isinstance(make_encoder("sage", 4, 8, num_layers=2), SAGEEncoder)
    module = torch.nn.Linear(4, 8)
    assert make_encoder(module, None, 8) is module
    with pytest.raises(ValueError, match=r"Unknown encoder 'gnn'; expected one of: 'gcn'"):
        make_encoder("gnn", 4, 8)
    with pytest.raises(ValueError, match="'in_channels' is required"):
        make_encoder("gcn", None, 8)


def test_gcn_encoder_sparse_and_edge_list_paths_agree(tiny_graph):
    encoder = GCNEncoder(4, 8, num_layers=2)
    weight = torch.rand(tiny_graph.edge_index.size(1))
    fast = encoder(tiny_graph.x, tiny_graph.edge_index, weight)  # cached CSR adjacency
    learnable = weight.clone().requires_grad_()
    slow = encoder(tiny_graph.x, tiny_graph.edge_index, learnable)  # PyG's edge-list path
    assert torch.allclose(fast, slow, atol=1e-6)
    slow.sum().backward()
    assert learnable.grad is not None and learnable.grad.abs().sum() > 0
    # The cache never serves a graph that changed in place.
    edge_index = tiny_graph.edge_index.clone()
    before = encoder(tiny_graph.x, edge_index)
    edge_index[1, -1] = 5
    assert not torch.allclose(before, encoder(tiny_graph.x, edge_index))
