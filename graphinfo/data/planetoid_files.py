"""The Planetoid citation graphs (Cora, CiteSeer, PubMed) read from their raw ``ind.<name>.*``
files without ``pickle.load``.

The raw files (Yang, Cohen and Salakhutdinov, ICML 2016) are Python 2 pickles: ``x`` / ``tx`` /
``allx`` sparse feature matrices of the labelled training nodes, the test nodes and every node
that is not a test node; ``y`` / ``ty`` / ``ally`` their one-hot labels; ``graph`` a dict of
adjacency lists; ``test.index`` the test nodes' ids, one per line. PyG's reader unpickles them
with ``pickle.load``, which runs whatever a file names; here they are read by
:class:`~graphinfo.data.safe_pickle.RestrictedUnpickler` and assembled into the same
:class:`~torch_geometric.data.Data` (test rows put at their ids; CiteSeer's isolated test ids,
missing from ``tx`` / ``ty``, as zero rows; self loops and duplicate edges dropped, edges in
PyG's order; the public split: the training nodes, the next 500 (fewer when ``allx`` has
fewer) for validation, the test ids).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.io.planetoid import edge_index_from_dict

from graphinfo.data.safe_pickle import read_restricted_pickle

#: The pickled parts of a Planetoid dataset (``test.index`` is text).
PICKLED_PARTS = ("x", "tx", "allx", "y", "ty", "ally", "graph")


def _matrix(path: Path) -> np.ndarray:
    value = read_restricted_pickle(path)
    if sp.issparse(value):
        value = value.toarray()
    if not isinstance(value, np.ndarray) or value.ndim != 2:
        raise ValueError(f"{path} holds a {type(value).__name__}, not a matrix")
    return np.asarray(value, dtype=np.float32)


def _adjacency_lists(path: Path) -> dict[int, list[int]]:
    graph = read_restricted_pickle(path)
    if not isinstance(graph, dict) or not all(
            isinstance(key, int) and isinstance(value, list) for key, value in graph.items()):
        raise ValueError(f"{path} does not hold a dict of adjacency lists")
    return graph


def _test_index(path: Path) -> Tensor:
    try:
        values = np.loadtxt(path, dtype=np.int64, ndmin=1)
    except ValueError as error:
        raise ValueError(f"{path} is not a list of node ids: {error}") from None
    return torch.from_numpy(values)


def read_planetoid(folder: str | os.PathLike[str], name: str) -> Data:
    """Reads ``folder/ind.<name>.*`` into a graph with the public split's masks.

    Args:
        folder (str or PathLike): The folder holding the raw files.
        name (str): ``'Cora'``, ``'CiteSeer'`` or ``'PubMed'`` (any case).

    Returns:
        Data: ``x`` (float), ``edge_index`` (as the lists give it, without self loops
        or duplicates), ``y`` and the
        ``train_mask`` / ``val_mask`` / ``test_mask`` of the public split.

    Raises:
        ValueError: If a file is refused by the restricted unpickler (it needs more than
            arrays, sparse matrices and builtin containers), is corrupt, or its parts do not
            fit together; the message names the file.
    """
    folder, prefix = Path(folder), name.lower()

    def path(part: str) -> Path:
        return folder / f"ind.{prefix}.{part}"

    x, tx, allx, y, ty, ally = (_matrix(path(part)) for part in PICKLED_PARTS[:-1])
    graph = _adjacency_lists(path("graph"))
    test_index = _test_index(path("test.index"))
    if len(tx) != len(ty) or len(allx) != len(ally) or len(x) != len(y):
        raise ValueError(f"the raw files of {name} in {folder} disagree on their node counts")
    ordered = test_index.sort().values
    if len(test_index) and len(tx) != len(test_index):
        raise ValueError(f"{path('test.index')} lists {len(test_index)} nodes, "
                         f"{path('tx')} has {len(tx)} rows")
    if len(ordered) and int(ordered[0]) < len(allx):
        raise ValueError(f"{path('test.index')} names node {int(ordered[0])}, one of the "
                         f"{len(allx)} nodes of {path('allx')}; test ids must follow them")
    # CiteSeer's test ids skip isolated nodes that tx / ty have no rows for: zero rows there.
    low = int(ordered[0]) if len(ordered) else len(allx)
    span = int(ordered[-1]) - low + 1 if len(ordered) else 0
    test_x = np.zeros((span, tx.shape[1]), dtype=np.float32)
    test_y = np.zeros((span, ty.shape[1]), dtype=np.float32)
    test_x[(ordered - low).numpy()] = tx
    test_y[(ordered - low).numpy()] = ty
    features = torch.from_numpy(np.concatenate([allx, test_x]))
    labels = torch.from_numpy(np.concatenate([ally, test_y])).argmax(dim=1)
    # tx / ty rows are in test.index's order; the stacked rows are in sorted order.
    features[test_index] = features[ordered].clone()
    labels[test_index] = labels[ordered].clone()
    num_nodes = len(labels)

    def mask(index: Tensor) -> Tensor:
        out = torch.zeros(num_nodes, dtype=torch.bool)
        out[index] = True
        return out

    ids = [node for node, neighbours in graph.items() for node in (node, *neighbours)]
    if ids and not 0 <= min(ids) <= max(ids) < num_nodes:
        raise ValueError(f"{path('graph')} names nodes outside 0..{num_nodes - 1}: "
                         f"{min(ids)}..{max(ids)}")
    # PyG's own assembly of the lists (self loops and duplicates dropped, PyG's edge order),
    # so processed files equal PyG's.
    edge_index = edge_index_from_dict(graph, num_nodes=num_nodes)
    data = Data(x=features, edge_index=edge_index, y=labels)
    data.train_mask = mask(torch.arange(len(y)))
    data.val_mask = mask(torch.arange(len(y), min(len(y) + 500, len(allx))))
    data.test_mask = mask(test_index)
    return data
