r"""The model contract: what a graphinfo model tells the training engine, the samplers, the
distributed wrapper, the :class:`~graphinfo.Embedder`, the experiment runner and the CLI, so that
none of them names a model.

A model (a subclass of :class:`MIModel`) declares

- its **level** (:attr:`MIModel.level`): ``'node'`` (embeddings of the nodes of one graph),
  ``'graph'`` (one embedding per graph of a collection) or ``'both'``;
- its **defaults** (:attr:`MIModel.defaults`, a :class:`ModelDefaults`): hidden size, layers,
  epochs, patience, learning rate, graphs per batch and the evaluation protocol;
- how it is **built for a dataset** (:meth:`MIModel.from_data`: the feature size of a ``Data``,
  the node and edge types of a ``HeteroData`` ..., and :meth:`MIModel.data_kwargs`, the other
  sizes it reads from the data) and how the generic settings ``--hidden``,
  ``--layers``, ``--encoder`` and ``--estimator`` map onto its constructor
  (:meth:`MIModel.build`);
- what it **takes from a batch** (:meth:`MIModel.inputs`): ``x, edge_index[, edge_weight]`` and
  ``batch=`` by default; a multi-view model reads its extra views (``data.diffusion_edge_index``
  ...), a multiplex or heterogeneous one the relations of a ``HeteroData``;
- its **loss on a whole graph or a batch of graphs** (:meth:`MIModel.training_loss`, by default
  ``self.loss(*self(*args, **kwargs))``) and, if it trains on neighbour-sampled subgraphs, its
  **loss on the seed nodes of a subgraph** (:meth:`MIModel.subgraph_loss`);
- how it **embeds a whole graph without sampling** (:meth:`MIModel.embed_data`, layer-wise when
  asked and the encoder can).

The module-level functions (:func:`training_loss`, :func:`embed_data`, :func:`model_level`,
:func:`supports_subgraphs` ...) apply the contract to any ``torch.nn.Module``: a plain module
with ``forward`` and ``loss`` gets the defaults.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData
from torch_geometric.nn.inits import reset

from graphinfo.estimators import ESTIMATORS
from graphinfo.resolver import check_part_kwargs, resolve
from graphinfo.tensor_cache import TensorRef
from graphinfo.validation import check_features, check_graph

#: The levels a model can learn embeddings at.
LEVELS = ("node", "graph", "both")


def make_estimator(estimator: str | Callable[[Tensor, Tensor], Tensor],
                   **kwargs: Any) -> Callable[[Tensor, Tensor], Tensor]:
    """Resolves an MI estimator name of :data:`graphinfo.estimators.ESTIMATORS` to its
    (positive logits, negative logits) -> estimate callable; stateful ones (``'mine'``) are
    instantiated with ``kwargs`` (a model's ``estimator_kwargs``, e.g. ``momentum``). A callable
    is returned unchanged."""
    check_part_kwargs("estimator", estimator, kwargs)
    if kwargs and isinstance(estimator, str):
        name = resolve("estimator", estimator, {key: (lambda key=key: key) for key in ESTIMATORS})
        if not isinstance(ESTIMATORS[name], type):
            raise ValueError(f"'estimator_kwargs' {sorted(kwargs)} configure a stateful "
                             f"estimator ('mine'); {estimator!r} takes none")
    registry = {name: (fn if isinstance(fn, type) else (lambda fn=fn, **_: fn))
                for name, fn in ESTIMATORS.items()}
    return resolve("estimator", estimator, registry, **kwargs)


@dataclass(frozen=True)
class ModelDefaults:
    """A model's own defaults, read by the CLI, the Embedder and the experiment runner.

    Attributes:
        hidden_channels: Embedding (or per-layer) size when none is given.
        num_layers: Encoder layers when none are given.
        epochs: Maximum number of training epochs.
        patience: Early-stopping patience on the loss; ``None`` trains all ``epochs`` and
            keeps the final weights.
        lr: Adam learning rate.
        weight_decay: Adam weight decay (L2 on every parameter) when none is given.
        batch_size: Graphs per batch (graph-level models); ``None`` for node-level ones, which
            train full-batch unless mini-batches are asked for.
        protocol: The evaluation protocol of :mod:`graphinfo.evaluation` that scores its
            embeddings: ``'linear_probe'`` for node embeddings, ``'graph_svm'`` for graph
            embeddings.
        max_grad_norm: Gradient clipping (total 2-norm) before every step; ``None`` does not
            clip.
    """

    hidden_channels: int | None = 512
    num_layers: int | None = 1
    epochs: int = 1000
    patience: int | None = 20
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int | None = None
    protocol: str = "linear_probe"
    max_grad_norm: float | None = None


def feature_size(data: Any) -> int:
    """The node feature size of a ``Data``/``Batch`` or of the first graph of a collection."""
    if isinstance(data, HeteroData):
        raise ValueError("a HeteroData has one feature size per node type: the model must "
                         "define from_data(data, ...) to read what it needs")
    if not isinstance(data, Data) and hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        # A collection: its first graph as the model will see it (a Dataset's ``x`` attribute
        # is the stored features, before the dataset's transform).
        x = getattr(data[0], "x", None) if len(data) else None
    else:
        x = getattr(data, "x", None)
    if x is None or x.dim() != 2:
        raise ValueError(f"cannot read a node feature size from {type(data).__name__}: expected "
                         f"a graph (or graphs) with 2-D node features 'x'")
    return int(x.size(1))


def default_inputs(data: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The positional and keyword arguments a model is called with for a PyG ``Data`` or
    ``Batch``: ``(x, edge_index[, edge_weight])`` and ``batch=`` when the object has one."""
    if isinstance(data, HeteroData):
        raise ValueError("a HeteroData has no single 'x' and 'edge_index': the model must "
                         "define inputs(data) to say which node and edge types it reads")
    if getattr(data, "x", None) is None or getattr(data, "edge_index", None) is None:
        raise ValueError("'data' must have node features 'x' and an 'edge_index'")
    args: tuple[Any, ...] = (data.x, data.edge_index)
    edge_weight = getattr(data, "edge_weight", None)
    if edge_weight is not None:
        args = (*args, edge_weight)
    kwargs = {"batch": data.batch} if getattr(data, "batch", None) is not None else {}
    return args, kwargs


class MIModel(torch.nn.Module):
    """Base class of graphinfo's models: the contract (see the module docstring) with its
    defaults, plus input checks, ``embed`` and ``reset_parameters``.

    Subclasses define ``encoder`` (a module mapping the graph inputs to node embeddings),
    ``forward`` returning a NamedTuple, and ``loss(*out)`` returning the negative MI estimate
    plus regularisers as a scalar; they override the contract's methods where the defaults do
    not fit.
    """

    #: ``'node'``, ``'graph'`` or ``'both'``.
    level: ClassVar[str] = "node"
    #: The model's own defaults.
    defaults: ClassVar[ModelDefaults] = ModelDefaults()
    #: Whether the model learns from a heterogeneous graph (a ``HeteroData``: DMGI, HDGI). A
    #: model that does not is given one relation of a heterogeneous dataset as a plain graph
    #: (:func:`graphinfo.models.multiplex.dataset_for`).
    heterogeneous: ClassVar[bool] = False

    encoder: torch.nn.Module

    # -- building -----------------------------------------------------------------------------

    @classmethod
    def from_data(cls, data: Any, **hparams: Any) -> MIModel:
        """Builds the model for ``data`` (a graph, a collection of graphs or a loaded dataset):
        ``cls(in_channels=<node feature size>, **hparams)``, with ``hidden_channels`` from
        :attr:`defaults` when the constructor needs one and none is given. Models of
        ``HeteroData`` override this to read node and edge types."""
        parameters = inspect.signature(cls).parameters
        if "hidden_channels" in parameters and "hidden_channels" not in hparams \
                and cls.defaults.hidden_channels is not None:
            hparams["hidden_channels"] = cls.defaults.hidden_channels
        if "in_channels" in parameters and "in_channels" not in hparams:
            hparams["in_channels"] = feature_size(data)
        if data is not None:
            for key, value in cls.data_kwargs(data).items():
                hparams.setdefault(key, value)
        return cls(**hparams)

    @classmethod
    def data_kwargs(cls, data: Any) -> dict[str, Any]:
        """Constructor arguments read from ``data`` besides its feature size, on which the
        weights' shapes depend (e.g. the largest graph, which sizes DiffPool's clusters):
        :meth:`from_data` passes them unless given, and the CLI records them with a run so that
        :func:`graphinfo.load_run` rebuilds the model without the data. None by default."""
        return {}

    @classmethod
    def build(cls, data: Any, *, hidden_channels: int | None = None,
              num_layers: int | None = None, encoder: Any = None, estimator: Any = None,
              **options: Any) -> MIModel:
        """Builds the model for ``data`` from the generic settings every model shares (the
        CLI's ``--hidden``, ``--layers``, ``--encoder``, ``--estimator``; ``None`` leaves the
        model's default) and any other constructor arguments (``options``).

        ``num_layers`` goes to a ``num_layers`` constructor argument, else into
        ``encoder_kwargs``. A setting the constructor cannot take raises ValueError."""
        return cls.from_data(data, **constructor_kwargs(
            cls, hidden_channels=hidden_channels, num_layers=num_layers, encoder=encoder,
            estimator=estimator, **options))

    # -- what it takes and what it computes ---------------------------------------------------

    def inputs(self, data: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The arguments of ``forward`` for ``data`` (a ``Data``, ``Batch`` or ``HeteroData``):
        :func:`default_inputs` unless overridden."""
        return default_inputs(data)

    def training_loss(self, data: Any) -> Tensor:
        """The loss of one training step on ``data`` (a whole graph, a batch of graphs or a
        sampled window of a graph, treated as a whole graph)."""
        args, kwargs = self.inputs(data)
        return self.loss(*self(*args, **kwargs))

    def subgraph_loss(self, batch: Any, global_summary: Callable[[Tensor], Tensor]
                      ) -> Tensor:
        """The loss of one step on a neighbour-sampled subgraph, from its seed nodes only (the
        first ``batch.batch_size`` nodes of ``batch``). ``global_summary`` turns a summary of
        the batch into the one the seeds are scored against (averaged over processes; the
        batch's own or a moving average, as the user chose). Models that train on sampled
        subgraphs override this; see :meth:`graphinfo.models.DGI.subgraph_loss`."""
        raise NotImplementedError(f"{type(self).__name__} does not train on sampled subgraphs "
                                  f"(it defines no subgraph_loss)")

    def subgraph_inputs(self, batch: Any) -> tuple[Any, ...]:
        """The encoder's inputs for a neighbour-sampled subgraph: the encoder's own
        ``subgraph_inputs`` when it has one (:class:`graphinfo.nn.GCNEncoder`: weights that keep
        the full graph's normalisation), else ``(batch.x, batch.edge_index)``."""
        hook = getattr(self.encoder, "subgraph_inputs", None)
        return hook(batch) if callable(hook) else (batch.x, batch.edge_index)

    def sampling_graph(self, data: Any) -> Any:
        """The graph neighbours are sampled from: the encoder's ``sampling_graph(data)`` when
        it has one, else ``data``."""
        hook = getattr(self.encoder, "sampling_graph", None)
        return hook(data) if callable(hook) else data

    @property
    def num_hops(self) -> int | None:
        """How many hops of neighbours one embedding depends on (the encoder's layers), or
        ``None`` when the encoder does not say (mini-batch sampling then needs
        ``num_neighbors``, or samples one hop)."""
        layers = getattr(self.encoder, "num_layers", None)
        return layers if isinstance(layers, int) and layers > 0 else None

    @torch.no_grad()
    def embed_data(self, data: Any, *, level: str | None = None, layerwise: bool = False,
                   chunk_size: int = 65536) -> Tensor:
        """Embeddings of a whole graph (or a batch of graphs) without sampling, in eval mode
        without gradient: :meth:`embed` on :meth:`inputs` by default. With ``layerwise=True``
        and a model whose embedding is its encoder's output, an encoder offering
        ``layerwise(x, edge_index, edge_weight, chunk_size)`` computes it one layer at a time
        over the whole graph (:meth:`graphinfo.nn.GNNEncoder.layerwise`). ``level`` asks a
        ``'both'``-level model for node or graph embeddings."""
        args, kwargs = self.inputs(data)
        layers = getattr(self.encoder, "layerwise", None)
        if layerwise and callable(layers) and not kwargs and type(self).embed is MIModel.embed \
                and 2 <= len(args) <= 3:
            self.check_inputs(*args)
            was_training = self.training
            self.eval()
            try:
                return layers(*args, chunk_size=chunk_size)
            finally:
                self.train(was_training)
        if level is not None and level != self.level:
            kwargs["level"] = level        # a 'both' model, or node embeddings of graph batches
        return self.embed(*args, **kwargs)

    # -- shared machinery ---------------------------------------------------------------------

    @property
    def in_channels(self) -> int | None:
        """Number of input features the encoder expects, when it says so."""
        value = getattr(self.encoder, "in_channels", None)
        return value if isinstance(value, int) and value > 0 else None

    def check_inputs(self, x: Tensor, edge_index: Tensor | None = None, *args: Any,
                     batch: Tensor | None = None, **kwargs: Any) -> None:
        """Raises a clear ValueError/TypeError on malformed graph inputs; the third positional
        argument (or ``edge_weight=``) is checked as edge weights. Without ``edge_index`` (an
        encoder of the features alone) only ``x`` is checked.

        Inputs that passed are remembered (weakly, with their version counters): calling again
        with the very same unmodified tensors, as a training loop does every epoch, skips the
        checks."""
        edge_weight = args[0] if args and isinstance(args[0], Tensor) else \
            kwargs.get("edge_weight")
        param = next(self.parameters(), None)
        dtype = param.dtype if param is not None else None
        tensors = (x, edge_index, edge_weight, batch)
        extra = (self.in_channels, dtype)
        checked = getattr(self, "_checked_inputs", None)
        if checked is not None and checked[1] == extra and all(
                isinstance(t, Tensor | None) and ref.refers_to(t)
                for ref, t in zip(checked[0], tensors)):
            return
        if edge_index is None:
            check_features(x, in_channels=self.in_channels, dtype=dtype)
        else:
            check_graph(x, edge_index, edge_weight, batch, in_channels=self.in_channels,
                        dtype=dtype)
        if all(isinstance(t, Tensor | None) for t in tensors):
            self._checked_inputs = (tuple(TensorRef(t) for t in tensors), extra)

    def reset_parameters(self) -> None:
        """Resets all learnable parameters of the module."""
        for child in self.children():
            reset(child)

    @torch.no_grad()
    def embed(self, x: Tensor, edge_index: Tensor, *args: Any, batch: Tensor | None = None,
              **kwargs: Any) -> Tensor:
        """Node embeddings from the encoder, computed in eval mode without gradient.

        ``batch`` is accepted for symmetry with ``forward`` and, as there, not passed to the
        encoder. The module's training mode is restored afterwards.
        """
        self.check_inputs(x, edge_index, *args, batch=batch, **kwargs)
        was_training = self.training
        self.eval()
        try:
            return self.encoder(x, edge_index, *args, **kwargs)
        finally:
            self.train(was_training)


# -- the contract for any module -------------------------------------------------------------

def model_level(model: Any) -> str:
    """The level of a model or model class (``'node'`` for modules that do not say)."""
    level = getattr(model, "level", "node")
    if level not in LEVELS:
        raise ValueError(f"{getattr(model, '__name__', type(model).__name__)}.level must be one "
                         f"of {LEVELS}, got {level!r}")
    return level


def model_defaults(model: Any) -> ModelDefaults:
    """The defaults of a model or model class (:class:`ModelDefaults` for modules that have
    none)."""
    defaults = getattr(model, "defaults", None)
    return defaults if isinstance(defaults, ModelDefaults) else ModelDefaults()


def training_loss(model: torch.nn.Module, data: Any) -> Tensor:
    """``model.training_loss(data)``, or for a plain module ``model.loss(*model(*args,
    **kwargs))`` on :func:`default_inputs`."""
    method = getattr(model, "training_loss", None)
    if callable(method):
        return method(data)
    args, kwargs = default_inputs(data)
    return model.loss(*model(*args, **kwargs))


def supports_subgraphs(model: Any) -> bool:
    """Whether a model (or class) computes a loss on sampled subgraphs (overrides
    :meth:`MIModel.subgraph_loss`)."""
    cls = model if isinstance(model, type) else type(model)
    method = getattr(cls, "subgraph_loss", None)
    return callable(method) and method is not MIModel.subgraph_loss


def embed_data(model: torch.nn.Module, data: Any, **kwargs: Any) -> Tensor:
    """``model.embed_data(data, **kwargs)``, or ``model.embed(*args, **kw)`` on
    :func:`default_inputs` for a plain module with an ``embed`` method."""
    method = getattr(model, "embed_data", None)
    if callable(method):
        return method(data, **kwargs)
    args, inputs = default_inputs(data)
    return model.embed(*args, **inputs)


def constructor_kwargs(cls: type, *, hidden_channels: int | None = None,
                       num_layers: int | None = None, encoder: Any = None,
                       estimator: Any = None, **options: Any) -> dict[str, Any]:
    """Maps the generic settings onto the constructor of ``cls`` (see :meth:`MIModel.build`);
    ``None`` settings are left out (the model's own defaults apply; :func:`describe_settings`
    says what they are)."""
    parameters = inspect.signature(cls).parameters
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    name = cls.__name__
    unknown = sorted(key for key in options if key not in parameters)
    if unknown and not accepts_any:
        raise ValueError(f"{name} has no {', '.join(map(repr, unknown))} setting (its "
                         f"constructor takes {', '.join(parameters)})")
    kwargs = dict(options)
    for key, value in (("hidden_channels", hidden_channels), ("encoder", encoder),
                       ("estimator", estimator)):
        if value is None:
            continue
        if key not in parameters and not accepts_any:
            raise ValueError(f"{name} has no {key!r} setting (its constructor takes "
                             f"{', '.join(parameters)})")
        kwargs[key] = value
    if num_layers is not None:
        if "num_layers" in parameters or accepts_any:
            kwargs["num_layers"] = num_layers
        elif "encoder_kwargs" in parameters:
            kwargs["encoder_kwargs"] = {**(kwargs.get("encoder_kwargs") or {}),
                                        "num_layers": num_layers}
        else:
            raise ValueError(f"{name} has no 'num_layers' setting (neither 'num_layers' nor "
                             f"'encoder_kwargs' in its constructor)")
    return kwargs


def describe_settings(cls: type, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The values of the generic settings a model is built with: given ones, else the
    constructor's defaults, else the model's :attr:`~MIModel.defaults` (for a configuration
    file that says what ran)."""
    parameters = inspect.signature(cls).parameters
    defaults = model_defaults(cls)
    out: dict[str, Any] = {}
    for key in ("hidden_channels", "num_layers", "encoder", "estimator"):
        if key in kwargs:
            out[key] = kwargs[key]
        elif key == "num_layers" and "num_layers" in (kwargs.get("encoder_kwargs") or {}):
            out[key] = kwargs["encoder_kwargs"]["num_layers"]
        elif key in parameters and parameters[key].default is not inspect.Parameter.empty:
            out[key] = parameters[key].default
        elif key in ("hidden_channels", "num_layers"):
            out[key] = getattr(defaults, key)
    return {key: value for key, value in out.items()
            if isinstance(value, (str, int, float, bool)) or value is None}
