"""graphinfo: unsupervised graph representation learning by mutual-information maximisation."""
from graphinfo import estimators
from graphinfo.embedder import Embedder
from graphinfo.models import DGI, GMI, InfoGraph, build_model
from graphinfo.runs import Run, load_run

__version__ = "0.1.0"

__all__ = ["DGI", "GMI", "InfoGraph", "Embedder", "Run", "build_model", "estimators",
           "load_run", "__version__"]
