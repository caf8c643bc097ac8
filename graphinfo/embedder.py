"""A scikit-learn-style front door:
``Embedder(model='dgi', **hparams).fit(data).transform(data)``."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data

from graphinfo.data import LoadedDataset
from graphinfo.models import build_model
from graphinfo.train import History, embed, fit


def _graph(data: Data | LoadedDataset) -> Data:
    """The graph of a node-level :class:`~graphinfo.data.LoadedDataset`, or ``data`` itself."""
    if isinstance(data, LoadedDataset):
        if data.data is None:
            raise ValueError(f"Dataset {data.name!r} is {data.task}-level; the Embedder needs "
                             f"a single graph (a node-level dataset)")
        return data.data
    return data


FIT_PARAMS = ("epochs", "lr", "weight_decay", "patience", "min_delta", "progress", "callbacks",
              "checkpoint", "checkpoint_every", "resume")


class Embedder:
    """Learns node embeddings without labels, scikit-learn style.

    Keyword arguments that :func:`graphinfo.train.fit` knows (``epochs``, ``lr``, ``patience``
    ...) configure training; every other one goes to the model's constructor
    (``hidden_channels``, ``encoder``, ``estimator`` ...).

    Args:
        model: A model name of :data:`graphinfo.models.MODELS`. (default: ``'dgi'``)
        seed: Seeds torch before the model is built, for a reproducible run.
        device: Where to train (``'cpu'``, ``'cuda'``).
        **hparams: Model and training hyper-parameters.

    Attributes:
        model_: The trained model.
        embedding_: Embeddings of the graph given to :meth:`fit`, on the CPU.
        history_: The :class:`graphinfo.train.History` of training.

    Example::

        emb = Embedder('dgi', hidden_channels=512, lr=1e-3).fit(data)
        z = emb.embedding_            # or emb.transform(other_graph)
    """

    def __init__(self, model: str = "dgi", *, seed: int | None = None,
                 device: str | torch.device = "cpu", **hparams: Any) -> None:
        self.model = model
        self.seed = seed
        self.device = device
        self.hparams = hparams

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments, as scikit-learn's ``get_params``."""
        return {"model": self.model, "seed": self.seed, "device": self.device, **self.hparams}

    def set_params(self, **params: Any) -> Embedder:
        """Sets constructor arguments, as scikit-learn's ``set_params``; returns self."""
        for key, value in params.items():
            if key in ("model", "seed", "device"):
                setattr(self, key, value)
            else:
                self.hparams[key] = value
        return self

    def fit(self, data: Data, y: Any = None) -> Embedder:
        """Builds the model for ``data``'s feature size and trains it on ``data``.
        ``y`` is ignored (unsupervised); it is accepted for scikit-learn pipelines."""
        data = _graph(data)
        if getattr(data, "x", None) is None:
            raise ValueError("'data' must be a PyG Data object with node features 'x'")
        fit_kwargs = {k: v for k, v in self.hparams.items() if k in FIT_PARAMS}
        model_kwargs = {k: v for k, v in self.hparams.items() if k not in FIT_PARAMS}
        if self.seed is not None:
            torch.manual_seed(self.seed)
        self.model_ = build_model(self.model, in_channels=data.x.size(1), **model_kwargs)
        self.history_: History = fit(self.model_, data, device=self.device, **fit_kwargs)
        self.embedding_: Tensor = embed(self.model_, data, device=self.device)
        return self

    def transform(self, data: Data) -> Tensor:
        """Embeddings of ``data`` (any graph with the same feature size) from the fitted model."""
        if not hasattr(self, "model_"):
            raise RuntimeError("This Embedder is not fitted yet; call fit(data) first")
        return embed(self.model_, _graph(data), device=self.device)

    def fit_transform(self, data: Data, y: Any = None) -> Tensor:
        """Fits on ``data`` and returns its embeddings (``embedding_``)."""
        return self.fit(data).embedding_

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{self.__class__.__name__}({params})"
