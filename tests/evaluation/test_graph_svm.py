import logging

import numpy as np
import pytest
import torch

from graphinfo.evaluation import evaluate, svm_cross_validation
from graphinfo.evaluation.graph_svm import DEFAULT_SVM_CS


def _blobs(num_graphs=120, dims=8, separation=3.0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(num_graphs) % 2
    z = torch.randn(num_graphs, dims, generator=generator)
    z[:, 0] += separation * (2 * y - 1)
    return z, y


def test_separable_graph_embeddings_are_classified_well():
    z, y = _blobs()
    result = svm_cross_validation(z, y)
    assert result["accuracy"] > 0.95
    assert len(result["fold_accuracies"]) == 10
    assert all(c in DEFAULT_SVM_CS for c in result["fold_cs"])


def test_embeddings_without_signal_score_near_chance():
    z, y = _blobs(separation=0.0, seed=1)
    result = svm_cross_validation(z, y, folds=5, inner_folds=3)
    assert 0.3 < result["accuracy"] < 0.7


def test_c_is_chosen_without_the_test_fold(monkeypatch):
    # A grid of one value must be taken in every fold; with several values the choice can only
    # come from the inner search, so the test fold is never seen (GridSearchCV gets train rows).
    import graphinfo.evaluation.graph_svm as module

    seen = []
    original = module.GridSearchCV.fit

    def spy(self, x, y):
        seen.append(len(x))
        return original(self, x, y)

    monkeypatch.setattr(module.GridSearchCV, "fit", spy)
    z, y = _blobs(num_graphs=100)
    result = svm_cross_validation(z, y, cs=(1.0,))
    assert result["fold_cs"] == [1.0] * 10
    assert seen == [90] * 10


def test_the_same_seed_gives_the_same_folds_and_result():
    z, y = _blobs(separation=0.8, seed=2)
    options = {"seed": 3, "folds": 5, "inner_folds": 3, "cs": (0.1, 1.0, 10.0)}
    assert svm_cross_validation(z, y, **options) == svm_cross_validation(z, y, **options)


def test_standardisation_and_kernel_options():
    z, y = _blobs()
    z = z * torch.tensor([1000.0] + [1.0] * 7)   # badly scaled features
    linear = svm_cross_validation(z, y, kernel="linear", standardize=True, folds=5,
                                  cs=(0.1, 1.0))
    assert linear["accuracy"] > 0.95


def test_clear_errors_on_bad_input():
    z, y = _blobs(num_graphs=40)
    with pytest.raises(ValueError, match="fewer than folds=10"):
        svm_cross_validation(z[:12], torch.tensor([0] * 6 + [1] * 6))
    with pytest.raises(ValueError, match="at least two classes"):
        svm_cross_validation(z, torch.zeros(40, dtype=torch.long))
    with pytest.raises(ValueError, match=r"shape \[N, F\]"):
        svm_cross_validation(z[:10], y)
    with pytest.raises(ValueError, match="'folds' and 'inner_folds' must be >= 2"):
        svm_cross_validation(z, y, folds=1)


def test_available_as_a_named_protocol(caplog):
    z, y = _blobs()
    with caplog.at_level(logging.INFO):
        result = evaluate(z, y, protocol="graph_svm", folds=5)
    assert result["accuracy"] > 0.95 and len(result["fold_accuracies"]) == 5
    assert np.isfinite(result["std"])
