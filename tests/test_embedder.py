import math

import pytest
import torch

from graphinfo import Embedder
from graphinfo.models import DGI


def test_fit_transform_and_attributes(planted):
    emb = Embedder("dgi", seed=0, hidden_channels=24, epochs=15, lr=0.01, patience=None,
                   estimator="dv")
    assert emb.fit(planted) is emb
    assert isinstance(emb.model_, DGI) and emb.model_.hidden_channels == 24
    assert emb.embedding_.shape == (planted.num_nodes, 24)
    assert emb.history_.epochs == 15
    assert torch.allclose(emb.transform(planted), emb.embedding_)
    assert emb.get_params()["estimator"] == "dv"


def test_same_seed_same_embeddings(planted):
    first = Embedder(seed=3, hidden_channels=8, epochs=5).fit_transform(planted)
    second = Embedder(seed=3, hidden_channels=8, epochs=5).fit_transform(planted)
    assert torch.equal(first, second)


def test_scikit_learn_clone_and_set_params():
    from sklearn.base import clone

    emb = Embedder("dgi", seed=1, hidden_channels=8, lr=0.01)
    copy = clone(emb)
    assert copy is not emb and copy.get_params() == emb.get_params()
    assert emb.set_params(lr=0.1, seed=2) is emb
    assert emb.get_params()["lr"] == 0.1 and emb.seed == 2


def test_errors(planted):
    with pytest.raises(RuntimeError, match="not fitted yet"):
        Embedder().transform(planted)
    with pytest.raises(ValueError, match="Unknown model 'dgx'"):
        Embedder("dgx").fit(planted)


def _cycles_and_stars(count=24):
    from torch_geometric.data import Data
    from torch_geometric.utils import to_undirected

    graphs = []
    for i in range(count):
        size = 6 + i % 5
        nodes = torch.arange(size)
        if i % 2 == 0:
            edge_index = torch.stack([nodes, (nodes + 1) % size])
        else:
            edge_index = torch.stack([torch.zeros(size - 1, dtype=torch.long), nodes[1:]])
        graphs.append(Data(x=torch.ones(size, 1), edge_index=to_undirected(edge_index),
                           y=torch.tensor([i % 2])))
    return graphs


def test_graph_level_model_embeds_each_graph():
    from graphinfo.models import InfoGraph

    graphs = _cycles_and_stars()
    emb = Embedder("infograph", seed=0, hidden_channels=8, num_layers=2, epochs=3,
                   batch_size=8)
    z = emb.fit_transform(graphs)
    assert isinstance(emb.model_, InfoGraph) and z.shape == (24, 16)
    assert emb.history_.epochs == 3
    assert torch.allclose(emb.transform(graphs[:5]), z[:5], atol=1e-5)
    with pytest.raises(ValueError, match="collection of graphs"):
        emb.fit(graphs[0])
    with pytest.raises(ValueError, match="not training arguments of a graph-level model"):
        Embedder("infograph", patience=3).fit(graphs)


def test_heterogeneous_datasets_reach_each_model_as_it_reads_them(tmp_path):
    from graphinfo.data import load_dataset
    from tests.data.hetero_layout import write_toy_heco

    write_toy_heco(tmp_path / "heco" / "toy")
    loaded = load_dataset("heco:toy", root=tmp_path, labelled_per_class=5)
    dmgi = Embedder("dmgi", hidden_channels=8, epochs=3, seed=0).fit(loaded)
    assert dmgi.model_.relations == [("m", "MKM", "m")]
    assert dmgi.embedding_.shape == (60, 8)
    assert torch.equal(dmgi.embedding_, dmgi.model_.Z.detach())      # DMGI's Z
    # a model of one graph gets the target nodes with one relation
    dgi = Embedder("dgi", hidden_channels=8, epochs=3, seed=0).fit(loaded)
    assert dgi.embedding_.shape == (60, 8)
    assert torch.equal(dgi.transform(loaded), dgi.embedding_)


@pytest.mark.parametrize("model", ["mvgrl", "grace", "gca", "cpc", "multiview"])
def test_multi_view_models_embed_a_graph(planted, model):
    z = Embedder(model, seed=0, hidden_channels=8, epochs=2).fit_transform(planted)
    assert z.shape[0] == planted.num_nodes and bool(torch.isfinite(z).all())


def test_graph_level_mvgrl_embeds_each_graph():
    from graphinfo.models import GraphMVGRL

    graphs = _cycles_and_stars()
    emb = Embedder("mvgrl_graph", seed=0, hidden_channels=8, num_layers=2, epochs=2,
                   batch_size=8)
    z = emb.fit_transform(graphs)
    assert isinstance(emb.model_, GraphMVGRL) and z.shape == (24, 8)
    assert torch.allclose(emb.transform(graphs[:5]), z[:5], atol=1e-5)


def test_a_model_of_both_levels_embeds_graphs_or_nodes_as_the_data_asks(planted):
    graphs = _cycles_and_stars()
    emb = Embedder("uhgr", seed=0, hidden_channels=4, num_layers=2, epochs=2, batch_size=8)
    z = emb.fit_transform(graphs)
    assert emb.graph_level_ and z.shape == (24, 16)        # max readouts of levels 0 and 1
    assert torch.allclose(emb.transform(graphs[:5]), z[:5], atol=1e-5)
    assert emb.history_.epochs == 2
    nodes = Embedder("uhgr", seed=0, hidden_channels=4, num_layers=2, epochs=2,
                     patience=2).fit(planted)
    assert not nodes.graph_level_ and nodes.embedding_.shape == (planted.num_nodes, 8)
    assert nodes.model_.num_clusters == (math.ceil(0.25 * planted.num_nodes),)
