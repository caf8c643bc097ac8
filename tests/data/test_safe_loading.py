"""Nothing read from a data root or the cache runs code: a planted pickle at every load path of
the datasets (raw Planetoid pickles, the processed ``data.pt`` of PyG-style datasets and of
TUDataset, ``pre_transform.pt`` / ``pre_filter.pt``) is refused or rebuilt, never executed; an
incomplete or corrupt cache entry is rebuilt with a warning. (Checkpoints: tests/test_train.py.)
"""
from __future__ import annotations

import collections
import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch_geometric.io.planetoid import read_planetoid_data

from graphinfo.data import load_dataset
from graphinfo.data.cache_entry import MANIFEST, entry_complete, entry_lock, write_entry
from graphinfo.data.planetoid_files import read_planetoid
from graphinfo.data.safe_pickle import read_restricted_pickle


class RunsCode:
    """Unpickling this creates a marker file: code that no load path may run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import pathlib

        return pathlib.Path.touch, (pathlib.Path(self.marker),)


def _tiny_planetoid(folder: Path, name: str = "cora") -> Path:
    """Raw Planetoid files of a 6-node graph: 2 training nodes, 2 other, 2 test nodes listed
    out of order."""
    raw = folder / name.capitalize() / "raw"
    raw.mkdir(parents=True)
    eye = np.eye(6, 4, dtype=np.float32)
    one_hot = np.eye(2, dtype=np.int64)[[0, 1, 0, 1, 1, 0]]
    parts = {"x": sp.csr_matrix(eye[:2]), "allx": sp.csr_matrix(eye[:4]),
             "tx": sp.csr_matrix(eye[[5, 4]]), "y": one_hot[:2], "ally": one_hot[:4],
             "ty": one_hot[[5, 4]],
             "graph": collections.defaultdict(list, {0: [1, 2], 1: [0], 2: [0, 3], 3: [2, 4],
                                                     4: [3, 5, 4], 5: [4]})}
    for part, value in parts.items():
        (raw / f"ind.{name}.{part}").write_bytes(pickle.dumps(value, protocol=2))
    (raw / f"ind.{name}.test.index").write_text("5\n4\n")
    return raw


def _entry(cache: Path, family: str, name: str) -> Path:
    [folder] = (cache / "processed" / family).glob(f"{name}-*")
    return folder


def _plant(path: Path, marker: Path, *, seal: bool) -> None:
    """Replaces ``path`` by a code-running pickle (``seal``: and updates the manifest to its
    size, so only the safe load itself can catch it)."""
    torch.save({"x": RunsCode(marker)}, path)
    if seal:
        manifest_path = path.parent / MANIFEST
        manifest = json.loads(manifest_path.read_text())
        manifest["files"][path.name] = path.stat().st_size
        manifest_path.write_text(json.dumps(manifest))


def test_restricted_pickles_refuse_code_and_read_data(tmp_path: Path) -> None:
    marker, path = tmp_path / "ran", tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps(RunsCode(marker)))
    with pytest.raises(ValueError, match="evil.pickle was refused: refusing to unpickle "
                                         "pathlib"):
        read_restricted_pickle(path)
    path.write_bytes(pickle.dumps(eval))   # a builtin outside the containers
    with pytest.raises(ValueError, match="refusing to unpickle builtins.eval"):
        read_restricted_pickle(path)
    path.write_bytes(pickle.dumps([1, 2])[:-3])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_restricted_pickle(path)
    value = {"a": [np.arange(3), sp.coo_matrix(np.eye(2))], "b": collections.OrderedDict(c=1.5)}
    path.write_bytes(pickle.dumps(value, protocol=2))
    out = read_restricted_pickle(path)
    assert np.array_equal(out["a"][0], np.arange(3)) and (out["a"][1] != sp.eye(2)).nnz == 0
    assert out["b"] == {"c": 1.5}
    assert not marker.exists()


def test_planetoid_reader_puts_test_rows_at_their_ids(tmp_path: Path) -> None:
    data = read_planetoid(_tiny_planetoid(tmp_path), "Cora")
    assert torch.equal(data.x, torch.eye(6, 4))   # tx rows came in test.index's order (5, 4)
    assert data.y.tolist() == [0, 1, 0, 1, 1, 0]
    assert data.edge_index.size(1) == 10 and not (data.edge_index[0] == data.edge_index[1]).any()
    assert data.train_mask.nonzero().view(-1).tolist() == [0, 1]
    assert data.val_mask.nonzero().view(-1).tolist() == [2, 3]
    assert data.test_mask.nonzero().view(-1).tolist() == [4, 5]


@pytest.mark.parametrize("name", ["Cora", "CiteSeer", "PubMed"])
def test_planetoid_reader_equals_pygs_on_the_real_files(shared_data: Path, name: str) -> None:
    raw = shared_data / "planetoid" / name / "raw"
    ours, pyg = read_planetoid(raw, name), read_planetoid_data(str(raw), name)
    for key in ("x", "y", "edge_index", "train_mask", "val_mask", "test_mask"):
        assert torch.equal(ours[key], pyg[key]), key


@pytest.mark.parametrize("part", ["graph", "x", "ty"])
def test_a_raw_planetoid_pickle_that_runs_code_is_refused(tmp_path: Path, part: str) -> None:
    raw, marker = _tiny_planetoid(tmp_path), tmp_path / "ran"
    (raw / f"ind.cora.{part}").write_bytes(pickle.dumps(RunsCode(marker), protocol=2))
    with pytest.raises(ValueError, match=f"ind.cora.{part} was refused"):
        load_dataset("cora", root=tmp_path, download=False)
    assert not marker.exists()


@pytest.mark.parametrize("file, seal", [("data.pt", True), ("data.pt", False),
                                        ("pre_transform.pt", True),
                                        ("pre_filter.pt", False)])
def test_a_planted_planetoid_cache_file_is_rebuilt_never_run(tmp_path: Path, isolated_cache: Path,
                                                            file: str, seal: bool) -> None:
    _tiny_planetoid(tmp_path)
    first = load_dataset("cora", root=tmp_path, download=False)
    marker = tmp_path / "ran"
    _plant(_entry(isolated_cache, "planetoid", "Cora") / file, marker, seal=seal)
    with pytest.warns(UserWarning, match="rebuilding the cached dataset"):
        again = load_dataset("cora", root=tmp_path, download=False)
    assert not marker.exists()
    assert torch.equal(again.data.x, first.data.x)
    assert torch.equal(again.data.edge_index, first.data.edge_index)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # rebuilt and sealed: trusted without a warning
        load_dataset("cora", root=tmp_path, download=False)


def _tiny_tu(folder: Path, name: str = "TINY") -> Path:
    """TU raw files of four graphs (two triangles, two paths) with node labels."""
    raw = folder / name / "raw"
    raw.mkdir(parents=True)
    edges, indicator, offset = [], [], 0
    for graph, kind in enumerate(["tri", "path", "tri", "path"]):
        pairs = [(0, 1), (1, 2), (2, 0)] if kind == "tri" else [(0, 1), (1, 2)]
        for a, b in pairs:
            edges += [(offset + a + 1, offset + b + 1), (offset + b + 1, offset + a + 1)]
        indicator += [graph + 1] * 3
        offset += 3
    (raw / f"{name}_A.txt").write_text("".join(f"{a}, {b}\n" for a, b in edges))
    (raw / f"{name}_graph_indicator.txt").write_text("".join(f"{g}\n" for g in indicator))
    (raw / f"{name}_graph_labels.txt").write_text("1\n2\n1\n2\n")
    (raw / f"{name}_node_labels.txt").write_text("".join(f"{i % 2}\n" for i in range(12)))
    return raw


@pytest.mark.parametrize("seal", [True, False])
def test_a_planted_tudataset_cache_file_is_rebuilt_never_run(tmp_path: Path, isolated_cache: Path,
                                                            seal: bool) -> None:
    _tiny_tu(tmp_path)
    first = load_dataset("tu:TINY", root=tmp_path, download=False)
    assert len(first.dataset) == 4
    marker = tmp_path / "ran"
    _plant(_entry(isolated_cache, "tu", "TINY") / "data.pt", marker, seal=seal)
    with pytest.warns(UserWarning, match="rebuilding the cached dataset"):
        again = load_dataset("tu:TINY", root=tmp_path, download=False)
    assert not marker.exists()
    assert [int(g.y) for g in again.dataset] == [int(g.y) for g in first.dataset]
    assert torch.equal(again.dataset[1].x, first.dataset[1].x)


def test_a_truncated_or_unsealed_entry_is_rebuilt(tmp_path: Path, isolated_cache: Path) -> None:
    _tiny_planetoid(tmp_path)
    first = load_dataset("cora", root=tmp_path, download=False)
    folder = _entry(isolated_cache, "planetoid", "Cora")
    data = folder / "data.pt"
    data.write_bytes(data.read_bytes()[:50])   # a kill or a full disk mid-write
    with pytest.warns(UserWarning, match="it is incomplete"):
        again = load_dataset("cora", root=tmp_path, download=False)
    assert torch.equal(again.data.x, first.data.x)
    (folder / MANIFEST).unlink()   # killed before the manifest sealed the entry
    (folder / ".tmp-123-deadbeef").mkdir()   # and its temporary folder left behind
    with pytest.warns(UserWarning, match="it is incomplete"):
        load_dataset("cora", root=tmp_path, download=False)
    assert not (folder / ".tmp-123-deadbeef").exists()
    assert entry_complete(folder, ["data.pt", "pre_transform.pt", "pre_filter.pt"])


def test_a_failed_build_leaves_the_entry_unsealed_and_no_temporaries(tmp_path: Path) -> None:
    folder = tmp_path / "entry"

    def build(staging: Path) -> None:
        (staging / "a.pt").write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    with entry_lock(folder), pytest.raises(OSError, match="No space left"):
        write_entry(folder, build)
    assert not entry_complete(folder, ["a.pt"])
    assert sorted(path.name for path in folder.iterdir()) == [".lock"]
    with entry_lock(folder):
        assert write_entry(folder, lambda staging: (staging / "a.pt").write_bytes(b"ok")) == \
            ["a.pt"]
    assert entry_complete(folder, ["a.pt"]) and not entry_complete(folder, ["a.pt", "b.pt"])
