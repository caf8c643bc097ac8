"""Tiny datasets in OGB's on-disk layout (ogb 1.3.6), written in-process for offline tests.

See ``../shared/data/README.md`` (section OGB) for the homogeneous CSV layout; the
heterogeneous (``ogbn-mag``) and binary (``ogbn-papers100M``) layouts follow
``ogb/io/read_graph_raw.py``. Each writer returns what a loader should give back.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

SPLIT_KEYS = ("train", "valid", "test")


def write_csv_gz(path: Path, rows: np.ndarray, header: list[str] | None = None) -> None:
    """Writes ``rows`` (1-D: one value a line; 2-D: comma-separated) as gzip CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = np.asarray(rows)
    with gzip.open(path, "wt") as f:
        if header is not None:
            f.write(",".join(header) + "\n")
        for row in rows.reshape(len(rows), -1):
            f.write(",".join(str(v) for v in row) + "\n")


def _split(rng: np.random.Generator, num_nodes: int, sizes: tuple[int, int]
           ) -> dict[str, np.ndarray]:
    perm = rng.permutation(num_nodes)
    train, valid = sizes
    return {"train": perm[:train], "valid": perm[train:train + valid],
            "test": perm[train + valid:]}


def write_tiny_arxiv(root: Path, num_nodes: int = 60, num_edges: int = 150,
                     release: bool = True) -> dict[str, np.ndarray]:
    """A tiny ogbn-arxiv under ``root/ogbn_arxiv``: 60 nodes, 3 classes, 8 features, split
    30/15/15 (folder ``split/time``), no self-loops.

    Returns:
        dict[str, np.ndarray]: The split (``'train'``, ``'valid'``, ``'test'``) as written.
    """
    rng = np.random.default_rng(0)
    folder = root / "ogbn_arxiv"
    src = rng.integers(0, num_nodes, num_edges)
    dst = (src + rng.integers(1, num_nodes, num_edges)) % num_nodes
    write_csv_gz(folder / "raw" / "edge.csv.gz", np.stack([src, dst], 1))
    write_csv_gz(folder / "raw" / "node-feat.csv.gz", rng.normal(size=(num_nodes, 8)).round(4))
    write_csv_gz(folder / "raw" / "node-label.csv.gz", rng.integers(0, 3, num_nodes))
    write_csv_gz(folder / "raw" / "num-node-list.csv.gz", np.array([num_nodes]))
    write_csv_gz(folder / "raw" / "num-edge-list.csv.gz", np.array([num_edges]))
    write_csv_gz(folder / "raw" / "node_year.csv.gz", rng.integers(2000, 2020, num_nodes))
    split = _split(rng, num_nodes, (num_nodes // 2, num_nodes // 4))
    for key, idx in split.items():
        write_csv_gz(folder / "split" / "time" / f"{key}.csv.gz", idx)
    if release:
        (folder / "RELEASE_v1.txt").write_text("")
    return split


#: Node counts of the tiny ogbn-mag.
MAG_COUNTS = {"author": 20, "field_of_study": 5, "institution": 3, "paper": 40}
MAG_RELATIONS = [("author", "affiliated_with", "institution"), ("author", "writes", "paper"),
                 ("paper", "cites", "paper"), ("paper", "has_topic", "field_of_study")]


def write_tiny_mag(root: Path) -> dict[str, np.ndarray]:
    """A tiny heterogeneous ogbn-mag under ``root/ogbn_mag`` (release v2): four node types,
    four relations (30 edges each, with ``edge_reltype``), 6 paper features, ``node_year``,
    4 paper classes and a 20/10/10 paper split (``split/time/paper``).

    Returns:
        dict[str, np.ndarray]: The paper split, plus ``'cites'`` (``[2, E]`` paper-cites-paper
        edges), ``'x'`` (paper features), ``'y'`` (paper labels) and ``'year'``.
    """
    rng = np.random.default_rng(1)
    folder = root / "ogbn_mag"
    raw = folder / "raw"
    types = sorted(MAG_COUNTS)
    write_csv_gz(raw / "num-node-dict.csv.gz", np.array([[MAG_COUNTS[t] for t in types]]),
                 header=types)
    write_csv_gz(raw / "triplet-type-list.csv.gz", np.array(MAG_RELATIONS))
    out: dict[str, np.ndarray] = {}
    for head, relation, tail in MAG_RELATIONS:
        num_edges = 30
        src = rng.integers(0, MAG_COUNTS[head], num_edges)
        dst = rng.integers(0, MAG_COUNTS[tail], num_edges)
        if head == tail:
            dst = (src + rng.integers(1, MAG_COUNTS[tail], num_edges)) % MAG_COUNTS[tail]
            out["cites"] = np.stack([src, dst])
        sub = raw / "relations" / f"{head}___{relation}___{tail}"
        write_csv_gz(sub / "edge.csv.gz", np.stack([src, dst], 1))
        write_csv_gz(sub / "num-edge-list.csv.gz", np.array([num_edges]))
        write_csv_gz(sub / "edge_reltype.csv.gz", np.zeros(num_edges, dtype=np.int64))
    papers = MAG_COUNTS["paper"]
    out["x"] = rng.normal(size=(papers, 6)).round(4)
    out["y"] = rng.integers(0, 4, papers)
    out["year"] = rng.integers(2010, 2020, papers)
    write_csv_gz(raw / "node-feat" / "paper" / "node-feat.csv.gz", out["x"])
    write_csv_gz(raw / "node-feat" / "paper" / "node_year.csv.gz", out["year"])
    has = np.array([[str(t == "paper") for t in types]])
    write_csv_gz(raw / "nodetype-has-label.csv.gz", has, header=types)
    write_csv_gz(raw / "node-label" / "paper" / "node-label.csv.gz", out["y"])
    split_dir = folder / "split" / "time"
    write_csv_gz(split_dir / "nodetype-has-split.csv.gz", has, header=types)
    split = _split(rng, papers, (20, 10))
    for key, idx in split.items():
        write_csv_gz(split_dir / "paper" / f"{key}.csv.gz", idx)
    (folder / "RELEASE_v2.txt").write_text("")
    return {**split, **out}


def write_tiny_papers100m(root: Path, num_nodes: int = 50,
                          num_edges: int = 120) -> dict[str, np.ndarray]:
    """A tiny ogbn-papers100M under ``root/ogbn_papers100M`` in OGB's binary layout
    (``raw/data.npz``, ``raw/node-label.npz``): 5 features, 3 classes, labels NaN outside the
    20/10/10 split (as in the real dataset, whose unlabelled papers have no split).

    Returns:
        dict[str, np.ndarray]: The split, plus ``'edge_index'`` and ``'y'`` (float, NaN gaps).
    """
    rng = np.random.default_rng(2)
    folder = root / "ogbn_papers100M"
    src = rng.integers(0, num_nodes, num_edges)
    dst = (src + rng.integers(1, num_nodes, num_edges)) % num_nodes
    edge_index = np.stack([src, dst]).astype(np.int64)
    (folder / "raw").mkdir(parents=True)
    np.savez_compressed(folder / "raw" / "data.npz", edge_index=edge_index,
                        num_nodes_list=np.array([num_nodes]),
                        num_edges_list=np.array([num_edges]),
                        node_feat=rng.normal(size=(num_nodes, 5)).astype(np.float32),
                        node_year=rng.integers(2000, 2020, (num_nodes, 1)))
    split = _split(rng, num_nodes, (20, 10))
    split["test"] = split["test"][:10]
    y = np.full((num_nodes, 1), np.nan, dtype=np.float32)
    for idx in split.values():
        y[idx, 0] = rng.integers(0, 3, idx.size)
    np.savez_compressed(folder / "raw" / "node-label.npz", node_label=y)
    for key, idx in split.items():
        write_csv_gz(folder / "split" / "time" / f"{key}.csv.gz", idx)
    (folder / "RELEASE_v1.txt").write_text("")
    return {**split, "edge_index": edge_index, "y": y[:, 0]}
