"""Shared fixtures: tiny in-process graphs and the location of the shared real datasets."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Data

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path | None:
    """``$GRAPHINFO_DATA`` or ``<project>/../shared/data``, when it exists."""
    candidates = [os.environ.get("GRAPHINFO_DATA"), PROJECT_ROOT.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def pytest_report_header(config: pytest.Config) -> str:
    """One line up front: whether the tests on real datasets run, and how to enable them."""
    root = shared_data_root()
    if root is None:
        return ("real datasets: not found, their tests will SKIP (set GRAPHINFO_DATA to the "
                "data folder, or put it at ../shared/data)")
    return f"real datasets: {root} (GRAPHINFO_DATA or ../shared/data)"


@pytest.fixture
def data_root() -> Path:
    root = shared_data_root()
    if root is None:
        pytest.skip("shared datasets not found: set GRAPHINFO_DATA or provide ../shared/data")
    return root


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Processed files of every test go to a temporary cache, never the user's."""
    monkeypatch.setenv("GRAPHINFO_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("GRAPHINFO_NO_PROGRESS", "1")


@pytest.fixture
def planted() -> Data:
    """A small planted-partition graph: 300 nodes, 3 classes, informative noisy (Gaussian)
    features."""
    from graphinfo.data.synthetic import planted_partition

    return planted_partition(num_nodes=300, num_classes=3, avg_degree=8.0, num_features=16,
                             features="gaussian", seed=0)


def split_of(data: Data) -> dict[str, torch.Tensor]:
    return {"train": data.train_mask.nonzero().view(-1), "valid": data.val_mask.nonzero().view(-1),
            "test": data.test_mask.nonzero().view(-1)}


@pytest.fixture
def tiny_graph() -> Data:
    """Two triangles joined by one edge, 4 features."""
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 0, 3, 4, 4, 5, 5, 3, 2, 3],
                               [1, 0, 2, 1, 0, 2, 4, 3, 5, 4, 3, 5, 3, 2]])
    x = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    return Data(x=x, edge_index=edge_index)


@pytest.fixture
def evaluator_calls(monkeypatch: pytest.MonkeyPatch) -> list:
    """Records ``(dataset name, len(y_true), result)`` of every ``ogb`` ``Evaluator.eval`` call."""
    from ogb.nodeproppred import Evaluator

    calls = []
    original = Evaluator.eval

    def spy(self, input_dict):
        result = original(self, input_dict)
        calls.append((self.name, len(input_dict["y_true"]), result))
        return result

    monkeypatch.setattr(Evaluator, "eval", spy)
    return calls


def blobs(n: int = 300, separation: float = 3.0, seed: int = 0):
    """Embeddings of three noisy classes (8 features) and a 60/100/rest split; the split sizes
    tell calls on each part apart."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    z = rng.normal(size=(n, 8)) + separation * np.eye(3, 8)[y]
    split = {"train": torch.arange(0, 60), "valid": torch.arange(60, 160),
             "test": torch.arange(160, n)}
    return torch.tensor(z, dtype=torch.float32), torch.tensor(y), split
