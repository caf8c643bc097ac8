import pytest
import torch

from graphinfo.nn import DropEdges, MaskFeatures, ShuffleNodes, make_corruption


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
    with pytest.raises(ValueError, match="'mode' must be 'column' or 'entry'"):
        MaskFeatures(0.1, mode="row")
    assert isinstance(make_corruption("shuffle"), ShuffleNodes)
    with pytest.raises(ValueError, match="Unknown corruption 'rotate'"):
        make_corruption("rotate")
