"""Tests of graphinfo.data.roots: root and cache resolution, raw-folder lookup, messages."""
from __future__ import annotations

from pathlib import Path

import pytest

from graphinfo.data import roots


def test_cache_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHINFO_CACHE", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert roots.cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("GRAPHINFO_CACHE")
    assert roots.cache_dir() == tmp_path / "xdg" / "graphinfo"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert roots.cache_dir() == tmp_path / "home" / ".cache" / "graphinfo"
    monkeypatch.setenv("GRAPHINFO_CACHE", "")  # empty counts as unset
    assert roots.cache_dir() == tmp_path / "home" / ".cache" / "graphinfo"


def test_data_root_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              isolated_cache: Path) -> None:
    assert roots.data_root() == isolated_cache
    monkeypatch.setenv("GRAPHINFO_DATA", str(tmp_path / "env"))
    assert roots.data_root() == tmp_path / "env"
    assert roots.data_root(tmp_path / "arg") == tmp_path / "arg"
    assert roots.data_root(str(tmp_path / "arg")) == tmp_path / "arg"


def test_processed_dir_is_in_cache_and_keyed_by_source(isolated_cache: Path,
                                                       tmp_path: Path) -> None:
    a = roots.processed_dir("planetoid", "Cora", tmp_path / "a" / "raw")
    b = roots.processed_dir("planetoid", "Cora", tmp_path / "b" / "raw")
    assert a.parent == isolated_cache / "processed" / "planetoid"
    assert a.name.startswith("Cora-") and len(a.name) == len("Cora-") + 8
    assert a != b
    assert a == roots.processed_dir("planetoid", "Cora", tmp_path / "a" / "raw")
    assert roots.path_hash(tmp_path) == roots.path_hash(str(tmp_path))
    assert roots.download_dir("tu", "MUTAG") == isolated_cache / "raw" / "tu" / "MUTAG"


def test_candidate_dirs_cover_shared_and_pyg_layouts(tmp_path: Path) -> None:
    dirs = roots.candidate_dirs(tmp_path, ("planetoid", ""), ("Cora", "cora"))
    assert dirs == [tmp_path / "planetoid" / "Cora" / "raw", tmp_path / "planetoid" / "cora" /
                    "raw", tmp_path / "Cora" / "raw", tmp_path / "cora" / "raw"]
    flat = roots.candidate_dirs(tmp_path, ("", "ogb"), ("ogbn_arxiv",), leaf=None)
    assert flat == [tmp_path / "ogbn_arxiv", tmp_path / "ogb" / "ogbn_arxiv"]


def test_find_dir_needs_every_file(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "a.txt").write_text("")
    for name in ("a.txt", "b.txt"):
        (second / name).write_text("")
    assert roots.find_dir([first, second], ["a.txt", "b.txt"]) == second
    assert roots.find_dir([first, second], ["a.txt"]) == first
    assert roots.find_dir([first], ["b.txt"]) is None
    assert roots.find_dir([first], []) is None  # no expected files: never "found"


def test_missing_message_names_dataset_files_and_folders(tmp_path: Path) -> None:
    searched = [tmp_path / "x" / "raw", tmp_path / "y" / "raw"]
    msg = roots.missing_message("cora", searched, ["ind.cora.x", "ind.cora.y"], "offline")
    assert "'cora'" in msg and "offline" in msg
    assert "ind.cora.x, ind.cora.y" in msg
    for folder in searched:
        assert str(folder) in msg


def test_missing_message_says_so_when_an_expected_file_is_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "raw"
    (folder / "ind.cora.graph").mkdir(parents=True)
    first = roots.missing_message("cora", [folder], ["ind.cora.graph"]).splitlines()[0]
    assert f"({folder / 'ind.cora.graph'} is not a file)" in first
    assert f"in one of 1 folders (the first: {folder}" in first
