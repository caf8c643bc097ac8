import pytest
import torch
from torch_geometric.data import Data

from graphinfo.estimators import jsd
from graphinfo.evaluation import linear_probe
from graphinfo.models import GMI, GMIOutput, build_model
from graphinfo.train import embed, fit
from tests.conftest import split_of


def _model(data, **kwargs):
    torch.manual_seed(0)
    kwargs.setdefault("hidden_channels", 16)
    return GMI(in_channels=data.num_features, **kwargs)


def test_shapes_gradients_and_neighbourhood(tiny_graph):
    model = _model(tiny_graph)
    out = model(tiny_graph.x, tiny_graph.edge_index)
    assert isinstance(out, GMIOutput)
    rows, cols = model.neighbourhood(tiny_graph.edge_index, 6)
    # Every node with itself plus its 14 directed edges, each pair once, sorted by row.
    assert rows.numel() == 6 + 14
    assert torch.equal(rows, rows.sort().values)
    pairs = set(zip(rows.tolist(), cols.tolist()))
    assert all((i, i) in pairs for i in range(6)) and len(pairs) == rows.numel()
    assert {(2, 3), (3, 2)} <= pairs and (0, 3) not in pairs
    assert out.z.shape == (6, 16)
    assert out.feature_pos.shape == out.pair_weight.shape == out.topology_pos.shape == (20,)
    assert out.feature_neg.shape == (6 * 5,)
    assert out.topology_neg.shape == (6, 6)          # a small graph scores every pair
    loss = model.loss(*out)
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.discriminator.weight.grad.abs().sum() > 0


