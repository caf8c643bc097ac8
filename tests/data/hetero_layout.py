"""A small graph in HeCo's file layout, written in-process for offline tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp


def write_toy_heco(folder: Path, num_nodes: int = 60, seed: int = 0,
                   features: bool = True, per_class: int = 5) -> dict[str, np.ndarray]:
    """Target type ``m`` (two classes, 8 features unless ``features=False``) linked to ``k``
    nodes, mostly of its own class (``mk.txt``), the metapath graph ``mkm.npz`` and the split
    ``{train,val,test}_<per_class>.npy`` (``per_class`` per class / 10 / the rest).

    Returns:
        The labels and the split as written.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    y = np.arange(num_nodes) % 2
    np.save(folder / "labels.npy", y)
    keys = 10
    same = rng.random(num_nodes) < 0.9
    key = np.where(same, 2 * rng.integers(0, keys // 2, num_nodes) + y,
                   rng.integers(0, keys, num_nodes))
    pairs = np.stack([np.arange(num_nodes), key], 1)
    np.savetxt(folder / "mk.txt", pairs, fmt="%d", delimiter="\t")
    mk = sp.coo_matrix((np.ones(num_nodes), (pairs[:, 0], pairs[:, 1])),
                       shape=(num_nodes, keys))
    sp.save_npz(folder / "mkm.npz", sp.coo_matrix((mk @ mk.T) > 0, dtype=np.float32))
    if features:
        x = rng.normal(size=(num_nodes, 8)) + 0.5 * y[:, None]
        sp.save_npz(folder / "m_feat.npz", sp.csr_matrix(x.astype(np.float32)))
    order = rng.permutation(num_nodes)
    train = np.concatenate([order[y[order] == c][:per_class] for c in (0, 1)])
    rest = np.setdiff1d(order, train, assume_unique=True)
    rest = rest[rng.permutation(rest.size)]
    split = {"train": np.sort(train), "val": np.sort(rest[:10]), "test": np.sort(rest[10:])}
    for name, idx in split.items():
        np.save(folder / f"{name}_{per_class}.npy", idx)
    return {"y": y, **split}
