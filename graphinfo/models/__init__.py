"""Models: one file per method, each composing the parts of :mod:`graphinfo.nn`."""
from __future__ import annotations

import inspect
from typing import Any

from graphinfo.models.base import MIModel
from graphinfo.models.dgi import DGI, DGIOutput
from graphinfo.models.gmi import GMI, GMIOutput
from graphinfo.models.infograph import InfoGraph, InfoGraphOutput
from graphinfo.resolver import registered_name, resolve

MODELS: dict[str, type[MIModel]] = {"dgi": DGI, "gmi": GMI, "infograph": InfoGraph}

#: Models that learn one embedding per graph (trained on a collection of graphs).
GRAPH_LEVEL_MODELS = frozenset({"infograph"})


def build_model(name: str, in_channels: int, **hparams: Any) -> MIModel:
    """Builds a registered model by name for inputs with ``in_channels`` features.

    ``hidden_channels`` defaults to the model's own default, or to 512 (the DGI and GMI
    papers' size) for a model that has none.
    """
    registered = registered_name(name, MODELS) if isinstance(name, str) else None
    if registered is not None:
        parameter = inspect.signature(MODELS[registered]).parameters.get("hidden_channels")
        if parameter is not None and parameter.default is inspect.Parameter.empty:
            hparams.setdefault("hidden_channels", 512)
    return resolve("model", name, MODELS, in_channels=in_channels, **hparams)


def is_graph_level(name: str) -> bool:
    """Whether ``name`` (spelt as :func:`build_model` accepts it) is a graph-level model."""
    return isinstance(name, str) and registered_name(name, MODELS) in GRAPH_LEVEL_MODELS


__all__ = ["MIModel", "DGI", "DGIOutput", "GMI", "GMIOutput", "InfoGraph", "InfoGraphOutput",
           "MODELS", "GRAPH_LEVEL_MODELS", "build_model", "is_graph_level"]
