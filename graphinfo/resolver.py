"""One resolver for every part a model names by string or passes as an object.

A model argument such as ``encoder='gcn'`` or ``estimator='dv'`` is looked up in a registry of
named factories; anything that is not a string is returned unchanged, so any callable or
:class:`torch.nn.Module` (a PyG conv, a lambda) can be passed instead.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def resolve(kind: str, query: Any, registry: Mapping[str, Callable[..., Any]],
            **kwargs: Any) -> Any:
    r"""Resolves ``query`` to a part of the given ``kind``.

    Args:
        kind (str): What is resolved (``'encoder'``, ``'estimator'`` ...), used in error messages.
        query (str or object): A registered name (case-insensitive, ``-`` and ``_`` ignored),
            or an object that is returned as it is.
        registry (Mapping[str, Callable]): Names mapped to factories.
        **kwargs: Keyword arguments for the factory when ``query`` is a name.

    Raises:
        ValueError: If ``query`` is a string that names no registered part.
        TypeError: If ``query`` is neither a string nor callable.
    """
    if query is None:
        raise TypeError(f"'{kind}' must be a name or a callable, got None")
    if not isinstance(query, str):
        if not callable(query):
            raise TypeError(f"'{kind}' must be a name or a callable, got "
                            f"{type(query).__name__} {query!r}")
        return query
    name = registered_name(query, registry)
    if name is None:
        choices = ", ".join(repr(name) for name in registry)
        raise ValueError(f"Unknown {kind} {query!r}; expected one of: {choices}")
    return registry[name](**kwargs)


def registered_name(query: str, registry: Mapping[str, Any]) -> str | None:
    """The key of ``registry`` that ``query`` names (case-insensitive, ``-`` and ``_``
    ignored), or None."""
    key = _normalise(query)
    return next((name for name in registry if _normalise(name) == key), None)


def _normalise(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def check_part_kwargs(kind: str, query: Any, kwargs: Mapping[str, Any] | None) -> None:
    """Raises ValueError when keyword arguments meant for a part built by name (a model's
    ``<kind>_kwargs``) come with a part given as an object, which they cannot configure."""
    if kwargs and not isinstance(query, str):
        article = "an" if kind[0] in "aeiou" else "a"
        raise ValueError(f"'{kind}_kwargs' {sorted(kwargs)} configure {article} {kind} built by "
                         f"name; the {kind} was given as an object ({type(query).__name__})")
