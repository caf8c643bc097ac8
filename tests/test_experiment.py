import pytest
import torch
from torch_geometric.data import Data

from graphinfo.experiment import normalise_features, run_graph_seed, run_seed, summarise
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


def test_the_untrained_baseline_leaves_training_unchanged(planted):
    kwargs = dict(model_kwargs={"hidden_channels": 16}, fit_kwargs={"epochs": 5})
    plain = run_seed("dgi", planted, split_of(planted), 3, **kwargs)
    with_baseline = run_seed("dgi", planted, split_of(planted), 3, untrained_baseline=True,
                             **kwargs)
    assert torch.equal(plain.embeddings, with_baseline.embeddings)
    extra = set(with_baseline.metrics) - set(plain.metrics)
    assert extra == {"untrained_train_acc", "untrained_valid_acc", "untrained_test_acc"}
    assert 0.0 <= with_baseline.metrics["untrained_test_acc"] <= 1.0


def test_run_seed_without_a_split_trains_and_embeds_but_does_not_evaluate(planted):
    run = run_seed("dgi", planted, None, 0, model_kwargs={"hidden_channels": 8},
                   fit_kwargs={"epochs": 3}, untrained_baseline=True)
    assert run.embeddings.shape == (planted.num_nodes, 8)
    assert set(run.metrics) == {"seed", "epochs", "best_epoch", "best_loss", "train_seconds"}
    with pytest.raises(ValueError, match="needs a split"):
        run_seed("dgi", planted, None, 0, select_every=2)


def test_summarise():
    out = summarise([{"a": 1.0}, {"a": 3.0}], ["a"])
    assert out == {"a": {"mean": 2.0, "std": pytest.approx(2 ** 0.5), "n": 2}}


def _cycles_and_stars(count):
    from tests.models.small_graphs import cycle_or_star as _graph

    generator = torch.Generator().manual_seed(0)
    graphs = [_graph("cycle" if i % 2 == 0 else "star",
                     int(torch.randint(5, 12, (1,), generator=generator)), generator)
              for i in range(count)]
    return graphs, torch.cat([g.y for g in graphs])


def test_run_graph_seed_separates_two_planted_graph_classes():
    graphs, labels = _cycles_and_stars(40)
    kwargs = dict(model_kwargs={"hidden_channels": 16, "num_layers": 2},
                  fit_kwargs={"epochs": 5, "batch_size": 16, "lr": 0.01, "progress": False},
                  svm_kwargs={"folds": 5, "inner_folds": 3})
    a = run_graph_seed("infograph", graphs, labels, 3, **kwargs)
    assert a.metrics["accuracy"] > 0.8  # chance is 0.5
    assert a.embeddings.shape == (40, 32)
    assert a.metrics["seed"] == 3 and a.metrics["epochs"] == 5
    assert set(a.metrics) == {"seed", "accuracy", "accuracy_std", "epochs", "final_loss",
                              "train_seconds"}
    b = run_graph_seed("infograph", graphs, labels, 3, **kwargs)
    assert torch.equal(a.embeddings, b.embeddings) and a.metrics["accuracy"] == \
        b.metrics["accuracy"]


def test_the_paper_protocol_reports_the_best_scored_epoch_and_leaves_training_alone():
    graphs, labels = _cycles_and_stars(30)
    kwargs = dict(model_kwargs={"hidden_channels": 8, "num_layers": 2},
                  fit_kwargs={"epochs": 5, "batch_size": 10, "lr": 0.01, "progress": False},
                  svm_kwargs={"folds": 3, "inner_folds": 2})
    honest = run_graph_seed("infograph", graphs, labels, 1, **kwargs)
    paper = run_graph_seed("infograph", graphs, labels, 1, paper_every=2, **kwargs)
    assert torch.equal(honest.embeddings, paper.embeddings)          # the same training
    assert paper.metrics["accuracy"] == honest.metrics["accuracy"]
    assert paper.metrics["paper_epoch"] in (2, 4, 5)                  # scored epochs
    # The last epoch is among those scored, so the best is at least the honest figure.
    assert paper.metrics["paper_accuracy"] >= paper.metrics["accuracy"]
    assert "paper_accuracy" not in honest.metrics
    with pytest.raises(ValueError, match="'paper_every' must be a positive int"):
        run_graph_seed("infograph", graphs, labels, 1, paper_every=0, **kwargs)
    with pytest.raises(ValueError, match="without labels"):
        run_graph_seed("infograph", graphs, None, 1, paper_every=1, **kwargs)


def test_run_graph_seed_needs_one_label_per_graph():
    graphs, labels = _cycles_and_stars(6)
    with pytest.raises(ValueError, match=r"'labels' must hold one label per graph \(6\), got 5"):
        run_graph_seed("infograph", graphs, labels[:5], 0)


