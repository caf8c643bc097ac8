"""One pretraining experiment: train a model for a seed, embed the graph, evaluate the embeddings.

Shared by the CLI (``graphinfo pretrain``) and the reproduction benchmarks, so both run exactly the
same recipe."""
from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data

from graphinfo.evaluation import clustering, linear_probe
from graphinfo.models import build_model
from graphinfo.train import embed, fit


@dataclass
class SeedRun:
    """Result of one seed: metrics, embeddings and the trained weights (on the CPU)."""

    metrics: dict[str, float]
    embeddings: Tensor
    state_dict: dict[str, Tensor]


def normalise_features(data: Data, mode: str = "auto") -> Data:
    """Row-normalises features to sum to one (as the DGI paper does for bag-of-words features).

    ``mode='auto'`` normalises only when every feature is non-negative; ``'row'`` always;
    ``'none'`` never. Dense and sparse COO features work. Returns a shallow copy with new ``x``;
    ``data`` is not changed."""
    if mode not in ("auto", "row", "none"):
        raise ValueError(f"'mode' must be 'auto', 'row' or 'none', got {mode!r}")
    x = data.x.coalesce() if data.x.is_sparse else data.x
    values = x.values() if x.is_sparse else x
    if mode == "none" or (mode == "auto" and bool((values < 0).any())):
        return data
    data = copy.copy(data)
    if x.is_sparse:
        row_sums = torch.zeros(x.size(0), dtype=x.dtype, device=x.device).index_add_(
            0, x.indices()[0], values).clamp(min=1e-12)
        data.x = torch.sparse_coo_tensor(x.indices(), values / row_sums[x.indices()[0]],
                                         x.shape).coalesce()
    else:
        data.x = x / x.sum(dim=-1, keepdim=True).clamp(min=1e-12)
    return data


def run_seed(model_name: str, data: Data, split: Mapping[str, Tensor], seed: int, *,
             model_kwargs: Mapping[str, Any] | None = None,
             fit_kwargs: Mapping[str, Any] | None = None,
             device: str | torch.device = "cpu") -> SeedRun:
    """Seeds torch, builds ``model_name`` for ``data``, trains it with
    :func:`graphinfo.train.fit`, and evaluates its embeddings with a linear probe (C chosen on
    the validation split) and k-means clustering."""
    torch.manual_seed(seed)
    model = build_model(model_name, in_channels=data.num_features, **(model_kwargs or {}))
    started = time.perf_counter()
    history = fit(model, data, device=device, **(fit_kwargs or {}))
    seconds = time.perf_counter() - started
    z = embed(model, data, device=device)
    metrics: dict[str, float] = {"seed": seed, **linear_probe(z, data.y, split),
                                 **clustering(z, data.y, seed=seed),
                                 "epochs": history.epochs, "best_epoch": history.best_epoch,
                                 "best_loss": history.best_loss, "train_seconds": seconds}
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    return SeedRun(metrics, z, state)


def summarise(rows: Iterable[Mapping[str, float]], keys: Iterable[str]) -> dict[str, dict]:
    """Mean and sample standard deviation of each key over the rows."""
    rows = list(rows)
    out = {}
    for key in keys:
        values = [float(row[key]) for row in rows]
        out[key] = {"mean": statistics.fmean(values),
                    "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                    "n": len(values)}
    return out
