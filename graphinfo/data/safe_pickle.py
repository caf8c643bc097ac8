"""Reading pickles that may come from anywhere without running what they hold.

A pickle names the callables that rebuild its objects, and ``pickle.load`` calls them: a file in
a shared data folder can run any code. :class:`RestrictedUnpickler` resolves only the globals
that plain data needs — numpy arrays (through numpy's own reconstructor), ``scipy.sparse``
COO/CSR/CSC matrices (rebuilt from their parts, never through their class), and the builtin
containers (``list``, ``dict``, ``set``, ``tuple``, ``collections.defaultdict`` /
``OrderedDict``, and ``_codecs.encode``, which protocol-2 pickles use to make bytes) — and
refuses every other with :class:`pickle.UnpicklingError`.
:func:`read_restricted_pickle` wraps it and names the file in every failure.
"""
from __future__ import annotations

import codecs
import collections
import os
import pickle
from typing import Any

import numpy as np
import scipy.sparse as sp


class _Refused(pickle.UnpicklingError):
    """A global outside the allowed ones (as opposed to a truncated or corrupt pickle)."""


class _SparseParts:
    """Stands in for a pickled ``scipy.sparse`` matrix: keeps its attribute dict only."""

    kind = ""

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.state = state

    def to_scipy(self) -> sp.spmatrix:
        """The matrix, built from the kept arrays by scipy's public constructors."""
        s = self.state
        shape = tuple(int(v) for v in s.get("_shape", s.get("shape")))
        if self.kind == "coo":   # scipy >= 1.13 keeps ``coords``, older ``row`` / ``col``
            row, col = s["coords"] if "coords" in s else (s["row"], s["col"])
            return sp.coo_matrix((s["data"], (row, col)), shape=shape)
        cls = sp.csr_matrix if self.kind == "csr" else sp.csc_matrix
        return cls((s["data"], s["indices"], s["indptr"]), shape=shape)


_SPARSE_MODULES = ("scipy.sparse", "scipy.sparse.coo", "scipy.sparse.csr", "scipy.sparse.csc",
                   "scipy.sparse._coo", "scipy.sparse._csr", "scipy.sparse._csc")
_NUMPY_CORE = ("numpy.core.multiarray", "numpy._core.multiarray")
#: Builtin containers and scalars a data pickle may name (calling them builds plain values).
_BUILTINS = {"list": list, "dict": dict, "set": set, "frozenset": frozenset, "tuple": tuple,
             "int": int, "float": float, "complex": complex, "bool": bool, "str": str,
             "bytes": bytes, "bytearray": bytearray}
_COLLECTIONS = {"defaultdict": collections.defaultdict, "OrderedDict": collections.OrderedDict}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, ``scipy.sparse`` matrices and builtin containers, nothing else.

    numpy arrays are rebuilt by numpy's own reconstructor; a sparse matrix is not built by its
    class at all: its pickled attribute dict (data, indices, shape) is kept and the matrix made
    from those arrays by :func:`materialise`, so no constructor or ``__setstate__`` of the
    pickle's choosing runs, and pickles of old scipy versions (``scipy.sparse.coo.coo_matrix``)
    load with new ones. Any other global raises :class:`pickle.UnpicklingError`.
    """

    def find_class(self, module: str, name: str) -> Any:
        if module in _SPARSE_MODULES and name in ("coo_matrix", "csr_matrix", "csc_matrix"):
            return type(f"_{name}", (_SparseParts,), {"kind": name[:3]})
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if module in _NUMPY_CORE and name in ("_reconstruct", "scalar"):
            from numpy._core import multiarray

            return getattr(multiarray, name)
        if module in ("builtins", "__builtin__") and name in _BUILTINS:
            return _BUILTINS[name]
        if module == "collections" and name in _COLLECTIONS:
            return _COLLECTIONS[name]
        if module == "_codecs" and name == "encode":   # bytes in protocol 2 pickles
            return codecs.encode
        raise _Refused(f"refusing to unpickle {module}.{name}: only numpy arrays, "
                       f"scipy.sparse matrices and builtin containers are read")


def materialise(obj: Any) -> Any:
    """``obj`` with every sparse stand-in (at the top or inside lists, tuples and dicts)
    replaced by its scipy matrix."""
    if isinstance(obj, _SparseParts):
        return obj.to_scipy()
    if isinstance(obj, dict):
        for key, value in obj.items():
            obj[key] = materialise(value)
        return obj
    if isinstance(obj, list):
        return [materialise(value) for value in obj]
    if isinstance(obj, tuple):
        return tuple(materialise(value) for value in obj)
    return obj


def read_restricted_pickle(path: str | os.PathLike[str]) -> Any:
    """Reads ``path`` with :class:`RestrictedUnpickler` (latin-1 strings, for Python 2 pickles).

    Raises:
        ValueError: If the file needs a global outside the allowed ones, or is truncated or
            corrupt; the message names the file. Nothing it names is ever called.
        OSError: If it cannot be opened.
    """
    with open(path, "rb") as handle:
        try:
            return materialise(RestrictedUnpickler(handle, encoding="latin1").load())
        except _Refused as error:
            raise ValueError(f"{os.fspath(path)} was refused: {error}") from None
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
                AttributeError, MemoryError) as error:
            raise ValueError(f"{os.fspath(path)} is not a readable pickle of arrays "
                             f"(truncated or corrupt): {type(error).__name__}: {error}") from None
