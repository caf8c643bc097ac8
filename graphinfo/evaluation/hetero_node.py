"""The node protocol of the heterogeneous / multiplex papers (HAN, DMGI, HDGI, HeCo), as one call.

* **Classification**: logistic regression on the frozen embeddings of the training nodes, as
  they are (the papers' code does not standardise them), its inverse regularisation :math:`C`
  chosen by validation Macro-F1; Macro-F1 and Micro-F1 on the
  test nodes (for single-label classes Micro-F1 equals accuracy).
* **Clustering**: k-means with :math:`k` = number of classes on the test nodes, ``runs`` times
  with different seeds; mean and standard deviation of NMI and ARI.
* **Similarity search** (DMGI's ``Sim@k``): for every test node, the fraction of its ``k`` most
  cosine-similar other test nodes that share its label, averaged over the test nodes.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score, f1_score, normalized_mutual_info_score
from sklearn.preprocessing import StandardScaler
from torch import Tensor

from graphinfo.evaluation.linear_probe import embeddings_and_labels, split_indices
from graphinfo.runtime import guard_native_memory

logger = logging.getLogger(__name__)

#: The ``k`` of DMGI's similarity search.
SIM_KS: tuple[int, ...] = (5, 10, 20, 50, 100)
#: Inverse regularisation strengths searched on the validation split: 1e-5 ... 1e4 in
#: half-decades. Wider than the homogeneous probe's grid at the top: with hundreds of training
#: nodes and 64 dimensions (ACM3025: 600 x 64) the validation choice often wants almost no
#: regularisation.
HETERO_CS: tuple[float, ...] = tuple(float(c) for c in np.logspace(-5, 4, 19))


def _f1(clf: LogisticRegression, features: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    pred = clf.predict(features)
    return (float(f1_score(labels, pred, average="macro")),
            float(f1_score(labels, pred, average="micro")))


def similarity_search(z: np.ndarray, y: np.ndarray,
                      ks: Sequence[int] = SIM_KS) -> dict[str, float]:
    """``sim@k``: mean over nodes of the fraction of the ``k`` nearest other nodes (cosine)
    with the same label. A node is never its own neighbour; ``k`` above ``N - 1`` is skipped.
    """
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    unit = z / np.maximum(norms, 1e-12)
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    out = {}
    usable = [k for k in ks if k < z.shape[0]]
    if not usable:
        return out
    order = np.argsort(-sim, axis=1, kind="stable")[:, :max(usable)]
    same = y[order] == y[:, None]
    for k in usable:
        out[f"sim@{k}"] = float(same[:, :k].mean())
    return out


@guard_native_memory
def hetero_node_protocol(z: Tensor | np.ndarray, y: Tensor | np.ndarray,
                         split: Mapping[str, Tensor], Cs: Sequence[float] = HETERO_CS,
                         standardize: bool = False, max_iter: int = 2000, runs: int = 10,
                         seed: int = 0, ks: Sequence[int] = SIM_KS,
                         cluster: bool = True) -> dict[str, Any]:
    """Classification (Macro-/Micro-F1, :math:`C` by validation Macro-F1), k-means NMI/ARI
    over ``runs`` seeds and Sim@k, all on the test nodes.

    Args:
        z: Embeddings :math:`(N, F)`.
        y: Integer labels :math:`(N,)`.
        split: ``{'train','valid','test'}`` node indices (or masks); without ``'test'`` only
            the selection runs and only training / validation scores are returned.
        Cs: Grid of :math:`C` searched on the validation split.
        standardize: Scale the embeddings with the training nodes' statistics for the
            classifier (off by default, as in the papers; clustering and similarity read them
            as they are either way).
        max_iter: L-BFGS iterations.
        runs: k-means runs (seeds ``seed .. seed + runs - 1``, 10 restarts each).
        seed: First k-means seed.
        ks: The ``k`` of Sim@k.
        cluster: Whether to run k-means and the similarity search.

    Returns:
        ``metric`` (``'macro_f1'``, the selection metric), ``train_macro_f1``,
        ``valid_macro_f1``, ``test_macro_f1``, the same three for ``micro_f1``, ``C``, ``nmi``,
        ``nmi_std``, ``ari``, ``ari_std`` and ``sim@5`` ... ``sim@100``; all in [0, 1] (ARI in
        [-1, 1]).
    """
    if len(Cs) == 0:
        raise ValueError("'Cs' must hold at least one regularisation strength, got none")
    if runs < 1:
        raise ValueError(f"'runs' must be >= 1, got {runs}")
    features, labels = embeddings_and_labels(z, y)
    idx = split_indices(split, features.shape[0])
    scaled = features
    if standardize:
        scaled = StandardScaler().fit(features[idx["train"]]).transform(features)
    best: dict[str, Any] | None = None
    for C in Cs:
        clf = LogisticRegression(C=C, max_iter=max_iter)
        clf.fit(scaled[idx["train"]], labels[idx["train"]])
        macro, micro = _f1(clf, scaled[idx["valid"]], labels[idx["valid"]])
        if best is None or macro > best["valid_macro_f1"]:
            best = {"valid_macro_f1": macro, "valid_micro_f1": micro, "C": float(C), "clf": clf}
    if best["C"] in (min(Cs), max(Cs)) and len(Cs) > 1:
        logger.warning("heterogeneous protocol: the best C (%g) is at the edge of the grid",
                       best["C"])
    clf = best.pop("clf")
    out: dict[str, Any] = {"metric": "macro_f1"}
    out["train_macro_f1"], out["train_micro_f1"] = _f1(clf, scaled[idx["train"]],
                                                       labels[idx["train"]])
    out.update(best)
    if "test" not in idx:
        return out
    test = idx["test"]
    out["test_macro_f1"], out["test_micro_f1"] = _f1(clf, scaled[test], labels[test])
    if not cluster:
        return out
    k = len(np.unique(labels[test]))
    nmi, ari = [], []
    for run in range(runs):
        pred = KMeans(n_clusters=k, n_init=10, random_state=seed + run).fit_predict(
            features[test])
        nmi.append(normalized_mutual_info_score(labels[test], pred))
        ari.append(adjusted_rand_score(labels[test], pred))
    out.update(nmi=float(np.mean(nmi)), nmi_std=float(np.std(nmi)), ari=float(np.mean(ari)),
               ari_std=float(np.std(ari)))
    out.update(similarity_search(features[test], labels[test], ks))
    return out
