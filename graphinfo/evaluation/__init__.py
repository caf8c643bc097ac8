"""Named evaluation protocols; each returns ``dict[str, float]`` and selects on 'valid' only."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import Tensor

from graphinfo.evaluation.clustering import clustering
from graphinfo.evaluation.graph_svm import svm_cross_validation
from graphinfo.evaluation.linear_probe import linear_probe, logistic_regression_score
from graphinfo.resolver import resolve

PROTOCOLS: dict[str, Callable[..., dict[str, float]]] = {
    "linear_probe": linear_probe,
    "clustering": clustering,
    "graph_svm": svm_cross_validation,
}


def evaluate(z: Tensor, y: Tensor, split: Mapping[str, Tensor] | None = None,
             protocol: str = "linear_probe", **kwargs: Any) -> dict[str, float]:
    """Runs a named protocol (``'linear_probe'`` needs ``split``; ``'clustering'`` and
    ``'graph_svm'``, k-fold cross-validation over graphs, do not)."""
    fn = resolve("protocol", protocol, {name: (lambda f=f: f) for name, f in PROTOCOLS.items()})
    if fn is linear_probe:
        if split is None:
            raise ValueError("protocol 'linear_probe' needs a split {'train','valid','test'}")
        return fn(z, y, split, **kwargs)
    return fn(z, y, **kwargs)


__all__ = ["PROTOCOLS", "evaluate", "linear_probe", "clustering", "logistic_regression_score",
           "svm_cross_validation"]
