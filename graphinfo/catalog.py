"""Names the command line shows before anything heavy is imported.

``graphinfo --help`` must answer without importing torch (seconds on a cold start), so the names
of the built-in models and the default model live here, in a module that imports nothing. The
registry in :mod:`graphinfo.models` is the truth: it takes :data:`DEFAULT_MODEL` from here and
a test checks that :data:`BUILTIN_MODELS` names exactly the models it registers.
"""
from __future__ import annotations

#: The registered names of the models that ship with graphinfo.
BUILTIN_MODELS: tuple[str, ...] = ("dgi", "gmi", "infograph", "dmgi", "hdgi", "multiview",
                                   "mvgrl", "mvgrl_graph", "grace", "gca", "cpc",
                                   "hierarchical", "uhgr")

#: The model the CLI and the Embedder train when none is named.
DEFAULT_MODEL = "dgi"

__all__ = ["BUILTIN_MODELS", "DEFAULT_MODEL"]
