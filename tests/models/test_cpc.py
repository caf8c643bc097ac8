import math

import pytest
import torch
import torch.nn.functional as F

from graphinfo.data.synthetic import planted_partition
from graphinfo.evaluation import linear_probe
from graphinfo.models.cpc import GraphCPC
from graphinfo.train import embed, fit
from tests.conftest import split_of


def _planted():
    return planted_partition(num_nodes=600, num_classes=3, avg_degree=8.0, features="words",
                             num_features=500, seed=1)


def test_the_identity_context_is_skip_gram_with_negative_sampling():
    data = _planted()
    torch.manual_seed(0)
    model = GraphCPC(16, in_channels=500, context="identity", predictor="identity", steps=1,
                     walk_length=4, walks_per_step=64, estimator="jsd")
    out = model(data.x, data.edge_index)
    loss = model.loss(*out)
    z = model.encoder(data.x, data.edge_index)
    terms = []
    for t in range(4):
        a, b = out.walks[:, t], out.walks[:, t + 1]
        pos = (z[a] * z[b]).sum(1)
        pairs = z[a] @ z[b].t()
        negative = pairs[b.unsqueeze(1) != b.unsqueeze(0)]     # other walks, not collisions
        terms.append(F.softplus(-pos).mean() + F.softplus(negative).mean())
    assert torch.allclose(loss, torch.stack(terms).mean(), atol=1e-5)


def test_collisions_are_masked_and_positives_are_each_walks_own_step():
    torch.manual_seed(0)
    # A triangle: walks collide all the time.
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 0], [1, 0, 2, 1, 0, 2]])
    model = GraphCPC(4, in_channels=3, context="identity", predictor="identity", steps=1,
                     walk_length=1, walks_per_step=2)
    x = torch.randn(3, 3)
    z = model.encoder(x, edge_index)
    walks = torch.tensor([[0, 1], [2, 1]])                    # both step onto node 1
    loss = model.loss(z[walks], z[walks], walks)
    # Only the positive is left in each row: InfoNCE with one candidate is log 1 - 0 = 0.
    assert torch.allclose(loss, torch.tensor(0.0), atol=1e-6)
    walks = torch.tensor([[0, 1], [2, 0]])
    loss = model.loss(z[walks], z[walks], walks)
    scores = z[walks[:, 0]] @ z[walks[:, 1]].t()
    expected = -(math.log(2) + (scores.diagonal() - scores.logsumexp(1)).mean())
    assert torch.allclose(loss, expected, atol=1e-5)


@pytest.mark.parametrize("context, estimator", [("gru", "infonce"), ("identity", "infonce"),
                                                ("gru", "jsd"), ("gru", "dv"), ("gru", "nwj"),
                                                ("gru", "mine")])
def test_it_learns_planted_structure_with_every_estimator(context, estimator):
    data = _planted()
    split = split_of(data)
    torch.manual_seed(0)
    model = GraphCPC(32, in_channels=500, context=context, estimator=estimator,
                     walk_length=6, steps=2, walks_per_step=128, num_layers=1)
    untrained = linear_probe(embed(model, data), data.y, split)["test_acc"]
    history = fit(model, data, epochs=60, lr=0.005, patience=None, progress=False)
    assert all(math.isfinite(loss) for loss in history.losses)
    acc = linear_probe(embed(model, data), data.y, split)["test_acc"]
    # Measured: untrained 0.64-0.68, trained 0.89 (nwj) to 0.97.
    assert acc > 0.85 and acc > untrained + 0.2, (acc, untrained)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="'context' must be one of"):
        GraphCPC(8, in_channels=3, context="lstm")
    with pytest.raises(ValueError, match="'steps' \\(5\\) cannot exceed 'walk_length' \\(3\\)"):
        GraphCPC(8, in_channels=3, steps=5, walk_length=3)
    with pytest.raises(ValueError, match="'walks_per_step' must be >= 2"):
        GraphCPC(8, in_channels=3, walks_per_step=1)
