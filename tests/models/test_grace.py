import math

import pytest
import torch

from graphinfo.data.synthetic import planted_partition
from graphinfo.estimators import infonce
from graphinfo.evaluation import linear_probe
from graphinfo.models.grace import GCA, GRACE, node_infonce_loss
from graphinfo.train import embed, fit, fit_minibatch
from tests.conftest import split_of


def _reference(u, v, tau):
    """GRACE's loss as the authors write it: exp-similarity matrices, refl diagonal removed."""
    u, v = torch.nn.functional.normalize(u, dim=1), torch.nn.functional.normalize(v, dim=1)

    def semi(a, b):
        refl, between = torch.exp(a @ a.t() / tau), torch.exp(a @ b.t() / tau)
        return -torch.log(between.diag() / (refl.sum(1) + between.sum(1) - refl.diag()))
    return 0.5 * (semi(u, v) + semi(v, u)).mean()


def test_the_loss_is_graces_and_the_chunked_loss_equals_the_dense_one():
    generator = torch.Generator().manual_seed(0)
    base_u = torch.randn(37, 8, generator=generator)
    base_v = base_u + 0.5 * torch.randn(37, 8, generator=generator)
    results = []
    for chunk in (None, 5, 37, 100):
        u, v = base_u.clone().requires_grad_(), base_v.clone().requires_grad_()
        loss = node_infonce_loss(u, v, 0.4, chunk_size=chunk)
        loss.backward()
        results.append((loss.detach(), u.grad, v.grad))
    assert torch.allclose(results[0][0], _reference(base_u, base_v, 0.4), atol=1e-5)
    for loss, grad_u, grad_v in results[1:]:
        assert torch.allclose(loss, results[0][0], atol=1e-6)
        assert torch.allclose(grad_u, results[0][1], atol=1e-6)
        assert torch.allclose(grad_v, results[0][2], atol=1e-6)
    without = node_infonce_loss(base_u, base_v, 0.4, intra_view=False)
    assert without < results[0][0]                       # fewer negatives, smaller loss


def test_minus_the_loss_is_the_infonce_estimate_of_the_score_matrix():
    torch.manual_seed(0)
    model = GRACE(8, in_channels=5, tau=0.5)
    u, v = torch.randn(20, 8), torch.randn(20, 8)
    un, vn = torch.nn.functional.normalize(u, dim=1), torch.nn.functional.normalize(v, dim=1)
    mask = torch.ones(20, 40, dtype=torch.bool)
    mask[torch.arange(20), 20 + torch.arange(20)] = False        # the anchor itself
    estimates = [infonce(torch.cat([a @ b.t(), a @ a.t()], 1) / 0.5, mask)
                 for a, b in ((un, vn), (vn, un))]
    assert torch.allclose(-model.loss(u, v), torch.stack(estimates).mean(), atol=1e-5)
    assert -model.loss(u, v) <= math.log(39) + 1e-6


def _planted():
    return planted_partition(num_nodes=600, num_classes=3, avg_degree=8.0, features="words",
                             num_features=500, seed=1)


@pytest.mark.parametrize("cls, kwargs", [(GRACE, {}), (GCA, {"centrality": "degree"}),
                                         (GRACE, {"chunk_size": 128}),
                                         (GRACE, {"sample_size": 256})])
def test_it_learns_planted_structure(cls, kwargs):
    data = _planted()
    split = split_of(data)
    torch.manual_seed(0)
    model = cls(32, in_channels=500, tau=0.5, **kwargs)
    untrained = linear_probe(embed(model, data), data.y, split)["test_acc"]
    fit(model, data, epochs=60, lr=0.005, patience=None, progress=False)
    acc = linear_probe(embed(model, data), data.y, split)["test_acc"]
    # Measured: untrained 0.73, every setting 0.97.
    assert acc > 0.9 and acc > untrained + 0.15, (acc, untrained)


@pytest.mark.parametrize("estimator", ["infonce", "jsd", "dv", "nwj", "mine"])
def test_every_estimator_trains(estimator):
    data = _planted()
    torch.manual_seed(0)
    model = GRACE(16, in_channels=500, estimator=estimator)
    history = fit(model, data, epochs=15, lr=0.005, patience=None, progress=False)
    assert all(math.isfinite(loss) for loss in history.losses)
    assert history.losses[-1] < history.losses[0]


def test_mini_batches_contrast_the_seeds_and_bad_settings_are_refused():
    data = _planted()
    torch.manual_seed(0)
    model = GRACE(16, in_channels=500)
    history = fit_minibatch(model, data, batch_size=128, num_neighbors=[5, 5], epochs=2,
                            lr=0.005, progress=False)
    assert all(math.isfinite(loss) for loss in history.losses)
    with pytest.raises(ValueError, match="'tau' must be > 0"):
        GRACE(8, in_channels=5, tau=0.0)
    with pytest.raises(ValueError, match="'augmentations' must hold two"):
        GRACE(8, in_channels=5, augmentations=[lambda x: x])
    with pytest.raises(ValueError, match="'chunk_size' must be a positive int"):
        node_infonce_loss(torch.ones(3, 2), torch.ones(3, 2), chunk_size=0)


def test_gca_reads_the_input_graphs_centrality_once(monkeypatch):
    import graphinfo.nn.adaptive as adaptive

    calls = []
    original = adaptive.node_centrality
    monkeypatch.setattr(adaptive, "node_centrality",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    data = _planted()
    model = GCA(16, in_channels=500, centrality="pagerank")
    model.loss(*model(data.x, data.edge_index))
    assert len(calls) == 4                   # once per augmentation (2 views x 2), from the
    for _ in range(3):                       # input graph, then cached
        model.loss(*model(data.x, data.edge_index))
    assert len(calls) == 4


def test_subgraph_loss_uses_the_full_graphs_normalisation(monkeypatch):
    data = _planted()
    model = GRACE(16, in_channels=500)
    used = []
    original = model.subgraph_inputs
    monkeypatch.setattr(model, "subgraph_inputs", lambda b: used.append(1) or original(b))
    fit_minibatch(model, data, batch_size=256, num_neighbors=[5, 5], epochs=1, progress=False)
    assert used
