import pytest
import torch

from graphinfo.data.synthetic import planted_partition
from graphinfo.evaluation import linear_probe
from graphinfo.models import DGI
from graphinfo.models.multiview import MultiView
from graphinfo.nn import DropEdges
from graphinfo.train import embed, fit
from graphinfo.transforms import DiffusionView
from tests.conftest import split_of


def _planted(seed=1, nodes=600):
    return planted_partition(num_nodes=nodes, num_classes=3, avg_degree=8.0, num_features=16,
                             features="gaussian", feature_noise=4.0, seed=seed)


def test_two_graph_views_with_one_encoder_give_dgis_loss_and_gradients():
    data = _planted(nodes=120)
    torch.manual_seed(0)
    dgi = DGI(32, in_channels=16)
    two_view = MultiView(32, views=["graph", "graph"], in_channels=16, shared_encoder=True)
    two_view.encoders[0].load_state_dict(dgi.encoder.state_dict())
    two_view.discriminator.load_state_dict(dgi.discriminator.state_dict())
    losses, grads = [], []
    for model, encoder in ((dgi, dgi.encoder), (two_view, two_view.encoders[0])):
        torch.manual_seed(7)                         # the same permutation for both
        args, kwargs = model.inputs(data)
        loss = model.loss(*model(*args, **kwargs))
        loss.backward()
        losses.append(loss.detach())
        grads.append(encoder.convs[0].lin.weight.grad.clone())
    assert torch.allclose(losses[0], losses[1], atol=1e-6)
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_pairs_shapes_and_the_diffusion_view_prepared_once():
    data = _planted(nodes=90)
    model = MultiView(16, views=["graph", "diffusion", DropEdges(0.3)], in_channels=16)
    assert model.pairs() == [(0, 1), (0, 2)]
    assert MultiView(16, views=["graph", "diffusion", "drop_edges"], in_channels=16,
                     contrast="all").pairs() == [(0, 1), (0, 2), (1, 2)]
    assert model.stored_views() == ["diffusion"]
    prepared = model.prepare(data)
    again = model.prepare(data)                     # computed once, for the same graph
    assert again.diffusion_edge_index is prepared.diffusion_edge_index
    assert "diffusion_edge_index" not in data
    assert torch.equal(prepared.diffusion_edge_index, DiffusionView()(data).diffusion_edge_index)
    args, kwargs = model.inputs(data)
    out = model(*args, **kwargs)
    assert out.pos_z.shape == out.neg_z.shape == (3, 90, 16)
    assert out.summaries.shape == (3, 16)
    model.loss(*out).backward()
    assert all(p.grad is not None for p in model.encoders.parameters())
    z = model.embed(*args, **kwargs)
    assert z.shape == (90, 16) and not z.requires_grad
    concat = MultiView(16, in_channels=16, embedding="concat")
    assert concat.embed(*concat.inputs(data)[0], **concat.inputs(data)[1]).shape == (90, 32)


def test_a_view_that_is_not_there_and_bad_settings_are_named():
    data = _planted(nodes=60)
    with pytest.raises(ValueError, match="view 'heat' needs data.heat_edge_index"):
        MultiView(8, views=["graph", "heat"], in_channels=16).inputs(data)
    with pytest.raises(ValueError, match="'views' must name at least two views"):
        MultiView(8, views=["graph"], in_channels=16)
    with pytest.raises(ValueError, match="'contrast' must be one of"):
        MultiView(8, in_channels=16, contrast="pairs")


@pytest.mark.parametrize("estimator", ["jsd", "dv", "nwj", "infonce", "mine"])
def test_every_estimator_learns_planted_structure_from_graph_and_diffusion(estimator):
    # Bag-of-words features of 500 words: a random 32-unit projection keeps little of the
    # class (0.64 here, as the raw words' probe 0.65); jsd and nwj measured 0.96-0.97.
    data = planted_partition(num_nodes=600, num_classes=3, avg_degree=8.0, features="words",
                             num_features=500, seed=1)
    split = split_of(data)
    torch.manual_seed(0)
    model = MultiView(32, in_channels=500, estimator=estimator,
                      view_encoder_kwargs=[{}, {"normalize": False}],
                      diffusion={"k": 32, "normalization_out": None})
    untrained = linear_probe(embed(model, data), data.y, split)["test_acc"]
    history = fit(model, data, epochs=100, lr=0.005, patience=30, progress=False)
    assert all(torch.isfinite(torch.tensor(history.losses)))
    acc = linear_probe(embed(model, data), data.y, split)["test_acc"]
    assert acc > 0.85, (estimator, acc, untrained)
    assert acc > untrained + 0.2, (estimator, acc, untrained)


def test_augmented_views_of_a_batch_keep_its_graphs_apart():
    from torch_geometric.data import Batch

    graphs = Batch.from_data_list([_planted(seed=s, nodes=30) for s in range(3)])
    model = MultiView(8, views=["graph", "add_edges"], in_channels=16)
    seen = []
    view = model.views[1]
    model.views[1] = lambda data: seen.append(view(data)) or seen[-1]
    out = model(graphs.x, graphs.edge_index, batch=graphs.batch)
    added = seen[0]
    assert (added.batch[added.edge_index[0]] == added.batch[added.edge_index[1]]).all()
    assert out.summaries.shape == (2, 90, 8)            # each node's own graph's summary
