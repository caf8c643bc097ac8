import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import dropout_edge, mask_feature

from graphinfo.nn import DropEdges, MaskFeatures, ShuffleNodes, make_corruption
from graphinfo.nn.corruptions import Compose, RandomChoice, as_augmentation


def test_shuffle_permutes_rows_and_keeps_graph(tiny_graph):
    x, edge_index = ShuffleNodes(torch.Generator().manual_seed(0))(tiny_graph.x,
                                                                    tiny_graph.edge_index)
    assert edge_index is tiny_graph.edge_index
    assert not torch.equal(x, tiny_graph.x)
    assert torch.equal(x.sort(dim=0).values, tiny_graph.x.sort(dim=0).values)
    rows = {tuple(r.tolist()) for r in tiny_graph.x}
    assert {tuple(r.tolist()) for r in x} == rows


def test_shuffle_is_reproducible_with_a_generator(tiny_graph):
    a = ShuffleNodes(torch.Generator().manual_seed(3))(tiny_graph.x, tiny_graph.edge_index)[0]
    b = ShuffleNodes(torch.Generator().manual_seed(3))(tiny_graph.x, tiny_graph.edge_index)[0]
    assert torch.equal(a, b)


def test_drop_edges_drops_weights_alongside():
    edge_index = torch.randint(0, 100, (2, 10000))
    weight = edge_index[0].float()
    x = torch.randn(100, 3)
    _, kept, kept_weight = DropEdges(0.3, torch.Generator().manual_seed(0))(x, edge_index, weight)
    assert 0.65 < kept.size(1) / 10000 < 0.75
    assert torch.equal(kept_weight, kept[0].float())


def test_mask_features_zeroes_whole_columns():
    x = torch.ones(50, 200)
    masked, _ = MaskFeatures(0.5, generator=torch.Generator().manual_seed(0))(x, None)
    columns = masked.sum(0)
    assert set(columns.unique().tolist()) <= {0.0, 50.0}
    assert 60 < int((columns == 0).sum()) < 140


def test_bad_probabilities_and_names():
    with pytest.raises(ValueError, match=r"'p' must be in \[0, 1\), got 1.5"):
        DropEdges(1.5)
    with pytest.raises(ValueError, match="'mode' must be 'column', 'row' or 'entry'"):
        MaskFeatures(0.1, mode="diagonal")
    assert isinstance(make_corruption("shuffle"), ShuffleNodes)
    with pytest.raises(ValueError, match="Unknown corruption 'rotate'"):
        make_corruption("rotate")


def _view(seed=0, nodes=40, edges=200):
    generator = torch.Generator().manual_seed(seed)
    return Data(x=torch.randn(nodes, 6, generator=generator),
                edge_index=torch.randint(0, nodes, (2, edges), generator=generator),
                edge_weight=torch.rand(edges, generator=generator),
                y=torch.arange(nodes))


def test_a_view_goes_in_and_a_new_view_comes_out_with_the_input_untouched():
    view = _view()
    before = view.clone()
    for augmentation in (ShuffleNodes(), DropEdges(0.5), MaskFeatures(0.5)):
        out = augmentation(view)
        assert isinstance(out, Data) and out is not view
        assert all(torch.equal(view[key], before[key]) for key in before.keys())
        assert torch.equal(out.y, view.y)   # node attributes travel along


def test_drop_edges_on_a_view_filters_every_edge_attribute_and_nothing_else():
    view = _view()
    view.edge_attr = torch.arange(200).float().view(-1, 1)
    out = DropEdges(0.5, torch.Generator().manual_seed(1))(view)
    kept = out.edge_attr.view(-1).long()
    assert torch.equal(out.edge_index, view.edge_index[:, kept])
    assert torch.equal(out.edge_weight, view.edge_weight[kept])
    assert torch.equal(out.x, view.x) and out.num_nodes == 40


