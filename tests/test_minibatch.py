import pytest
import torch
from torch_geometric.data import Data

from graphinfo.evaluation import linear_probe
from graphinfo.minibatch import (
    SummaryTracker,
    embed_layerwise,
    fit_minibatch,
    sampled_gcn_edges,
)
from graphinfo.models import DGI, GMI
from graphinfo.sampler import TorchNeighborSampler, neighbor_loader
from graphinfo.train import TrainingDivergedError
from tests.conftest import split_of


def _dgi(data, hidden=16, seed=0, **kwargs):
    torch.manual_seed(seed)
    return DGI(hidden, in_channels=data.num_features, **kwargs)


def _awkward_graph() -> Data:
    """Directed edges, duplicates, self-loops and isolated nodes (nodes 58, 59)."""
    generator = torch.Generator().manual_seed(4)
    edge_index = torch.randint(0, 58, (2, 300), generator=generator)
    edge_index = torch.cat([edge_index, edge_index[:, :20], torch.tensor([[3, 7], [3, 7]])], 1)
    return Data(x=torch.randn(60, 8, generator=generator), edge_index=edge_index)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("graph", ["planted", "awkward"])
@pytest.mark.parametrize("improved", [False, True])
def test_gcn_on_a_fully_sampled_batch_equals_the_full_graph_gcn(planted, layers, graph,
                                                                improved):
    from torch_geometric.utils import remove_self_loops

    data = planted if graph == "planted" else _awkward_graph()
    model = _dgi(data, encoder_kwargs={"num_layers": layers, "improved": improved}).eval()
    full = model.encoder(data.x, data.edge_index)
    # fit_minibatch samples the graph without its self-loops (the weights add their own).
    sampled = Data(x=data.x, edge_index=remove_self_loops(data.edge_index)[0])
    sampler = TorchNeighborSampler(sampled, [-1] * layers)
    in_degree = sampler.colptr[1:] - sampler.colptr[:-1]
    for batch in neighbor_loader(sampled, [-1] * layers, batch_size=37, sampler=sampler):
        edge_index, edge_weight = sampled_gcn_edges(batch, in_degree)
        seeds = model.encoder(batch.x, edge_index, edge_weight)[:batch.batch_size]
        assert torch.allclose(seeds, full[batch.n_id[:batch.batch_size]], atol=1e-5)


def test_sampled_gcn_aggregation_is_unbiased(planted):
    # One linear GCN layer: the mean over many sampled batches approaches the full-graph value.
    model = _dgi(planted, encoder_kwargs={"activation": None}).eval()
    full = model.encoder(planted.x, planted.edge_index)
    sampler = TorchNeighborSampler(planted, [2])
    in_degree = sampler.colptr[1:] - sampler.colptr[:-1]
    seeds = torch.arange(10)
    torch.manual_seed(0)
    total = torch.zeros(10, 16)
    draws = 1500
    for _ in range(draws):
        batch = next(iter(neighbor_loader(planted, [2], input_nodes=seeds, batch_size=10,
                                          sampler=sampler)))
        edge_index, edge_weight = sampled_gcn_edges(batch, in_degree)
        total += model.encoder(batch.x, edge_index, edge_weight)[:10]
    error = (total / draws - full[seeds]).abs().max()
    single = model.encoder(*sampled_gcn_edges_inputs(planted, sampler, in_degree, seeds))[:10]
    assert error < 0.1 * (single - full[seeds]).abs().max()  # averaging removes the noise


def sampled_gcn_edges_inputs(data, sampler, in_degree, seeds):
    batch = next(iter(neighbor_loader(data, [2], input_nodes=seeds, batch_size=10,
                                      sampler=sampler)))
    return (batch.x, *sampled_gcn_edges(batch, in_degree))


def test_ema_summary_mixes_the_previous_average_and_the_current_batch():
    tracker = SummaryTracker("ema", momentum=0.75)
    first = torch.tensor([1.0, 2.0], requires_grad=True)
    assert torch.equal(tracker(first), first)
    second = torch.tensor([3.0, 6.0], requires_grad=True)
    used = tracker(second)
    assert torch.allclose(used, 0.75 * torch.tensor([1.0, 2.0]) + 0.25 * second)
    used.sum().backward()
    assert torch.allclose(second.grad, torch.full((2,), 0.25)) and first.grad is None
    assert torch.equal(SummaryTracker("batch")(second), second)
    with pytest.raises(ValueError, match="'summary' must be one of 'batch', 'ema'"):
        SummaryTracker("global")
    with pytest.raises(ValueError, match=r"'summary_momentum' must be in \[0, 1\)"):
        SummaryTracker("ema", momentum=1.0)


