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
