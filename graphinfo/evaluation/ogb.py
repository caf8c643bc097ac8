r"""Linear probe scored by OGB's official ``Evaluator`` (``ogb`` is imported only when called).

The Open Graph Benchmark fixes, for each node dataset, a split and a metric computed by
:class:`ogb.nodeproppred.Evaluator` (Hu et al., *Open Graph Benchmark: Datasets for Machine
Learning on Graphs*, NeurIPS 2020, https://arxiv.org/abs/2005.00687; leaderboard rules at
https://ogb.stanford.edu/docs/leader_rules/): accuracy for ``ogbn-arxiv``, ``-products``,
``-mag`` and ``-papers100M``, ROC-AUC averaged over 112 binary tasks for ``ogbn-proteins``.
:func:`ogb_linear_probe` judges frozen embeddings by that contract: the regularisation of the
logistic regression is selected with the Evaluator's metric on ``'valid'``, and ``'test'`` is
scored once, with the selected model.
"""
from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from torch import Tensor

from graphinfo.evaluation.linear_probe import (
    DEFAULT_CS,
    embeddings_and_labels,
    split_indices,
    to_numpy,
)
from graphinfo.runtime import guard_native_memory

logger = logging.getLogger(__name__)

#: Evaluator metrics this probe knows how to predict for.
METRICS = ("acc", "rocauc")


@guard_native_memory
def ogb_linear_probe(z: Tensor | np.ndarray, y: Tensor | np.ndarray,
                     split: Mapping[str, Tensor], name: str, Cs: Sequence[float] = DEFAULT_CS,
                     standardize: bool = True, max_iter: int = 2000) -> dict[str, Any]:
    r"""Logistic regression on frozen embeddings, selected and scored by OGB's ``Evaluator``.

    Features are standardised with the mean and standard deviation of the training nodes,
    :math:`\tilde z_i = (z_i - \mu_{\mathrm{train}}) / \sigma_{\mathrm{train}}`. For each
    :math:`C` of the grid and each task :math:`t` of the dataset, a logistic regression

    .. math::
        \min_{W_t, b_t}\; \tfrac12 \lVert W_t \rVert_2^2
        + C \sum_{i \in \mathrm{train}} \ell\bigl(y_{it},\, W_t \tilde z_i + b_t\bigr)

    is fitted on the training nodes (:math:`\ell` the multinomial or binary log-loss; one
    regression per task, so ``ogbn-proteins`` fits 112 binary ones). Predictions are class
    labels for the ``'acc'`` metric and decision scores :math:`W_t \tilde z_i + b_t` for
    ``'rocauc'``. The selected strength is

    .. math::
        \hat C = \arg\max_{C}\; m\bigl(Y_{\mathrm{valid}}, \hat Y_{\mathrm{valid}}(C)\bigr),
        \qquad m = \texttt{Evaluator(name).eval}

    (the first, i.e. smallest, :math:`C` on ties), and the reported train, valid and test
    scores are :math:`m` of the model fitted with :math:`\hat C`. The test split is never used
    for selection and is scored once. Only the nodes of the split are used, so unlabelled nodes
    elsewhere (label ``-1`` or NaN, as in ``ogbn-papers100M``) do no harm; an unlabelled node
    inside the split is an error.

    Args:
        z: Embeddings :math:`(N, F)`, finite.
        y: Labels, :math:`(N,)` or :math:`(N, T)` with :math:`T` the dataset's number of tasks:
            class indices for ``'acc'`` datasets, 0/1 (NaN: unlabelled) for ``'rocauc'``.
        split: ``{'train','valid','test'}`` index tensors (or boolean masks) into ``z``;
            without ``'test'`` only the selection runs and no test score is returned.
        name: OGB dataset name (``'ogbn-arxiv'``; case and ``_``/``-`` are ignored); it
            chooses the Evaluator and so the metric.
        Cs: Grid of :math:`C` values searched on the validation split.
        standardize: Scale features with statistics of the training nodes only.
        max_iter: L-BFGS iterations per regression.

    Returns:
        ``{'train_<m>', 'valid_<m>', 'test_<m>', 'C', 'metric': '<m>'}`` with ``<m>`` the
        Evaluator's metric (``'acc'`` or ``'rocauc'``); scores in [0, 1]. For accuracy datasets
        the keys are thus ``train_acc``, ``valid_acc``, ``test_acc`` as for
        :func:`~graphinfo.evaluation.linear_probe`.

    Raises:
        ValueError: For an unknown dataset name, an empty grid, embeddings that are not a
            finite :math:`(N, F)` array, labels of the wrong shape or with unlabelled or invalid
            values on split nodes, a bad split, or a split the Evaluator cannot score.
    """
    from ogb.nodeproppred import Evaluator  # starts ogb's version check: import when needed

    from graphinfo.data.ogbn import canonical_name

    if len(Cs) == 0:
        raise ValueError("'Cs' must hold at least one regularisation strength, got none")
    name = canonical_name(name)
    with contextlib.redirect_stdout(io.StringIO()):  # Evaluator prints names it rejects
        evaluator = Evaluator(name)
    metric, num_tasks = evaluator.eval_metric, int(evaluator.num_tasks)
    if metric not in METRICS:
        raise ValueError(f"OGB's Evaluator for {name!r} uses metric {metric!r}; this probe "
                         f"supports {', '.join(METRICS)}")
    labels = _labels(y, num_tasks, name)
    features, _ = embeddings_and_labels(z, labels[:, 0])
    idx = split_indices(split, features.shape[0])
    for key, part in idx.items():
        _check_labels(labels[part], metric, key, name)
    if standardize:
        features = StandardScaler().fit(features[idx["train"]]).transform(features)

    def score(models: list[Any], key: str) -> float:
        part = idx[key]
        y_pred = _predict(models, features[part], metric)
        try:
            result = evaluator.eval({"y_true": labels[part], "y_pred": y_pred})
        except RuntimeError as err:
            raise ValueError(f"ogb's Evaluator({name!r}) cannot score split[{key!r}]: "
                             f"{err}") from err
        return float(result[metric])

    best: dict[str, Any] | None = None
    for C in Cs:
        models = _fit(features[idx["train"]], labels[idx["train"]], float(C), metric, max_iter)
        valid = score(models, "valid")
        if best is None or valid > best["valid"]:
            best = {"valid": valid, "C": float(C), "models": models}
    if best["C"] in (min(Cs), max(Cs)) and len(Cs) > 1:
        logger.warning("OGB linear probe: the best C (%g) is at the edge of the searched grid; "
                       "consider widening 'Cs'", best["C"])
    out: dict[str, Any] = {f"train_{metric}": score(best["models"], "train"),
                           f"valid_{metric}": best["valid"]}
    if "test" in idx:
        out[f"test_{metric}"] = score(best["models"], "test")
    out.update(C=best["C"], metric=metric)
    return out


