"""Tests of the linear probe selected and scored by OGB's Evaluator (protocol 'ogb')."""
import subprocess
import sys

import numpy as np
import pytest
import torch
from ogb.nodeproppred import Evaluator
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from graphinfo.evaluation import PROTOCOLS, evaluate, linear_probe, ogb_linear_probe
from tests.conftest import blobs

CS = (1e-4, 1e-2, 1.0, 100.0)


def _blobs(n=300, separation=1.0, seed=0):
    return blobs(n, separation, seed)


def _scaled(z, split):
    return StandardScaler().fit(z[split["train"]].numpy()).transform(z.numpy())


def test_accuracy_matches_a_direct_evaluator_call_and_the_plain_probe(evaluator_calls):
    z, y, split = _blobs()
    result = ogb_linear_probe(z, y, split, "ogbn-arxiv", Cs=CS)
    calls = list(evaluator_calls)
    assert set(result) == {"train_acc", "valid_acc", "test_acc", "C", "metric"}
    assert result["metric"] == "acc"
    # Every score came from the Evaluator: one valid call per C, then train, then test once.
    assert [(name, size) for name, size, _ in calls] == \
        [("ogbn-arxiv", 100)] * len(CS) + [("ogbn-arxiv", 60), ("ogbn-arxiv", 140)]
    assert calls[-1][2]["acc"] == result["test_acc"]
    # Parity: the same regression at the chosen C, scored by a direct Evaluator call.
    zs = _scaled(z, split)
    clf = LogisticRegression(C=result["C"], max_iter=2000).fit(zs[split["train"]],
                                                               y[split["train"]].numpy())
    direct = Evaluator("ogbn-arxiv")
    for key in ("train", "valid", "test"):
        idx = split[key].numpy()
        expected = direct.eval({"y_true": y[idx].numpy().reshape(-1, 1),
                                "y_pred": clf.predict(zs[idx]).reshape(-1, 1)})["acc"]
        assert result[f"{key}_acc"] == pytest.approx(expected, abs=1e-12)
    # Accuracy is accuracy: the plain probe selects and scores the same.
    plain = linear_probe(z, y, split, Cs=CS)
    assert {k: result[k] for k in plain} == pytest.approx(plain)


def test_C_is_selected_on_valid_only_and_test_is_scored_once(evaluator_calls):
    z, y, split = _blobs(separation=0.7, seed=3)
    result = ogb_linear_probe(z, y, split, "ogbn-products", Cs=CS)
    zs = _scaled(z, split)
    valid = {}
    for C in CS:
        clf = LogisticRegression(C=C, max_iter=2000).fit(zs[split["train"]], y[split["train"]])
        valid[C] = clf.score(zs[split["valid"]], y[split["valid"]])
    assert result["C"] == max(CS, key=lambda C: (valid[C], -CS.index(C)))
    assert sum(size == 140 for _, size, _ in evaluator_calls) == 1  # the test split, once
    # Scrambling the test labels moves the test score, never the choice.
    scrambled = y.clone()
    scrambled[split["test"]] = y[split["test"]][torch.randperm(140,
                                                generator=torch.Generator().manual_seed(0))]
    again = ogb_linear_probe(z, scrambled, split, "ogbn-products", Cs=CS)
    assert again["C"] == result["C"] and again["valid_acc"] == result["valid_acc"]
    # Without a test split only the selection runs.
    no_test = ogb_linear_probe(z, y, {k: split[k] for k in ("train", "valid")},
                               "ogbn-products", Cs=CS)
    assert set(no_test) == {"train_acc", "valid_acc", "C", "metric"}
    assert no_test["C"] == result["C"]


def test_unlabelled_nodes_outside_the_split_are_ignored_inside_it_refused():
    z, y, split = _blobs(n=340)
    split["test"] = torch.arange(160, 300)  # nodes 300..339 are in no split
    unlabelled = y.clone()
    unlabelled[300:] = -1  # as ogbn-papers100M's unlabelled papers
    full = ogb_linear_probe(z, y, split, "ogbn-papers100M", Cs=CS)
    assert ogb_linear_probe(z, unlabelled, split, "ogbn_papers100m", Cs=CS) == full
    as_float = unlabelled.double()
    as_float[300:] = float("nan")
    assert ogb_linear_probe(z, as_float, split, "ogbn-papers100M", Cs=CS) == full
    unlabelled[5] = -1
    with pytest.raises(ValueError, match=r"split\['train'\] holds 1 node\(s\) without a class"):
        ogb_linear_probe(z, unlabelled, split, "ogbn-papers100M", Cs=CS)


