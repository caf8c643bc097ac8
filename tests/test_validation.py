import pytest
import torch

import graphinfo.validation as validation
from graphinfo.validation import RANGE_MEMO_MIN_ENTRIES, check_edge_index


def _large_edge_index(num_nodes=1000):
    edge_index = torch.randint(0, num_nodes, (2, RANGE_MEMO_MIN_ENTRIES))
    edge_index[0, 0] = num_nodes - 1    # the maximum is known
    return edge_index


def test_a_large_edge_index_is_scanned_once_while_unmodified(monkeypatch):
    edge_index = _large_edge_index()
    check_edge_index(edge_index, 1000)
    scans = []
    monkeypatch.setattr(torch.Tensor, "max", lambda self, *a, **k: scans.append(1) or
                        torch.amax(self, *a, **k))
    check_edge_index(edge_index, 1000)
    assert scans == []
    # The remembered range is checked against each call's number of nodes.
    with pytest.raises(ValueError, match="contains node index 999 but the graph has 999 nodes"):
        check_edge_index(edge_index, 999)
    assert scans == []
    # The memo never hides a change: an in-place write is a new version, scanned again.
    edge_index[1, 7] = 1000
    with pytest.raises(ValueError, match="contains node index 1000 but the graph has 1000"):
        check_edge_index(edge_index, 1000)
    assert scans == [1]


def test_the_memo_forgets_tensors_that_are_gone():
    validation._RANGES.clear()
    edge_index = _large_edge_index()
    check_edge_index(edge_index, 1000)
    assert len(validation._RANGES._entries) == 1
    del edge_index
    assert validation._RANGES._entries == []
