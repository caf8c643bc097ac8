"""The heterogeneous datasets' own layouts: ACM3025, any HeCo-layout folder, HDGI's pickles
(through the restricted unpickler) and PyG's heterogeneous classes, all read-only."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from graphinfo.data import load_dataset
from graphinfo.data.hetero import default_relations, target_node_type
from graphinfo.data.hetero_files import load_sparse_pickle
from tests.data.hetero_layout import write_toy_heco


def _split_sizes(loaded) -> dict[str, int]:
    return {key: int(value.numel()) for key, value in loaded.split.items()}


def test_acm3025_is_dmgis_acm(shared_data: Path, listing) -> None:
    folder = shared_data / "hetero" / "acm3025_han"
    before = listing(folder)
    loaded = load_dataset("ACM3025", root=shared_data)
    assert listing(folder) == before                      # nothing written next to the file
    data = loaded.data
    assert loaded.is_hetero and loaded.target == "paper" and target_node_type(data) == "paper"
    assert data["paper"].x.shape == (3025, 1870) and loaded.num_classes == 3
    assert torch.bincount(data["paper"].y).tolist() == [1061, 965, 999]
    assert _split_sizes(loaded) == {"train": 600, "valid": 300, "test": 2125}
    assert [r[1] for r in default_relations(data)] == ["PAP", "PLP"]      # DMGI's two
    # the .mat's non-zeros, self-loops (its diagonal) included
    assert data["paper", "PAP", "paper"].num_edges == 29281
    assert data["paper", "PLP", "paper"].num_edges == 2210761
    assert loaded.probe_protocol() == ("hetero_node", {})
    other = load_dataset("acm3025", root=shared_data, metapaths="pap,pmp")
    assert [r[1] for r in default_relations(other.data)] == ["PAP", "PMP"]
    with pytest.raises(ValueError, match="ships only the metapath graphs"):
        load_dataset("acm3025", root=shared_data, metapaths="PSP")


def test_heco_layout_loads_any_folder_with_its_splits(shared_data: Path) -> None:
    acm = load_dataset("heco:acm", root=shared_data)
    assert acm.target == "p" and acm.data["p"].x.shape == (4019, 1902)
    assert acm.data["a"].x.shape == (7167, 1902) and acm.data["s"].num_nodes == 60
    assert [r[1] for r in default_relations(acm.data)] == ["PAP", "PSP"]
    assert _split_sizes(acm) == {"train": 60, "valid": 1000, "test": 1000}
    assert torch.equal(acm.data["a", "to", "p"].edge_index,
                       acm.data["p", "to", "a"].edge_index.flip(0))
    sixty = load_dataset("heco:acm", root=shared_data, labelled_per_class=60)
    assert _split_sizes(sixty)["train"] == 180
    aminer = load_dataset("heco:aminer", root=shared_data)   # no features: one-hot
    assert torch.equal(aminer.data["p"].x, torch.eye(6564))
    assert "x" not in aminer.data["r"] and aminer.data["r"].num_nodes == 35890
    dblp = load_dataset("heco:dblp", root=shared_data, train_ratio=0.2)
    assert dblp.target == "a" and [r[1] for r in default_relations(dblp.data)] == [
        "APA", "APCPA", "APTPA"]
    assert _split_sizes(dblp)["train"] == round(0.2 * 4057)


def test_any_folder_in_the_heco_layout_loads_by_its_name(tmp_path: Path) -> None:
    written = write_toy_heco(tmp_path / "heco" / "toy", features=False)
    loaded = load_dataset("heco:toy", root=tmp_path, labelled_per_class=5)
    data = loaded.data
    assert loaded.target == "m" and torch.equal(data["m"].x, torch.eye(60))   # one-hot
    assert data["k"].num_nodes == 10 and "x" not in data["k"]
    pairs = {tuple(e) for e in data["m", "MKM", "m"].edge_index.t().tolist()}
    key = dict(np.loadtxt(tmp_path / "heco" / "toy" / "mk.txt", dtype=int).tolist())
    assert pairs == {(i, j) for i in range(60) for j in range(60) if key[i] == key[j]}
    for part, name in (("train", "train"), ("valid", "val"), ("test", "test")):
        assert loaded.split[part].tolist() == written[name].tolist()
    # a metapath the folder does not ship is built from the typed relations
    built = load_dataset("heco:toy", root=tmp_path, labelled_per_class=5, metapaths="MKM,MKMKM")
    assert [r[1] for r in default_relations(built.data)] == ["MKM", "MKMKM"]
    with pytest.raises(FileNotFoundError, match="train/val/test_<20|40|60>"):
        load_dataset("heco:toy", root=tmp_path)               # no *_20.npy split
    with pytest.raises(FileNotFoundError, match="labels.npy"):
        load_dataset("heco:missing", root=tmp_path)


def test_imdb_hdgi_reads_its_pickles_without_running_code(shared_data: Path,
                                                          tmp_path: Path) -> None:
    loaded = load_dataset("imdb-hdgi", root=shared_data)
    data = loaded.data
    assert data["movie"].x.shape == (4275, 5927) and loaded.num_classes == 3
    assert int(data["movie"].y.min()) == 0 and int(data["movie"].y.max()) == 2
    assert [r[1] for r in default_relations(data)] == ["MAM", "MDM"]
    # explicit zeros in the pickled matrices are not edges
    raw = load_sparse_pickle(shared_data / "hetero/imdb_hdgi/3-class/"
                                           "movie_director_movie_adj.pickle")
    assert data["movie", "MDM", "movie"].num_edges == int((raw.tocoo().data != 0).sum()) < raw.nnz

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'ran'}",))

    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ValueError, match="evil.pickle was refused: refusing to unpickle"):
        load_sparse_pickle(path)
    assert not (tmp_path / "ran").exists()
    ok = tmp_path / "ok.pickle"
    ok.write_bytes(pickle.dumps(sp.csr_matrix(np.eye(3))))
    assert (load_sparse_pickle(ok) != sp.eye(3)).nnz == 0


def test_pyg_heterogeneous_classes_load_from_a_read_only_root(shared_data: Path, listing,
                                                              isolated_cache: Path) -> None:
    folder = shared_data / "pyg_hetero" / "IMDB"
    before = listing(folder)
    loaded = load_dataset("pyg:imdb", root=shared_data)
    assert listing(folder) == before and any(isolated_cache.rglob("*.pt"))
    assert loaded.name == "pyg:IMDB" and loaded.target == "movie"
    assert [r[1] for r in default_relations(loaded.data)] == ["MAM", "MDM"]
    assert _split_sizes(loaded) == {"train": 400, "valid": 400, "test": 3478}
    one = load_dataset("pyg:IMDB", root=shared_data, metapaths=["mdm"])
    assert [r[1] for r in default_relations(one.data)] == ["MDM"]
    with pytest.raises(ValueError, match="has no class 'Nope'"):
        load_dataset("pyg:Nope", root=shared_data)
