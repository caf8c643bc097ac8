"""Which relations a multiplex model reads, and which view of a dataset each model gets."""
import pytest
import torch

from graphinfo.data import load_dataset
from graphinfo.models import DGI, DMGI, HDGI
from graphinfo.models.multiplex import dataset_for, multiplex_relations
from tests.data.hetero_layout import write_toy_heco
from tests.models.multiplex_graphs import split_multiplex


def test_the_datasets_metapaths_are_the_default_relations(tmp_path):
    write_toy_heco(tmp_path / "heco" / "toy")
    loaded = load_dataset("heco:toy", root=tmp_path, labelled_per_class=5,
                          metapaths="MKMKM,MKM")
    assert multiplex_relations(loaded.data) == ("m", [("m", "MKMKM", "m"), ("m", "MKM", "m")])
    assert dataset_for(HDGI, loaded) is loaded
    view = dataset_for(DGI, loaded)
    assert view.data.relation == "MKMKM" and view.probe_protocol()[0] == "hetero_node"
    assert dataset_for(DGI, loaded, "mkm").data.relation == "MKM"
    with pytest.raises(ValueError, match="reads every metapath"):
        dataset_for(DMGI, loaded, "MKM")
    planted = load_dataset("planted", num_nodes=40)
    with pytest.raises(ValueError, match="is homogeneous"):
        dataset_for(DMGI, planted)
    assert dataset_for(DGI, planted) is planted


def test_without_dataset_metadata_every_same_type_relation_is_read():
    data = split_multiplex(num_nodes=40)
    assert multiplex_relations(data) == ("node", [("node", "a", "node"), ("node", "b", "node")])
    data["other"].x = torch.randn(3, 2)
    data["other", "r", "other"].edge_index = torch.tensor([[0], [1]])
    with pytest.raises(ValueError, match="give node_type="):
        multiplex_relations(data)
    with pytest.raises(ValueError, match="join nodes of one type"):
        multiplex_relations(data, relations=[("node", "a", "node"), ("other", "r", "other")])


def test_sampled_propagate_is_the_random_walk_row_and_never_nan():
    from graphinfo.models.multiplex import sampled_propagate

    h = torch.tensor([[1.0, 0.0], [0.0, 2.0], [4.0, 4.0], [8.0, 0.0]])
    neighbors = torch.tensor([[2, 3, -1], [-1, -1, -1]])    # seed 0 reached 2 and 3; seed 1 none
    degree = torch.tensor([5.0, 0.0])
    out = sampled_propagate(h, neighbors, degree, 2, self_loop_weight=3.0)
    # (3 h_0 + 5 * mean(h_2, h_3)) / (3 + 5); a seed without neighbours keeps its own row.
    assert torch.allclose(out[0], (3 * h[0] + 5 * (h[2] + h[3]) / 2) / 8)
    assert torch.equal(out[1], h[1])
    chain = sampled_propagate(h, neighbors, None, 2, self_loop_weight=1.0)   # d = walks = 3
    assert torch.allclose(chain[0], (h[0] + 3 * (h[2] + h[3]) / 2) / 4)
    no_loops = sampled_propagate(h, neighbors, degree, 2, self_loop_weight=0.0)
    assert torch.allclose(no_loops[0], (h[2] + h[3]) / 2) and torch.equal(no_loops[1],
                                                                          torch.zeros(2))
