import pytest
import torch
from torch_geometric.data import Batch

from graphinfo.estimators import ESTIMATORS
from graphinfo.evaluation import linear_probe
from graphinfo.models import HierarchicalInfomax, build_model, model_class
from graphinfo.train import embed, embed_graphs, fit, fit_graphs
from tests.conftest import split_of
from tests.models.small_graphs import cycle_or_star


def _graphs(count=12, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [cycle_or_star("cycle" if i % 2 == 0 else "star",
                          int(torch.randint(5, 12, (1,), generator=generator)), generator)
            for i in range(count)]


class SpyCritic(torch.nn.Module):
    """A critic that records what it scores."""

    def __init__(self):
        super().__init__()
        self.calls = []
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, z, summary):
        self.calls.append((z, summary))
        return self.scale * (z * summary).sum(-1)


def test_registered_under_both_names_and_learns_at_both_levels():
    assert model_class("uhgr") is HierarchicalInfomax
    assert model_class("hierarchical") is HierarchicalInfomax
    assert HierarchicalInfomax.level == "both"


@pytest.mark.parametrize("pooling", ["diffpool", "sag"])
@pytest.mark.parametrize("levels", [1, 2, 3])
def test_multi_level_summary_and_readout_shapes(pooling, levels):
    graphs = _graphs()
    batch = Batch.from_data_list(graphs)
    model = build_model("uhgr", data=graphs, hidden_channels=4, num_layers=2,
                        num_levels=levels, pooling=pooling)
    out = model(batch.x, batch.edge_index, batch=batch.batch)
    # F = num_layers * hidden_channels; the readout holds one max per level (0..L).
    assert out.pos_z.shape == (batch.num_nodes, 8)
    assert out.readout.shape == (12, 8 * (levels + 1))
    assert out.summary.shape == (12, 8)
    assert len(out.levels) == levels
    graph_z = model.embed(batch.x, batch.edge_index, batch=batch.batch, level="graph")
    assert torch.equal(graph_z, model.embed(batch.x, batch.edge_index, batch=batch.batch,
                                            level="both")[1])
    assert graph_z.shape == (12, 8 * (levels + 1))


@pytest.mark.parametrize("levels", [1, 2, 3])
def test_every_levels_assignment_rows_sum_to_one(levels):
    graphs = _graphs()
    batch = Batch.from_data_list(graphs)
    model = build_model("uhgr", data=graphs, hidden_channels=4, num_layers=2,
                        num_levels=levels, pool_ratio=0.5, pooling="diffpool")
    largest = max(g.num_nodes for g in graphs)
    assert largest == 9             # clusters: ceil(9 / 2) = 5, then 3, then 2
    assert model.num_clusters == (5, 3, 2)[:levels]
    out = model(batch.x, batch.edge_index, batch=batch.batch)
    assert len(out.assignments) == levels
    sizes = torch.bincount(batch.batch)
    first = out.assignments[0]
    real = torch.arange(first.size(1)).unsqueeze(0) < sizes.unsqueeze(1)
    assert torch.allclose(first.sum(-1)[real], torch.ones(batch.num_nodes), atol=1e-5)
    assert torch.all(first[~real] == 0)                    # padded nodes join no cluster
    for deeper in out.assignments[1:]:                     # clusters: no padding
        assert torch.allclose(deeper.sum(-1), torch.ones(deeper.shape[:2]), atol=1e-5)


def test_nodes_are_scored_only_against_their_own_graphs_summary():
    graphs = _graphs(6)
    batch = Batch.from_data_list(graphs)
    spy = SpyCritic()
    model = build_model("uhgr", data=graphs, hidden_channels=4, num_layers=2, discriminator=spy)
    out = model(batch.x, batch.edge_index, batch=batch.batch)
    model.loss(*out)
    (pos_z, pos_summary), (neg_z, neg_summary) = spy.calls
    # One positive and one negative per real node: no padded node is scored.
    assert pos_z.size(0) == neg_z.size(0) == batch.num_nodes
    assert torch.equal(pos_summary, out.summary[batch.batch])
    assert torch.equal(out.neg_batch, batch.batch)          # shuffled within each graph
    assert torch.equal(neg_summary, out.summary[batch.batch])


def test_a_graphs_embeddings_do_not_depend_on_the_padding_of_its_batch():
    torch.manual_seed(0)
    graphs = _graphs()
    model = build_model("uhgr", data=graphs, hidden_channels=4, num_layers=2, num_levels=2)
    small = min(graphs, key=lambda g: g.num_nodes)
    big = max(graphs, key=lambda g: g.num_nodes)
    alone = Batch.from_data_list([small])
    padded = Batch.from_data_list([small, big])
    for level in ("node", "graph"):
        a = model.embed(alone.x, alone.edge_index, batch=alone.batch, level=level)
        b = model.embed(padded.x, padded.edge_index, batch=padded.batch, level=level)
        rows = a.size(0)
        assert torch.allclose(a, b[:rows], atol=1e-5), level


