"""A scikit-learn-style front door:
``Embedder(model='dgi', **hparams).fit(data).transform(data)``, for node embeddings of one graph
or, with a graph-level model (``'infograph'``), graph embeddings of a collection of graphs."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data

from graphinfo.data import LoadedDataset
from graphinfo.models import build_model, is_graph_level
from graphinfo.train import History, embed, embed_graphs, fit, fit_graphs


def _graph(data: Data | LoadedDataset) -> Data:
    """The graph of a node-level :class:`~graphinfo.data.LoadedDataset`, or ``data`` itself."""
    if isinstance(data, LoadedDataset):
        if data.data is None:
            raise ValueError(f"Dataset {data.name!r} is {data.task}-level; the Embedder needs "
                             f"a single graph (a node-level dataset)")
        return data.data
    return data


def _graphs(data: Any) -> Sequence[Data]:
    """The graphs of a graph-level :class:`~graphinfo.data.LoadedDataset`, or ``data`` itself
    (a PyG dataset or a list of ``Data``)."""
    if isinstance(data, LoadedDataset):
        if data.dataset is None:
            raise ValueError(f"Dataset {data.name!r} is {data.task}-level; a graph-level model "
                             f"needs a collection of graphs (a graph-level dataset)")
        return data.dataset
    if isinstance(data, Data):
        raise ValueError("A graph-level model learns from a collection of graphs: pass a PyG "
                         "dataset or a list of Data objects, not a single Data")
    return data


FIT_PARAMS = ("epochs", "lr", "weight_decay", "patience", "min_delta", "progress", "callbacks",
              "checkpoint", "checkpoint_every", "resume")
#: Training arguments of :func:`graphinfo.train.fit_graphs` (graph-level models).
GRAPH_FIT_PARAMS = ("epochs", "lr", "weight_decay", "batch_size", "shuffle", "progress",
                    "callbacks")


class Embedder:
    """Learns node or graph embeddings without labels, scikit-learn style.

    Keyword arguments that :func:`graphinfo.train.fit` knows (``epochs``, ``lr``, ``patience``
    ...) configure training; every other one goes to the model's constructor
    (``hidden_channels``, ``encoder``, ``estimator`` ...). A graph-level model
    (:data:`graphinfo.models.GRAPH_LEVEL_MODELS`) is trained with
    :func:`graphinfo.train.fit_graphs` (``epochs``, ``batch_size`` ...) on a collection of
    graphs and gives one embedding per graph.

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
        g = Embedder('infograph', epochs=20).fit_transform(tu_dataset)   # [num_graphs, F]
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

    def fit(self, data: Any, y: Any = None) -> Embedder:
        """Builds the model for ``data``'s feature size and trains it on ``data``.
        ``y`` is ignored (unsupervised); it is accepted for scikit-learn pipelines."""
        if self._graph_level:
            return self._fit_graphs(data)
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

    @property
    def _graph_level(self) -> bool:
        return is_graph_level(self.model)

    def _fit_graphs(self, data: Any) -> Embedder:
        graphs = _graphs(data)
        if len(graphs) == 0 or getattr(graphs[0], "x", None) is None:
            raise ValueError("'data' must hold at least one graph, with node features 'x'")
        unknown = [k for k in self.hparams if k in FIT_PARAMS and k not in GRAPH_FIT_PARAMS]
        if unknown:
            raise ValueError(f"{unknown} are not training arguments of a graph-level model; "
                             f"expected any of {list(GRAPH_FIT_PARAMS)}")
        fit_kwargs = {k: v for k, v in self.hparams.items() if k in GRAPH_FIT_PARAMS}
        model_kwargs = {k: v for k, v in self.hparams.items() if k not in GRAPH_FIT_PARAMS}
        if self.seed is not None:
            torch.manual_seed(self.seed)
        self.model_ = build_model(self.model, in_channels=graphs[0].x.size(1), **model_kwargs)
        self.history_ = fit_graphs(self.model_, graphs, device=self.device, **fit_kwargs)
        self.embedding_ = embed_graphs(self.model_, graphs, device=self.device)
        return self

    def transform(self, data: Any) -> Tensor:
        """Embeddings of ``data`` (any graph with the same feature size; for a graph-level model
        a collection of graphs) from the fitted model."""
        if not hasattr(self, "model_"):
            raise RuntimeError("This Embedder is not fitted yet; call fit(data) first")
        if self._graph_level:
            return embed_graphs(self.model_, _graphs(data), device=self.device)
        return embed(self.model_, _graph(data), device=self.device)

    def fit_transform(self, data: Any, y: Any = None) -> Tensor:
        """Fits on ``data`` and returns its embeddings (``embedding_``)."""
        return self.fit(data).embedding_

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{self.__class__.__name__}({params})"