def test_the_augmentations_draw_what_pygs_utilities_draw():
    view = _view()
    torch.manual_seed(5)
    ours = DropEdges(0.3)(view)
    torch.manual_seed(5)
    theirs, _ = dropout_edge(view.edge_index, p=0.3)
    assert torch.equal(ours.edge_index, theirs)
    torch.manual_seed(6)
    ours = MaskFeatures(0.4, mode="entry")(view)
    torch.manual_seed(6)
    assert torch.equal(ours.x, mask_feature(view.x, p=0.4, mode="all")[0])
    torch.manual_seed(7)
    ours = ShuffleNodes()(view)
    torch.manual_seed(7)
    assert torch.equal(ours.x, view.x[torch.randperm(40)])


def test_a_generator_makes_each_augmentation_reproducible_and_leaves_the_global_one_alone():
    view = _view()
    for make in (lambda g: DropEdges(0.4, g), lambda g: MaskFeatures(0.4, generator=g),
                 lambda g: ShuffleNodes(g)):
        torch.manual_seed(0)
        state = torch.get_rng_state()
        first = make(torch.Generator().manual_seed(3))(view)
        assert torch.equal(torch.get_rng_state(), state)
        second = make(torch.Generator().manual_seed(3))(view)
        assert all(torch.equal(first[k], second[k]) for k in first.keys())
        other = make(torch.Generator().manual_seed(4))(view)
        assert any(not torch.equal(first[k], other[k]) for k in first.keys())


def test_shuffle_with_a_batch_vector_keeps_each_node_in_its_graph():
    view = _view()
    view.batch = torch.arange(40) // 10
    out = ShuffleNodes(torch.Generator().manual_seed(0))(view)
    for graph in range(4):
        rows = slice(10 * graph, 10 * (graph + 1))
        assert torch.equal(out.x[rows].sort(0).values, view.x[rows].sort(0).values)
    assert not torch.equal(out.x, view.x)


def test_compose_applies_in_order_and_random_choice_follows_its_probabilities():
    view = _view()
    generator = torch.Generator().manual_seed(0)
    composed = Compose([DropEdges(0.5, generator), MaskFeatures(0.5, mode="row",
                                                                generator=generator)])
    out = composed(view)
    assert out.edge_index.size(1) < 200 and (out.x.abs().sum(1) == 0).any()
    assert out.edge_weight.numel() == out.edge_index.size(1)
    marks = []
    choice = RandomChoice([as_augmentation(lambda x, *rest: (x + 1, *rest)),
                           as_augmentation(lambda x, *rest: (x - 1, *rest))],
                          p=[3.0, 1.0], generator=torch.Generator().manual_seed(1))
    for _ in range(400):
        marks.append(float((choice(view).x - view.x).mean()))
    assert 0.68 < marks.count(1.0) / 400 < 0.82 and set(marks) == {1.0, -1.0}
    with pytest.raises(ValueError, match="one non-negative probability per augmentation"):
        RandomChoice([ShuffleNodes()], p=[0.5, 0.5])


def test_tensor_calls_return_the_structure_they_were_given():
    view = _view()
    torch.manual_seed(0)
    x, edge_index, weight = DropEdges(0.5)(view.x, view.edge_index, view.edge_weight)
    torch.manual_seed(0)
    out = DropEdges(0.5)(view)
    assert torch.equal(edge_index, out.edge_index) and torch.equal(weight, out.edge_weight)
    # Keyword arguments come back after the positional ones, in their order.
    torch.manual_seed(0)
    x2, ei2, w2 = DropEdges(0.5)(view.x, view.edge_index, edge_weight=view.edge_weight)
    assert torch.equal(w2, weight)
    # A PyG-style function on views: a tensor result replaces x.
    plus = as_augmentation(lambda x: x + 1)
    assert torch.equal(plus(view).x, view.x + 1) and plus(view.x).equal(view.x + 1)
