import pytest
import torch
from torch_geometric.data import Batch

from graphinfo.estimators import ESTIMATORS
from graphinfo.evaluation import svm_cross_validation
from graphinfo.models import MODELS, GraphMVGRL
from graphinfo.nn import GCNEncoder
from graphinfo.train import embed_graphs, fit_graphs
from graphinfo.transforms import per_graph_diffusion
from tests.models.small_graphs import cycle_or_star


def _graphs(count=40, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [cycle_or_star("cycle" if i % 2 == 0 else "star",
                   int(torch.randint(6, 12, (1,), generator=generator)), generator)
            for i in range(count)]


def test_registered_and_graph_level():
    assert MODELS["mvgrl_graph"] is GraphMVGRL and GraphMVGRL.level == "graph"
    assert GraphMVGRL.defaults.protocol == "graph_svm"


def test_each_views_nodes_are_scored_against_the_other_views_graphs():
    batch = Batch.from_data_list(_graphs(5))
    model = GraphMVGRL(1, hidden_channels=8, num_layers=2)
    calls = []

    def spy(pos, scores, pos_mask, neg_mask):
        calls.append((pos, scores, neg_mask))
        return pos.mean() - scores[neg_mask].mean()

    model.estimator = spy
    out = model(batch.x, batch.edge_index, batch=batch.batch)
    assert out.node_z.shape == (2, batch.num_nodes, 8) and out.graph_z.shape == (2, 5, 8)
    model.loss(*out)
    rows = torch.arange(batch.num_nodes)
    for (pos, scores, neg_mask), (a, b) in zip(calls, ((0, 1), (1, 0))):
        assert torch.allclose(scores, out.node_z[a] @ out.graph_z[b].t())
        assert torch.equal(pos, scores[rows, batch.batch])
        expected = torch.ones(batch.num_nodes, 5, dtype=torch.bool)
        expected[rows, batch.batch] = False
        assert torch.equal(neg_mask, expected)


def test_views_are_the_normalised_adjacency_and_each_graphs_diffusion():
    batch = Batch.from_data_list(_graphs(4))
    model = GraphMVGRL(1, hidden_channels=8, num_layers=3).eval()
    nodes = model.embed(batch.x, batch.edge_index, batch=batch.batch, level="node")
    index, weight = per_graph_diffusion(batch.edge_index, batch.batch)
    adjacency, diffusion = model.encoders
    assert isinstance(adjacency, GCNEncoder) and isinstance(diffusion, GCNEncoder)
    width = 8
    expected = adjacency(batch.x, batch.edge_index)[:, -width:] + \
        diffusion(batch.x, index, weight)[:, -width:]
    assert torch.allclose(nodes, expected, atol=1e-5)
    # A stored diffusion is used instead of computing one, with the same result.
    stored = model.embed(batch.x, batch.edge_index, batch=batch.batch,
                         diffusion_edge_index=index, diffusion_edge_weight=weight)
    assert torch.allclose(stored, model.embed(batch.x, batch.edge_index, batch=batch.batch),
                          atol=1e-5)
    # The graph embedding before the head: both views' per-layer sums, concatenated.
    model.embedding = "encoder"
    graphs = model.embed(batch.x, batch.edge_index, batch=batch.batch)
    assert graphs.shape == (4, 3 * width)
    sums = [torch.zeros(4, 3 * width).index_add_(0, batch.batch, z)
            for z in (adjacency(batch.x, batch.edge_index), diffusion(batch.x, index, weight))]
    assert torch.allclose(graphs, sums[0] + sums[1], atol=1e-4)


def test_graphs_are_embedded_alone_as_in_any_batch():
    graphs = _graphs(12)
    model = GraphMVGRL(1, hidden_channels=8, num_layers=2)
    together = embed_graphs(model, graphs, batch_size=12)
    alone = embed_graphs(model, graphs, batch_size=1)
    assert together.shape == (12, 8) and torch.allclose(together, alone, atol=1e-5)


@pytest.mark.parametrize("estimator", sorted(ESTIMATORS))
def test_every_estimator_trains(estimator):
    torch.manual_seed(0)
    model = GraphMVGRL(1, hidden_channels=8, num_layers=2, estimator=estimator)
    before = [p.detach().clone() for p in model.parameters()]
    history = fit_graphs(model, _graphs(16), epochs=3, batch_size=8, progress=False)
    assert all(torch.isfinite(torch.tensor(history.losses)))
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))


def test_learns_to_tell_cycles_from_stars():
    torch.manual_seed(0)
    graphs = _graphs(60)
    labels = torch.tensor([g.y.item() for g in graphs])
    model = GraphMVGRL(1, hidden_channels=16, num_layers=2)
    history = fit_graphs(model, graphs, epochs=15, batch_size=16, progress=False)
    assert history.losses[-1] < history.losses[0]
    z = embed_graphs(model, graphs)
    assert svm_cross_validation(z, labels, folds=5, seed=0)["accuracy"] > 0.9


def test_frozen_encoders_train_only_the_heads_as_the_authors_code():
    torch.manual_seed(0)
    model = GraphMVGRL(1, hidden_channels=8, num_layers=2, train_encoders=False)
    encoders = [p.detach().clone() for p in model.encoders.parameters()]
    heads = [p.detach().clone() for p in model.global_head.parameters()]
    fit_graphs(model, _graphs(16), epochs=2, batch_size=8, progress=False)
    assert all(torch.equal(b, p) for b, p in zip(encoders, model.encoders.parameters()))
    assert any(not torch.equal(b, p) for b, p in zip(heads, model.global_head.parameters()))


def test_bad_settings_and_a_single_graph_are_clear_errors():
    with pytest.raises(ValueError, match="'num_layers'"):
        GraphMVGRL(1, num_layers=0)
    with pytest.raises(ValueError, match="'diffusion'"):
        GraphMVGRL(1, diffusion="katz")
    with pytest.raises(ValueError, match="'embedding'"):
        GraphMVGRL(1, embedding="nodes")
    with pytest.raises(ValueError, match="cannot set 'normalize'"):
        GraphMVGRL(1, encoder_kwargs={"normalize": True})
    graph = _graphs(1)[0]
    model = GraphMVGRL(1, hidden_channels=8, num_layers=1)
    with pytest.raises(ValueError, match="at least two graphs"):
        model.loss(*model(graph.x, graph.edge_index))
