"""Tests of graphinfo.data.synthetic: the planted-partition generator."""
from __future__ import annotations

import pytest
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import (
    coalesce,
    contains_self_loops,
    degree,
    homophily,
    is_undirected,
    mask_to_index,
)

from graphinfo.data import check_split, masks_to_split, planted_partition


def _mean_aggregate(data: Data) -> Tensor:
    """Mean of each node's features and its neighbours' features."""
    n = data.num_nodes
    src, dst = data.edge_index
    out = data.x.clone().index_add_(0, dst, data.x[src])
    return out / (degree(dst, n) + 1).view(-1, 1)


def _probe_accuracy(x: Tensor, data: Data) -> float:
    """Test accuracy of logistic regression trained on the training nodes."""
    from sklearn.linear_model import LogisticRegression

    train, test = data.train_mask, data.test_mask
    clf = LogisticRegression(max_iter=2000).fit(x[train].numpy(), data.y[train].numpy())
    return float(clf.score(x[test].numpy(), data.y[test].numpy()))


def test_same_seed_same_graph_other_seed_other_graph() -> None:
    a, b, c = planted_partition(seed=7), planted_partition(seed=7), planted_partition(seed=8)
    for key in ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask"):
        assert torch.equal(a[key], b[key]), key
    assert not torch.equal(a.y, c.y)
    assert not torch.equal(a.x, c.x)


def test_generation_leaves_global_random_state_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    planted_partition(num_nodes=300, seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_structure_dtypes_and_balance() -> None:
    data = planted_partition()
    assert data.num_nodes == 2000
    assert data.x.shape == (2000, 1000) and data.x.dtype == torch.float32
    assert set(data.x.unique().tolist()) == {0.0, 1.0}           # binary bag of words
    assert 12.0 < data.x.sum(1).mean().item() < 14.5             # ~13 distinct words a node
    assert planted_partition(features="gaussian").x.shape == (2000, 64)
    assert data.y.shape == (2000,) and data.y.dtype == torch.long
    assert is_undirected(data.edge_index, num_nodes=2000)
    assert not contains_self_loops(data.edge_index)
    assert torch.equal(coalesce(data.edge_index, num_nodes=2000), data.edge_index)  # no dupes
    assert torch.bincount(data.y).tolist() == [400] * 5
    mean_degree = data.edge_index.size(1) / data.num_nodes
    assert 3.9 < mean_degree <= 4.0


@pytest.mark.parametrize("h", [0.0, 0.3, 0.8, 1.0])
def test_edge_homophily_matches_request(h: float) -> None:
    data = planted_partition(num_nodes=1500, num_classes=4, homophily=h, seed=1)
    assert abs(homophily(data.edge_index, data.y) - h) < 0.03
    if h in (0.0, 1.0):  # exact at the extremes
        assert homophily(data.edge_index, data.y) == h
    assert not contains_self_loops(data.edge_index)


def test_planetoid_like_split() -> None:
    data = planted_partition()
    split = masks_to_split(data.train_mask, data.val_mask, data.test_mask)
    check_split(split, data.num_nodes)  # disjoint, in range, long
    assert [split[k].numel() for k in ("train", "valid", "test")] == [100, 500, 1000]
    assert torch.bincount(data.y[split["train"]], minlength=5).tolist() == [20] * 5


def test_split_shrinks_to_fit_small_graphs() -> None:
    data = planted_partition(num_nodes=60, num_classes=3, avg_degree=4.0)
    split = masks_to_split(data.train_mask, data.val_mask, data.test_mask)
    check_split(split, 60)
    assert torch.bincount(data.y[split["train"]]).tolist() == [10, 10, 10]
    assert split["valid"].numel() == 10 and split["test"].numel() == 20


def test_features_informative_but_graph_matters() -> None:
    data = planted_partition()
    raw = _probe_accuracy(data.x, data)
    aggregated = _probe_accuracy(_mean_aggregate(data), data)
    assert 0.4 < raw < 0.65, raw  # well above chance (0.2), far from solved
    assert aggregated > 0.75, aggregated
    assert aggregated - raw > 0.2


def test_the_class_share_of_words_and_the_noise_control_difficulty() -> None:
    easy, hard = planted_partition(topic_fraction=0.4), planted_partition(topic_fraction=0.1)
    assert _probe_accuracy(easy.x, easy) > 0.8
    assert _probe_accuracy(hard.x, hard) < 0.35
    easy = planted_partition(features="gaussian", feature_noise=0.5, avg_degree=10.0)
    hard = planted_partition(features="gaussian", feature_noise=8.0, avg_degree=10.0)
    assert _probe_accuracy(easy.x, easy) > 0.95
    assert _probe_accuracy(hard.x, hard) < 0.45


def test_each_class_owns_its_topic_words() -> None:
    data = planted_partition(num_nodes=1000, num_classes=4, topic_fraction=1.0,
                             words_per_node=6.0, topic_words=10, seed=2)
    vocabularies = [set(data.x[data.y == c].nonzero()[:, 1].tolist()) for c in range(4)]
    assert all(len(words) <= 10 for words in vocabularies)
    assert all(not (a & b) for i, a in enumerate(vocabularies) for b in vocabularies[i + 1:])


def test_train_nodes_are_drawn_per_class() -> None:
    data = planted_partition(num_nodes=500, num_classes=2, seed=3)
    train = mask_to_index(data.train_mask)
    assert torch.bincount(data.y[train]).tolist() == [20, 20]


@pytest.mark.parametrize("kwargs, word", [
    ({"num_classes": 1}, "num_classes"),
    ({"homophily": 1.5}, "homophily"),
    ({"num_nodes": 5, "num_classes": 5}, "num_nodes"),
    ({"avg_degree": -1.0}, "avg_degree"),
    ({"num_features": 0}, "num_features"),
    ({"features": "gaussian", "feature_noise": -0.1}, "feature_noise"),
    ({"feature_noise": 1.0}, "'feature_noise' belongs to features='gaussian'"),
    ({"features": "gaussian", "topic_words": 3}, "'topic_words' belongs to features='words'"),
    ({"features": "binary"}, "'features' must be 'words' or 'gaussian'"),
    ({"topic_words": 300}, r"'topic_words' must be in \[1, num_features // num_classes = 200\]"),
    ({"words_per_node": 0.5}, "words_per_node"),
    ({"topic_fraction": 1.5}, "topic_fraction"),
])
def test_bad_arguments_raise(kwargs: dict, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        planted_partition(**kwargs)
