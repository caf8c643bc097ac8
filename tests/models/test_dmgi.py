"""DMGI: one GCN per relation, one shared critic and permutation, the consensus embedding Z."""
import pytest
import torch
from torch_geometric.data import Data, HeteroData

from graphinfo.estimators import ESTIMATORS
from graphinfo.models import DMGI, build_model
from graphinfo.models.dmgi import self_loop_operator
from graphinfo.train import embed, fit
from tests.models.multiplex_graphs import accuracy_of as _accuracy
from tests.models.multiplex_graphs import single_relation_accuracies, split_multiplex


def _train(data: HeteroData, seed: int, **kwargs) -> DMGI:
    torch.manual_seed(seed)
    model = build_model(DMGI, data=data, hidden_channels=32, **kwargs)
    fit(model, data, epochs=150, lr=0.01, weight_decay=1e-4, patience=None, progress=False)
    return model


@pytest.mark.parametrize("pooling", ["attention", "mean"])
def test_dmgi_combines_relations_and_never_collapses(pooling):
    data = split_multiplex()
    store = data["node"]
    single = single_relation_accuracies()
    assert max(single) < 0.7        # one relation alone separates two groups of two classes
    for seed in range(2):
        model = _train(data, seed, pooling=pooling)
        z = embed(model, data)
        assert z.shape == (400, 32) and torch.isfinite(z).all()
        assert z.std(0).min() > 1e-3                  # no constant dimension, no collapse
        accuracy = _accuracy(z, store)
        assert accuracy > max(single) + 0.1, (seed, accuracy, single)
        pooled = model.embed_pooled(*model.inputs(data)[0])     # inductive Q(H)
        assert _accuracy(pooled, store) > 0.45                  # chance is 0.25


def test_one_permutation_for_every_relation_and_each_relation_its_own_graph():
    data = split_multiplex(num_nodes=60)
    model = build_model(DMGI, data=data, hidden_channels=8, dropout=0.0)
    args = model.inputs(data)[0]
    torch.manual_seed(5)
    out = model(*args)
    torch.manual_seed(5)
    perm = torch.randperm(60)
    x, edge_a, edge_b = args
    expected = model.encode(x[perm], edge_a, edge_b)
    for got, want in zip(out.neg, expected):
        assert torch.allclose(got, want, atol=1e-6)
    assert torch.allclose(out.pos[0], model.encode(x, edge_a, edge_b)[0], atol=1e-6)
    swapped = model.encode(x, edge_b, edge_a)
    assert not torch.allclose(out.pos[0], swapped[0])     # relation 0 reads edge_a only
    for h, s in zip(out.pos, out.summaries):
        assert torch.allclose(s, torch.sigmoid(h.mean(0)))


def test_the_propagation_is_the_self_loop_weighted_symmetric_gcn():
    edge_index = torch.tensor([[0, 1, 1, 2, 0], [1, 0, 2, 1, 0]])    # with a self-loop on 0
    dense = torch.zeros(3, 3)
    dense[edge_index[0], edge_index[1]] = 1.0
    dense.fill_diagonal_(0.0)
    dense += 3.0 * torch.eye(3)
    norm = dense.sum(1).pow(-0.5)
    expected = norm.view(-1, 1) * dense * norm.view(1, -1)
    operator = self_loop_operator(edge_index, 3, 3.0)
    assert torch.allclose(operator @ torch.eye(3), expected, atol=1e-6)


def test_the_paper_consensus_term_is_linear_in_z_and_the_contrastive_one_is_bounded():
    data = split_multiplex(num_nodes=60)
    torch.manual_seed(0)
    model = build_model(DMGI, data=data, hidden_channels=8)
    out = model(*model.inputs(data)[0])
    pos, neg = out.pos_pooled.detach(), out.neg_pooled.detach()
    direction = torch.randn_like(model.Z)
    values = []
    with torch.no_grad():
        start = model.Z.clone()
        for t in (0.0, 10.0, 20.0):
            model.Z.copy_(start + t * direction)
            values.append(float(model.consensus(pos, neg)))
    # Linear: equal steps change it by equal amounts, so it has no minimum along any line.
    assert values[2] - values[1] == pytest.approx(values[1] - values[0], rel=1e-3)
    assert values[2] != pytest.approx(values[0])
    model.consensus_loss = "contrastive"
    with torch.no_grad():
        for t in (-100.0, 0.0, 100.0):
            model.Z.copy_(start + t * direction)
            assert float(model.consensus(pos, neg)) >= 0.0
        model.Z.copy_(pos)                      # at Q(H) only the push term is left
        push = torch.relu(model.margin - (pos - neg).norm(dim=-1)).pow(2).sum()
        assert float(model.consensus(pos, neg)) == pytest.approx(float(push))