def test_duplicate_edges_self_loops_and_isolated_nodes():
    x = torch.randn(5, 4, dtype=torch.double)
    # 0 -> 1 twice, a self loop on 2, node 4 isolated.
    edge_index = torch.tensor([[0, 0, 1, 2, 2, 3], [1, 1, 0, 2, 3, 2]])
    model = GMI(8, in_channels=4).double()
    rows, cols = model.neighbourhood(edge_index, 5)
    assert sorted(zip(rows.tolist(), cols.tolist())) == [
        (0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (4, 4)]
    out = model(x, edge_index)
    assert out.z.dtype == torch.double and out.feature_pos.dtype == torch.double
    assert out.pair_weight[rows == 4].item() == 1.0      # an isolated node has only itself
    loss = model.loss(*out)
    loss.backward()
    assert torch.isfinite(loss)


def test_neighbours_follow_the_source_to_target_flow():
    x = torch.randn(3, 4)
    model = _model(Data(x=x), hidden_channels=8)
    rows, cols = model.neighbourhood(torch.tensor([[0], [2]]), 3)  # one edge 0 -> 2
    assert set(zip(rows.tolist(), cols.tolist())) == {(0, 0), (1, 1), (2, 2), (2, 0)}


def test_feature_scores_are_the_bilinear_critic_on_raw_neighbour_features(tiny_graph):
    model = _model(tiny_graph)
    torch.manual_seed(1)
    out = model(tiny_graph.x, tiny_graph.edge_index)
    rows, cols = model.neighbourhood(tiny_graph.edge_index, 6)
    weight = model.discriminator.weight
    expected = torch.stack([out.z[i] @ weight @ tiny_graph.x[j]
                            for i, j in zip(rows.tolist(), cols.tolist())])
    assert torch.allclose(out.feature_pos, expected, atol=1e-5)


@pytest.mark.parametrize("variant", ["mean", "adaptive"])
def test_each_nodes_weights_sum_to_one(tiny_graph, variant):
    model = _model(tiny_graph, variant=variant)
    out = model(tiny_graph.x, tiny_graph.edge_index)
    rows, cols = model.neighbourhood(tiny_graph.edge_index, 6)
    totals = torch.zeros(6).index_add(0, rows, out.pair_weight.detach())
    assert torch.allclose(totals, torch.ones(6), atol=1e-6)
    degree = torch.bincount(rows, minlength=6).float()
    if variant == "mean":
        assert torch.allclose(out.pair_weight, 1 / degree[rows])
    else:
        similarity = torch.sigmoid((out.z[rows] * out.z[cols]).sum(-1))
        own = torch.zeros(6).index_add(0, rows, similarity)
        assert torch.allclose(out.pair_weight, similarity / own[rows], atol=1e-6)
        assert out.pair_weight.requires_grad     # learned through the similarity


def test_the_estimator_gets_the_weights_and_negatives_are_other_nodes(planted):
    captured = {}

    def spy(pos, neg, pos_mask=None, neg_mask=None, *, pos_weight=None):
        captured.update(pos=pos, neg=neg, pos_weight=pos_weight)
        return jsd(pos, neg, pos_weight=pos_weight)

    model = _model(planted, estimator=spy, negatives=3)
    torch.manual_seed(0)
    out = model(planted.x, planted.edge_index)
    model.loss(*out)
    assert captured["pos"] is out.feature_pos and captured["pos_weight"] is out.pair_weight
    # Negatives: 3 random nodes per node, never the node itself.
    torch.manual_seed(0)
    rows, cols = model._random_others(planted.num_nodes, 3, torch.device("cpu"))
    assert torch.equal(rows, torch.arange(planted.num_nodes).repeat_interleave(3))
    assert not bool((rows == cols).any()) and int(cols.max()) == planted.num_nodes - 1
    projected = planted.x @ model.discriminator.weight.t()
    assert torch.allclose(out.feature_neg, (out.z[rows] * projected[cols]).sum(-1), atol=1e-5)


def test_topology_term_over_all_pairs_is_the_masked_jsd(planted):
    model = _model(planted, topology_negatives="all")
    out = model(planted.x, planted.edge_index)
    rows, cols = model.neighbourhood(planted.edge_index, planted.num_nodes)
    adjacent = torch.zeros(planted.num_nodes, planted.num_nodes, dtype=torch.bool)
    adjacent[rows, cols] = True
    expected = jsd(out.topology_pos, (out.z @ out.z.t())[~adjacent])
    assert torch.allclose(model.topology_estimate(out.topology_pos, out.topology_neg), expected,
                          atol=1e-5)


def test_sampled_topology_estimate_approaches_the_all_pairs_one(planted):
    model = _model(planted, topology_negatives="all")
    with torch.no_grad():
        out = model(planted.x, planted.edge_index)
        exact = model.topology_estimate(out.topology_pos, out.topology_neg)
        model.topology_negatives = 2000
        sampled = model.topology_estimate(out.topology_pos,
                                          model._non_edge_logits(out.z, *model.neighbourhood(
                                              planted.edge_index, planted.num_nodes)))
    assert abs(float(sampled) - float(exact)) < 0.02 * abs(float(exact)) + 1e-3


def test_sampled_topology_negatives_leave_out_adjacent_pairs(tiny_graph):
    model = _model(tiny_graph, topology_negatives=200)
    torch.manual_seed(0)
    out = model(tiny_graph.x, tiny_graph.edge_index)
    rows, cols = model.neighbourhood(tiny_graph.edge_index, 6)
    adjacent = {(i, j) for i, j in zip(rows.tolist(), cols.tolist())}
    gram = out.z @ out.z.t()
    allowed = torch.stack([gram[i, j] for i in range(6) for j in range(6)
                           if (i, j) not in adjacent])
    # 1,200 draws over 16 non-adjacent pairs: every kept logit is one of theirs, and many were
    # dropped (a third of the other nodes are neighbours).
    assert out.topology_neg.dim() == 1 and 0 < out.topology_neg.numel() < 1200
    assert all(bool((allowed - value).abs().min() < 1e-5) for value in out.topology_neg)


def test_sparse_features_give_the_dense_loss(planted):
    model = _model(planted)
    torch.manual_seed(3)
    dense = model.loss(*model(planted.x, planted.edge_index))
    torch.manual_seed(3)
    sparse = model.loss(*model(planted.x.to_sparse(), planted.edge_index))
    assert torch.allclose(dense, sparse, atol=1e-5)


@pytest.mark.parametrize("estimator, variant", [("jsd", "mean"), ("jsd", "adaptive"),
                                                ("dv", "mean"), ("infonce", "mean")])
def test_learns_planted_structure(estimator, variant):
    from graphinfo.data.synthetic import planted_partition

    data = planted_partition(num_nodes=600, num_classes=3, avg_degree=8.0, num_features=16,
                             features="gaussian", feature_noise=4.0, seed=1)
    split = split_of(data)
    torch.manual_seed(0)
    model = GMI(64, in_channels=data.num_features, estimator=estimator, variant=variant)
    raw = linear_probe(data.x, data.y, split)["test_acc"]
    history = fit(model, data, epochs=150, lr=0.005, patience=30, progress=False)
    assert all(torch.isfinite(torch.tensor(history.losses)))
    assert history.losses[history.best_epoch] < history.losses[0]
    acc = linear_probe(embed(model, data), data.y, split)["test_acc"]
    # Chance is 1/3 and the raw features reach about 0.51: the embeddings must use the graph.
    assert acc > 0.65, (estimator, variant, acc, raw)
    assert acc > raw + 0.15, (estimator, variant, acc, raw)


def test_reset_parameters_and_embed(tiny_graph):
    model = _model(tiny_graph)
    torch.manual_seed(5)
    model.reset_parameters()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.loss(*model(tiny_graph.x, tiny_graph.edge_index)).backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    torch.manual_seed(5)
    model.reset_parameters()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    model.train()
    z = model.embed(tiny_graph.x, tiny_graph.edge_index)
    assert z.shape == (6, 16) and not z.requires_grad and model.training


def test_build_model_by_name(tiny_graph):
    model = build_model("gmi", in_channels=4, variant="adaptive",
                        encoder_kwargs={"num_layers": 2})
    assert isinstance(model, GMI) and model.hidden_channels == 512
    assert model.variant == "adaptive" and len(model.encoder.convs) == 2


@pytest.mark.parametrize("kwargs, message", [
    ({"in_channels": None}, "in_channels"),
    ({"variant": "median"}, "'variant' must be 'mean' or 'adaptive'"),
    ({"negatives": 0}, "'negatives' must be an int >= 1"),
    ({"topology_negatives": "some"}, "'topology_negatives'"),
    ({"topology_weight": -1.0}, "'topology_weight' must be a number >= 0"),
    ({"estimator": "nope"}, "Unknown estimator"),
    ({"discriminator": "inner_product"}, "hidden_channels=8 and in_channels=4"),
])
def test_bad_arguments_get_clear_errors(kwargs, message):
    arguments = {"hidden_channels": 8, "in_channels": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        GMI(**arguments)


def test_bad_graphs_get_clear_errors():
    model = GMI(8, in_channels=3, topology_negatives="all")
    with pytest.raises(ValueError, match="at least 2 nodes"):
        model(torch.randn(1, 3), torch.zeros(2, 0, dtype=torch.long))
    with pytest.raises(ValueError, match="features"):
        model(torch.randn(4, 5), torch.tensor([[0, 1], [1, 0]]))
    complete = torch.tensor([[0, 1, 0, 2, 1, 2], [1, 0, 2, 0, 2, 1]])
    with pytest.raises(ValueError, match="complete"):
        model(torch.randn(3, 3), complete)
    with pytest.raises(ValueError, match="complete"):
        GMI(8, in_channels=3, topology_negatives=4)(torch.randn(3, 3), complete)
    # Without the topology term a complete graph is fine.
    model = GMI(8, in_channels=3, topology_weight=0.0)
    assert torch.isfinite(model.loss(*model(torch.randn(3, 3), complete)))


def test_all_pairs_gram_backward_matches_autograd():
    from graphinfo.models.gmi import _Gram

    z = torch.randn(7, 3, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(_Gram.apply, (z,))
    weights = torch.randn(7, 7, dtype=torch.double)
    (_Gram.apply(z) * weights).sum().backward()
    expected = torch.autograd.grad(((z @ z.t()) * weights).sum(), z)[0]
    assert torch.allclose(z.grad, expected)
