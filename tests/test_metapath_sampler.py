"""Metapath-sampled mini-batches: walks that follow the chain, batches that index the right
nodes, and DMGI trained on them."""
import pytest
import torch
from torch_geometric.data import HeteroData

from graphinfo.metapath_sampler import MetapathBatches, MetapathSampler
from graphinfo.models import DGI, DMGI, HDGI, build_model
from graphinfo.train import embed, fit_minibatch
from tests.models.multiplex_graphs import accuracy_of, single_relation_accuracies, split_multiplex


def _movies() -> HeteroData:
    """6 movies; actors 0 (movies 0, 1), 1 (movies 2, 3), 2 (movie 4); movie 5 has no actor."""
    data = HeteroData()
    data["movie"].x = torch.arange(6, dtype=torch.float).view(6, 1).repeat(1, 3)
    data["movie"].y = torch.tensor([0, 0, 1, 1, 0, 1])
    data["actor"].num_nodes = 3
    acts = torch.tensor([[0, 1, 2, 3, 4], [0, 0, 1, 1, 2]])
    data["movie", "to", "actor"].edge_index = acts
    data["actor", "to", "movie"].edge_index = acts.flip(0)
    data["movie", "MM", "movie"].edge_index = torch.tensor([[0, 2], [3, 5]])
    data.target_node_type = "movie"
    return data


def test_walks_follow_the_metapath_and_the_batch_indexes_its_nodes():
    data = _movies()
    sampler = MetapathSampler(data, ["MAM", ("movie", "MM", "movie")], walks=8)
    assert sampler.chains[0] == [("movie", "to", "actor"), ("actor", "to", "movie")]
    seeds = torch.tensor([0, 2, 5])
    batch = sampler.sample(seeds, data["movie"].x, torch.Generator().manual_seed(0))
    assert batch.batch_size == 3 and batch.n_id[:3].tolist() == [0, 2, 5]
    mam, stored = batch.neighbors
    assert mam.shape == (3, 8) and stored.shape == (3, 8)
    share_an_actor = {0: {0, 1}, 2: {2, 3}, 5: set()}
    for row, seed in enumerate(seeds.tolist()):
        reached = {int(batch.n_id[i]) for i in mam[row] if i >= 0}
        assert reached <= share_an_actor[seed]
        assert (reached == share_an_actor[seed]) or len(share_an_actor[seed]) > 1
    assert (mam[2] == -1).all()                      # movie 5 has no actor: every walk dropped
    assert {int(batch.n_id[i]) for i in stored[0]} == {3}
    assert (stored[2] == -1).all()                  # movie 5 has no out-edge in MM
    assert torch.equal(batch.x, data["movie"].x[batch.n_id])
    assert batch.degrees[0] is None and batch.degrees[1].tolist() == [1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="lead from the target type"):
        MetapathSampler(data, [[("movie", "to", "actor")]])


def test_dmgi_learns_split_multiplex_structure_on_mini_batches():
    data = split_multiplex()
    single = single_relation_accuracies()
    torch.manual_seed(0)
    model = build_model(DMGI, data=data, hidden_channels=32)
    history = fit_minibatch(model, data, batch_size=100, num_neighbors=[10], epochs=100,
                            lr=0.01, weight_decay=1e-4, patience=None, progress=False)
    assert history.losses[-1] < history.losses[0]
    z = embed(model, data)
    assert torch.equal(z, model.Z.detach())
    assert accuracy_of(z, data["node"]) > max(single) + 0.1


def test_metapaths_train_unbuilt_on_mini_batches_only():
    data = _movies()
    model = DMGI.from_data(data, metapaths=["MAM"], hidden_channels=4)
    assert model.relations is None and model.sampled_relations == ["MAM"]
    history = fit_minibatch(model, data, batch_size=3, num_neighbors=[4], epochs=3,
                            patience=None, progress=False)
    assert len(history.losses) == 3 and model.embed().shape == (6, 4)
    with pytest.raises(ValueError, match="built without 'relations'"):
        model.inputs(data)
    with pytest.raises(ValueError, match="one count"):
        fit_minibatch(model, data, num_neighbors=[4, 4], epochs=1, progress=False)
    dgi = build_model(DGI, in_channels=3, hidden_channels=4)
    source = MetapathBatches(data, ["MAM"])
    with pytest.raises(TypeError, match="defines no metapath_loss"):
        source.setup(dgi, torch.device("cpu"))


