"""A scikit-learn-style front door:
``Embedder(model='dgi', **hparams).fit(data).transform(data)``, for node embeddings of one graph
(a ``Data`` or ``HeteroData``) or, with a graph-level model (``'infograph'``), graph embeddings
of a collection of graphs. The model is named as :func:`graphinfo.models.model_class` accepts
(a registered name, ``'package.module:Class'`` or the class); what it needs is read from its
contract (:mod:`graphinfo.models.base`): its level and its defaults."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData

from graphinfo.data import LoadedDataset
from graphinfo.models import DEFAULT_MODEL, MIModel, build_model, model_class
from graphinfo.train import (
    History,
    embed,
    embed_graphs,
    embed_layerwise,
    fit,
    fit_graphs,
    fit_minibatch,
)


def _graph(data: Any, model: Any = None) -> Data | HeteroData:
    """The graph of a node-level :class:`~graphinfo.data.LoadedDataset` as ``model`` reads it
    (one relation of a heterogeneous dataset for a homogeneous model:
    :func:`graphinfo.models.multiplex.dataset_for`), or ``data`` itself."""
    if isinstance(data, LoadedDataset):
        if data.data is None:
            raise ValueError(f"Dataset {data.name!r} is {data.task}-level; the Embedder needs "
                             f"a single graph (a node-level dataset)")
        if model is not None:
            from graphinfo.models.multiplex import dataset_for

            return dataset_for(model, data).data
        return data.data
    if not isinstance(data, (Data, HeteroData)):
        raise ValueError(f"A node-level model learns from one graph: pass a PyG Data or "
                         f"HeteroData, got {type(data).__name__}")
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


#: Training arguments of full-batch training (:func:`graphinfo.train.fit`).
FIT_PARAMS = ("epochs", "lr", "weight_decay", "patience", "min_delta", "progress", "callbacks",
              "checkpoint", "checkpoint_every", "resume", "max_grad_norm")
#: ... that switch a node-level model to neighbour-sampled mini-batches
#: (:func:`graphinfo.train.fit_minibatch`; ``batch_size`` turns it on).
MINIBATCH_PARAMS = ("batch_size", "num_neighbors", "summary", "summary_momentum",
                    "input_nodes", "num_workers")
#: Training arguments of graph-level models (:func:`graphinfo.train.fit_graphs`).
GRAPH_FIT_PARAMS = ("epochs", "lr", "weight_decay", "batch_size", "shuffle", "progress",
                    "callbacks", "checkpoint", "checkpoint_every", "resume", "max_grad_norm")


class Embedder:
    """Learns node or graph embeddings without labels, scikit-learn style.

    Keyword arguments that training knows (``epochs``, ``lr``, ``patience`` ...; with
    ``batch_size`` a node-level model trains on neighbour-sampled mini-batches and is exported
    layer-wise) configure training, with the model's own :attr:`~graphinfo.models.MIModel.defaults`
    for those not given; every other one goes to the model's constructor (``hidden_channels``,
    ``encoder``, ``estimator`` ...). A graph-level model is trained with
    :func:`graphinfo.train.fit_graphs` (``epochs``, ``batch_size`` ...) on a collection of
    graphs and gives one embedding per graph.

    Args:
        model: A model name of :data:`graphinfo.models.MODELS`, ``'package.module:Class'`` or
            an :class:`~graphinfo.models.MIModel` subclass. (default: ``'dgi'``)
        seed: Seeds torch before the model is built, for a reproducible run.
        device: Where to train (``'cpu'``, ``'cuda'``).
        **hparams: Model and training hyper-parameters.

    Attributes:
        model_: The trained model.
        embedding_: Embeddings of the graph given to :meth:`fit`, on the CPU.
        history_: The :class:`graphinfo.train.History` of training.
        graph_level_: Whether the model learnt graph embeddings (one row per graph) of the
            data given to :meth:`fit`.

    Example::

        emb = Embedder('dgi', hidden_channels=512, lr=1e-3).fit(data)
        z = emb.embedding_            # or emb.transform(other_graph)
        g = Embedder('infograph', epochs=20).fit_transform(tu_dataset)   # [num_graphs, F]
    """

    def __init__(self, model: str | type[MIModel] = DEFAULT_MODEL, *, seed: int | None = None,
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

    def _graph_level(self, data: Any) -> bool:
        """Whether to learn graph embeddings of ``data``: a graph-level model always does, a
        node-level one never; a model of both levels does for a collection of graphs (a
        graph-level dataset, a PyG dataset or a list of ``Data``) and not for one graph."""
        level = model_class(self.model).level
        if level != "both":
            return level == "graph"
        if isinstance(data, LoadedDataset):
            return data.data is None
        return not isinstance(data, (Data, HeteroData))

    def _training(self, names: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The training and the model arguments among the hyper-parameters, the former
        completed with the model's defaults."""
        cls = model_class(self.model)
        train = {k: v for k, v in self.hparams.items() if k in names}
        build = {k: v for k, v in self.hparams.items() if k not in names}
        defaults = cls.defaults
        train.setdefault("epochs", defaults.epochs)
        train.setdefault("lr", defaults.lr)
        if "weight_decay" in names:
            train.setdefault("weight_decay", defaults.weight_decay)
        if "patience" in names:
            train.setdefault("patience", defaults.patience)
        if defaults.max_grad_norm is not None:
            train.setdefault("max_grad_norm", defaults.max_grad_norm)
        if "shuffle" in names and defaults.batch_size is not None:
            train.setdefault("batch_size", defaults.batch_size)
        return train, build

    def fit(self, data: Any, y: Any = None) -> Embedder:
        """Builds the model for ``data`` and trains it on ``data``. ``y`` is ignored
        (unsupervised); it is accepted for scikit-learn pipelines."""
        self.graph_level_ = self._graph_level(data)
        if self.graph_level_:
            return self._fit_graphs(data)
        data = _graph(data, model_class(self.model))
        if isinstance(data, Data) and getattr(data, "x", None) is None:
            raise ValueError("'data' must be a PyG Data object with node features 'x'")
        fit_kwargs, model_kwargs = self._training((*FIT_PARAMS, *MINIBATCH_PARAMS))
        fit_kwargs = {k: v for k, v in fit_kwargs.items()
                      if k not in MINIBATCH_PARAMS or v is not None}
        if self.seed is not None:
            torch.manual_seed(self.seed)
        self.model_ = build_model(self.model, data=data, **model_kwargs)
        self.minibatch_ = fit_kwargs.get("batch_size") is not None
        if self.minibatch_:
            self.history_: History = fit_minibatch(self.model_, data, device=self.device,
                                                   **fit_kwargs)
            self.embedding_: Tensor = embed_layerwise(self.model_, data, device=self.device)
        else:
            unknown = [k for k in fit_kwargs if k in MINIBATCH_PARAMS]
            if unknown:
                raise ValueError(f"{unknown} set mini-batch training: add batch_size")
            self.history_ = fit(self.model_, data, device=self.device, **fit_kwargs)
            self.embedding_ = embed(self.model_, data, device=self.device)
        return self

    def _fit_graphs(self, data: Any) -> Embedder:
        graphs = _graphs(data)
        if len(graphs) == 0 or getattr(graphs[0], "x", None) is None:
            raise ValueError("'data' must hold at least one graph, with node features 'x'")
        unknown = [k for k in self.hparams
                   if k in (*FIT_PARAMS, *MINIBATCH_PARAMS) and k not in GRAPH_FIT_PARAMS]
        if unknown:
            raise ValueError(f"{unknown} are not training arguments of a graph-level model; "
                             f"expected any of {list(GRAPH_FIT_PARAMS)}")
        fit_kwargs, model_kwargs = self._training(GRAPH_FIT_PARAMS)
        if self.seed is not None:
            torch.manual_seed(self.seed)
        self.model_ = build_model(self.model, data=graphs, **model_kwargs)
        self.history_ = fit_graphs(self.model_, graphs, device=self.device, **fit_kwargs)
        self.embedding_ = embed_graphs(self.model_, graphs, device=self.device)
        return self

    def transform(self, data: Any) -> Tensor:
        """Embeddings of ``data`` (any graph with the same feature size; for a graph-level model
        a collection of graphs) from the fitted model."""
        if not hasattr(self, "model_"):
            raise RuntimeError("This Embedder is not fitted yet; call fit(data) first")
        if self.graph_level_:
            return embed_graphs(self.model_, _graphs(data), device=self.device)
        if getattr(self, "minibatch_", False):
            return embed_layerwise(self.model_, _graph(data, self.model_), device=self.device)
        return embed(self.model_, _graph(data, self.model_), device=self.device)

    def fit_transform(self, data: Any, y: Any = None) -> Tensor:
        """Fits on ``data`` and returns its embeddings (``embedding_``)."""
        return self.fit(data).embedding_

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{self.__class__.__name__}({params})"
