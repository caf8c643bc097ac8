"""Tests of graphinfo.data.loaders: load_dataset on real, fake-on-disk and synthetic data."""
from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import torch
from torch_geometric.datasets import Amazon, Planetoid, TUDataset
from torch_geometric.utils import is_undirected

from graphinfo.data import (
    LoadedDataset,
    check_split,
    from_networkx,
    known_datasets,
    load_dataset,
    resolve_name,
)
from tests.data.ogb_layout import write_tiny_arxiv, write_tiny_mag, write_tiny_papers100m

Listing = Callable[[Path], dict[str, tuple[int, int]]]


def _read_only_copy(src: Path, dst: Path) -> Path:
    """Copies ``src`` to ``dst`` and removes every write bit."""
    shutil.copytree(src, dst)
    for path in [dst, *dst.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return dst


def _restore_write(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


# ----------------------------------------------------------------------------- synthetic


def test_planted_is_default_offline_dataset() -> None:
    loaded = load_dataset("planted")
    assert loaded.task == "node" and loaded.source == "synthetic"
    assert loaded.num_classes == 5 and loaded.num_features == 1000
    assert loaded.dataset is None
    assert [loaded.split[k].numel() for k in ("train", "valid", "test")] == [100, 500, 1000]
    check_split(loaded.split, loaded.data.num_nodes)


def test_planted_forwards_kwargs() -> None:
    loaded = load_dataset("Planted", num_nodes=300, num_classes=3, num_features=16, seed=4)
    assert loaded.data.num_nodes == 300 and loaded.num_features == 16
    assert loaded.num_classes == 3
    assert torch.equal(loaded.data.y, load_dataset("planted", num_nodes=300, num_classes=3,
                                                   num_features=16, seed=4).data.y)
    with pytest.raises(TypeError):
        load_dataset("planted", not_an_argument=1)


# ----------------------------------------------------------------------------- names


def test_unknown_name_lists_choices() -> None:
    with pytest.raises(ValueError, match="Unknown dataset 'coraa'") as info:
        load_dataset("coraa")
    for choice in ("cora", "planted", "mutag", "imdb-binary", "ogbn-arxiv", "tu:"):
        assert choice in str(info.value)


def test_name_resolution() -> None:
    assert resolve_name("CORA").name == "cora"
    assert resolve_name("PTC-MR").source_name == "PTC_MR"
    assert resolve_name("imdb_binary").source_name == "IMDB-BINARY"
    assert resolve_name("tu:MUTAG").name == "mutag"
    collab = resolve_name("tu:COLLAB")
    assert (collab.family, collab.source_name, collab.task) == ("tu", "COLLAB", "graph")
    assert resolve_name("ogbn-papers100M").source_name == "ogbn-papers100M"
    assert resolve_name("Amazon-Photo").source_name == "Photo"


def test_import_does_not_import_ogb() -> None:
    code = "import sys, graphinfo.data; assert 'ogb' not in sys.modules, 'ogb imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


# ----------------------------------------------------------------------------- real data


@pytest.mark.parametrize("name, nodes, edges, features, classes, sizes", [
    ("cora", 2708, 10556, 1433, 7, [140, 500, 1000]),
    ("CiteSeer", 3327, 9104, 3703, 6, [120, 500, 1000]),
])
def test_planetoid_counts_and_public_split(shared_data: Path, name: str, nodes: int, edges: int,
                                           features: int, classes: int,
                                           sizes: list[int]) -> None:
    loaded = load_dataset(name, root=shared_data)
    data = loaded.data
    assert (data.num_nodes, data.num_edges, loaded.num_features, loaded.num_classes) == (
        nodes, edges, features, classes)
    assert data.x.dtype == torch.float32 and data.y.dtype == torch.long
    assert [loaded.split[k].numel() for k in ("train", "valid", "test")] == sizes
    assert all(v.dtype == torch.long for v in loaded.split.values())
    check_split(loaded.split, nodes)
    assert torch.equal(loaded.split["train"], data.train_mask.nonzero().view(-1))
    assert loaded.source == str(shared_data / "planetoid" / data_dir_name(name) / "raw")


def data_dir_name(name: str) -> str:
    return {"cora": "Cora", "citeseer": "CiteSeer"}[name.lower()]


def test_mutag(shared_data: Path) -> None:
    loaded = load_dataset("MUTAG", root=shared_data)
    assert loaded.task == "graph" and loaded.data is None and loaded.split is None
    assert len(loaded.dataset) == 188
    assert loaded.num_features == 7 and loaded.num_classes == 2
    assert loaded.dataset[0].x.shape[1] == 7


def test_imdb_binary_gets_one_hot_degree_features(shared_data: Path) -> None:
    loaded = load_dataset("imdb-binary", root=shared_data)
    assert len(loaded.dataset) == 1000 and loaded.num_classes == 2
    assert loaded.num_features == 136  # max degree 135 in IMDB-BINARY, plus degree 0
    graph = loaded.dataset[0]
    assert graph.x.shape == (graph.num_nodes, 136) and graph.x.dtype == torch.float32
    assert torch.equal(graph.x.sum(1), torch.ones(graph.num_nodes))
    degrees = torch.bincount(graph.edge_index[0], minlength=graph.num_nodes)
    assert torch.equal(graph.x.argmax(1), degrees)
    capped = load_dataset("imdb-binary", root=shared_data, max_degree=10)
    assert capped.num_features == 11 and capped.dataset[0].x.sum() == graph.num_nodes


def test_env_root_is_used(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHINFO_DATA", str(shared_data))
    assert load_dataset("mutag").source == str(shared_data / "tu" / "MUTAG" / "raw")


def test_read_only_root_is_untouched(shared_data: Path, tmp_path: Path, isolated_cache: Path,
                                     listing: Listing) -> None:
    root = tmp_path / "ro"
    _read_only_copy(shared_data / "planetoid" / "Cora", root / "planetoid" / "Cora")
    before = listing(root)
    try:
        loaded = load_dataset("cora", root=root)
        again = load_dataset("cora", root=root)
    finally:
        after = listing(root)
        _restore_write(root)
    assert after == before
    assert loaded.data.num_nodes == 2708 and again.data.num_edges == 10556
    processed = list((isolated_cache / "processed" / "planetoid").glob("Cora-*/data.pt"))
    assert len(processed) == 1


def test_pyg_layout_and_distinct_roots_do_not_collide(shared_data: Path, tmp_path: Path,
                                                      isolated_cache: Path) -> None:
    shutil.copytree(shared_data / "tu" / "MUTAG", tmp_path / "a" / "MUTAG")  # PyG's own layout
    shutil.copytree(shared_data / "tu" / "MUTAG", tmp_path / "b" / "TUDataset" / "MUTAG")
    a = load_dataset("mutag", root=tmp_path / "a")
    b = load_dataset("mutag", root=tmp_path / "b")
    assert a.source == str(tmp_path / "a" / "MUTAG" / "raw")
    assert b.source == str(tmp_path / "b" / "TUDataset" / "MUTAG" / "raw")
    assert len(list((isolated_cache / "processed" / "tu").glob("MUTAG-*"))) == 2
    assert not (tmp_path / "a" / "MUTAG" / "processed").exists()


def test_known_datasets_reports_search_folders(shared_data: Path) -> None:
    entries = {e["name"]: e for e in known_datasets(root=shared_data)}
    assert {"planted", "cora", "pubmed", "mutag", "ogbn-arxiv", "tu:<NAME>"} <= set(entries)
    assert entries["cora"]["found"] == str(shared_data / "planetoid" / "Cora" / "raw")
    assert entries["cora"]["task"] == "node" and entries["mutag"]["task"] == "graph"
    assert entries["pubmed"]["found"] == str(shared_data / "planetoid" / "PubMed" / "raw")
    # A dataset whose files the shared folder does not hold: not found, with where it looked.
    assert entries["ogbn-arxiv"]["found"] is None
    assert any(str(shared_data) in folder for folder in entries["ogbn-arxiv"]["search"])
    assert entries["planted"]["family"] == "synthetic"


# ----------------------------------------------------------------------------- missing files


def test_missing_files_name_files_and_folders(tmp_path: Path, isolated_cache: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              listing: Listing) -> None:
    def offline(self: Planetoid) -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr(Planetoid, "download", offline)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("cora", root=empty)
    msg = str(info.value)
    assert "'cora'" in msg and "network is unreachable" in msg
    for name in ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index"):
        assert f"ind.cora.{name}" in msg
    for folder in (empty / "planetoid" / "Cora" / "raw", empty / "Cora" / "raw",
                   isolated_cache / "raw" / "planetoid" / "Cora"):
        assert str(folder) in msg
    assert listing(empty) == {}


def test_download_disabled_and_unknown_tu_name(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(self: TUDataset) -> None:
        raise AssertionError("download must not be attempted")

    monkeypatch.setattr(TUDataset, "download", no_network)
    with pytest.raises(FileNotFoundError, match="downloading is disabled") as info:
        load_dataset("tu:NOT_A_DATASET", root=tmp_path, download=False)
    assert "NOT_A_DATASET_A.txt, NOT_A_DATASET_graph_indicator.txt" in str(info.value)


# ----------------------------------------------------------------------------- Amazon (fake)


def _write_fake_amazon(folder: Path, num_nodes: int = 50, seed: int = 0) -> None:
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    adj = sp.random(num_nodes, num_nodes, density=0.1, format="csr", random_state=seed)
    attr = sp.random(num_nodes, 12, density=0.3, format="csr", random_state=seed + 1)
    folder.mkdir(parents=True)
    np.savez(folder / "amazon_electronics_photo.npz",
             adj_data=adj.data, adj_indices=adj.indices, adj_indptr=adj.indptr,
             adj_shape=adj.shape, attr_data=attr.data, attr_indices=attr.indices,
             attr_indptr=attr.indptr, attr_shape=attr.shape,
             labels=rng.integers(0, 4, num_nodes))


def test_amazon_random_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Amazon, "download", lambda self: pytest.fail("tried to download"))
    _write_fake_amazon(tmp_path / "amazon" / "Photo" / "raw")
    loaded = load_dataset("amazon-photo", root=tmp_path)
    split = loaded.split
    assert [split[k].numel() for k in ("train", "valid", "test")] == [5, 5, 40]
    check_split(split, 50)
    assert is_undirected(loaded.data.edge_index)
    again = load_dataset("amazon-photo", root=tmp_path)
    other = load_dataset("amazon-photo", root=tmp_path, seed=1)
    assert all(torch.equal(split[k], again.split[k]) for k in split)
    assert not torch.equal(split["train"], other.split["train"])
    assert loaded.num_features == 12


# ----------------------------------------------------------------------------- OGB (fake)


def test_ogbn_offline_from_read_only_root(tmp_path: Path, isolated_cache: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          listing: Listing) -> None:
    root = tmp_path / "ogbroot"
    expected = write_tiny_arxiv(root)
    _read_only_copy(root, tmp_path / "ro")
    root = tmp_path / "ro"
    before = listing(root)
    try:
        loaded = load_dataset("ogbn-arxiv", root=root)
        assert isinstance(loaded, LoadedDataset)
        data = loaded.data
        assert data.x.shape == (60, 8) and data.x.dtype == torch.float32
        assert data.y.shape == (60,) and data.y.dtype == torch.long and int(data.y.max()) <= 2
        assert loaded.num_features == 8 and loaded.num_classes == 40  # OGB's metadata
        for key, idx in expected.items():
            assert torch.equal(loaded.split[key], torch.as_tensor(idx, dtype=torch.long))
        assert is_undirected(data.edge_index, num_nodes=60)  # to_undirected=True by default
        assert loaded.source == str(root / "ogbn_arxiv")
        processed = isolated_cache / "processed" / "ogb"
        files = list(processed.glob("ogbn-arxiv-*/geometric_data_processed.pt"))
        assert len(files) == 1
        mtime = files[0].stat().st_mtime_ns

        from graphinfo.data.ogbn import ReadOnlyNodePropPred

        monkeypatch.setattr(ReadOnlyNodePropPred, "process",
                            lambda self: pytest.fail("processed again"))
        again = load_dataset("OGBN-ARXIV", root=root, to_undirected=False)
        assert files[0].stat().st_mtime_ns == mtime
        assert again.data.num_edges < data.num_edges
        assert torch.equal(again.data.x, data.x)
    finally:
        after = listing(root)
        _restore_write(root)
    assert after == before


def test_ogbn_without_release_file_does_not_prompt(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    write_tiny_arxiv(tmp_path, release=False)
    monkeypatch.setattr("builtins.input", lambda *a: pytest.fail("input() was called"))
    loaded = load_dataset("ogbn-arxiv", root=tmp_path)
    assert loaded.data.num_nodes == 60


def test_ogbn_missing_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("ogbn-arxiv", root=tmp_path, download=False)
    msg = str(info.value)
    for part in ("RELEASE_v1.txt", "raw/edge.csv.gz", "raw/node-feat.csv.gz",
                 "raw/node_year.csv.gz", "split/time/train.csv.gz",
                 str(tmp_path / "ogbn_arxiv"), str(tmp_path / "ogb" / "ogbn_arxiv")):
        assert part in msg
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("ogbn-mag", root=tmp_path, download=False)
    for part in ("RELEASE_v2.txt", "raw/num-node-dict.csv.gz", "raw/triplet-type-list.csv.gz",
                 "raw/relations/paper___cites___paper/edge.csv.gz",
                 "raw/relations/author___writes___paper/num-edge-list.csv.gz",
                 "raw/node-feat/paper/node-feat.csv.gz", "raw/node-label/paper/node-label.csv.gz",
                 "split/time/nodetype-has-split.csv.gz", "split/time/paper/valid.csv.gz",
                 str(tmp_path / "ogbn_mag")):
        assert part in str(info.value)
    with pytest.raises(FileNotFoundError, match=r"raw/data\.npz, raw/node-label\.npz"):
        load_dataset("ogbn-papers100M", root=tmp_path, download=False)


def test_ogbn_mag_loads_as_a_heterogeneous_graph_with_the_paper_split(
        tmp_path: Path, isolated_cache: Path, listing: Listing) -> None:
    written = write_tiny_mag(tmp_path / "w")
    root = _read_only_copy(tmp_path / "w", tmp_path / "ro")
    before = listing(root)
    try:
        loaded = load_dataset("OGBN-MAG", root=root)
        directed = load_dataset("ogbn_mag", root=root, to_undirected=False)
        with_metapaths = load_dataset("ogbn-mag", root=root, metapaths="PAP,PFP")
    finally:
        after = listing(root)
        _restore_write(root)
    assert after == before  # processed into the cache only
    assert len(list(isolated_cache.glob("processed/ogb/ogbn-mag-*/geometric_data_processed.pt")))\
        == 1
    assert loaded.name == "ogbn-mag" and loaded.ogb_name == "ogbn-mag"
    assert loaded.is_hetero and loaded.target == "paper"
    assert loaded.probe_protocol() == ("ogb", {"name": "ogbn-mag"})
    data = loaded.data
    assert set(data.node_types) == {"paper", "author", "institution", "field_of_study"}
    assert {t: data[t].num_nodes for t in data.node_types} == {
        "author": 20, "field_of_study": 5, "institution": 3, "paper": 40}
    paper = data["paper"]
    assert torch.allclose(paper.x, torch.as_tensor(written["x"], dtype=torch.float32))
    assert paper.y.tolist() == written["y"].tolist() and paper.y.dtype == torch.long
    assert paper.node_year.tolist() == written["year"].tolist()
    assert loaded.num_classes == 349 and loaded.num_features == 6  # OGB's metadata
    for key, mask in (("train", "train_mask"), ("valid", "val_mask"), ("test", "test_mask")):
        assert loaded.split[key].tolist() == written[key].tolist()
        assert paper[mask].nonzero().view(-1).tolist() == sorted(written[key].tolist())
    # every cross-type relation both ways, so messages and metapaths run in both directions
    writes = data["author", "writes", "paper"].edge_index
    assert torch.equal(data["paper", "rev_writes", "author"].edge_index, writes.flip(0))
    cites = torch.as_tensor(written["cites"])
    assert torch.equal(directed.data["paper", "cites", "paper"].edge_index, cites)
    undirected = data["paper", "cites", "paper"].edge_index
    expected = {tuple(e) for e in torch.cat([cites, cites.flip(0)], 1).t().tolist()}
    assert {tuple(e) for e in undirected.t().tolist()} == expected
    # a homogeneous model reads the paper-cites-paper graph, as the old stand-in did
    homogeneous = loaded.homogeneous()
    assert homogeneous.name == "ogbn-mag" and not homogeneous.is_hetero
    assert homogeneous.data.relation == "cites"
    assert homogeneous.probe_protocol() == ("ogb", {"name": "ogbn-mag"})
    assert torch.equal(homogeneous.data.edge_index, undirected)
    assert torch.equal(homogeneous.data.x, paper.x) and homogeneous.split is loaded.split
    # metapaths built from the typed relations: PAP joins papers sharing an author
    relations = with_metapaths.data.metapath_names
    assert relations == ["PAP", "PFP"]
    pap = with_metapaths.data["paper", "PAP", "paper"].edge_index
    author_of = {}
    for a, p in writes.t().tolist():
        author_of.setdefault(a, set()).add(p)
    shared = {(p, q) for papers in author_of.values() for p in papers for q in papers}
    assert {tuple(e) for e in pap.t().tolist()} == shared


def test_ogbn_papers100m_binary_layout_marks_unlabelled_nodes(tmp_path: Path) -> None:
    written = write_tiny_papers100m(tmp_path)
    loaded = load_dataset("ogbn-papers100m", root=tmp_path, to_undirected=False)
    assert loaded.ogb_name == "ogbn-papers100M" and loaded.num_classes == 172
    data = loaded.data
    assert data.x.shape == (50, 5) and torch.equal(data.edge_index,
                                                   torch.as_tensor(written["edge_index"]))
    labelled = ~np.isnan(written["y"])
    assert data.y.dtype == torch.long and data.y.shape == (50,)
    assert (data.y[torch.as_tensor(~labelled)] == -1).all()
    assert data.y[torch.as_tensor(labelled)].tolist() == written["y"][labelled].astype(int).tolist()
    for key in ("train", "valid", "test"):
        assert loaded.split[key].tolist() == written[key].tolist()
        assert (data.y[loaded.split[key]] >= 0).all()


def test_probe_protocol_names_the_ogb_evaluator_only_for_ogb(tmp_path: Path) -> None:
    write_tiny_arxiv(tmp_path)
    arxiv = load_dataset("ogbn-arxiv", root=tmp_path)
    assert arxiv.probe_protocol() == ("ogb", {"name": "ogbn-arxiv"})
    assert arxiv.describe()["ogb_name"] == "ogbn-arxiv"
    planted = load_dataset("planted")
    assert planted.ogb_name is None and planted.probe_protocol() == ("linear_probe", {})
    assert "ogb_name" not in planted.describe()
    assert resolve_name("ogbn-mag").source_name == "ogbn-mag"


def test_ogbn_failed_download(tmp_path: Path, isolated_cache: Path,
                              monkeypatch: pytest.MonkeyPatch, listing: Listing) -> None:
    from ogb.nodeproppred import PygNodePropPredDataset

    def declined(self: PygNodePropPredDataset) -> None:
        raise SystemExit(-1)  # what ogb does when a download is declined

    monkeypatch.setattr(PygNodePropPredDataset, "download", declined)
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(FileNotFoundError, match="download failed: SystemExit") as info:
        load_dataset("ogbn-arxiv", root=root)
    assert str(isolated_cache / "raw" / "ogb" / "ogbn_arxiv") in str(info.value)
    assert listing(root) == {}


# ----------------------------------------------------------------------------- networkx


def test_from_networkx_with_string_labels() -> None:
    graph = nx.karate_club_graph()
    loaded = from_networkx(graph, y_attr="club")
    data = loaded.data
    assert loaded.num_classes == 2 and loaded.source == "networkx"
    assert data.num_nodes == 34 and data.num_edges == 2 * graph.number_of_edges()
    assert data.y.tolist() == [0 if graph.nodes[n]["club"] == "Mr. Hi" else 1 for n in graph]
    assert data.x.shape == (34, 18)  # one-hot degree, max degree 17
    assert [loaded.split[k].numel() for k in ("train", "valid", "test")] == [3, 3, 28]
    check_split(loaded.split, 34)
    assert "club" not in data


def test_from_networkx_features_and_unlabelled() -> None:
    graph = nx.path_graph(5)
    for node in graph:
        graph.nodes[node]["feat"] = [float(node), 1.0]
    loaded = from_networkx(graph, x_attr="feat")
    assert loaded.data.x.tolist() == [[float(n), 1.0] for n in range(5)]
    assert loaded.split is None and loaded.num_classes == 0
    assert loaded.data.y.tolist() == [-1] * 5
    with pytest.raises(ValueError, match="'label'"):
        from_networkx(graph, y_attr="label")


def test_from_networkx_turns_the_weight_attribute_into_edge_weight() -> None:
    graph = nx.Graph()
    graph.add_weighted_edges_from([(0, 1, 0.5), (1, 2, 2.0), (2, 3, 1.5)])
    data = from_networkx(graph).data
    assert "weight" not in data and data.edge_weight.dtype == torch.float32
    weights = {(int(s), int(d)): float(w) for (s, d), w in zip(data.edge_index.t(),
                                                               data.edge_weight)}
    assert weights[(0, 1)] == weights[(1, 0)] == 0.5 and weights[(2, 3)] == 1.5
    # The encoders aggregate with it: another weight, another embedding.
    from graphinfo.models import DGI

    torch.manual_seed(0)
    model = DGI(4, in_channels=data.num_features).eval()
    with torch.no_grad():
        weighted = model.embed(data.x, data.edge_index, data.edge_weight)
        plain = model.embed(data.x, data.edge_index)
    assert not torch.allclose(weighted, plain)
    kept = from_networkx(graph, edge_weight_attr=None).data
    assert "edge_weight" not in kept and kept.weight.tolist() == data.edge_weight.tolist()
    assert "edge_weight" not in from_networkx(nx.path_graph(4)).data


def test_validate_rejects_non_finite_features() -> None:
    loaded = load_dataset("planted", num_nodes=100)
    loaded.data.x[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        loaded.validate()
    loaded = load_dataset("planted", num_nodes=100)
    loaded.split["valid"] = loaded.split["train"][:3]
    with pytest.raises(ValueError, match="disjoint"):
        loaded.validate()
