"""DGI on real Cora with the paper's settings: one seed must reach the paper's accuracy range."""
from graphinfo.data import load_dataset
from graphinfo.experiment import normalise_features, run_seed


def test_dgi_on_real_cora_reaches_78_percent(data_root):
    dataset = load_dataset("cora", root=data_root)
    data = normalise_features(dataset.data, "row")
    run = run_seed("dgi", data, dataset.split, seed=0,
                   model_kwargs={"hidden_channels": 512},
                   fit_kwargs={"epochs": 1000, "lr": 1e-3, "patience": 20, "progress": False})
    assert run.metrics["test_acc"] >= 0.78, run.metrics
    assert run.embeddings.shape == (2708, 512)