def test_rocauc_fits_one_regression_per_task_and_matches_the_evaluator(caplog):
    generator = np.random.default_rng(0)
    n, tasks = 160, 112
    z = generator.normal(size=(n, 4))
    w = generator.normal(size=(4, tasks))
    y = (z @ w + 0.5 * generator.normal(size=(n, tasks)) > 0).astype(np.int64)
    split = {"train": torch.arange(0, 80), "valid": torch.arange(80, 120),
             "test": torch.arange(120, n)}
    y[split["train"].numpy(), 7] = 1  # task 7 has one class among the training nodes
    Cs = (0.01, 1.0)
    with caplog.at_level("WARNING", logger="graphinfo.evaluation.ogb"):
        result = ogb_linear_probe(torch.tensor(z), torch.tensor(y), split, "ogbn-proteins",
                                  Cs=Cs)
    assert "1 task(s) have one class only" in caplog.text
    assert set(result) == {"train_rocauc", "valid_rocauc", "test_rocauc", "C", "metric"}
    assert result["metric"] == "rocauc" and result["test_rocauc"] > 0.8
    zs = _scaled(torch.tensor(z), split)
    train = split["train"].numpy()
    scores = np.zeros((n, tasks))
    for task in range(tasks):
        if task != 7:
            clf = LogisticRegression(C=result["C"], max_iter=2000).fit(zs[train],
                                                                       y[train, task])
            scores[:, task] = clf.decision_function(zs)
    test = split["test"].numpy()
    expected = Evaluator("ogbn-proteins").eval({"y_true": y[test], "y_pred": scores[test]})
    assert result["test_rocauc"] == pytest.approx(expected["rocauc"], abs=1e-12)
    with pytest.raises(ValueError, match=r"'y' must have shape \[N\] or \[N, 112\]"):
        ogb_linear_probe(torch.tensor(z), torch.tensor(y[:, :3]), split, "ogbn-proteins")
    bad = y.astype(np.float64)
    bad[0, 0] = 2
    with pytest.raises(ValueError, match="must hold 0/1 labels"):
        ogb_linear_probe(torch.tensor(z), torch.tensor(bad), split, "ogbn-proteins", Cs=Cs)


def test_bad_input():
    z, y, split = _blobs()
    with pytest.raises(ValueError, match="Unknown OGB node dataset 'ogbn-cora'"):
        ogb_linear_probe(z, y, split, "ogbn-cora")
    bad = z.clone()
    bad[0, 0] = float("inf")
    with pytest.raises(ValueError, match="'z' contains NaN or infinite values"):
        ogb_linear_probe(bad, y, split, "ogbn-arxiv")
    with pytest.raises(ValueError, match=r"'z' must have shape \[N, F\] with N = len\(y\)"):
        ogb_linear_probe(z[:10], y, split, "ogbn-arxiv")
    with pytest.raises(ValueError, match="'Cs' must hold at least one"):
        ogb_linear_probe(z, y, split, "ogbn-arxiv", Cs=())
    with pytest.raises(ValueError, match="'split' must have exactly the keys"):
        ogb_linear_probe(z, y, {"train": split["train"], "test": split["test"]}, "ogbn-arxiv")
    one_class = y.clone()
    one_class[split["train"]] = 0
    with pytest.raises(ValueError, match="holds 1 class"):
        ogb_linear_probe(z, one_class, split, "ogbn-arxiv")


def test_registered_as_protocol_ogb():
    z, y, split = _blobs()
    assert PROTOCOLS["ogb"] is ogb_linear_probe
    assert evaluate(z, y, split, protocol="ogb", name="ogbn-arxiv", Cs=CS) == \
        ogb_linear_probe(z, y, split, "ogbn-arxiv", Cs=CS)
    with pytest.raises(ValueError, match="protocol 'ogb' needs a split"):
        evaluate(z, y, protocol="ogb", name="ogbn-arxiv")


def test_importing_the_evaluation_package_does_not_import_ogb():
    code = "import sys, graphinfo.evaluation; assert 'ogb' not in sys.modules, 'ogb imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
