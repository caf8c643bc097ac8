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