def test_validation_selection_keeps_the_best_valid_epoch_and_never_reads_test(planted,
                                                                             monkeypatch):
    import graphinfo.experiment as experiment
    from graphinfo.experiment import ValidationSelection

    split = split_of(planted)
    seen, probe = [], experiment.linear_probe

    def spy(z, y, split, **kwargs):
        seen.append(sorted(split))
        return probe(z, y, split, **kwargs)

    monkeypatch.setattr(experiment, "linear_probe", spy)
    data = normalise_features(planted)
    selection = ValidationSelection(data, split, every=5, patience=2)
    run = run_seed("dgi", data, split, 0,
                   model_kwargs={"hidden_channels": 16},
                   fit_kwargs={"epochs": 60, "lr": 0.01, "patience": None, "progress": False,
                               "callbacks": [selection]})
    assert selection.best_epoch % 5 == 0 and 0 <= selection.best_valid <= 1
    assert run.metrics["epochs"] <= 60
    # Every selection check saw train and valid only; the final evaluation saw the test split.
    assert seen[:-1] and all(keys == ["train", "valid"] for keys in seen[:-1])
    assert seen[-1] == ["test", "train", "valid"]
    # The weights evaluated are the selected ones: the same validation accuracy.
    model = experiment.build_model("dgi", in_channels=data.num_features, hidden_channels=16)
    selection.restore(model)
    z = experiment.embed(model, data)
    assert probe(z, data.y, split)["valid_acc"] == pytest.approx(selection.best_valid)
    # run_seed's own selection restores the epoch it chose and reports it.
    chosen = run_seed("dgi", data, split, 0,
                      model_kwargs={"hidden_channels": 16},
                      fit_kwargs={"epochs": 60, "lr": 0.01, "patience": None,
                                  "progress": False},
                      select_every=5, select_patience=2)
    assert chosen.metrics["selected_epoch"] % 5 == 0
    assert chosen.metrics["epochs"] <= 60
    with pytest.raises(ValueError, match="'every' and 'patience' must be >= 1"):
        ValidationSelection(data, split, every=0)
    with pytest.raises(RuntimeError, match="has not evaluated"):
        ValidationSelection(data, split).restore(torch.nn.Linear(1, 1))


def test_run_seed_with_the_ogb_probe_reports_the_evaluator_metric(planted, monkeypatch):
    from ogb.nodeproppred import Evaluator

    from graphinfo.evaluation import linear_probe

    calls = []
    original = Evaluator.eval

    def spy(self, input_dict):
        calls.append(len(input_dict["y_true"]))
        return original(self, input_dict)

    monkeypatch.setattr(Evaluator, "eval", spy)
    split = split_of(planted)
    kwargs = dict(model_kwargs={"hidden_channels": 16},
                  fit_kwargs={"epochs": 5, "progress": False})
    run = run_seed("dgi", planted, split, 0, probe="ogb",
                   probe_kwargs={"name": "ogbn-arxiv", "Cs": (0.01, 1.0)}, **kwargs)
    metrics = run.metrics
    assert metrics["metric"] == "acc" and "nmi" not in metrics  # OGB's protocol: no k-means
    assert set(metrics) >= {"seed", "train_acc", "valid_acc", "test_acc", "C", "epochs"}
    assert calls[-1] == split["test"].numel() and calls.count(split["test"].numel()) == 1
    # On accuracy datasets the Evaluator's metric is the plain probe's accuracy.
    plain = linear_probe(run.embeddings, planted.y, split, Cs=(0.01, 1.0))
    assert metrics["test_acc"] == pytest.approx(plain["test_acc"])
    assert metrics["C"] == plain["C"]
    # Epoch selection with the same probe sees train and valid only.
    calls.clear()
    chosen = run_seed("dgi", planted, split, 0, probe="ogb",
                      probe_kwargs={"name": "ogbn-arxiv", "Cs": (1.0,)}, select_every=2,
                      select_patience=1, **kwargs)
    assert chosen.metrics["selected_epoch"] % 2 == 0
    sizes = {key: split[key].numel() for key in ("train", "valid", "test")}
    assert len(set(sizes.values())) == 3
    checks = calls[:-3]   # the final probe scores valid, train, then test
    assert checks and set(checks) == {sizes["train"], sizes["valid"]}
    assert calls[-1] == sizes["test"] and calls.count(sizes["test"]) == 1
    with pytest.raises(ValueError, match="'probe' must be one of 'linear_probe', 'ogb'"):
        run_seed("dgi", planted, split, 0, probe="clustering", **kwargs)


def test_huge_features_are_normalised_not_zeroed_and_bad_ones_refused():
    x = torch.tensor([[3e38, 3e38, 0.0], [1.0, 3.0, 0.0]])
    data = Data(x=x, edge_index=torch.zeros(2, 0, dtype=torch.long))
    rows = normalise_features(data, "row").x
    assert torch.allclose(rows, torch.tensor([[0.5, 0.5, 0.0], [0.25, 0.75, 0.0]]))
    sparse = normalise_features(Data(x=x.to_sparse(), edge_index=data.edge_index), "row").x
    assert torch.allclose(sparse.to_dense(), rows)
    for bad in (float("nan"), float("inf")):
        broken = Data(x=torch.tensor([[1.0, bad], [0.0, 1.0]]), edge_index=data.edge_index)
        with pytest.raises(ValueError, match=r"hold 1 NaN or infinite value\(s\)"):
            normalise_features(broken, "none")


def test_constant_features_are_a_warning():
    edges = torch.zeros(2, 0, dtype=torch.long)
    with pytest.warns(UserWarning, match=r"same features \(all zero\)"):
        normalise_features(Data(x=torch.zeros(4, 3), edge_index=edges), "auto")
    with pytest.warns(UserWarning, match=r"same features \(one constant row\)"):
        normalise_features(Data(x=torch.ones(4, 3), edge_index=edges), "none")