@pytest.mark.parametrize("summary", ["batch", "ema"])
def test_minibatch_dgi_learns_planted_structure(summary):
    from graphinfo.data.synthetic import planted_partition

    data = planted_partition(num_nodes=1200, num_classes=4, avg_degree=8.0, num_features=32,
                             features="gaussian", feature_noise=4.0, seed=1)
    split = split_of(data)
    raw = linear_probe(data.x, data.y, split)["test_acc"]
    model = _dgi(data, hidden=64)
    history = fit_minibatch(model, data, batch_size=128, num_neighbors=[5], epochs=30,
                            patience=None, summary=summary, lr=0.005)
    assert history.losses[-1] < history.losses[0]
    accuracy = linear_probe(embed_layerwise(model, data), data.y, split)["test_acc"]
    assert accuracy > 0.7 and accuracy > raw + 0.1


def test_a_boolean_mask_selects_the_seed_nodes(planted):
    model = _dgi(planted)
    seen = []
    model.register_forward_pre_hook(lambda module, args: seen.append(args[0].size(0)))
    mask = torch.zeros(planted.num_nodes, dtype=torch.bool)
    mask[:50] = True
    # The mask's 50 nodes in batches of 20 are 3 steps (read as 0/1 indices it would be 15).
    fit_minibatch(model, planted, input_nodes=mask, batch_size=20, epochs=1, patience=None)
    assert len(seen) == 3


