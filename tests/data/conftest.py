"""Fixtures of the data tests: an isolated cache per test and the shared real datasets."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _shared_data() -> Path:
    env = os.environ.get("GRAPHINFO_DATA")
    return Path(env) if env else PROJECT_ROOT.parent / "shared" / "data"


#: The shared read-only datasets, resolved before any test changes the environment.
SHARED_DATA = _shared_data()


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Points the cache at a fresh temporary folder and clears ``GRAPHINFO_DATA``."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GRAPHINFO_CACHE", str(cache))
    monkeypatch.delenv("GRAPHINFO_DATA", raising=False)
    return cache


@pytest.fixture
def shared_data() -> Path:
    """The shared datasets folder; skips the test when it is absent."""
    if not (SHARED_DATA / "planetoid").is_dir() or not (SHARED_DATA / "tu").is_dir():
        pytest.skip(f"shared datasets not found at {SHARED_DATA} (set GRAPHINFO_DATA to the "
                    f"folder holding planetoid/ and tu/)")
    return SHARED_DATA


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
    }


@pytest.fixture
def listing() -> Callable[[Path], dict[str, tuple[int, int]]]:
    """A function listing every path under a folder with its size and mtime (ns)."""
    return _listing
