"""Pictures of a run: the training loss per epoch and a 2-D map of the embeddings.

Both need matplotlib, an optional dependency (``pip install "graphinfo[plots]"``);
:func:`require_matplotlib` raises an ImportError that says so. The map is UMAP's when
``umap-learn`` is installed, else scikit-learn's t-SNE (Van der Maaten and Hinton, 2008) of the
embeddings' first 50 principal components, on at most ``max_points`` rows drawn at random with
a fixed seed (t-SNE's cost grows faster than linearly), coloured by label. Files are written
atomically.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from graphinfo.io import atomic_write

#: Rows of the embedding map at most (a seeded random subset beyond).
MAX_POINTS = 3000

__all__ = ["MAX_POINTS", "plot_embedding", "plot_losses", "require_matplotlib"]


def require_matplotlib() -> Any:
    """``matplotlib.pyplot`` with the headless Agg backend.

    Raises:
        ImportError: If matplotlib is not installed, with how to install it.
    """
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'graphinfo[plots]' (or "
                          "matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, path: Path) -> None:
    atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=120,
                                                      bbox_inches="tight"))


def plot_losses(curves: Mapping[str, Sequence[float]], path: str | Path, *,
                title: str = "training loss") -> Path:
    """Draws one training-loss curve per seed (``{seed: losses}``) into the PNG ``path``."""
    if not curves:
        raise ValueError("no loss curve to draw")
    plt = require_matplotlib()
    figure, axis = plt.subplots(figsize=(6, 3.5))
    for seed, losses in curves.items():
        axis.plot(range(1, len(losses) + 1), list(losses), label=f"seed {seed}", linewidth=1.2)
    values = [value for losses in curves.values() for value in losses]
    if values and min(values) > 0 and max(values) / min(values) > 50:
        axis.set_yscale("log")          # early spikes would flatten the rest of the curve
    axis.set_xlabel("epoch")
    axis.set_ylabel("loss")
    axis.set_title(title)
    if len(curves) > 1:
        axis.legend(fontsize="small")
    axis.grid(alpha=0.3)
    path = Path(path)
    _save(figure, path)
    plt.close(figure)
    return path


#: Optimisation steps of t-SNE.
TSNE_ITERATIONS = 500


def _project(z: np.ndarray, seed: int) -> tuple[np.ndarray, str]:
    """2-D coordinates of the rows of ``z`` and the method's name."""
    try:
        from umap import UMAP  # optional: umap-learn
    except ImportError:
        UMAP = None
    if UMAP is not None:
        return UMAP(n_components=2, random_state=seed).fit_transform(z), "UMAP"
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    if z.shape[1] > 50 and z.shape[0] > 50:
        z = PCA(50, random_state=seed).fit_transform(z)
    perplexity = float(min(30, max(2, (z.shape[0] - 1) // 3)))
    # 500 iterations (sklearn's default is 1000) draw the same map of a few thousand points in
    # half the time; the parameter was called n_iter before scikit-learn 1.5.
    import inspect

    steps = {"max_iter" if "max_iter" in inspect.signature(TSNE).parameters else "n_iter":
             TSNE_ITERATIONS}
    tsne = TSNE(2, init="pca", perplexity=perplexity, random_state=seed, **steps)
    return tsne.fit_transform(z), "t-SNE"


def plot_embedding(z: Tensor, labels: Tensor | None, path: str | Path, *, seed: int = 0,
                   max_points: int = MAX_POINTS, title: str = "embeddings") -> Path:
    """Draws a 2-D map of the embeddings ``z`` (``[N, F]``), coloured by ``labels`` (one class
    per row; ``None`` or other shapes: one colour), into the PNG ``path``.

    Raises:
        ValueError: If ``z`` is not 2-D with at least 4 rows.
    """
    if z.dim() != 2 or z.size(0) < 4:
        raise ValueError(f"'z' must be [N, F] with N >= 4, got {tuple(z.shape)}")
    plt = require_matplotlib()
    count = z.size(0)
    rows = torch.arange(count)
    if count > max_points:
        rows = torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:max_points]
    points, method = _project(z[rows].detach().float().cpu().numpy(), seed)
    colours = None
    if labels is not None and labels.dim() == 1 and labels.numel() == count:
        colours = labels[rows].cpu().numpy()
    figure, axis = plt.subplots(figsize=(5, 5))
    axis.scatter(points[:, 0], points[:, 1], c=colours, s=4, cmap="tab10" if colours is not None
                 else None, linewidths=0)
    shown = f"{len(rows):,} of {count:,}" if len(rows) < count else f"{count:,}"
    axis.set_title(f"{title} ({method}, {shown} rows" +
                   (", coloured by label)" if colours is not None else ")"), fontsize="small")
    axis.set_xticks([])
    axis.set_yticks([])
    path = Path(path)
    _save(figure, path)
    plt.close(figure)
    return path