def test_the_extension_terms_and_regularisers_add_to_the_uhgr_loss():
    graphs = _graphs()
    batch = Batch.from_data_list(graphs)
    args = (batch.x, batch.edge_index)
    kwargs = {"hidden_channels": 4, "num_layers": 2, "num_levels": 2}
    torch.manual_seed(0)
    plain = build_model("uhgr", data=graphs, **kwargs)
    torch.manual_seed(0)
    full = build_model("uhgr", data=graphs, terms=("uhgr", "per_level", "level_to_level"),
                       link_weight=0.5, entropy_weight=0.25, **kwargs)
    missing = full.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(key.startswith(("level_critics.", "transition_critics."))
                           for key in missing)
    assert len(full.level_critics) == 2 and len(full.transition_critics) == 2
    torch.manual_seed(1)
    plain_out = plain(*args, batch=batch.batch)
    torch.manual_seed(1)
    full_out = full(*args, batch=batch.batch)
    assert len(full_out.neg_levels) == 2 and plain_out.neg_levels == ()
    assert torch.allclose(plain_out.pos_z, full_out.pos_z)
    assert full_out.regulariser > 0 and plain_out.regulariser == 0
    loss = full.loss(*full_out)
    loss.backward()
    assert not torch.isclose(loss, plain.loss(*plain_out))
    for critic in (*full.level_critics, *full.transition_critics):
        assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("estimator", sorted(ESTIMATORS))
def test_every_estimator_trains(estimator):
    torch.manual_seed(0)
    graphs = _graphs(16)
    model = build_model("uhgr", data=graphs, hidden_channels=8, num_layers=2,
                        estimator=estimator)
    before = [p.detach().clone() for p in model.parameters()]
    history = fit_graphs(model, graphs, epochs=3, batch_size=8, max_grad_norm=2.0,
                         progress=False)
    assert all(torch.isfinite(torch.tensor(history.losses)))
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))


def test_learns_node_embeddings_of_one_graph():
    from graphinfo.data.synthetic import planted_partition

    data = planted_partition(num_nodes=600, num_classes=3, avg_degree=8.0, num_features=16,
                             features="gaussian", feature_noise=4.0, seed=1)
    split = split_of(data)
    torch.manual_seed(0)
    model = build_model("uhgr", data=data, hidden_channels=32, num_layers=2, pool_ratio=0.05)
    assert model.pooling == "diffpool" and model.num_clusters == (30,)
    raw = linear_probe(data.x, data.y, split)["test_acc"]
    history = fit(model, data, epochs=100, lr=0.005, patience=20, max_grad_norm=2.0,
                  progress=False)
    assert history.losses[history.best_epoch] < history.losses[0]
    acc = linear_probe(embed(model, data), data.y, split)["test_acc"]
    # Chance is 1/3 and the raw features reach about 0.51.
    assert acc > raw + 0.15, (acc, raw)


def test_graph_embeddings_of_a_collection():
    torch.manual_seed(0)
    graphs = _graphs(10)
    model = build_model("uhgr", data=graphs, hidden_channels=4, num_layers=2)
    z = embed_graphs(model, graphs, batch_size=4)
    nodes = embed_graphs(model, graphs, nodes=True)
    assert z.shape == (10, 16) and nodes.shape == (sum(g.num_nodes for g in graphs), 8)


def test_auto_pooling_chooses_by_the_largest_graph():
    assert HierarchicalInfomax(3, max_num_nodes=100).pooling == "diffpool"
    model = HierarchicalInfomax(3, max_num_nodes=50_000)
    assert model.pooling == "sag" and model.num_clusters == ()


@pytest.mark.parametrize("kwargs, message", [
    ({"pool_ratio": 0.0}, "'pool_ratio' must be in"),
    ({"pooling": "topk"}, "'pooling' must be"),
    ({"terms": ("uhgr", "global")}, "'terms' must be"),
    ({"terms": ()}, "'terms' must be"),
    ({"encoder": "gat"}, "matching dense convolution"),
    ({"num_levels": -1}, "'num_levels' must be an int >= 0"),
    ({"link_weight": -1.0}, "'link_weight' must be"),
    ({"num_clusters": (4,), "num_levels": 2}, "'num_clusters' must give"),
])
def test_bad_settings_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HierarchicalInfomax(3, max_num_nodes=20, **kwargs)


def test_diffpool_needs_the_largest_graph_or_cluster_counts():
    with pytest.raises(ValueError, match="give 'max_num_nodes'"):
        HierarchicalInfomax(3, pooling="diffpool")
    assert HierarchicalInfomax(3, num_clusters=(5, 2), num_levels=2).num_clusters == (5, 2)


def test_the_largest_graph_of_a_graph_a_batch_and_a_dataset():
    from graphinfo.models.hierarchical import largest_graph

    graphs = _graphs()
    sizes = [g.num_nodes for g in graphs]
    assert largest_graph(graphs) == max(sizes)
    assert largest_graph(Batch.from_data_list(graphs)) == max(sizes)
    assert largest_graph(graphs[0]) == sizes[0]


@pytest.mark.parametrize("pooling", ["diffpool", "sag"])
def test_the_readout_is_the_chosen_pool_of_each_level(pooling):
    from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool

    graphs = _graphs()
    batch = Batch.from_data_list(graphs)
    pools = {"max": global_max_pool, "sum": global_add_pool, "mean": global_mean_pool}
    for kind, pool in pools.items():
        torch.manual_seed(0)
        model = build_model("uhgr", data=graphs, hidden_channels=4, num_layers=2,
                            num_levels=1, pooling=pooling, readout=kind).eval()
        out = model(batch.x, batch.edge_index, batch=batch.batch)
        level0 = pool(out.pos_z, batch.batch, size=12)
        deeper = pool(*out.levels[0], size=12)
        assert torch.allclose(out.readout, torch.cat([level0, deeper], -1), atol=1e-5)
    with pytest.raises(ValueError, match=r"'readout' must be one of \('max', 'sum', 'mean'\)"):
        build_model("uhgr", data=graphs, readout="median")
