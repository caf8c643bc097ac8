import torch
from torch_geometric.nn import GCNConv

from graphinfo.sparse import AdjacencyCache, gcn_adjacency


def _directed_graph():
    generator = torch.Generator().manual_seed(0)
    edge_index = torch.randint(0, 30, (2, 120), generator=generator)
    weight = torch.rand(120, generator=generator)
    return torch.randn(30, 5, generator=generator), edge_index, weight


def test_adjacency_matches_pyg_gcn_aggregation_on_a_directed_weighted_graph():
    x, edge_index, weight = _directed_graph()
    conv = GCNConv(5, 4, bias=False)
    conv_plain = GCNConv(5, 4, bias=False, normalize=False)
    conv_plain.load_state_dict(conv.state_dict())
    for improved in (False, True):
        conv.improved = improved
        adj_t = gcn_adjacency(edge_index, 30, weight, improved=improved)
        assert adj_t.layout == torch.sparse_csr
        assert torch.allclose(conv_plain(x, adj_t), conv(x, edge_index, weight), atol=1e-5)


def test_cache_hits_only_for_the_same_unchanged_tensors():
    _, edge_index, weight = _directed_graph()
    cache = AdjacencyCache(size=2)
    first = cache.get(edge_index, 30)
    assert cache.get(edge_index, 30) is first
    assert cache.get(edge_index.clone(), 30) is not first           # another tensor
    assert cache.get(edge_index, 30, weight) is not first           # with weights
    assert cache.get(edge_index, 30, improved=True) is not first    # other options
    edge_index[0, 0] = (edge_index[0, 0] + 1) % 30                  # changed in place
    changed = cache.get(edge_index, 30)
    assert changed is not first
    assert not torch.equal(changed.to_dense(), first.to_dense())
    assert len(cache._entries) == 2
