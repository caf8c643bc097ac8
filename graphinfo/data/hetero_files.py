"""Readers of the heterogeneous datasets' own file layouts, each into a ``HeteroData``.

* :func:`read_acm3025` — HAN's ``ACM3025.mat`` (DMGI's ACM): dense metapath adjacencies
  ``PAP``, ``PLP`` (= P-S-P), ``PMP``, ``PTP`` over 3025 papers, bag-of-words features, one-hot
  labels and a 600/300/2125 split.
* :func:`read_heco` — the layout of HeCo (Wang et al., KDD 2021): ``labels.npy`` of the target
  type, typed edge lists ``<s><d>.txt`` (two node-type letters, tab-separated 0-based pairs),
  metapath adjacencies ``<metapath>.npz``, optional ``<t>_feat.npz`` per type and the splits
  ``{train,val,test}_{20,40,60}.npy`` (20/40/60 labelled nodes per class).
* :func:`read_imdb_hdgi` — HDGI's IMDB (Ren et al. 2019): pickled ``scipy.sparse`` metapath
  adjacencies ``MAM`` and ``MDM`` and movie features, read by the restricted unpickler of
  :mod:`graphinfo.data.safe_pickle`, which builds numpy arrays and rebuilds sparse matrices from
  their parts and runs nothing else.

Metapath adjacencies become boolean relations ``(target, NAME, target)``: explicit zeros
dropped, counts turned into single edges, the diagonal (a node's walk back to itself) kept.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from graphinfo.data.hetero import METAPATHS_ATTR, TARGET_ATTR, coo_to_edge_index
from graphinfo.data.safe_pickle import read_restricted_pickle

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


def _set_split(store: Any, split: dict[str, Tensor]) -> None:
    for key, mask_name in (("train", "train_mask"), ("valid", "val_mask"), ("test", "test_mask")):
        mask = torch.zeros(store.num_nodes, dtype=torch.bool)
        mask[split[key]] = True
        store[mask_name] = mask


def _features(matrix: Any) -> Tensor:
    dense = matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)
    return torch.from_numpy(np.ascontiguousarray(dense, dtype=np.float32))


# -- ACM3025 ---------------------------------------------------------------------------------

#: The metapaths of ``ACM3025.mat`` and the ones DMGI uses by default.
ACM3025_METAPATHS = ("PAP", "PLP", "PMP", "PTP")
ACM3025_DEFAULT = ("PAP", "PLP")


def read_acm3025(path: PathLike, metapaths: tuple[str, ...] = ACM3025_DEFAULT
                 ) -> tuple[HeteroData, dict[str, Tensor]]:
    """Reads HAN's ``ACM3025.mat`` (``scipy.io.loadmat``; no code runs).

    Args:
        path: The ``.mat`` file.
        metapaths: Which of ``PAP``, ``PLP`` (P-S-P), ``PMP``, ``PTP`` to load (``PTP`` alone
            has 9.2M non-zeros). (default: DMGI's ``('PAP', 'PLP')``)

    Returns:
        The graph (node type ``'paper'``: ``x`` 1870 bag-of-words counts, ``y``, split masks;
        one relation per metapath) and the split.
    """
    from scipy.io import loadmat

    wanted = [m.upper() for m in metapaths]
    unknown = [m for m in wanted if m not in ACM3025_METAPATHS]
    if unknown or not wanted:
        raise ValueError(f"acm3025 has the metapaths {ACM3025_METAPATHS}; got {list(metapaths)}")
    mat = loadmat(os.fspath(path), variable_names=["feature", "label", "train_idx", "val_idx",
                                                   "test_idx", *wanted])
    data = HeteroData()
    data["paper"].x = _features(mat["feature"])
    data["paper"].y = torch.from_numpy(np.asarray(mat["label"]).argmax(1).astype(np.int64))
    for name in wanted:
        data["paper", name, "paper"].edge_index = coo_to_edge_index(sp.coo_matrix(mat[name]))
    split = {key: torch.from_numpy(np.asarray(mat[f"{mat_key}_idx"]).reshape(-1).astype(np.int64))
             for key, mat_key in (("train", "train"), ("valid", "val"), ("test", "test"))}
    _set_split(data["paper"], split)
    data[TARGET_ATTR] = "paper"
    data[METAPATHS_ATTR] = wanted
    return data, split


# -- HeCo layout -----------------------------------------------------------------------------

def _load_matrix(path: Path) -> Any:
    """A ``.npz`` of ``scipy.sparse.save_npz`` or a plain numpy array (some ``*_feat.npz`` are
    really ``.npy``), without unpickling."""
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if magic == b"\x93NUMPY":
        return np.load(path, allow_pickle=False)
    with np.load(path, allow_pickle=False) as archive:
        if "format" in archive.files:
            return sp.load_npz(path)
        if len(archive.files) == 1:
            return archive[archive.files[0]]
    raise ValueError(f"{path} is neither a scipy sparse matrix (save_npz) nor one numpy array")


def heco_layout(folder: Path) -> dict[str, Any]:
    """What a HeCo-layout folder holds: node-type letters, edge lists, metapaths, features.

    Raises:
        FileNotFoundError: If ``labels.npy`` or any metapath file is missing.
        ValueError: If the metapaths do not share one start-and-end type.
    """
    if not (folder / "labels.npy").is_file():
        raise FileNotFoundError(f"{folder} has no labels.npy: not a HeCo-layout folder")
    edge_lists = sorted(p.stem for p in folder.glob("*.txt")
                        if len(p.stem) == 2 and p.stem.isalpha())
    metapaths = sorted(p.stem for p in folder.glob("*.npz")
                       if len(p.stem) >= 3 and p.stem.isalpha() and p.stem[0] == p.stem[-1])
    if not metapaths:
        raise FileNotFoundError(f"{folder} has no metapath adjacency (e.g. pap.npz)")
    targets = {m[0] for m in metapaths}
    if len(targets) != 1:
        raise ValueError(f"the metapaths of {folder} start at different node types: {metapaths}")
    letters = sorted({c for m in metapaths for c in m} | {c for e in edge_lists for c in e})
    features = {c: folder / f"{c}_feat.npz" for c in letters
                if (folder / f"{c}_feat.npz").is_file()}
    return {"target": targets.pop(), "types": letters, "edge_lists": edge_lists,
            "metapaths": metapaths, "features": features}


def read_heco(folder: PathLike, labelled_per_class: int | None = 20,
              train_ratio: float | None = None, valid_ratio: float = 0.1, seed: int = 0,
              metapaths: tuple[str, ...] | None = None) -> tuple[HeteroData, dict[str, Tensor]]:
    """Reads a HeCo-layout folder (any name: ``heco:<name>`` loads ``<root>/.../heco/<name>/``).

    Node types are the layout's letters (``'p'``, ``'a'``, ``'s'`` ...). The target type is the
    one every metapath file starts and ends at; each ``<s><d>.txt`` edge list becomes the
    relation ``(s, 'to', d)`` and its reverse ``(d, 'to', s)``; each ``<metapath>.npz`` the
    relation ``(target, METAPATH, target)``. A type's ``<t>_feat.npz`` becomes its ``x``; **a
    target type without features gets one-hot features** (the identity, as HeCo uses for
    AMiner); other featureless types keep only ``num_nodes`` (the metapath models read the
    target type's features alone).

    Args:
        folder: The folder.
        labelled_per_class: Use the layout's ``{train,val,test}_<k>.npy`` split (20, 40 or 60
            labelled nodes per class; 1000 validation and 1000 test nodes). (default: ``20``)
        train_ratio: Instead, a seeded random split with this training fraction,
            ``valid_ratio`` for validation and the rest for test (HDGI's protocol uses
            fractions). (default: ``None``)
        valid_ratio: Validation fraction of the random split. (default: ``0.1``)
        seed: Seed of the random split. (default: ``0``)
        metapaths: Which metapath files to load (names as the files, any case); default all.
    """
    from graphinfo.data.splits import random_split

    folder = Path(folder)
    layout = heco_layout(folder)
    target = layout["target"]
    labels = np.load(folder / "labels.npy", allow_pickle=False).reshape(-1)
    data = HeteroData()
    data[target].y = torch.from_numpy(labels.astype(np.int64))
    num_nodes = {target: labels.shape[0]}
    edges = {}
    for pair in layout["edge_lists"]:
        pairs = np.loadtxt(folder / f"{pair}.txt", dtype=np.int64, ndmin=2)
        if pairs.shape[1] != 2:
            raise ValueError(f"{folder / (pair + '.txt')} must hold two columns, got "
                             f"{pairs.shape[1]}")
        edges[pair] = torch.from_numpy(pairs.T.copy())
        for row, letter in enumerate(pair):
            if pairs.size:
                num_nodes[letter] = max(num_nodes.get(letter, 0), int(pairs[:, row].max()) + 1)
    for letter, path in layout["features"].items():
        x = _load_matrix(path)
        num_nodes[letter] = max(num_nodes.get(letter, 0), x.shape[0])
        data[letter].x = _features(x)
    for letter in layout["types"]:
        if letter not in num_nodes:
            raise ValueError(f"cannot tell how many {letter!r} nodes {folder} has: no edge list "
                             f"or feature file names them")
        data[letter].num_nodes = num_nodes[letter]
    if "x" not in data[target]:
        logger.info("%s: the target type %r has no features; using one-hot features", folder,
                    target)
        data[target].x = torch.eye(num_nodes[target])
    for pair, edge_index in edges.items():
        data[pair[0], "to", pair[1]].edge_index = edge_index
        if pair[0] != pair[1]:
            data[pair[1], "to", pair[0]].edge_index = edge_index.flip(0)
    chosen = [m.lower() for m in metapaths] if metapaths else layout["metapaths"]
    missing = [m for m in chosen if m not in layout["metapaths"]]
    if missing:
        raise ValueError(f"{folder} has no metapath file for {missing}; it has "
                         f"{layout['metapaths']}")
    for name in chosen:
        matrix = _load_matrix(folder / f"{name}.npz")
        data[target, name.upper(), target].edge_index = coo_to_edge_index(sp.coo_matrix(matrix))
    if train_ratio is not None:
        split = random_split(num_nodes[target], train_ratio, valid_ratio, seed=seed,
                             y=data[target].y)
    else:
        files = {key: folder / f"{key}_{labelled_per_class}.npy"
                 for key in ("train", "val", "test")}
        absent = [p.name for p in files.values() if not p.is_file()]
        if absent:
            raise FileNotFoundError(f"{folder} has no {absent}: the layout's splits are "
                                    f"train/val/test_<20|40|60>.npy")
        split = {key: torch.from_numpy(np.load(files[file_key], allow_pickle=False)
                                       .reshape(-1).astype(np.int64))
                 for key, file_key in (("train", "train"), ("valid", "val"), ("test", "test"))}
    _set_split(data[target], split)
    data[TARGET_ATTR] = target
    data[METAPATHS_ATTR] = [m.upper() for m in chosen]
    return data, split


# -- HDGI's IMDB -----------------------------------------------------------------------------

def load_sparse_pickle(path: PathLike) -> sp.spmatrix | np.ndarray:
    """Reads a pickled numpy array or scipy sparse matrix with
    :class:`~graphinfo.data.safe_pickle.RestrictedUnpickler` (nothing it names is run).

    Raises:
        ValueError: If the file is refused, corrupt, or holds anything but an array or a
            sparse matrix; the message names the file.
    """
    obj = read_restricted_pickle(path)
    if isinstance(obj, (np.ndarray, sp.spmatrix)):
        return obj
    raise ValueError(f"{os.fspath(path)} holds a {type(obj).__name__}, not an array or a "
                     f"sparse matrix")


#: HDGI's IMDB feature files, by name.
IMDB_HDGI_FEATURES = {"6334": "movie_feature_vector_6334.pickle",
                      "10048": "movie_feature_vector_10048.pickle"}
IMDB_HDGI_METAPATHS = {"MAM": "movie_actor_movie_adj.pickle",
                       "MDM": "movie_director_movie_adj.pickle"}


def read_imdb_hdgi(folder: PathLike, features: str = "6334", train_ratio: float = 0.2,
                   valid_ratio: float = 0.1, seed: int = 0,
                   metapaths: tuple[str, ...] = ("MAM", "MDM")
                   ) -> tuple[HeteroData, dict[str, Tensor]]:
    """Reads HDGI's ``IMDB/3-class`` folder: 4275 movies, labels 1-3 (stored as 0-2), MAM and
    MDM; no split ships, so a seeded random one (20 % / 10 % / 70 % by default)."""
    from graphinfo.data.splits import random_split

    folder = Path(folder)
    if features not in IMDB_HDGI_FEATURES:
        raise ValueError(f"'features' must be one of {sorted(IMDB_HDGI_FEATURES)}, got "
                         f"{features!r}")
    wanted = [m.upper() for m in metapaths]
    if not wanted or any(m not in IMDB_HDGI_METAPATHS for m in wanted):
        raise ValueError(f"imdb-hdgi has the metapaths {sorted(IMDB_HDGI_METAPATHS)}; got "
                         f"{list(metapaths)}")
    x = load_sparse_pickle(folder / IMDB_HDGI_FEATURES[features])
    pairs = np.loadtxt(folder / "index_label.txt", delimiter=",", dtype=np.int64, ndmin=2)
    num_movies = x.shape[0]
    if pairs[:, 0].min() < 0 or pairs[:, 0].max() >= num_movies:
        raise ValueError(f"index_label.txt names movies outside 0..{num_movies - 1}")
    y = np.full(num_movies, -1, dtype=np.int64)
    y[pairs[:, 0]] = pairs[:, 1] - pairs[:, 1].min()
    data = HeteroData()
    data["movie"].x = _features(x)
    data["movie"].y = torch.from_numpy(y)
    for name in wanted:
        adjacency = load_sparse_pickle(folder / IMDB_HDGI_METAPATHS[name])
        if adjacency.shape != (num_movies, num_movies):
            raise ValueError(f"{IMDB_HDGI_METAPATHS[name]} is {adjacency.shape}, expected "
                             f"({num_movies}, {num_movies})")
        data["movie", name, "movie"].edge_index = coo_to_edge_index(adjacency)
    split = random_split(num_movies, train_ratio, valid_ratio, seed=seed, y=data["movie"].y)
    _set_split(data["movie"], split)
    data[TARGET_ATTR] = "movie"
    data[METAPATHS_ATTR] = wanted
    return data, split
