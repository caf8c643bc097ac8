"""Saved runs: the folder ``graphinfo pretrain`` writes, loaded back as a trained model.

A run folder holds ``config.json`` (what ran: the model, its constructor arguments, the data,
the training settings, the versions), ``metrics.json`` (every seed's scores), ``model.pt`` (the
weights of the seed whose embeddings were kept) and ``embeddings.pt``. :func:`load_run` rebuilds
the model from the configuration and loads the weights (``torch.load(weights_only=True)``:
nothing but tensors is unpickled); :meth:`Run.embed` embeds a graph the way the run embedded its
own (the same feature normalisation, the same full-graph or layer-wise export), so that the
training graph gives back exactly the saved embeddings and a new graph with the same number of
features gets embeddings from the same model::

    run = graphinfo.load_run("runs/dgi-cora")
    z = run.embed(load_dataset("cora", root="data"))       # == torch.load(".../embeddings.pt")
    z_new = run.model.embed(x_new, edge_index_new)         # an inductive encoder on a new graph
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from graphinfo.data import LoadedDataset
from graphinfo.data.cache_entry import safe_torch_load
from graphinfo.data.hetero import target_node_type
from graphinfo.models import build_model, model_class
from graphinfo.models.base import constructor_kwargs, feature_size, model_level
from graphinfo.models.multiplex import dataset_for

#: The files of a run folder.
CONFIG_FILE, METRICS_FILE, WEIGHTS_FILE, EMBEDDINGS_FILE = (
    "config.json", "metrics.json", "model.pt", "embeddings.pt")

__all__ = ["CONFIG_FILE", "EMBEDDINGS_FILE", "METRICS_FILE", "WEIGHTS_FILE", "Run",
           "load_run", "read_config", "read_metrics", "run_model_kwargs"]


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: is {path.parent} a folder written by "
                                f"'graphinfo pretrain'?")
    try:
        value = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(value).__name__}")
    return value


def read_config(run: str | Path) -> dict[str, Any]:
    """The configuration of a run: ``run`` is a run folder (its ``config.json``) or the
    ``config.json`` file itself.

    Raises:
        FileNotFoundError: If the folder or its ``config.json`` does not exist.
        ValueError: If the file is not a configuration written by ``graphinfo pretrain``.
    """
    run = Path(run)
    if run.is_file():
        path = run
    elif run.is_dir():
        path = run / CONFIG_FILE
    else:
        raise FileNotFoundError(f"run folder {run} does not exist")
    config = _read_json(path)
    if config.get("command") != "pretrain" or "model" not in config:
        raise ValueError(f"{path} is not the configuration of a 'graphinfo pretrain' run (no "
                         f"'command': 'pretrain' and 'model')")
    return config


def read_metrics(run: str | Path) -> dict[str, Any]:
    """The ``metrics.json`` of a run folder (every seed's scores, their summary, the curves).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not a JSON object.
    """
    return _read_json(Path(run) / METRICS_FILE)


def run_model_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """The model's constructor arguments recorded in ``config``: ``model_kwargs`` when the run
    wrote them, else (runs of graphinfo before they were recorded) rebuilt from the generic
    settings and the ``options``."""
    if "model_kwargs" in config:
        return dict(config["model_kwargs"])
    return constructor_kwargs(model_class(config["model"]),
                              hidden_channels=config.get("hidden_channels"),
                              num_layers=config.get("num_layers"),
                              encoder=config.get("encoder"), estimator=config.get("estimator"),
                              **config.get("options", {}))


@dataclass
class Run:
    """A trained run: the model (in eval mode, on ``device``), its configuration and metrics,
    and the folder they came from."""

    path: Path
    model: torch.nn.Module
    config: dict[str, Any]
    metrics: dict[str, Any]

    @property
    def level(self) -> str:
        """What the run embedded: ``'node'`` or ``'graph'``."""
        return self.config.get("level") or ("graph" if model_level(self.model) == "graph"
                                             else "node")

    def saved_embeddings(self) -> Tensor:
        """The embeddings the run saved (``embeddings.pt``)."""
        path = self.path / EMBEDDINGS_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist")
        return safe_torch_load(path)

    def embed(self, dataset: Any) -> Tensor:
        """Embeds ``dataset`` as the run embedded its training data, on the CPU.

        ``dataset`` is what :func:`graphinfo.data.load_dataset` returns, a PyG ``Data`` (node
        runs: the run's ``feature_norm`` is applied, then the full-graph export, or the
        layer-wise one when the run trained on mini-batches) or a collection of graphs (graph
        runs: one row per graph).

        Raises:
            ValueError: If the graph's feature size is not the model's, or the data is of the
                wrong kind for the run.
        """
        from graphinfo.experiment import export_node_embeddings, normalise_features
        from graphinfo.train import embed_graphs

        device = next((p.device for p in self.model.parameters()), torch.device("cpu"))
        if self.level == "graph":
            graphs = getattr(dataset, "dataset", dataset)
            if graphs is None:
                raise ValueError(f"the run {self.path} embeds graphs: expected a collection of "
                                 f"graphs, got {type(dataset).__name__} without one")
            self._check_features(feature_size(graphs))
            return embed_graphs(self.model, graphs, device=device)
        if isinstance(dataset, LoadedDataset) and dataset.data is not None:
            dataset = dataset_for(self.model, dataset, self.config.get("relation"))
        data = getattr(dataset, "data", dataset)
        if isinstance(data, HeteroData):
            store = data[target_node_type(data)]
            self._check_features(int(store.x.size(1)) if "x" in store else -1)
        elif data is None or getattr(data, "x", None) is None:
            raise ValueError(f"the run {self.path} embeds the nodes of one graph: expected a "
                             f"graph with node features 'x', got {type(dataset).__name__} "
                             f"without one")
        else:
            self._check_features(feature_size(data))
        data = normalise_features(data, self.config.get("feature_norm", "auto"))
        return export_node_embeddings(self.model, data,
                                      layerwise=bool(self.config.get("minibatch")),
                                      device=device)

    def _check_features(self, size: int) -> None:
        expected = self.config.get("in_channels")
        if expected is None:
            expected = getattr(self.model, "in_channels", None)
        if expected is not None and size != expected:
            raise ValueError(f"the run {self.path} was trained on {expected} node features; "
                             f"this data has {size}")


def load_run(run_dir: str | Path, *, data: Any = None,
             device: str | torch.device = "cpu") -> Run:
    """Loads a run folder written by ``graphinfo pretrain``: the model rebuilt from
    ``config.json`` with the saved weights (eval mode), the configuration and the metrics.

    Args:
        run_dir: The run folder (``--out`` of ``pretrain``) or its ``config.json``.
        data: Data to size the model with (its :meth:`~graphinfo.models.MIModel.from_data`);
            only needed for runs that did not record ``in_channels`` or models built from a
            ``HeteroData``'s types.
        device: Where to put the model.

    Raises:
        FileNotFoundError: If the folder or one of its files is missing.
        ValueError: If a file is not what ``pretrain`` writes, or the weights do not fit the
            rebuilt model (the message names the keys).
    """
    run_dir = Path(run_dir)
    if run_dir.is_file():          # the run's config.json
        run_dir = run_dir.parent
    config = read_config(run_dir)
    metrics = read_metrics(run_dir)
    weights = run_dir / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} does not exist")
    kwargs = run_model_kwargs(config)
    if data is not None:
        model = build_model(config["model"], data=data, **kwargs)
    elif config.get("in_channels") is not None:
        model = build_model(config["model"], in_channels=config["in_channels"], **kwargs)
    else:
        raise ValueError(f"{run_dir / CONFIG_FILE} records no 'in_channels' (a run of an "
                         f"earlier graphinfo): pass data=... to size the model")
    state = safe_torch_load(weights)        # truncated, corrupt or unsafe: names the file
    if not isinstance(state, dict):
        raise ValueError(f"{weights} must hold a state_dict, got {type(state).__name__}")
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(f"{weights} does not fit the model {config['model']!r} rebuilt from "
                         f"{run_dir / CONFIG_FILE}: {error}") from None
    return Run(run_dir, model.to(device).eval(), config, metrics)
