"""Models: one file per method, each composing the parts of :mod:`graphinfo.nn`, and the
registry that names them.

A model is named by its registered name (``'dgi'``), by ``'package.module:ClassName'`` (a
user's own :class:`MIModel` subclass, imported on demand) or given as the class itself; every
consumer (CLI, Embedder, experiment runner) resolves it with :func:`model_class` and then reads
the class's contract (:mod:`graphinfo.models.base`), never the name.
"""
from __future__ import annotations

import importlib
import sys
from typing import Any

from graphinfo.catalog import DEFAULT_MODEL
from graphinfo.models.base import LEVELS, MIModel, ModelDefaults
from graphinfo.models.cpc import GraphCPC, GraphCPCOutput
from graphinfo.models.dgi import DGI, DGIOutput
from graphinfo.models.dmgi import DMGI, DMGIOutput
from graphinfo.models.gmi import GMI, GMIOutput
from graphinfo.models.grace import GCA, GRACE, GRACEOutput
from graphinfo.models.hdgi import HDGI, HDGIOutput
from graphinfo.models.hierarchical import HierarchicalInfomax, HierarchicalOutput
from graphinfo.models.infograph import InfoGraph, InfoGraphOutput
from graphinfo.models.multiview import MultiView, MultiViewOutput
from graphinfo.models.mvgrl import MVGRL
from graphinfo.models.mvgrl_graph import GraphMVGRL, GraphMVGRLOutput
from graphinfo.resolver import registered_name

#: Registered models by name. Adding a model is one file in ``graphinfo/models/`` and one line
#: here (or, outside the package, ``register_model``).
MODELS: dict[str, type[MIModel]] = {"dgi": DGI, "gmi": GMI, "infograph": InfoGraph,
                                     "dmgi": DMGI, "hdgi": HDGI, "multiview": MultiView,
                                     "mvgrl": MVGRL, "mvgrl_graph": GraphMVGRL,
                                     "grace": GRACE, "gca": GCA,
                                     "cpc": GraphCPC, "hierarchical": HierarchicalInfomax,
                                     "uhgr": HierarchicalInfomax}



def register_model(name: str, cls: type[MIModel]) -> type[MIModel]:
    """Registers ``cls`` under ``name`` (for ``--model name``); returns ``cls``."""
    if not isinstance(cls, type) or not issubclass(cls, MIModel):
        raise TypeError(f"a registered model must be a subclass of graphinfo.models.MIModel, "
                        f"got {cls!r}")
    MODELS[name] = cls
    return cls


def model_class(model: str | type[MIModel]) -> type[MIModel]:
    """The model class named by ``model``: a registered name (case-insensitive, ``-``/``_``
    ignored), ``'package.module:ClassName'``, ``'path/to/file.py:ClassName'``, or a class
    (returned as it is).

    Raises:
        ValueError: For an unknown name, a module that cannot be imported or a missing class.
        TypeError: If the class is not a subclass of :class:`MIModel`.
    """
    if isinstance(model, type):
        cls: Any = model
    elif not isinstance(model, str):
        raise TypeError(f"'model' must be a model name, 'module:Class' or a class, got "
                        f"{type(model).__name__}")
    elif ":" in model:
        module_name, _, class_name = model.rpartition(":")
        try:
            module = _import_file(module_name) if module_name.endswith(".py") \
                else importlib.import_module(module_name)
        except (ImportError, FileNotFoundError) as error:
            raise ValueError(f"Cannot import the module of model {model!r}: {error}") from error
        cls = getattr(module, class_name, None)
        if cls is None:
            raise ValueError(f"Module {module_name!r} has no class {class_name!r} (model "
                             f"{model!r})")
    else:
        name = registered_name(model, MODELS)
        if name is None:
            raise ValueError(f"Unknown model {model!r}; expected one of: "
                             + ", ".join(repr(key) for key in MODELS)
                             + ", or 'package.module:ClassName'")
        cls = MODELS[name]
    if not isinstance(cls, type) or not issubclass(cls, MIModel):
        raise TypeError(f"model {model!r} must be a subclass of graphinfo.models.MIModel (the "
                        f"model contract), got {cls!r}")
    return cls


#: Modules imported from a file path are registered in ``sys.modules`` under this prefix.
_FILE_MODULE_PREFIX = "graphinfo_user_model_"


def _import_file(path: str) -> Any:
    """The module of a Python file, imported once under a name derived from its path."""
    import importlib.util
    from pathlib import Path

    file = Path(path).resolve()
    if not file.is_file():
        raise FileNotFoundError(f"no file {path!r}")
    import hashlib

    digest = hashlib.sha1(str(file).encode()).hexdigest()[:16]
    name = f"{_FILE_MODULE_PREFIX}{digest}_{''.join(c if c.isalnum() else '_' for c in file.stem)}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path!r} is not an importable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def model_name(model: str | type[MIModel]) -> str:
    """The name a model is recorded under (and can be named by again): its registered name,
    else ``'module:Class'``, or ``'path/to/file.py:Class'`` for a class loaded from a file."""
    cls = model_class(model)
    for name, registered in MODELS.items():
        if registered is cls:
            return name
    module = sys.modules.get(cls.__module__)
    if cls.__module__.startswith(_FILE_MODULE_PREFIX) and getattr(module, "__file__", None):
        return f"{module.__file__}:{cls.__qualname__}"
    return f"{cls.__module__}:{cls.__qualname__}"


def build_model(model: str | type[MIModel], in_channels: int | None = None, *,
                data: Any = None, **hparams: Any) -> MIModel:
    """Builds a model (named as :func:`model_class` accepts) for ``data`` (a graph, a
    collection of graphs or a ``HeteroData``: :meth:`MIModel.from_data`) or, without ``data``,
    for inputs with ``in_channels`` features. ``hidden_channels`` defaults to the model's own
    default (:attr:`MIModel.defaults`)."""
    cls = model_class(model)
    if in_channels is not None:
        hparams["in_channels"] = in_channels
    elif data is None:
        raise ValueError("build_model needs 'in_channels' or 'data' to size the model")
    return cls.from_data(data, **hparams)


def is_graph_level(model: str | type[MIModel]) -> bool:
    """Whether ``model`` learns one embedding per graph (its level is ``'graph'``)."""
    return model_class(model).level == "graph"


__all__ = ["MIModel", "ModelDefaults", "LEVELS", "DGI", "DGIOutput", "DMGI", "DMGIOutput",
           "HDGI", "HDGIOutput", "GMI", "GMIOutput",
           "InfoGraph", "InfoGraphOutput", "MultiView", "MultiViewOutput", "MVGRL", "GRACE", "GCA",
           "GraphMVGRL", "GraphMVGRLOutput",
           "GRACEOutput", "GraphCPC", "GraphCPCOutput", "HierarchicalInfomax",
           "HierarchicalOutput", "MODELS",
           "DEFAULT_MODEL", "register_model",
           "model_class", "model_name", "build_model", "is_graph_level"]
