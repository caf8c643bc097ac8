"""One pretraining experiment: train a model for a seed, embed the graph, evaluate the embeddings.

Shared by the CLI (``graphinfo pretrain``) and the reproduction benchmarks, so both run exactly the
same recipe."""
from __future__ import annotations

import copy
import statistics
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData

from graphinfo import distributed
from graphinfo.data.hetero import node_labels, target_node_type
from graphinfo.evaluation import (
    SPLIT_PROTOCOLS,
    clustering,
    evaluate,
    linear_probe,
    svm_cross_validation,
)
from graphinfo.models import MIModel, build_model, model_class
from graphinfo.sources import Graphs, check_graphs
from graphinfo.train import (
    EarlyStopping,
    embed,
    embed_graphs,
    embed_layerwise,
    fit,
    fit_graphs,
    fit_minibatch,
)


@dataclass
class SeedRun:
    """Result of one seed: metrics, embeddings and the trained weights (on the CPU)."""

    metrics: dict[str, float]
    embeddings: Tensor | None
    state_dict: dict[str, Tensor]
    #: Per-epoch curves: ``'loss'`` (the epoch's training loss) and, when the epoch was
    #: selected on the validation split, ``'valid'`` (``[epoch, score]`` of each check).
    curves: dict[str, list] = field(default_factory=dict)


def normalise_features(data: Data | HeteroData, mode: str = "auto") -> Data | HeteroData:
    """Row-normalises features to sum to one (as the DGI paper does for bag-of-words features).

    ``mode='auto'`` normalises only when every feature is non-negative; ``'row'`` always;
    ``'none'`` never. Dense and sparse COO features work; of a ``HeteroData`` the target node
    type's features are normalised (the ones the models read). Returns a shallow copy with new
    ``x``; ``data`` is not changed."""
    if mode not in ("auto", "row", "none"):
        raise ValueError(f"'mode' must be 'auto', 'row' or 'none', got {mode!r}")
    if isinstance(data, HeteroData):
        target = target_node_type(data)
        store = Data(x=data[target].x)
        normalised = normalise_features(store, mode)
        if normalised is store:
            return data
        data = copy.copy(data)
        data[target].x = normalised.x
        return data
    x = data.x.coalesce() if data.x.is_sparse else data.x
    values = x.values() if x.is_sparse else x
    _check_feature_values(values, x)
    if mode == "none" or (mode == "auto" and bool((values < 0).any())):
        return data
    data = copy.copy(data)
    # Sums in float64: float32 row sums of large values (3e38) overflow to inf and zero the row.
    wide = values.double() if values.is_floating_point() else values.to(torch.float64)
    if x.is_sparse:
        row_sums = torch.zeros(x.size(0), dtype=torch.float64, device=x.device).index_add_(
            0, x.indices()[0], wide).clamp(min=1e-12)
        data.x = torch.sparse_coo_tensor(x.indices(),
                                         (wide / row_sums[x.indices()[0]]).to(x.dtype),
                                         x.shape).coalesce()
    else:
        data.x = (wide / wide.sum(dim=-1, keepdim=True).clamp(min=1e-12)).to(x.dtype)
    return data


def _check_feature_values(values: Tensor, x: Tensor) -> None:
    """Refuses NaN or infinite features; warns when every node has the same features (the
    embeddings then carry the graph's structure only: all-zero features train to constants)."""
    if values.is_floating_point() and not bool(torch.isfinite(values).all()):
        bad = int((~torch.isfinite(values)).sum())
        raise ValueError(f"the node features hold {bad} NaN or infinite value(s); clean or "
                         f"impute them before training")
    if x.size(0) < 2:
        return
    if x.is_sparse:
        constant = values.numel() == 0
    else:
        constant = bool((x == x[:1]).all())
    if constant:
        kind = "all zero" if not bool(values.any()) else "one constant row"
        warnings.warn(f"every node has the same features ({kind}); the embeddings can only "
                      f"reflect the graph's structure", stacklevel=3)