def _z_norms(data, consensus, weight_decay, steps=(50, 100, 200, 400)):
    """|Z| after each number of SGD steps on the consensus term alone (the encoders, critic
    and attention frozen at their initial weights, so only Z moves)."""
    torch.manual_seed(0)
    model = build_model(DMGI, data=data, hidden_channels=8, alpha=1.0,
                        consensus_loss=consensus)
    for parameter in model.parameters():
        parameter.requires_grad_(parameter is model.Z)
    optimizer = torch.optim.SGD([model.Z], lr=0.05, weight_decay=weight_decay)
    norms, done = [], 0
    args = model.inputs(data)[0]
    for target in steps:
        for _ in range(target - done):
            optimizer.zero_grad()
            with torch.no_grad():               # frozen: only the consensus term reaches Z
                out = model(*args)
            model.consensus(out.pos_pooled, out.neg_pooled).backward()
            optimizer.step()
        done = target
        norms.append(float(model.Z.detach().norm()))
    return norms


def test_only_weight_decay_bounds_z_unless_the_contrastive_term_is_chosen():
    data = split_multiplex(num_nodes=120)
    free = _z_norms(data, "paper", 0.0)
    decayed = _z_norms(data, "paper", 1.0)
    bounded = _z_norms(data, "contrastive", 0.0)
    # The paper's term alone: a constant pull in one direction, |Z| grows with the steps.
    assert free[3] > 1.7 * free[2] > 1.7 ** 2 * free[1], free
    # Weight decay lambda stops it where lambda Z balances the pull: it settles.
    assert decayed[3] == pytest.approx(decayed[2], rel=0.05), decayed
    assert free[3] > 5 * decayed[3]
    # The contrastive term has its minimum near Q(H): it settles without weight decay.
    assert bounded[3] == pytest.approx(bounded[2], rel=0.05), bounded
    assert free[3] > 5 * bounded[3]


@pytest.mark.parametrize("estimator", sorted(ESTIMATORS))
def test_every_estimator_trains(estimator):
    data = split_multiplex(num_nodes=80)
    torch.manual_seed(0)
    model = build_model(DMGI, data=data, hidden_channels=8, estimator=estimator)
    history = fit(model, data, epochs=20, lr=0.01, patience=None, progress=False)
    assert all(torch.isfinite(torch.tensor(history.losses)))
    assert history.losses[-1] < history.losses[0]


def test_the_semi_supervised_term_reads_the_training_labels():
    data = split_multiplex(num_nodes=80)
    torch.manual_seed(0)
    model = build_model(DMGI, data=data, hidden_channels=8, num_classes=4, gamma=1.0)
    args = model.inputs(data)[0]
    torch.manual_seed(1)
    unsupervised = model.loss(*model(*args))
    torch.manual_seed(1)
    supervised = model.training_loss(data)
    assert supervised > unsupervised


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(TypeError, match="a multiplex model learns from a HeteroData"):
        DMGI.from_data(Data(x=torch.randn(4, 2), edge_index=torch.tensor([[0], [1]])))
    data = split_multiplex(num_nodes=40)
    data["other"].x = torch.randn(5, 2)
    data["other", "r", "other"].edge_index = torch.tensor([[0], [1]])
    with pytest.raises(ValueError, match="give node_type="):
        DMGI.from_data(data)
    assert DMGI.from_data(data, node_type="node").num_relations == 2
    model = DMGI.from_data(data, relations=[("node", "a", "node")])
    assert model.num_relations == 1
    with pytest.raises(ValueError, match="built for 1 relations, got 2"):
        model(data["node"].x, data["node", "a", "node"].edge_index,
              data["node", "b", "node"].edge_index)
    with pytest.raises(ValueError, match="'pooling' must be one of"):
        DMGI(4, 2, 10, pooling="max")
