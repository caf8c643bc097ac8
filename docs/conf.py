"""Sphinx configuration of the graphinfo documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html`` from the repository root.
"""
from __future__ import annotations

import os
import sys

# The package is normally installed (``pip install -e ".[docs]"``); this also lets a plain
# checkout build its docs.
sys.path.insert(0, os.path.abspath(".."))

from graphinfo import __version__  # noqa: E402

# -- Project information ------------------------------------------------------------------------

project = "graphinfo"
author = "The graphinfo developers"
copyright = "the graphinfo developers, MIT License"
version = ".".join(__version__.split(".")[:2])
release = __version__

# -- General configuration ----------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build"]
nitpicky = False

# Docstrings use Google style ("Args:", "Returns:", "Raises:") plus a "Shapes:" section.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_custom_sections = ["Shapes"]

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_class_signature = "mixed"
autodoc_preserve_defaults = True
# Methods without a docstring of their own (e.g. a ``forward``) would otherwise show the text of
# torch.nn.Module's method, which describes nothing of graphinfo.
autodoc_inherit_docstrings = False

# -- HTML output --------------------------------------------------------------------------------

html_theme = "alabaster"
html_title = f"graphinfo {release}"
html_theme_options = {
    "description": "Mutual-information graph representation learning for PyTorch Geometric",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "240px",
}
