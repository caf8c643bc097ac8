"""Tests of graphinfo.data.features: degree features for featureless graphs."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch_geometric.data import Data

from graphinfo.data import CappedOneHotDegree, load_dataset
from graphinfo.data.features import max_degree_of


def _star(leaves: int) -> Data:
    centre = torch.zeros(leaves, dtype=torch.long)
    leaf = torch.arange(1, leaves + 1)
    edge_index = torch.cat([torch.stack([centre, leaf]), torch.stack([leaf, centre])], 1)
    return Data(edge_index=edge_index, num_nodes=leaves + 1)


def test_capped_one_hot_degree() -> None:
    data = CappedOneHotDegree(3)(_star(5))
    assert data.x.shape == (6, 4) and data.x.dtype == torch.float32
    assert data.x.argmax(1).tolist() == [3, 1, 1, 1, 1, 1]  # degree 5 capped to 3
    assert torch.equal(data.x.sum(1), torch.ones(6))
    with pytest.raises(ValueError, match="max_degree"):
        CappedOneHotDegree(-1)


def test_max_degree_of_lists() -> None:
    assert max_degree_of([_star(2), _star(7)]) == 7
    assert max_degree_of([_star(2), _star(7)], cap=4) == 4
    assert max_degree_of([Data(edge_index=torch.empty(2, 0, dtype=torch.long), num_nodes=3)]) == 0


def test_max_degree_fast_path_matches_graph_by_graph(shared_data: Path) -> None:
    dataset = load_dataset("imdb-binary", root=shared_data).dataset
    assert max_degree_of(dataset, cap=10**6) == max_degree_of(list(dataset), cap=10**6) == 135
    assert max_degree_of(dataset[:10], cap=10**6) == max_degree_of(list(dataset[:10]),
                                                                   cap=10**6)


def test_degree_columns_can_be_appended_to_existing_features() -> None:
    star = _star(2)
    star.x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    data = CappedOneHotDegree(3, append=True)(star)
    assert data.x.shape == (3, 2 + 4)
    assert torch.equal(data.x[:, :2], torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]))
    assert data.x[:, 2:].argmax(1).tolist() == [2, 1, 1]
    assert repr(CappedOneHotDegree(3, append=True)) == "CappedOneHotDegree(3, append=True)"


def test_degree_features_of_tu_datasets_follow_their_labels(shared_data: Path) -> None:
    plain = load_dataset("mutag", root=shared_data)
    mvgrl = load_dataset("mutag", root=shared_data, degree_features=True)
    assert plain.num_features == 7 and mvgrl.num_features == 7 + 5      # max degree 4
    graph, base = mvgrl.dataset[0], plain.dataset[0]
    assert torch.equal(graph.x[:, :7], base.x)
    degrees = torch.bincount(graph.edge_index[0], minlength=graph.num_nodes)
    assert torch.equal(graph.x[:, 7:].argmax(1), degrees)
    # A featureless dataset gets the degrees alone either way.
    assert load_dataset("imdb-binary", root=shared_data, degree_features=True).num_features \
        == load_dataset("imdb-binary", root=shared_data).num_features == 136
