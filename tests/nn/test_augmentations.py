import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.utils import to_undirected

from graphinfo.nn import (
    AddEdges,
    DropNodes,
    FeatureDropout,
    RandomWalkSubgraph,
    RewireEdges,
    UseView,
    make_corruption,
)


def _graph(n=40, edges=120, seed=0):
    generator = torch.Generator().manual_seed(seed)
    edge_index = to_undirected(torch.randint(0, n, (2, edges), generator=generator),
                               num_nodes=n)
    return Data(x=torch.rand(n, 5, generator=generator) + 0.1, edge_index=edge_index,
                edge_weight=torch.rand(edge_index.size(1), generator=generator),
                y=torch.arange(n), num_nodes=n)


def _batch():
    return Batch.from_data_list([_graph(12, 30, 1), _graph(9, 20, 2), _graph(15, 40, 3)])


def _edges(view):
    return set(map(tuple, view.edge_index.t().tolist()))


AUGMENTATIONS = [
    lambda g: DropNodes(0.3, generator=g),
    lambda g: DropNodes(0.3, relabel_nodes=True, generator=g),
    lambda g: FeatureDropout(0.3, generator=g),
    lambda g: RandomWalkSubgraph(0.1, 4, generator=g),
    lambda g: RandomWalkSubgraph(0.1, 4, relabel_nodes=True, generator=g),
    lambda g: AddEdges(0.3, generator=g),
    lambda g: RewireEdges(0.3, force_undirected=True, generator=g),
]


@pytest.mark.parametrize("make", AUGMENTATIONS)
def test_each_augmentation_is_reproducible_with_a_seed_and_leaves_its_input_alone(make):
    view = _graph()
    before = (view.x.clone(), view.edge_index.clone())
    state = torch.get_rng_state()
    outs = [make(torch.Generator().manual_seed(5)).augment(view) for _ in range(2)]
    other = make(torch.Generator().manual_seed(6)).augment(view)
    assert torch.equal(torch.get_rng_state(), state)              # global generator untouched
    assert torch.equal(outs[0].x, outs[1].x)
    assert torch.equal(outs[0].edge_index, outs[1].edge_index)
    assert not (torch.equal(outs[0].x, other.x)
                and torch.equal(outs[0].edge_index, other.edge_index))
    assert torch.equal(view.x, before[0]) and torch.equal(view.edge_index, before[1])
    assert outs[0].edge_weight.numel() == outs[0].edge_index.size(1)


def test_drop_nodes_isolates_and_zeroes_or_removes_the_dropped_nodes():
    view = _graph()
    kept = DropNodes(0.4, generator=torch.Generator().manual_seed(0)).augment(view)
    mask = kept.node_mask
    assert 0 < int(mask.sum()) < 40 and kept.x.shape == view.x.shape
    assert (kept.x[~mask] == 0).all() and torch.equal(kept.x[mask], view.x[mask])
    assert mask[kept.edge_index].all()                       # no edge touches a dropped node
    assert _edges(kept) == {e for e in _edges(view) if mask[e[0]] and mask[e[1]]}
    removed = DropNodes(0.4, relabel_nodes=True,
                        generator=torch.Generator().manual_seed(0)).augment(view)
    assert torch.equal(removed.node_index, mask.nonzero().view(-1))
    assert torch.equal(removed.y, view.y[mask]) and removed.num_nodes == int(mask.sum())
    relabelled = {(int(removed.node_index[a]), int(removed.node_index[b]))
                  for a, b in _edges(removed)}
    assert relabelled == _edges(kept)
    weights = dict(zip(map(tuple, view.edge_index.t().tolist()), view.edge_weight.tolist()))
    for (a, b), w in zip(map(tuple, kept.edge_index.t().tolist()), kept.edge_weight.tolist()):
        assert weights[(a, b)] == w


def test_no_graph_of_a_batch_loses_all_its_nodes_and_added_edges_stay_inside_graphs():
    batch = _batch()
    out = DropNodes(0.95, relabel_nodes=True,
                    generator=torch.Generator().manual_seed(0)).augment(batch)
    assert torch.unique(out.batch).tolist() == [0, 1, 2]
    walked = RandomWalkSubgraph(0.01, 2, generator=torch.Generator().manual_seed(0)) \
        .augment(batch)
    assert torch.unique(batch.batch[walked.node_mask]).tolist() == [0, 1, 2]
    for augmentation in (AddEdges(2.0), RewireEdges(0.9)):
        added = augmentation.augment(batch)
        assert (added.batch[added.edge_index[0]] == added.batch[added.edge_index[1]]).all()


