"""Graph classification from frozen graph embeddings: an SVM under k-fold cross-validation.

The protocol of InfoGraph (Sun et al., ICLR 2020, `arXiv:1908.01000
<https://arxiv.org/abs/1908.01000>`_) and of most unsupervised graph-level work since: stratified
10-fold cross-validation; in each fold an SVM's ``C`` is chosen by an inner cross-validation on
the training folds only, and the held-out fold is scored once with the chosen model. The
reported figure is the mean (and standard deviation) of the ten fold accuracies.
"""
from __future__ import annotations

import logging
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from torch import Tensor

from graphinfo.evaluation.linear_probe import embeddings_and_labels
from graphinfo.runtime import guard_native_memory

logger = logging.getLogger(__name__)

#: The ``C`` values InfoGraph's evaluation searches: 1e-3 ... 1e3, one per decade.
DEFAULT_SVM_CS: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)


@guard_native_memory
def svm_cross_validation(z: Tensor | np.ndarray, y: Tensor | np.ndarray, *, folds: int = 10,
                         inner_folds: int = 5, cs: Sequence[float] = DEFAULT_SVM_CS,
                         kernel: str = "rbf", standardize: bool = False,
                         seed: int | None = 0) -> dict[str, Any]:
    """Accuracy of an SVM on graph embeddings ``z`` (one row per graph) with labels ``y``.

    Args:
        folds: Outer stratified folds (InfoGraph: 10).
        inner_folds: Stratified folds of the grid search over ``cs`` inside each training part.
        cs: The ``C`` values searched.
        kernel: The SVM kernel (InfoGraph used scikit-learn's default, ``'rbf'``).
        standardize: Standardise features, fitted on each training part only.
        seed: Seed of the fold shuffles (``None``: a fresh shuffle each call).

    Returns:
        A dict with ``accuracy`` (mean over the folds), ``std`` (sample standard deviation over
        the folds), ``fold_accuracies`` and ``fold_cs`` (the ``C`` chosen in each fold, always
        without looking at its test fold).

    Raises:
        ValueError: On malformed embeddings or labels, fewer than two classes, or a class with
            fewer members than ``folds`` (stratified folds are then impossible).
    """
    features, labels = embeddings_and_labels(z, y)
    if folds < 2 or inner_folds < 2:
        raise ValueError(f"'folds' and 'inner_folds' must be >= 2, got {folds} and "
                         f"{inner_folds}")
    if not cs:
        raise ValueError("'cs' must name at least one C value")
    classes, counts = np.unique(labels, return_counts=True)
    if classes.size < 2:
        raise ValueError(f"graph classification needs at least two classes, got {classes.size}")
    if counts.min() < folds:
        raise ValueError(f"class {classes[counts.argmin()]!r} has {counts.min()} graphs, fewer "
                         f"than folds={folds}; use fewer folds")
    outer = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    accuracies: list[float] = []
    chosen: list[float] = []
    for train, test in outer.split(features, labels):
        steps = [StandardScaler()] if standardize else []
        pipeline = make_pipeline(*steps, SVC(kernel=kernel))
        inner_splits = min(inner_folds, int(np.unique(labels[train], return_counts=True)[1]
                                           .min()))
        inner = StratifiedKFold(n_splits=max(inner_splits, 2), shuffle=True, random_state=seed)
        search = GridSearchCV(pipeline, {"svc__C": list(cs)}, cv=inner, scoring="accuracy")
        search.fit(features[train], labels[train])
        accuracies.append(float(search.score(features[test], labels[test])))
        chosen.append(float(search.best_params_["svc__C"]))
    if any(c in (min(cs), max(cs)) for c in chosen) and len(cs) > 1:
        logger.info("the SVM's C was chosen at the edge of the grid in some folds: %s", chosen)
    return {"accuracy": statistics.fmean(accuracies),
            "std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
            "fold_accuracies": accuracies, "fold_cs": chosen}