def test_the_model_only_sees_the_sampled_subgraph(planted):
    model = _dgi(planted)
    sizes = []
    model.register_forward_pre_hook(lambda module, args: sizes.append(args[0].size(0)))
    fit_minibatch(model, planted, batch_size=8, num_neighbors=[2], epochs=1, patience=None)
    assert max(sizes) <= 8 + 8 * 2 and len(sizes) == -(-planted.num_nodes // 8)


def test_early_stopping_restores_the_best_epoch_and_callbacks_stop(planted):
    model = _dgi(planted)
    states = []
    history = fit_minibatch(model, planted, batch_size=64, epochs=8, patience=None,
                            callbacks=[lambda e, loss, m: states.append(
                                {k: v.clone() for k, v in m.state_dict().items()})])
    assert history.epochs == 8 and history.best_loss == min(history.losses)
    assert all(torch.equal(v, states[history.best_epoch][k])
               for k, v in model.state_dict().items())
    stopped = fit_minibatch(_dgi(planted), planted, epochs=50,
                            callbacks=[lambda e, loss, m: e == 1])
    assert stopped.epochs == 2
    flat = fit_minibatch(_dgi(planted), planted, batch_size=64, epochs=50, lr=0.0, patience=3)
    assert flat.stopped_early and flat.epochs < 50


def test_an_interrupted_and_resumed_run_equals_an_uninterrupted_one(planted, tmp_path):
    settings = {"batch_size": 64, "patience": None, "summary": "ema"}
    torch.manual_seed(9)
    whole = _dgi(planted)
    reference = fit_minibatch(whole, planted, epochs=5, **settings)
    path = tmp_path / "mb.pt"
    torch.manual_seed(9)
    first = fit_minibatch(_dgi(planted), planted, epochs=3, checkpoint=path, **settings)
    state = torch.load(path, weights_only=False)
    assert state["history"]["losses"] == first.losses and state["summary"]["average"] is not None
    torch.manual_seed(123)   # the generator's state comes from the checkpoint
    model = _dgi(planted, seed=5)
    resumed = fit_minibatch(model, planted, epochs=5, checkpoint=path, resume=True, **settings)
    assert resumed.resumed_from_epoch == 3 and resumed.epochs == 5
    # Weights, optimiser, moving average and random numbers all continued where they were.
    assert resumed.losses == pytest.approx(reference.losses, rel=1e-6)
    assert all(torch.allclose(v, whole.state_dict()[k], atol=1e-6)
               for k, v in model.state_dict().items())


def test_diverging_loss_raises_and_keeps_the_best_state(planted):
    model = _dgi(planted)
    calls = {"n": 0}
    original = model.loss

    def exploding(*args):
        calls["n"] += 1
        return original(*args) * (float("nan") if calls["n"] > 6 else 1.0)

    model.loss = exploding
    states = []
    with pytest.raises(TrainingDivergedError, match="The loss became nan at epoch 1"):
        fit_minibatch(model, planted, batch_size=64, epochs=5, patience=None,
                      callbacks=[lambda e, loss, m: states.append(
                          {k: v.clone() for k, v in m.state_dict().items()})])
    assert len(states) == 1     # epoch 0 finished (5 batches), epoch 1 diverged
    assert all(torch.equal(v, states[0][k]) for k, v in model.state_dict().items())


def test_bad_inputs_get_clear_errors(planted):
    model = _dgi(planted)
    with pytest.raises(TypeError, match="fit_minibatch trains models that contrast"):
        fit_minibatch(GMI(8, in_channels=planted.num_features), planted)
    weighted = planted.clone()
    weighted.edge_weight = torch.ones(planted.num_edges)
    with pytest.raises(ValueError, match="samples unweighted graphs; 'data' has 'edge_weight'"):
        fit_minibatch(model, weighted)
    with pytest.raises(ValueError, match="'num_neighbors' must list one positive count"):
        fit_minibatch(model, planted, num_neighbors=[0])
    with pytest.raises(ValueError, match=r"'input_nodes' must be non-empty node indices in \[0, "
                                         r"300\)"):
        fit_minibatch(model, planted, input_nodes=torch.tensor([5, 300]))
    with pytest.raises(ValueError, match="one count per encoder layer: the encoder has 1 "
                                         "layer"):
        fit_minibatch(model, planted, num_neighbors=[5, 5])
    with pytest.raises(ValueError, match="boolean mask must have one entry per node"):
        fit_minibatch(model, planted, input_nodes=torch.ones(10, dtype=torch.bool))
    with pytest.raises(ValueError, match="integer node indices or a boolean mask"):
        fit_minibatch(model, planted, input_nodes=torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="'batch_size' must be >= 1"):
        fit_minibatch(model, planted, batch_size=0)
    with pytest.raises(ValueError, match="needs dense node features"):
        fit_minibatch(model, Data(x=planted.x.to_sparse(), edge_index=planted.edge_index))


@pytest.mark.parametrize("encoder", ["gcn", "sage", "gin"])
def test_layerwise_export_equals_the_full_graph_embedding(planted, encoder):
    model = _dgi(planted, encoder=encoder, encoder_kwargs={"num_layers": 2})
    expected = model.embed(planted.x, planted.edge_index)
    got = embed_layerwise(model, planted, chunk_size=37)
    assert got.shape == (planted.num_nodes, 16)
    assert torch.allclose(got, expected, atol=1e-5)
    assert model.training       # the mode is restored


def test_the_entry_points_are_importable_from_graphinfo_train():
    import graphinfo.train

    assert graphinfo.train.fit_minibatch is fit_minibatch
    assert graphinfo.train.embed_layerwise is embed_layerwise
    with pytest.raises(AttributeError, match="has no attribute 'fit_minibatches'"):
        graphinfo.train.fit_minibatches  # noqa: B018


def test_an_encoder_that_does_not_say_its_depth_takes_the_fanout_it_is_given(planted):
    from torch_geometric.nn import GCN

    class Opaque(torch.nn.Module):       # two layers, and no num_layers attribute
        def __init__(self):
            super().__init__()
            self.gnn = GCN(planted.num_features, 16, num_layers=2)

        def forward(self, x, edge_index, *args):
            return self.gnn(x, edge_index)

    torch.manual_seed(0)
    model = DGI(16, encoder=Opaque())
    history = fit_minibatch(model, planted, batch_size=100, num_neighbors=[5, 5], epochs=2,
                            patience=None)
    assert history.epochs == 2 and model.num_hops is None


def test_a_gcn_on_a_subgraph_without_full_graph_degrees_is_refused(planted):
    batch = Data(x=planted.x, edge_index=planted.edge_index, batch_size=10)
    with pytest.raises(ValueError, match="needs the full graph's in-degree"):
        _dgi(planted).subgraph_inputs(batch)


def test_a_checkpoint_that_runs_code_is_refused_and_never_run(planted, tmp_path):
    from tests.test_train import _RunsCode

    path, marker = tmp_path / "mb.pt", tmp_path / "ran"
    torch.save({"model": {}, "optimizer": {}, "history": {}, "evil": _RunsCode(marker)}, path)
    with pytest.raises(ValueError, match=f"checkpoint {path} could not be read"):
        fit_minibatch(_dgi(planted), planted, batch_size=64, epochs=2, checkpoint=path,
                      resume=True)
    assert not marker.exists()