def test_random_walk_subgraph_keeps_what_the_walks_visit():
    path = torch.arange(29)
    view = Data(x=torch.ones(30, 2), num_nodes=30,
                edge_index=torch.stack([torch.cat([path, path + 1]), torch.cat([path + 1, path])]))
    out = RandomWalkSubgraph(0.1, 3, generator=torch.Generator().manual_seed(0)).augment(view)
    draw = torch.rand(30, generator=torch.Generator().manual_seed(0))     # its first draw
    roots = ((draw < 0.1) | (torch.arange(30) == draw.argmin())).nonzero().view(-1)
    visited = out.node_mask.nonzero().view(-1)
    assert set(roots.tolist()) <= set(visited.tolist())
    distance = (visited[:, None] - roots[None, :]).abs().min(1).values
    assert (distance <= 3).all()                            # three steps along the path
    assert visited.numel() > roots.numel()                  # the walks went somewhere
    # Between a root and anything its walk reached, every node was visited too.
    for node in visited.tolist():
        root = int(roots[(roots - node).abs().argmin()])
        low, high = sorted((root, node))
        assert out.node_mask[low:high + 1].all()


def test_add_and_rewire_edges_counts_weights_and_undirected_pairs():
    view = _graph()
    edges = view.edge_index.size(1)
    added = AddEdges(0.5, generator=torch.Generator().manual_seed(0)).augment(view)
    assert added.edge_index.size(1) == edges + round(0.5 * edges)
    assert torch.equal(added.edge_index[:, :edges], view.edge_index)
    assert (added.edge_weight[edges:] == 1).all()
    rewired = RewireEdges(0.5, force_undirected=True,
                          generator=torch.Generator().manual_seed(0)).augment(view)
    assert abs(rewired.edge_index.size(1) - edges) <= 2
    assert _edges(rewired) == {(b, a) for a, b in _edges(rewired)}        # still undirected
    assert len(_edges(rewired) & _edges(view)) < 0.8 * len(_edges(view))


def test_feature_dropout_scales_the_kept_entries():
    view = _graph()
    out = FeatureDropout(0.5, generator=torch.Generator().manual_seed(0)).augment(view)
    kept = out.x != 0
    assert 0.35 < float(kept.float().mean()) < 0.65
    assert torch.allclose(out.x[kept], 2 * view.x[kept])


def test_use_view_switches_to_the_stored_diffusion_and_names_missing_ones():
    view = _graph()
    view.diffusion_edge_index = torch.tensor([[0, 1, 2], [1, 2, 0]])
    view.diffusion_edge_weight = torch.tensor([0.5, 0.25, 0.25])
    out = make_corruption("use_view").augment(view)
    assert torch.equal(out.edge_index, view.diffusion_edge_index)
    assert torch.equal(out.edge_weight, view.diffusion_edge_weight)
    dropped = DropNodes(0.5, generator=torch.Generator().manual_seed(1)).augment(view)
    keep = dropped.node_mask
    assert keep[dropped.diffusion_edge_index].all()            # the stored view is restricted
    with pytest.raises(ValueError, match="UseView\\('heat'\\) needs data.heat_edge_index"):
        UseView("heat").augment(view)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="'p' must be in \\[0, 1\\)"):
        DropNodes(1.0)
    with pytest.raises(ValueError, match="'root_ratio' must be in \\(0, 1\\]"):
        RandomWalkSubgraph(0.0)
    with pytest.raises(ValueError, match="'p' must be >= 0"):
        AddEdges(-0.1)
    with pytest.raises(ValueError, match="DropNodes needs a view with an 'edge_index'"):
        DropNodes().augment(Data(x=torch.ones(3, 1)))


def test_rewiring_keeps_self_loops_once_and_never_draws_a_negative_count():
    view = Data(x=torch.ones(3, 1), edge_index=torch.tensor([[0, 1, 2, 0, 1], [0, 1, 2, 1, 0]]),
                num_nodes=3)
    for seed in range(20):
        out = RewireEdges(0.1, force_undirected=True,
                          generator=torch.Generator().manual_seed(seed)).augment(view)
        loops = out.edge_index[0] == out.edge_index[1]
        assert sorted(out.edge_index[0, loops].tolist())[:3] == [0, 1, 2]
        assert int(loops.sum()) - sum(1 for a, b in out.edge_index[:, 3:].t().tolist()
                                      if a == b) == 3


def test_adaptive_drops_leave_a_stored_view_of_the_same_length_alone_and_empty_graphs_pass():
    from graphinfo.nn import AdaptiveDropEdges

    view = Data(x=torch.ones(5, 2), edge_index=torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]]),
                diffusion_edge_index=torch.tensor([[0, 1, 2, 3], [0, 1, 2, 3]]),
                diffusion_edge_weight=torch.ones(4), num_nodes=5)
    out = AdaptiveDropEdges(0.5, generator=torch.Generator().manual_seed(0)).augment(view)
    assert out.diffusion_edge_weight.numel() == out.diffusion_edge_index.size(1) == 4
    empty = Data(x=torch.ones(3, 2), edge_index=torch.empty(2, 0, dtype=torch.long))
    assert AdaptiveDropEdges().augment(empty).edge_index.size(1) == 0
