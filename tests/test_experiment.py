import pytest
import torch
from torch_geometric.data import Data

from graphinfo.experiment import normalise_features, run_seed, summarise
from tests.conftest import split_of


def test_normalise_features_modes():
    data = Data(x=torch.tensor([[1.0, 3.0], [0.0, 0.0]]))
    rows = normalise_features(data, "row").x
    assert torch.allclose(rows, torch.tensor([[0.25, 0.75], [0.0, 0.0]]))
    assert normalise_features(data, "auto").x.equal(rows)
    assert normalise_features(data, "none") is data
    signed = Data(x=torch.tensor([[1.0, -3.0]]))
    assert normalise_features(signed, "auto") is signed
    assert data.x[0, 0] == 1.0  # the input is never changed
    with pytest.raises(ValueError, match="'mode' must be 'auto', 'row' or 'none'"):
        normalise_features(data, "l2")


def test_run_seed_is_reproducible(planted):
    kwargs = dict(model_kwargs={"hidden_channels": 16}, fit_kwargs={"epochs": 5})
    a = run_seed("dgi", planted, split_of(planted), 7, **kwargs)
    b = run_seed("dgi", planted, split_of(planted), 7, **kwargs)
    assert torch.equal(a.embeddings, b.embeddings)
    assert a.metrics["test_acc"] == b.metrics["test_acc"] and a.metrics["seed"] == 7
    assert set(a.metrics) >= {"train_acc", "valid_acc", "test_acc", "C", "nmi", "ari", "epochs"}


def test_summarise():
    out = summarise([{"a": 1.0}, {"a": 3.0}], ["a"])
    assert out == {"a": {"mean": 2.0, "std": pytest.approx(2 ** 0.5), "n": 2}}
