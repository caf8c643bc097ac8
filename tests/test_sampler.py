import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected

from graphinfo.sampler import (
    TorchNeighborSampler,
    append_new_nodes,
    neighbor_loader,
    sample_hop,
    sample_without_replacement,
)


@pytest.fixture
def graph() -> Data:
    generator = torch.Generator().manual_seed(0)
    edge_index = to_undirected(torch.randint(0, 80, (2, 600), generator=generator))
    return Data(x=torch.arange(80, dtype=torch.float).view(-1, 1), edge_index=edge_index)


def test_without_replacement_draws_distinct_uniform_offsets():
    torch.manual_seed(0)
    degree = torch.tensor([5, 7, 3, 40])
    counts = torch.zeros(4, 40)
    for _ in range(3000):
        drawn = sample_without_replacement(degree, 3)
        assert all(len(set(row.tolist())) == 3 for row in drawn)      # distinct per row
        assert bool((drawn < degree.unsqueeze(1)).all()) and bool((drawn >= 0).all())
        counts.scatter_add_(1, drawn, torch.ones_like(drawn, dtype=torch.float))
    # Each offset of row i is drawn with probability 3 / d_i.
    for i, d in enumerate(degree.tolist()):
        frequency = counts[i, :d] / 3000
        assert torch.allclose(frequency, torch.full((d,), 3 / d), atol=0.05)
        assert counts[i, d:].sum() == 0


def test_hop_takes_all_neighbours_up_to_k_and_exactly_k_otherwise():
    colptr = torch.tensor([0, 2, 2, 7])          # degrees 2, 0, 5
    target, position = sample_hop(colptr, torch.tensor([0, 1, 2]), k=3)
    assert target.tolist().count(0) == 2 and target.tolist().count(1) == 0
    assert target.tolist().count(2) == 3
    assert sorted(position[target == 0].tolist()) == [0, 1]
    assert set(position[target == 2].tolist()) <= set(range(2, 7))
    assert len(set(position[target == 2].tolist())) == 3
    everything, _ = sample_hop(colptr, torch.tensor([0, 1, 2]), k=-1)
    assert everything.numel() == 7
    with_replacement, _ = sample_hop(colptr, torch.tensor([2]), k=8, replace=True)
    assert with_replacement.numel() == 8


def test_append_new_nodes_numbers_new_nodes_in_order_of_first_appearance():
    new, local = append_new_nodes(torch.tensor([7, 3]), torch.tensor([9, 3, 1, 9, 7]))
    assert new.tolist() == [9, 1]
    assert local.tolist() == [2, 1, 3, 2, 0]


def test_batches_are_subgraphs_of_the_graph_with_the_seeds_first(graph):
    torch.manual_seed(0)
    edges = set(map(tuple, graph.edge_index.t().tolist()))
    seeds_seen = []
    for batch in neighbor_loader(graph, [4, 3], batch_size=16, shuffle=True):
        n_id = batch.n_id
        assert torch.equal(batch.x.view(-1).long(), n_id)          # features gathered by id
        assert n_id.unique().numel() == n_id.numel()
        source, target = n_id[batch.edge_index[0]], n_id[batch.edge_index[1]]
        assert all((int(s), int(t)) in edges for s, t in zip(source, target))
        assert torch.equal(graph.edge_index[:, batch.e_id], torch.stack([source, target]))
        # Hop 1 expands the seeds, hop 2 the nodes hop 1 added; at most k edges each.
        hop1 = batch.num_sampled_edges[0]
        assert bool((batch.edge_index[1, :hop1] < batch.batch_size).all())
        counts = torch.bincount(batch.edge_index[1, :hop1], minlength=batch.batch_size)
        degree = torch.bincount(graph.edge_index[1], minlength=80)[n_id[:batch.batch_size]]
        assert torch.equal(counts, degree.clamp(max=4))
        assert sum(batch.num_sampled_nodes) == batch.num_nodes
        seeds_seen.append(n_id[:batch.batch_size])
    assert torch.equal(torch.cat(seeds_seen).sort().values, torch.arange(80))


def test_same_seed_same_batches(graph):
    def run():
        torch.manual_seed(3)
        return [b.n_id for b in neighbor_loader(graph, [2, 2], batch_size=20, shuffle=True)]
    assert all(torch.equal(a, b) for a, b in zip(run(), run()))


def test_unsupported_configurations_say_so(graph, monkeypatch):
    import graphinfo.sampler

    monkeypatch.setattr(graphinfo.sampler, "native_sampling_available", lambda: False)
    sampler = TorchNeighborSampler(graph, [2], disjoint=True)
    with pytest.raises(ImportError, match="disjoint subgraphs only through 'pyg-lib'"):
        sampler._sample(torch.tensor([0, 1]))
