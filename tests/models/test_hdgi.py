"""HDGI: one encoder per metapath (GCN or sparse GAT), semantic attention, DGI's objective."""
import pytest
import torch
from torch_geometric.data import Data

from graphinfo.estimators import ESTIMATORS
from graphinfo.models import HDGI, build_model
from graphinfo.nn import GATEncoder, GCNEncoder
from graphinfo.train import embed, fit
from tests.models.multiplex_graphs import accuracy_of, single_relation_accuracies, split_multiplex


@pytest.mark.parametrize("encoder", ["gcn", "gat"])
def test_hdgi_combines_metapaths_beyond_any_single_one(encoder):
    data = split_multiplex()
    single = single_relation_accuracies()
    assert max(single) < 0.7
    for seed in range(1):
        torch.manual_seed(seed)
        model = build_model(HDGI, data=data, hidden_channels=32, encoder=encoder)
        fit(model, data, epochs=150, lr=0.01, patience=None, progress=False)
        z = embed(model, data)
        assert z.shape == (400, 32) and torch.isfinite(z).all() and z.std(0).min() > 1e-4
        accuracy = accuracy_of(z, data["node"])
        assert accuracy > max(single) + 0.1, (encoder, seed, accuracy, single)


def test_the_encoders_are_per_metapath_and_the_permutation_is_shared():
    data = split_multiplex(num_nodes=60)
    model = build_model(HDGI, data=data, hidden_channels=8)
    assert all(isinstance(e, GCNEncoder) for e in model.encoders) and len(model.encoders) == 2
    gat = build_model(HDGI, data=data, hidden_channels=8, encoder="gat", heads=4)
    assert all(isinstance(e, GATEncoder) and e.heads == 4 for e in gat.encoders)
    for m in (model, gat):
        args = m.inputs(data)[0]
        x, edge_a, edge_b = args
        torch.manual_seed(3)
        out = m(*args)
        torch.manual_seed(3)
        perm = torch.randperm(60)
        # the negatives: the same model on x shuffled by one permutation for both metapaths
        per_path = m.encode(x[perm], edge_a, edge_b)
        expected = m.semantic(torch.stack(per_path))
        assert torch.allclose(out.neg, expected, atol=1e-5)
        clean = m.encode(x, edge_a, edge_b)
        assert torch.allclose(out.pos, m.semantic(torch.stack(clean)), atol=1e-5)
        assert not torch.allclose(clean[0], m.encoders[0](x, edge_b))   # path 0 reads edge_a
        assert torch.allclose(out.summary, torch.sigmoid(out.pos.mean(0)))


def test_the_max_readout_is_a_linear_map_of_the_feature_wise_max():
    data = split_multiplex(num_nodes=40)
    model = build_model(HDGI, data=data, hidden_channels=8, readout="max")
    out = model(*model.inputs(data)[0])
    want = torch.sigmoid(model.summary_lin(out.pos.max(0).values))
    assert torch.allclose(out.summary, want)


@pytest.mark.parametrize("estimator", sorted(ESTIMATORS))
def test_every_estimator_trains(estimator):
    data = split_multiplex(num_nodes=80)
    torch.manual_seed(0)
    model = build_model(HDGI, data=data, hidden_channels=8, estimator=estimator)
    history = fit(model, data, epochs=20, lr=0.01, patience=None, progress=False)
    assert all(torch.isfinite(torch.tensor(history.losses)))
    assert history.losses[-1] < history.losses[0]


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(TypeError, match="a multiplex model learns from a HeteroData"):
        HDGI.from_data(Data(x=torch.randn(4, 2), edge_index=torch.tensor([[0], [1]])))
    data = split_multiplex(num_nodes=40)
    with pytest.raises(ValueError, match="'encoder' must be one of"):
        HDGI.from_data(data, encoder="sage")
    with pytest.raises(ValueError, match="'readout' must be one of"):
        HDGI.from_data(data, readout="sum")
    model = HDGI.from_data(data, relations=[("node", "b", "node")])
    with pytest.raises(ValueError, match="built for 1 metapaths, got 2"):
        model(data["node"].x, data["node", "a", "node"].edge_index,
              data["node", "b", "node"].edge_index)
    del data["node", "b", "node"]
    with pytest.raises(ValueError, match="lacks the relations"):
        model.inputs(data)
