"""Named evaluation protocols; each returns ``dict[str, float]`` and selects on 'valid' only.

(``'ogb'`` also returns the name of its metric under ``'metric'``; ``ogb`` is imported only
when that protocol runs.)"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import Tensor

from graphinfo.evaluation.clustering import clustering
from graphinfo.evaluation.graph_svm import svm_cross_validation
from graphinfo.evaluation.hetero_node import hetero_node_protocol, similarity_search
from graphinfo.evaluation.linear_probe import linear_probe, logistic_regression_score
from graphinfo.evaluation.ogb import ogb_linear_probe
from graphinfo.resolver import resolve

PROTOCOLS: dict[str, Callable[..., dict[str, Any]]] = {
    "linear_probe": linear_probe,
    "ogb": ogb_linear_probe,
    "clustering": clustering,
    "graph_svm": svm_cross_validation,
    "hetero_node": hetero_node_protocol,
}


#: Protocols that score a node split ``{'train','valid','test'}`` and need it.
SPLIT_PROTOCOLS = ("linear_probe", "ogb", "hetero_node")


def evaluate(z: Tensor, y: Tensor, split: Mapping[str, Tensor] | None = None,
             protocol: str = "linear_probe", **kwargs: Any) -> dict[str, Any]:
    """Runs a named protocol. ``'linear_probe'``, ``'ogb'`` (the linear probe selected and
    scored by OGB's ``Evaluator``; pass ``name='ogbn-arxiv'``) and ``'hetero_node'`` (Macro-/
    Micro-F1, k-means NMI/ARI over 10 runs and Sim@k on the test nodes) need ``split``;
    ``'clustering'`` and ``'graph_svm'`` (k-fold cross-validation over graphs) do not."""
    fn = resolve("protocol", protocol, {name: (lambda f=f: f) for name, f in PROTOCOLS.items()})
    if fn in (PROTOCOLS[name] for name in SPLIT_PROTOCOLS):
        if split is None:
            raise ValueError(f"protocol {protocol!r} needs a split {{'train','valid','test'}}")
        return fn(z, y, split, **kwargs)
    return fn(z, y, **kwargs)


__all__ = ["PROTOCOLS", "SPLIT_PROTOCOLS", "evaluate", "linear_probe", "ogb_linear_probe",
           "clustering", "logistic_regression_score", "svm_cross_validation",
           "hetero_node_protocol", "similarity_search"]
