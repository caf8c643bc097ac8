"""graphinfo: unsupervised graph representation learning by mutual-information maximisation.

The names below are imported on first use (PEP 562), so that ``import graphinfo`` and the
command line's ``--help`` do not pay for importing torch.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Top-level names and the module each comes from.
_EXPORTS = {"DGI": "graphinfo.models", "DMGI": "graphinfo.models", "HDGI": "graphinfo.models",
            "GMI": "graphinfo.models", "InfoGraph": "graphinfo.models",
            "MultiView": "graphinfo.models", "MVGRL": "graphinfo.models",
            "GraphMVGRL": "graphinfo.models",
            "GRACE": "graphinfo.models", "GCA": "graphinfo.models",
            "GraphCPC": "graphinfo.models", "HierarchicalInfomax": "graphinfo.models",
            "build_model": "graphinfo.models", "Embedder": "graphinfo.embedder",
            "Run": "graphinfo.runs",
            "load_run": "graphinfo.runs"}

if TYPE_CHECKING:
    from graphinfo import estimators
    from graphinfo.embedder import Embedder
    from graphinfo.models import (
        DGI,
        DMGI,
        GCA,
        GMI,
        GRACE,
        HDGI,
        MVGRL,
        GraphCPC,
        GraphMVGRL,
        HierarchicalInfomax,
        InfoGraph,
        MultiView,
        build_model,
    )
    from graphinfo.runs import Run, load_run

__all__ = ["DGI", "DMGI", "GMI", "HDGI", "InfoGraph", "MultiView", "MVGRL", "GRACE", "GCA",
           "GraphCPC", "GraphMVGRL", "HierarchicalInfomax", "Embedder", "Run", "build_model",
           "estimators", "load_run", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "estimators":
        return importlib.import_module("graphinfo.estimators")
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'graphinfo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
