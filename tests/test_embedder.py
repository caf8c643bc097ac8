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
