import pytest
import torch
from torch_geometric.utils import to_dense_adj

import graphinfo.models.mvgrl as mvgrl_module
from graphinfo.data.synthetic import planted_partition
from graphinfo.evaluation import linear_probe
from graphinfo.models import MVGRL
from graphinfo.sources import induced_subgraph
from graphinfo.train import embed, fit
from tests.conftest import split_of


def _planted(nodes=600, seed=1):
    return planted_partition(num_nodes=nodes, num_classes=3, avg_degree=8.0, features="words",
                             num_features=500, seed=seed)


def _dense_views(data, alpha):
    """The authors' matrices: D^-1/2 (A + 2I) D^-1/2, and PPR of D^-1/2 (A + I) D^-1/2."""
    n = data.num_nodes
    a = to_dense_adj(data.edge_index, max_num_nodes=n)[0]

    def normalised(m):
        d = m.sum(1).pow(-0.5)
        return d[:, None] * m * d[None, :]
    t = normalised(a + torch.eye(n))
    return normalised(a + 2 * torch.eye(n)), alpha * torch.linalg.inv(torch.eye(n)
                                                                       - (1 - alpha) * t)


def test_the_loss_is_the_authors_formula_on_dense_matrices():
    data = _planted(nodes=80)
    torch.manual_seed(0)
    model = MVGRL(16, in_channels=500)
    s1, s2 = _dense_views(data, 0.2)
    torch.manual_seed(3)
    args, kwargs = model.inputs(data)
    loss = model.loss(*model(*args, **kwargs))
    torch.manual_seed(3)
    perm = torch.randperm(80)

    def encode(v, s, x):
        conv = model.encoders[v].convs[0]
        return model.encoders[v].acts[0](s @ (x @ conv.lin.weight.t()) + conv.bias)

    x = data.x
    h = [encode(0, s1, x), encode(1, s2, x)]
    neg = [encode(0, s1, x[perm]), encode(1, s2, x[perm])]
    summary = [torch.sigmoid(z.mean(0)) for z in h]
    w = model.discriminator.weight if hasattr(model.discriminator, "weight") else None
    terms = []
    for node, other in ((0, 1), (1, 0)):
        pos = h[node] @ (w @ summary[other]) if w is not None else None
        negative = neg[node] @ (w @ summary[other])
        terms.append(-torch.nn.functional.softplus(-pos).mean()
                     - torch.nn.functional.softplus(negative).mean())
    expected = -torch.stack(terms).mean()
    assert torch.allclose(loss, expected, atol=1e-5)
    z = model.embed(*args, **kwargs)
    assert torch.allclose(z, (h[0] + h[1]).detach(), atol=1e-5)


def test_windows_keep_the_full_graphs_normalisation_and_diffusion():
    data = _planted(nodes=80)
    model = MVGRL(16, in_channels=500, sample_size=30)
    prepared = model.prepare(data)
    s1, s2 = _dense_views(data, 0.2)
    window = induced_subgraph(prepared, torch.arange(10, 40))
    got1 = to_dense_adj(window.adjacency_edge_index, edge_attr=window.adjacency_edge_weight,
                        max_num_nodes=30)[0]
    got2 = to_dense_adj(window.diffusion_edge_index, edge_attr=window.diffusion_edge_weight,
                        max_num_nodes=30)[0]
    # entry (i, j) of to_dense_adj is the edge i -> j; S is symmetric here.
    assert torch.allclose(got1, s1[10:40, 10:40], atol=1e-6)
    assert torch.allclose(got2, s2[10:40, 10:40], atol=1e-5)
    loss = model.training_loss(data)
    loss.backward()
    assert torch.isfinite(loss)


def test_large_graphs_get_the_sparse_diffusion(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setattr(mvgrl_module, "MVGRL_EXACT_MAX_NODES", 50)
    data = _planted(nodes=80)
    model = MVGRL(16, in_channels=500, top_k=8)
    prepared = model.prepare(data)
    assert model.diffusion.exact is False
    assert torch.bincount(prepared.diffusion_edge_index[1], minlength=80).eq(8).all()
    with pytest.raises(ValueError, match="'sample_size' must be a positive int or None"):
        MVGRL(16, in_channels=500, sample_size=0)


@pytest.mark.parametrize("sample_size", [None, 256])
def test_it_learns_planted_structure_whole_and_from_windows(sample_size):
    data = _planted()
    split = split_of(data)
    torch.manual_seed(0)
    model = MVGRL(32, in_channels=500, sample_size=sample_size, batch_size=2)
    untrained = linear_probe(embed(model, data), data.y, split)["test_acc"]
    fit(model, data, epochs=60, lr=0.005, patience=30, progress=False)
    acc = linear_probe(embed(model, data), data.y, split)["test_acc"]
    # Measured: untrained 0.63; whole graph 0.97, windows of 256 nodes 0.95.
    assert acc > 0.85 and acc > untrained + 0.2, (acc, untrained)


def test_degree_matched_scaling_reaches_the_diffusion_view(monkeypatch):
    from graphinfo.transforms import DegreeMatchedScaling

    data = planted_partition(num_nodes=120, num_classes=3, num_features=8, seed=0)
    model = MVGRL(8, in_channels=data.num_features, degree_matched_scaling=True)
    prepared = model.prepare(data)
    assert isinstance(model.diffusion, DegreeMatchedScaling)
    expected = DegreeMatchedScaling(model.diffusion.diffusion)(data)
    assert torch.equal(prepared.diffusion_edge_weight, expected.diffusion_edge_weight)
    assert float(prepared.diffusion_edge_weight.max()) == pytest.approx(1.0)
    monkeypatch.setattr(mvgrl_module, "MVGRL_EXACT_MAX_NODES", 50)
    with pytest.raises(ValueError, match="dense exact diffusion"):
        MVGRL(8, in_channels=data.num_features, degree_matched_scaling=True).prepare(data)
