"""Batch sources of the training engine (graphinfo.sources)."""
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import subgraph

from graphinfo.models import DGI
from graphinfo.sources import (
    FullGraph,
    GraphBatches,
    NeighborBatches,
    SubgraphWindows,
    epoch_seeds,
    induced_subgraph,
)
from graphinfo.transforms import DiffusionView


def test_the_full_graph_is_one_batch_and_the_callers_object_is_not_moved(planted):
    source = FullGraph(planted)
    source.setup(torch.nn.Linear(1, 1), torch.device("cpu"))
    batches = list(source.batches(0))
    assert len(batches) == 1 and batches[0] is not planted and source.single_step
    assert batches[0].x is planted.x       # a shallow copy on the same device
    with pytest.raises(ValueError, match="must be a PyG Data or HeteroData"):
        FullGraph([planted])


def test_graph_batches_skip_a_lone_trailing_graph_and_follow_the_seed():
    graphs = [Data(x=torch.full((2, 1), float(i)), edge_index=torch.tensor([[0, 1], [1, 0]]))
              for i in range(9)]
    source = GraphBatches(graphs, batch_size=4, shuffle=True, seed=3)
    source.setup(torch.nn.Linear(1, 1), torch.device("cpu"))
    first = [b.x[:, 0].unique().tolist() for b in source.batches(0)]
    assert [len(b) for b in first] == [4, 4]            # the ninth graph alone is skipped
    state = source.state_dict()
    second = [b.x[:, 0].unique().tolist() for b in source.batches(1)]
    source.load_state_dict(state)                       # a checkpoint replays the epoch
    assert [b.x[:, 0].unique().tolist() for b in source.batches(1)] == second


def test_neighbor_batches_carry_seeds_and_full_graph_degrees(planted):
    source = NeighborBatches(planted, num_neighbors=[3], batch_size=50, seed=1)
    source.setup(DGI(8, in_channels=planted.num_features), torch.device("cpu"))
    degree = torch.bincount(planted.edge_index[1], minlength=planted.num_nodes)
    seeds = []
    for batch in source.batches(0):
        assert torch.equal(batch.in_degree, degree[batch.n_id])
        seeds.append(batch.n_id[:batch.batch_size])
        assert source.weight(batch) == batch.batch_size
    seeds = torch.cat(seeds)
    assert torch.equal(seeds.sort().values, torch.arange(planted.num_nodes))
    assert torch.equal(seeds, epoch_seeds(torch.arange(planted.num_nodes), 0, 1))
    with pytest.raises(ValueError, match="one count per encoder layer"):
        NeighborBatches(planted, num_neighbors=[3, 3]).setup(
            DGI(8, in_channels=planted.num_features), torch.device("cpu"))


def test_induced_subgraphs_cover_every_view(planted):
    data = DiffusionView(k=8)(planted)
    nodes = torch.tensor([5, 3, 100, 42, 7, 250, 0])
    window = induced_subgraph(data, nodes)
    expected, _ = subgraph(nodes, planted.edge_index, relabel_nodes=True,
                           num_nodes=planted.num_nodes)
    assert torch.equal(window.edge_index, expected)
    diffusion, weight = subgraph(nodes, data.diffusion_edge_index, data.diffusion_edge_weight,
                                 relabel_nodes=True, num_nodes=planted.num_nodes)
    assert torch.equal(window.diffusion_edge_index, diffusion)
    assert torch.equal(window.diffusion_edge_weight, weight)
    assert torch.equal(window.x, planted.x[nodes]) and torch.equal(window.y, planted.y[nodes])
    assert window.num_nodes == 7


@pytest.mark.parametrize("mode", ["contiguous", "random"])
def test_windows_are_reproducible_and_of_the_asked_size(planted, mode):
    def windows(seed):
        source = SubgraphWindows(planted, size=40, steps=3, mode=mode, seed=seed)
        source.setup(torch.nn.Linear(1, 1), torch.device("cpu"))
        return [w.x for w in source.batches(0)]

    first = windows(0)
    assert len(first) == 3 and all(w.shape == (40, planted.num_features) for w in first)
    assert all(torch.equal(a, b) for a, b in zip(first, windows(0)))
    assert not all(torch.equal(a, b) for a, b in zip(first, windows(1)))
    if mode == "contiguous":
        start = int((planted.x == first[0][0]).all(1).nonzero()[0])
        assert torch.equal(first[0], planted.x[start:start + 40])
    with pytest.raises(ValueError, match="exceeds the graph's 300 nodes"):
        SubgraphWindows(planted, size=301)
    with pytest.raises(ValueError, match="'mode' must be 'contiguous' or 'random'"):
        SubgraphWindows(planted, size=3, mode="bfs")


def test_induced_subgraphs_keep_every_edge_attribute_aligned(planted):
    data = planted.clone()
    data.edge_type = torch.arange(planted.num_edges) % 3
    nodes = torch.arange(0, 300, 2)
    window = induced_subgraph(data, nodes)
    _, _, mask = subgraph(nodes, planted.edge_index, relabel_nodes=True,
                          num_nodes=300, return_edge_mask=True)
    assert torch.equal(window.edge_type, data.edge_type[mask])
    assert window.edge_type.numel() == window.edge_index.size(1)