def probe_scores(z: Tensor, y: Tensor, split: Mapping[str, Tensor],
                 probe: str = "linear_probe",
                 probe_kwargs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Scores ``z`` (embeddings, or raw features as a baseline) with the linear probe named
    ``probe`` (``'linear_probe'``, or ``'ogb'`` with ``probe_kwargs={'name': ...}``), as
    :func:`run_seed` scores its embeddings."""
    if probe == "linear_probe":
        return linear_probe(z, y, split, **(probe_kwargs or {}))
    return evaluate(z, y, split, protocol=probe, **(probe_kwargs or {}))


def _check_probe(probe: str) -> None:
    if probe not in SPLIT_PROTOCOLS:
        raise ValueError(f"'probe' must be one of {', '.join(map(repr, SPLIT_PROTOCOLS))}, got "
                         f"{probe!r}")


class ValidationSelection:
    """A :func:`graphinfo.train.fit` callback that selects the training epoch on the validation
    split: every ``every`` epochs it embeds the graph and scores the embeddings with the linear
    probe's *validation* accuracy (the test split is never read), keeps a copy of the best
    weights, and stops training after ``patience`` evaluations without improvement.
    :meth:`restore` loads the selected weights.

    This is model selection on the validation split, for objectives whose training loss keeps
    falling after the embeddings stop improving. It runs beside :func:`~graphinfo.train.fit`'s
    early stopping on the loss (pass ``patience=None`` there to rely on it alone); whichever
    stops first ends training, and the weights restored are those this callback selected (so
    ``History.best_epoch`` then names the lowest loss, not the weights evaluated).

    Args:
        data: The graph, with labels ``y``.
        split: ``{'train', 'valid', ...}`` node indices.
        every: Epochs between evaluations.
        patience: Evaluations without a better validation accuracy before stopping.
        device: Where to embed.
        probe: The probe scoring the validation split: ``'linear_probe'`` (accuracy) or
            ``'ogb'`` (OGB's Evaluator metric; pass ``probe_kwargs={'name': ...}``).
        probe_kwargs: Keyword arguments of the probe.
    """

    def __init__(self, data: Data, split: Mapping[str, Tensor], every: int = 10,
                 patience: int = 5, device: str | torch.device | None = None,
                 probe: str = "linear_probe",
                 probe_kwargs: Mapping[str, Any] | None = None) -> None:
        if every < 1 or patience < 1:
            raise ValueError(f"'every' and 'patience' must be >= 1, got {every} and {patience}")
        _check_probe(probe)
        self.data, self.every, self.patience, self.device = data, every, patience, device
        self.probe, self.probe_kwargs = probe, dict(probe_kwargs or {})
        self.split = {key: split[key] for key in ("train", "valid")}
        # The engine's early-stopping object, on the validation score instead of the loss.
        self.stopper = EarlyStopping(patience, mode="max")
        #: ``(epoch, validation score)`` of every check, in order.
        self.scores: list[tuple[int, float]] = []

    @property
    def best_valid(self) -> float:
        """The best validation score so far (``-inf`` before the first evaluation)."""
        return self.stopper.best

    @property
    def best_epoch(self) -> int:
        """The epoch of :attr:`best_valid` (``-1`` before the first evaluation)."""
        return self.stopper.best_epoch

    @property
    def best_state(self) -> dict[str, Tensor] | None:
        """The weights of :attr:`best_epoch`."""
        return self.stopper.best_state

    def __call__(self, epoch: int, loss: float, model: torch.nn.Module) -> bool:
        if epoch % self.every != 0:
            return False
        z = embed(model, self.data, device=self.device)
        result = probe_scores(z, node_labels(self.data), self.split, self.probe, self.probe_kwargs)
        valid = result[f"valid_{result.get('metric', 'acc')}"]  # never reads 'test'
        self.scores.append((epoch, float(valid)))
        self.stopper.update(valid, epoch, model)
        return self.stopper.should_stop

    def restore(self, model: torch.nn.Module) -> None:
        """Loads the weights of the epoch with the best validation accuracy."""
        if self.best_state is None:
            raise RuntimeError("ValidationSelection has not evaluated any epoch yet")
        self.stopper.restore(model)


def export_node_embeddings(model: torch.nn.Module, data: Data, *, layerwise: bool,
                           device: str | torch.device | None = None) -> Tensor:
    """Every node's embedding as :func:`run_seed` exports it after training (and
    :meth:`graphinfo.runs.Run.embed` again): layer by layer over the full graph after
    mini-batch training (:func:`graphinfo.train.embed_layerwise`), else the full-graph forward
    (:func:`graphinfo.train.embed`)."""
    if layerwise:
        return embed_layerwise(model, data, device=device)
    return embed(model, data, device=device)


def run_seed(model: str | type[MIModel], data: Data, split: Mapping[str, Tensor] | None,
             seed: int, *,
             model_kwargs: Mapping[str, Any] | None = None,
             fit_kwargs: Mapping[str, Any] | None = None,
             device: str | torch.device = "cpu",
             select_every: int | None = None, select_patience: int = 5,
             probe: str = "linear_probe",
             probe_kwargs: Mapping[str, Any] | None = None,
             minibatch: Mapping[str, Any] | None = None,
             untrained_baseline: bool = False) -> SeedRun:
    """Seeds torch, builds ``model`` (a name, ``'module:Class'`` or a class, with
    ``model_kwargs``: :func:`graphinfo.models.build_model`) for ``data``, trains it with
    :func:`graphinfo.train.fit`, and evaluates its embeddings with a linear probe (C chosen on
    the validation split) and k-means clustering.

    With ``minibatch`` (keyword arguments of :func:`graphinfo.minibatch.fit_minibatch`, e.g.
    ``{'batch_size': 256, 'num_neighbors': [10]}``; ``{}`` takes its defaults) the model trains
    on neighbour-sampled mini-batches instead and every node is then embedded layer-wise over
    the full graph (:func:`graphinfo.minibatch.embed_layerwise`). In a distributed run every
    process calls this with the same arguments; the model is built identically on all of them,
    sampling and corruption are then seeded per process, and only rank 0 embeds and evaluates
    (the other processes return empty metrics and no embeddings).

    With ``select_every`` the weights evaluated are those of the epoch with the best validation
    accuracy (:class:`ValidationSelection`, checked every ``select_every`` epochs, stopping
    after ``select_patience`` checks without improvement) instead of the lowest loss.

    ``probe='ogb'`` with ``probe_kwargs={'name': 'ogbn-arxiv'}`` scores with
    :func:`graphinfo.evaluation.ogb_linear_probe` instead (selection and metric from OGB's
    ``Evaluator``; :meth:`graphinfo.data.LoadedDataset.probe_protocol` names the right probe
    for a loaded dataset); the metrics then hold ``train_<m>``, ``valid_<m>``, ``test_<m>``,
    ``C`` and ``metric`` (``<m>`` = ``'acc'`` or ``'rocauc'``), and no clustering scores
    (OGB's protocol has none, and k-means over millions of nodes, with unlabelled or
    multi-task labels, would say little).

    With ``untrained_baseline=True`` the freshly initialised model (the same weights training
    starts from) is embedded and probed too, before training, as ``untrained_<metric>`` keys
    (``untrained_test_acc`` ...): what the encoder's architecture gives without any training.
    The random number generator is restored afterwards, so training is the same either way.

    ``split=None`` (an unlabelled graph) trains and embeds without evaluating: the metrics then
    hold only the seed and the training figures."""
    _check_probe(probe)
    if split is None and select_every is not None:
        raise ValueError("selecting the epoch on the validation split ('select_every') needs "
                         "a split; this graph has none")
    if model_class(model).level == "graph":
        raise ValueError(f"{model_class(model).__name__} learns graph embeddings; run_seed "
                         f"evaluates node embeddings (use run_graph_seed)")
    torch.manual_seed(seed)
    model = build_model(model, data=data, **(model_kwargs or {}))
    baseline: dict[str, Any] = {}
    if untrained_baseline and split is not None and distributed.is_main_process():
        with torch.random.fork_rng(devices=[]):
            z = export_node_embeddings(model, data, layerwise=minibatch is not None,
                                       device=device)
            scores = probe_scores(z, node_labels(data), split, probe, probe_kwargs)
        baseline = {f"untrained_{key}": value for key, value in scores.items()
                    if key.startswith(("train_", "valid_", "test_"))}
    fit_kwargs = dict(fit_kwargs or {})
    selection = None
    if select_every is not None:
        selection = ValidationSelection(data, split, every=select_every,
                                        patience=select_patience, device=device,
                                        probe=probe, probe_kwargs=probe_kwargs)
        fit_kwargs["callbacks"] = [*fit_kwargs.get("callbacks", ()), selection]
    started = time.perf_counter()
    if minibatch is None:
        history = fit(model, data, device=device, **fit_kwargs)
    else:
        if distributed.is_distributed():   # same weights everywhere, independent sampling
            torch.manual_seed(seed + 1_000_003 * distributed.rank())
        history = fit_minibatch(model, data, device=device, seed=seed,
                                **{**fit_kwargs, **minibatch})
    if selection is not None:
        selection.restore(model)
    seconds = time.perf_counter() - started
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    if minibatch is not None and not distributed.is_main_process():
        return SeedRun({}, None, state)
    z = export_node_embeddings(model, data, layerwise=minibatch is not None, device=device)
    metrics: dict[str, Any] = {"seed": seed}
    if split is not None:
        metrics.update(probe_scores(z, node_labels(data), split, probe, probe_kwargs))
        if probe == "linear_probe":
            metrics.update(clustering(z, node_labels(data), seed=seed))
        metrics.update(baseline)
    metrics.update(epochs=history.epochs, best_epoch=history.best_epoch,
                   best_loss=history.best_loss, train_seconds=seconds)
    if history.resumed_from_epoch:      # trained on from a checkpoint: its time is not here
        metrics["resumed_from_epoch"] = history.resumed_from_epoch
    curves: dict[str, list] = {"loss": list(history.losses)}
    if selection is not None:
        metrics["selected_epoch"] = selection.best_epoch
        curves["valid"] = [list(score) for score in selection.scores]
    return SeedRun(metrics, z, state, curves)


def run_graph_seed(model: str | type[MIModel], dataset: Graphs, labels: Tensor | None,
                   seed: int, *,
                   model_kwargs: Mapping[str, Any] | None = None,
                   fit_kwargs: Mapping[str, Any] | None = None,
                   svm_kwargs: Mapping[str, Any] | None = None,
                   device: str | torch.device = "cpu",
                   paper_every: int | None = None) -> SeedRun:
    """The graph-level recipe (InfoGraph's protocol): seeds torch, builds ``model`` for the
    graphs' features, trains it with :func:`graphinfo.train.fit_graphs` for a fixed number of
    epochs, embeds every graph with :func:`graphinfo.train.embed_graphs` and scores the
    embeddings with :func:`graphinfo.evaluation.svm_cross_validation` (10-fold by default,
    folds shuffled with ``seed``).

    With ``paper_every``, the embeddings are also scored so every ``paper_every`` epochs (and
    after the last) and the best of those scores is reported as ``paper_accuracy`` (with its
    epoch, ``paper_epoch``): how published tables were made (InfoGraph's best epoch by the
    test folds' score; DiffPool's and UHGR's maximum over epochs of the held-out folds'
    accuracy). It reads the test folds to choose the epoch, so it is not an honest estimate;
    ``accuracy`` (the final weights) stays the honest one, and training is unchanged by it.

    Args:
        model: A model name, ``'module:Class'`` or class (:func:`graphinfo.models.build_model`).
        dataset: The graphs (a PyG ``Dataset`` or a list of ``Data``, all with ``x``).
        labels: One label per graph, in ``dataset`` order (``dataset.y`` for a ``TUDataset``);
            ``None`` for unlabelled graphs, which are trained and embedded but not scored.
        seed: Seeds torch (initialisation, shuffling) and the SVM's folds.
        model_kwargs: Passed to ``build_model`` (the model's own defaults otherwise, e.g.
            InfoGraph's 32 units per layer).
        fit_kwargs: Passed to ``fit_graphs`` (``epochs``, ``batch_size``, ``lr`` ...).
        svm_kwargs: Passed to ``svm_cross_validation``; ``seed`` there overrides the run's.
        device: Where to train and embed.
        paper_every: Epochs between the scores of the test-reading protocol (``None``: none).

    Returns:
        :class:`SeedRun` with metrics ``seed``, ``accuracy`` and ``accuracy_std`` (mean and
        standard deviation over the folds; absent without labels), ``epochs``, ``final_loss``
        and ``train_seconds`` (without the time of the paper protocol's scoring), and with
        ``paper_every`` ``paper_accuracy`` and ``paper_epoch`` (1-based).
    """
    check_graphs(dataset, 1)
    if paper_every is not None and (labels is None or not isinstance(paper_every, int)
                                    or paper_every < 1):
        raise ValueError(f"'paper_every' must be a positive int and needs labels, got "
                         f"{paper_every!r}" + ("" if labels is not None else " without labels"))
    if labels is not None:
        labels = torch.as_tensor(labels).view(-1)
    if labels is not None and labels.numel() != len(dataset):
        raise ValueError(f"'labels' must hold one label per graph ({len(dataset)}), got "
                         f"{labels.numel()}")
    if model_class(model).level == "node":
        raise ValueError(f"{model_class(model).__name__} learns node embeddings; run_graph_seed "
                         f"evaluates graph embeddings (use run_seed)")
    torch.manual_seed(seed)
    model = build_model(model, data=dataset, **(model_kwargs or {}))
    fit_kwargs = dict(fit_kwargs or {})
    svm = {"seed": seed, **(svm_kwargs or {})}
    scored: list[tuple[int, float]] = []
    scoring_seconds = [0.0]
    if paper_every is not None:
        epochs = int(fit_kwargs.get("epochs", 20))

        def score(epoch: int, loss: float, trained: torch.nn.Module) -> None:
            if (epoch + 1) % paper_every and epoch + 1 != epochs:
                return
            begun = time.perf_counter()
            with torch.random.fork_rng(devices=[]):
                z = embed_graphs(trained, dataset, device=device)
                scored.append((epoch + 1, svm_cross_validation(z, labels, **svm)["accuracy"]))
            scoring_seconds[0] += time.perf_counter() - begun

        fit_kwargs["callbacks"] = [*fit_kwargs.get("callbacks", ()), score]
    started = time.perf_counter()
    history = fit_graphs(model, dataset, device=device, **fit_kwargs)
    seconds = time.perf_counter() - started - scoring_seconds[0]
    z = embed_graphs(model, dataset, device=device)
    metrics: dict[str, float] = {"seed": seed}
    if labels is not None:
        result = svm_cross_validation(z, labels, **svm)
        metrics.update(accuracy=result["accuracy"], accuracy_std=result["std"])
    if scored:
        epoch, accuracy = max(scored, key=lambda item: (item[1], -item[0]))
        metrics.update(paper_accuracy=accuracy, paper_epoch=epoch)
    metrics.update(epochs=history.epochs, final_loss=history.losses[-1],
                   train_seconds=seconds)
    if history.resumed_from_epoch:
        metrics["resumed_from_epoch"] = history.resumed_from_epoch
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    return SeedRun(metrics, z, state, {"loss": list(history.losses)})


def summarise(rows: Iterable[Mapping[str, float]], keys: Iterable[str]) -> dict[str, dict]:
    """Mean and sample standard deviation of each key over the rows."""
    rows = list(rows)
    out = {}
    for key in keys:
        values = [float(row[key]) for row in rows]
        out[key] = {"mean": statistics.fmean(values),
                    "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                    "n": len(values)}
    return out