def _full_neighbourhood_batch(edge_index, x, seeds):
    """A batch whose 'sampled' neighbours are exactly every in-neighbour of each seed."""
    from graphinfo.metapath_sampler import MetapathBatch

    others = torch.tensor([i for i in range(x.size(0)) if i not in seeds.tolist()])
    n_id = torch.cat([seeds, others])                  # the seeds first, as the sampler does
    local = torch.empty_like(n_id)
    local[n_id] = torch.arange(n_id.numel())
    lists = [edge_index[0, edge_index[1] == s].tolist() for s in seeds.tolist()]
    width = max(len(items) for items in lists)
    neighbors = torch.full((seeds.numel(), width), -1)
    for row, items in enumerate(lists):
        neighbors[row, :len(items)] = local[torch.tensor(items, dtype=torch.long)]
    degrees = torch.tensor([float(len(items)) for items in lists])
    return MetapathBatch(n_id, x[n_id], [neighbors], [degrees], seeds.numel())


@pytest.mark.parametrize("encoder", ["gcn", "gat"])
def test_hdgi_rows_from_every_neighbour_equal_the_full_layer(encoder):
    from torch_geometric.nn import GATConv

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(12, 5, generator=generator)
    edge_index = torch.randint(0, 12, (2, 40), generator=generator)
    edge_index = torch.unique(edge_index[:, edge_index[0] != edge_index[1]], dim=1)
    torch.manual_seed(0)
    model = HDGI(5, 1, 8, encoder=encoder, heads=2)
    model.eval()
    seeds = torch.tensor([0, 3, 7, 11])
    batch = _full_neighbourhood_batch(edge_index, x, seeds)
    rows = model._sampled_rows(model.encoders[0], batch.x, batch.neighbors[0],
                               batch.degrees[0], 4)
    conv = model.encoders[0].convs[0]
    if encoder == "gat":    # exactly GATConv (with its self-loops) on the seeds
        assert isinstance(conv, GATConv)
        expected = model.encoders[0](x, edge_index)[seeds]
    else:                   # the random-walk normalised GCN row: (x_i + sum_j x_j) / (1 + d_i)
        a = torch.zeros(12, 12)
        a[edge_index[1], edge_index[0]] = 1.0
        a += torch.eye(12)
        propagated = (a / a.sum(1, keepdim=True)) @ (x @ conv.lin.weight.t()) + conv.bias
        expected = model.encoders[0].acts[0](propagated)[seeds]
    assert torch.allclose(rows, expected, atol=1e-5)


@pytest.mark.parametrize("encoder", ["gcn", "gat"])
def test_hdgi_learns_split_multiplex_structure_on_mini_batches(encoder):
    data = split_multiplex()
    single = single_relation_accuracies()
    torch.manual_seed(0)
    model = build_model(HDGI, data=data, hidden_channels=32, encoder=encoder)
    history = fit_minibatch(model, data, batch_size=100, num_neighbors=[10], epochs=60,
                            lr=0.01, patience=None, progress=False)
    assert history.losses[-1] < history.losses[0]
    z = embed(model, data)          # the full metapath graphs, as after full-batch training
    assert accuracy_of(z, data["node"]) > max(single) + 0.1


def test_hdgi_on_metapaths_trains_and_embeds_by_sampling():
    data = _movies()
    model = HDGI.from_data(data, metapaths=["MAM", "MM"], hidden_channels=4, heads=2,
                           encoder="gat")
    assert model.relations is None and model.sampled_relations == ["MAM", "MM"]
    history = fit_minibatch(model, data, batch_size=3, num_neighbors=[4], epochs=3,
                            patience=None, progress=False)
    assert len(history.losses) == 3
    z = embed(model, data)
    assert z.shape == (6, 4) and torch.isfinite(z).all()
    assert torch.equal(z, model.embed_sampled(data))     # seeded: the same draws again
    with pytest.raises(ValueError, match="built without 'relations'"):
        model.inputs(data)
    deep = HDGI.from_data(data, metapaths=["MAM"], hidden_channels=4,
                          encoder_kwargs={"num_layers": 2})
    with pytest.raises(ValueError, match="one-layer encoders"):
        fit_minibatch(deep, data, batch_size=3, num_neighbors=[4], epochs=1, progress=False)
