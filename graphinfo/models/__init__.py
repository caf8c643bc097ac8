"""Models: one file per method, each composing the parts of :mod:`graphinfo.nn`."""
from __future__ import annotations

from typing import Any

from graphinfo.models.base import MIModel
from graphinfo.models.dgi import DGI, DGIOutput
from graphinfo.models.infograph import InfoGraph, InfoGraphOutput
from graphinfo.resolver import resolve

MODELS: dict[str, type[MIModel]] = {"dgi": DGI}


def build_model(name: str, in_channels: int, **hparams: Any) -> MIModel:
    """Builds a registered model by name for inputs with ``in_channels`` features.

    ``hidden_channels`` defaults to 512 (the DGI paper's size).
    """
    hparams.setdefault("hidden_channels", 512)
    return resolve("model", name, MODELS, in_channels=in_channels, **hparams)


__all__ = ["MIModel", "DGI", "DGIOutput", "InfoGraph", "InfoGraphOutput", "MODELS", "build_model"]
