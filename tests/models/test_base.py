"""The model contract's defaults and helpers (graphinfo.models.base, graphinfo.models)."""
import pytest
import torch
from torch_geometric.data import Data, HeteroData

from graphinfo.models import (
    DGI,
    GMI,
    MODELS,
    InfoGraph,
    MIModel,
    ModelDefaults,
    build_model,
    model_class,
    model_name,
    register_model,
)
from graphinfo.models.base import (
    constructor_kwargs,
    default_inputs,
    describe_settings,
    feature_size,
    model_defaults,
    model_level,
    supports_subgraphs,
    training_loss,
)


def test_every_registered_model_declares_a_level_and_defaults():
    for cls in MODELS.values():
        assert model_level(cls) in ("node", "graph", "both")
        assert isinstance(cls.defaults, ModelDefaults)
    assert InfoGraph.level == "graph" and InfoGraph.defaults.protocol == "graph_svm"
    assert GMI.defaults.epochs == 550 and DGI.defaults.epochs == 1000
    assert supports_subgraphs(DGI) and not supports_subgraphs(GMI)
    assert model_defaults(torch.nn.Linear) == ModelDefaults()


def test_generic_settings_map_onto_each_constructor():
    assert constructor_kwargs(DGI, hidden_channels=64, num_layers=2, encoder="sage") == {
        "hidden_channels": 64, "encoder": "sage", "encoder_kwargs": {"num_layers": 2}}
    assert constructor_kwargs(InfoGraph, num_layers=3, estimator="dv") == {
        "num_layers": 3, "estimator": "dv"}
    merged = constructor_kwargs(DGI, num_layers=2, encoder_kwargs={"act": "relu"})
    assert merged == {"encoder_kwargs": {"act": "relu", "num_layers": 2}}
    assert constructor_kwargs(DGI) == {}
    bare = type("Bare", (MIModel,), {"__init__": lambda self, in_channels: None})
    with pytest.raises(ValueError, match="Bare has no 'encoder' setting"):
        constructor_kwargs(bare, encoder="gcn")
    with pytest.raises(ValueError, match="Bare has no 'num_layers' setting"):
        constructor_kwargs(bare, num_layers=2)
    with pytest.raises(ValueError, match=r"DGI has no 'bogus' setting \(its constructor takes "
                                         r"hidden_channels, encoder, summary"):
        constructor_kwargs(DGI, bogus=1)
    assert describe_settings(DGI, {}) == {"hidden_channels": 512, "num_layers": 1,
                                          "encoder": "gcn", "estimator": "jsd"}
    assert describe_settings(InfoGraph, {"num_layers": 2})["num_layers"] == 2


def test_models_are_built_for_a_graph_or_a_collection(planted, tiny_graph):
    model = build_model("dgi", data=planted)
    assert model.in_channels == planted.num_features and model.hidden_channels == 512
    graphs = [tiny_graph, tiny_graph]
    assert build_model(InfoGraph, data=graphs).encoder.in_channels == 4
    assert feature_size(graphs) == 4
    with pytest.raises(ValueError, match="needs 'in_channels' or 'data'"):
        build_model("dgi")
    with pytest.raises(ValueError, match="must define from_data"):
        build_model("dgi", data=HeteroData())
    assert model_name(DGI) == "dgi" and model_class("Info-Graph") is InfoGraph


def test_default_inputs_and_training_loss_for_any_module(tiny_graph):
    args, kwargs = default_inputs(tiny_graph)
    assert args == (tiny_graph.x, tiny_graph.edge_index) and kwargs == {}
    batched = Data(x=tiny_graph.x, edge_index=tiny_graph.edge_index,
                   edge_weight=torch.ones(14), batch=torch.zeros(6, dtype=torch.long))
    args, kwargs = default_inputs(batched)
    assert len(args) == 3 and set(kwargs) == {"batch"}
    with pytest.raises(ValueError, match="must define inputs"):
        default_inputs(HeteroData())

    class Plain(torch.nn.Module):          # not an MIModel: forward and loss only
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, x, edge_index):
            return (x.sum() * self.w,)

        def loss(self, value):
            return value

    assert torch.allclose(training_loss(Plain(), tiny_graph), tiny_graph.x.sum())
    assert model_level(Plain()) == "node"


def test_register_model_checks_the_class():
    class Mine(DGI):
        pass

    try:
        assert register_model("mine-dgi", Mine) is Mine and model_class("mine_dgi") is Mine
        assert model_name(Mine) == "mine-dgi"
    finally:
        MODELS.pop("mine-dgi", None)
    with pytest.raises(TypeError, match="subclass of graphinfo.models.MIModel"):
        register_model("linear", torch.nn.Linear)
