"""Linear-probe evaluation: logistic regression on frozen embeddings.

Regularisation is chosen on the validation split and the test split is scored once, with the
chosen model (never used for selection)."""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from torch import Tensor

from graphinfo.data.splits import check_split
from graphinfo.runtime import guard_native_memory

logger = logging.getLogger(__name__)

#: Inverse regularisation strengths searched on the validation split: 1e-5 ... 1e2, half-decade
#: steps. Few labelled nodes (e.g. 120 on CiteSeer) and hundreds of dimensions call for strong
#: regularisation, so the grid reaches far below C=1.
DEFAULT_CS: tuple[float, ...] = tuple(float(c) for c in np.logspace(-5, 2, 15))


def to_numpy(value: Tensor | np.ndarray) -> np.ndarray:
    """A tensor (detached, on the CPU) or array-like as a NumPy array."""
    if isinstance(value, Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def embeddings_and_labels(z: Tensor | np.ndarray,
                          y: Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Checks embeddings (finite, shape [N, F]) against labels (N) and returns both as numpy."""
    features, labels = to_numpy(z), to_numpy(y).reshape(-1)
    if features.ndim != 2 or features.shape[0] != labels.shape[0]:
        raise ValueError(f"'z' must have shape [N, F] with N = len(y) = {labels.shape[0]}, got "
                         f"{features.shape}")
    if not np.isfinite(features).all():
        raise ValueError("'z' contains NaN or infinite values; expected finite embeddings")
    return features, labels


def split_indices(split: Mapping[str, Tensor | np.ndarray], num_nodes: int, *,
                  allow_empty: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Checks a ``{'train','valid','test'}`` split (index tensors or boolean masks) with
    :func:`graphinfo.data.check_split` and returns it as numpy index arrays. ``'test'`` may be
    left out (validation-only use); the parts named in ``allow_empty`` may be empty."""
    indices: dict[str, Tensor] = {}
    for key, part in split.items():
        part = torch.as_tensor(part).cpu()
        if part.dtype == torch.bool:
            if part.shape != (num_nodes,):
                raise ValueError(f"split[{key!r}] is a boolean mask of shape "
                                 f"{tuple(part.shape)}; expected ({num_nodes},)")
            part = part.nonzero().view(-1)
        indices[key] = part.long()
    check_split(indices if "test" in indices else
                {**indices, "test": torch.zeros(0, dtype=torch.long)}, num_nodes)
    for key, part in indices.items():
        if part.numel() == 0 and key not in allow_empty:
            raise ValueError(f"split[{key!r}] is empty; expected at least one index")
    return {key: part.numpy() for key, part in indices.items()}


def _cross_validated_accuracy(features: np.ndarray, labels: np.ndarray, C: float,
                              max_iter: int, folds: int) -> float:
    """Mean accuracy over stratified folds of the training nodes (seeded, so every C sees the
    same folds)."""
    from sklearn.model_selection import StratifiedKFold

    smallest = int(np.unique(labels, return_counts=True)[1].min())
    splitter = StratifiedKFold(n_splits=max(2, min(folds, smallest)), shuffle=True,
                               random_state=0)
    scores = []
    for train, held_out in splitter.split(features, labels):
        clf = LogisticRegression(C=C, max_iter=max_iter).fit(features[train], labels[train])
        scores.append(clf.score(features[held_out], labels[held_out]))
    return float(np.mean(scores))


@guard_native_memory
def linear_probe(z: Tensor | np.ndarray, y: Tensor | np.ndarray, split: Mapping[str, Tensor],
                 Cs: Sequence[float] = DEFAULT_CS, standardize: bool = True,
                 max_iter: int = 2000, inner_folds: int = 5) -> dict[str, float]:
    r"""Multinomial logistic regression on frozen embeddings, with the inverse regularisation
    strength :math:`C` chosen by validation accuracy; with an empty ``'valid'`` part (a
    train/test split such as GRACE's random 10 % / 90 %) by the mean accuracy of a stratified
    ``inner_folds``-fold cross-validation on the training nodes instead. Either way the test
    nodes are never used for the choice.

    Args:
        z: Embeddings :math:`(N, F)`.
        y: Integer labels :math:`(N,)`.
        split: ``{'train','valid','test'}`` index tensors (or boolean masks) into ``z``;
            without ``'test'`` only the selection runs (for choosing among models on the
            validation split without touching the test labels) and ``test_acc`` is absent.
        Cs: Grid of :math:`C` values searched on the validation split.
        standardize: Scale features with statistics of the training nodes only.
        max_iter: L-BFGS iterations.
        inner_folds: Folds of the cross-validation used when ``'valid'`` is empty.

    Returns:
        ``{'train_acc', 'valid_acc', 'test_acc', 'C'}``; accuracies in [0, 1] (``valid_acc``
        is the cross-validated accuracy when ``'valid'`` is empty).
    """
    if len(Cs) == 0:
        raise ValueError("'Cs' must hold at least one regularisation strength, got none")
    features, labels = embeddings_and_labels(z, y)
    idx = split_indices(split, features.shape[0], allow_empty=("valid",))
    if standardize:
        scaler = StandardScaler().fit(features[idx["train"]])
        features = scaler.transform(features)
    cross_validate = idx["valid"].size == 0
    best: dict[str, Any] | None = None
    for C in Cs:
        if cross_validate:
            valid = _cross_validated_accuracy(features[idx["train"]], labels[idx["train"]], C,
                                              max_iter, inner_folds)
            if best is None or valid > best["valid_acc"]:
                best = {"valid_acc": valid, "C": float(C), "clf": None}
            continue
        clf = LogisticRegression(C=C, max_iter=max_iter)
        clf.fit(features[idx["train"]], labels[idx["train"]])
        valid = clf.score(features[idx["valid"]], labels[idx["valid"]])
        if best is None or valid > best["valid_acc"]:
            best = {"valid_acc": float(valid), "C": float(C), "clf": clf}
    if best["C"] in (min(Cs), max(Cs)) and len(Cs) > 1:
        logger.warning("linear probe: the best C (%g) is at the edge of the searched grid; "
                       "consider widening 'Cs'", best["C"])
    clf = best.pop("clf")
    if clf is None:
        clf = LogisticRegression(C=best["C"], max_iter=max_iter).fit(
            features[idx["train"]], labels[idx["train"]])
    best["train_acc"] = float(clf.score(features[idx["train"]], labels[idx["train"]]))
    if "test" not in idx:
        return {key: best[key] for key in ("train_acc", "valid_acc", "C")}
    best["test_acc"] = float(clf.score(features[idx["test"]], labels[idx["test"]]))
    return {key: best[key] for key in ("train_acc", "valid_acc", "test_acc", "C")}


def logistic_regression_score(train_z: Tensor, train_y: Tensor, test_z: Tensor, test_y: Tensor,
                              solver: str = "lbfgs", *args: Any, **kwargs: Any) -> float:
    """Accuracy of a scikit-learn logistic regression fitted on ``train_z`` and scored on
    ``test_z``; the ``test`` of :class:`torch_geometric.nn.DeepGraphInfomax`. ``multi_class``
    (removed from recent scikit-learn) is accepted and ignored when ``'auto'``."""
    if kwargs.pop("multi_class", "auto") not in ("auto", "multinomial"):
        raise ValueError("'multi_class' other than 'auto'/'multinomial' is not supported by "
                         "this scikit-learn version")
    clf = LogisticRegression(*args, solver=solver, **kwargs)
    clf.fit(to_numpy(train_z), to_numpy(train_y))
    return float(clf.score(to_numpy(test_z), to_numpy(test_y)))