def _labels(y: Tensor | np.ndarray, num_tasks: int, name: str) -> np.ndarray:
    """Labels as an ``[N, T]`` array, the layout the Evaluator expects."""
    labels = to_numpy(y)
    if labels.ndim == 1:
        labels = labels.reshape(-1, 1)
    if labels.ndim != 2 or labels.shape[1] != num_tasks:
        raise ValueError(f"'y' must have shape [N] or [N, {num_tasks}] ({name} has {num_tasks} "
                         f"task(s)), got {tuple(labels.shape)}")
    return labels


def _check_labels(values: np.ndarray, metric: str, key: str, name: str) -> None:
    """Every split node must be labelled: class indices (acc) or 0/1 with NaN gaps (rocauc)."""
    if metric == "acc":
        bad = ~np.isfinite(values.astype(np.float64)) | (values < 0) | (values != np.round(values))
        if bad.any():
            raise ValueError(f"split[{key!r}] holds {int(bad.any(axis=1).sum())} node(s) without "
                             f"a class label (label -1, NaN or not an integer) for {name}; "
                             f"expected labelled nodes only")
        return
    finite = values[np.isfinite(values.astype(np.float64))]
    if not np.isin(finite, (0, 1)).all():
        raise ValueError(f"'y' must hold 0/1 labels (NaN: unlabelled) for {name}'s binary "
                         f"tasks; split[{key!r}] holds {sorted(set(finite.tolist()) - {0, 1})[:5]}")


def _fit(x: np.ndarray, y: np.ndarray, C: float, metric: str, max_iter: int) -> list[Any]:
    """One logistic regression per task on the labelled rows (a constant for a task whose
    training labels are all one class, possible only with ``'rocauc'``)."""
    models: list[Any] = []
    constant = 0
    for task in range(y.shape[1]):
        target = y[:, task]
        labelled = np.isfinite(target.astype(np.float64))
        classes = np.unique(target[labelled])
        if classes.size < 2:
            if metric == "acc":
                raise ValueError(f"split['train'] holds {classes.size} class(es) for task "
                                 f"{task}; a classifier needs at least 2")
            constant += 1
            models.append(None)
            continue
        clf = LogisticRegression(C=C, max_iter=max_iter)
        models.append(clf.fit(x[labelled], target[labelled].astype(np.int64)))
    if constant:
        logger.warning("OGB linear probe: %d task(s) have one class only among the training "
                       "nodes; they get a constant score", constant)
    return models


def _predict(models: list[Any], x: np.ndarray, metric: str) -> np.ndarray:
    """``[n, T]`` predictions: class labels (acc) or decision scores (rocauc)."""
    columns = []
    for clf in models:
        if clf is None:
            columns.append(np.zeros(x.shape[0]))
        elif metric == "acc":
            columns.append(clf.predict(x))
        else:
            columns.append(clf.decision_function(x))
    return np.stack(columns, axis=1)
