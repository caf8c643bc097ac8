"""Clustering evaluation: k-means on embeddings scored against labels with NMI and ARI."""
from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from torch import Tensor

from graphinfo.evaluation.linear_probe import embeddings_and_labels
from graphinfo.runtime import guard_native_memory


@guard_native_memory
def clustering(z: Tensor | np.ndarray, y: Tensor | np.ndarray, n_clusters: int | None = None,
               seed: int = 0, n_init: int = 10) -> dict[str, float]:
    r"""k-means with :math:`k` = number of classes (unless given), scored by normalised mutual
    information and adjusted Rand index against the labels.

    Args:
        z: Embeddings :math:`(N, F)`.
        y: Integer labels :math:`(N,)`.
        n_clusters: Number of clusters; defaults to the number of distinct labels.
        seed: Seed of k-means' initialisation.
        n_init: Number of k-means restarts (the best inertia is kept).

    Returns:
        ``{'nmi', 'ari'}``.
    """
    features, labels = embeddings_and_labels(z, y)
    k = n_clusters if n_clusters is not None else len(np.unique(labels))
    pred = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(features)
    return {"nmi": float(normalized_mutual_info_score(labels, pred)),
            "ari": float(adjusted_rand_score(labels, pred))}
