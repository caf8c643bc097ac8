r"""Several views of one graph, contrasted node against summary: the multi-view MI framework of
Tschannen et al. ("On Mutual Information Maximization for Representation Learning", ICLR 2020)
in CMC's form (Tian et al., ECCV 2020, `arXiv:1906.05849 <https://arxiv.org/abs/1906.05849>`_),
of which MVGRL (:class:`graphinfo.models.MVGRL`) and a two-view DGI are special cases."""
from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

from graphinfo.models.base import MIModel, ModelDefaults, make_estimator
from graphinfo.nn.augmentations import UseView, encoder_inputs
from graphinfo.nn.corruptions import CORRUPTIONS, ShuffleNodes, as_augmentation, make_corruption
from graphinfo.nn.discriminators import make_discriminator
from graphinfo.nn.encoders import make_encoder
from graphinfo.nn.readouts import make_readout
from graphinfo.resolver import registered_name
from graphinfo.tensor_cache import TensorCache
from graphinfo.transforms.diffusion import DiffusionView

__all__ = ["MultiView", "MultiViewOutput", "CONTRASTS"]

#: Which pairs of views are contrasted: ``'core'`` (view 0 against each other view, CMC's
#: core view) or ``'all'`` (every pair).
CONTRASTS = ("core", "all")


class MultiViewOutput(NamedTuple):
    """What :meth:`MultiView.forward` returns; ``model.loss(*out)`` takes it back."""

    pos_z: Tensor
    """Node embeddings of each view, :math:`(V, N, F)`."""
    neg_z: Tensor
    """Node embeddings of each view's corruption (rows shuffled), :math:`(V, N, F)`."""
    summaries: Tensor
    """Each view's summary, :math:`(V, F)` (with ``batch``: each node's own graph's,
    :math:`(V, N, F)`)."""


def _view(spec: Any) -> Callable[[Data], Data] | None:
    """A view specification as a function of the input view: ``'graph'`` (or ``None``) is the
    input itself, the name of a registered augmentation builds it, any other name switches to
    the stored graph ``data.<name>_edge_index`` (:class:`~graphinfo.nn.UseView`), a callable is
    an augmentation."""
    if spec is None or spec == "graph":
        return None
    if isinstance(spec, str):
        return make_corruption(spec) if registered_name(spec, CORRUPTIONS) else UseView(spec)
    return as_augmentation(spec)


class MultiView(MIModel):
    r""":math:`V \ge 2` views of a graph, each with its encoder :math:`\mathcal{E}_v`, its node
    embeddings :math:`\mathbf{H}_v` and summary :math:`\mathbf{s}_v = \mathcal{R}(\mathbf{H}_v)`;
    every contrasted pair :math:`(a, b)` scores the nodes of one view against the summary of
    the other, both ways, against the nodes of the row-shuffled features (one permutation for
    all views):

    .. math::
        \mathcal{L} = -\frac{1}{2|P|}\sum_{(a, b) \in P}
        \Big[\hat I\big(T(\mathbf{H}_a, \mathbf{s}_b); T(\tilde{\mathbf{H}}_a, \mathbf{s}_b)\big)
        + \hat I\big(T(\mathbf{H}_b, \mathbf{s}_a); T(\tilde{\mathbf{H}}_b, \mathbf{s}_a)\big)
        \Big]

    with :math:`\hat I` the chosen estimator on positive and negative logits, :math:`T` a
    shared critic and :math:`P` the pairs (``contrast``). Views are the graph itself
    (``'graph'``), a stored graph such as a diffusion (``'diffusion'``:
    ``data.diffusion_edge_index`` and ``data.diffusion_edge_weight``, from
    :class:`graphinfo.transforms.DiffusionView`), a named augmentation (``'drop_edges'`` ...)
    or an augmentation object. A stored view missing from the data is computed by
    :meth:`prepare` (``diffusion=`` settings) once per graph.

    Special cases: two ``'graph'`` views with a shared encoder give DGI's loss exactly (each
    term is DGI's); MVGRL's node-level model is a two-view instance with its own settings (a
    dense, unnormalised diffusion and encoders that do not renormalise it):
    :class:`graphinfo.models.MVGRL`.

    Args:
        hidden_channels (int): Size of the node embeddings.
        views (sequence, optional): The views. (default: ``('graph', 'diffusion')``)
        encoder (str or module, optional): Each view's encoder (a name, built per view, or a
            module). (default: :obj:`'gcn'`)
        in_channels (int, optional): Input features; needed for a named encoder.
        shared_encoder (bool, optional): One encoder for all views. (default: ``False``)
        contrast (str, optional): ``'core'`` or ``'all'``. (default: :obj:`'core'`)
        summary (str or callable, optional): The readout. (default: :obj:`'sigmoid_mean'`)
        discriminator (str or module, optional): The critic. (default: :obj:`'bilinear'`)
        estimator (str or callable, optional): The MI estimator. (default: :obj:`'jsd'`)
        embedding (str, optional): What :meth:`embed` returns: ``'sum'`` of the views' node
            embeddings (MVGRL's), their ``'concat'`` or the ``'first'`` view's.
            (default: :obj:`'sum'`)
        encoder_kwargs (dict, optional): Keyword arguments of every named encoder.
        view_encoder_kwargs (sequence of dict, optional): Per-view additions to them.
        diffusion (DiffusionView or dict, optional): How :meth:`prepare` computes a missing
            ``'diffusion'`` view (any transform with a ``name`` that stores one).
            (default: :class:`~graphinfo.transforms.DiffusionView`'s)
        transforms (dict, optional): How :meth:`prepare` computes other stored views, by name
            (a transform adding ``data.<name>_edge_index``).
        summary_kwargs, discriminator_kwargs, estimator_kwargs (dict, optional): Keyword
            arguments of the named parts.

    Shapes:
        - **input:** ``x`` :math:`(N, F_{in})`, ``edge_index`` :math:`(2, E)`, optional
          ``edge_weight``, ``batch`` and the stored views' ``<name>_edge_index`` /
          ``<name>_edge_weight`` as keyword arguments
        - **output:** :class:`MultiViewOutput`
    """

    level = "node"
    defaults = ModelDefaults(hidden_channels=512, num_layers=1, epochs=1000, patience=20)

    def __init__(self, hidden_channels: int, views: Sequence[Any] = ("graph", "diffusion"),
                 encoder: torch.nn.Module | str = "gcn", *, in_channels: int | None = None,
                 shared_encoder: bool = False, contrast: str = "core",
                 summary: Callable[..., Tensor] | str = "sigmoid_mean",
                 discriminator: torch.nn.Module | str = "bilinear",
                 estimator: Callable[[Tensor, Tensor], Tensor] | str = "jsd",
                 embedding: str = "sum", encoder_kwargs: dict[str, Any] | None = None,
                 view_encoder_kwargs: Sequence[dict[str, Any]] | None = None,
                 diffusion: DiffusionView | dict[str, Any] | None = None,
                 transforms: dict[str, Callable[[Data], Data]] | None = None,
                 summary_kwargs: dict[str, Any] | None = None,
                 discriminator_kwargs: dict[str, Any] | None = None,
                 estimator_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        if not isinstance(hidden_channels, int) or hidden_channels <= 0:
            raise ValueError(f"'hidden_channels' must be a positive int, got {hidden_channels!r}")
        views = list(views)
        if len(views) < 2:
            raise ValueError(f"'views' must name at least two views, got {views!r}")
        if contrast not in CONTRASTS:
            raise ValueError(f"'contrast' must be one of {CONTRASTS}, got {contrast!r}")
        if embedding not in ("sum", "concat", "first"):
            raise ValueError(f"'embedding' must be 'sum', 'concat' or 'first', got "
                             f"{embedding!r}")
        if view_encoder_kwargs is not None and len(view_encoder_kwargs) != len(views):
            raise ValueError(f"'view_encoder_kwargs' must hold one dict per view "
                             f"({len(views)}), got {len(view_encoder_kwargs)}")
        if not isinstance(encoder, str) and not shared_encoder:
            raise ValueError("an encoder module is one module: pass shared_encoder=True, or "
                             "a name to build one encoder per view")
        self.hidden_channels, self.contrast, self.embedding = hidden_channels, contrast, embedding
        self.view_specs = views
        self.views = [_view(spec) for spec in views]
        per_view = list(view_encoder_kwargs or [{} for _ in views])
        count = 1 if shared_encoder else len(views)
        self.encoders = torch.nn.ModuleList(
            make_encoder(encoder, in_channels, hidden_channels,
                         **{**(encoder_kwargs or {}), **per_view[v]}) for v in range(count))
        self.shared_encoder = shared_encoder
        self.summary = make_readout(summary, hidden_channels, **(summary_kwargs or {}))
        self.discriminator = make_discriminator(discriminator, hidden_channels,
                                                **(discriminator_kwargs or {}))
        self.estimator = make_estimator(estimator, **(estimator_kwargs or {}))
        self.diffusion = diffusion if isinstance(diffusion, BaseTransform) \
            else DiffusionView(**(diffusion or {}))
        self.transforms = {self.diffusion.name: self.diffusion, **(transforms or {})}
        self.corruption = ShuffleNodes()
        self._prepared = TensorCache(size=2)
        self.reset_parameters()

    @property
    def encoder(self) -> torch.nn.Module:  # type: ignore[override]
        """The first view's encoder (the contract's ``encoder``)."""
        return self.encoders[0]

    @property
    def num_views(self) -> int:
        return len(self.views)

    def pairs(self) -> list[tuple[int, int]]:
        """The contrasted pairs of views."""
        if self.contrast == "core":
            return [(0, v) for v in range(1, self.num_views)]
        return [(a, b) for a in range(self.num_views) for b in range(a + 1, self.num_views)]

    def stored_views(self) -> list[str]:
        """Names of the stored graphs the views read (``data.<name>_edge_index``)."""
        return [view.name for view in self.views if isinstance(view, UseView)]

    # -- data ----------------------------------------------------------------------------

    def prepare(self, data: Data) -> Data:
        """``data`` with every stored view the model reads: a missing one is computed by its
        transform (``diffusion``, ``transforms``), once per graph (cached while the same
        ``edge_index`` comes back); one without a transform is an error. Apply it before
        cutting windows (:class:`graphinfo.sources.SubgraphWindows`), so that windows carry
        the full graph's views."""
        missing = [name for name in self.stored_views()
                   if getattr(data, f"{name}_edge_index", None) is None]
        if not missing:
            return data
        unknown = [name for name in missing if name not in self.transforms]
        if unknown:
            raise ValueError(f"view {unknown[0]!r} needs data.{unknown[0]}_edge_index (a "
                             f"transform of graphinfo.transforms, applied to the data first)")

        def build() -> dict[str, Tensor]:
            out = data
            for name in missing:
                out = self.transforms[name](out)
            keys = [f"{name}_{part}" for name in missing for part in ("edge_index", "edge_weight")]
            return {key: out[key] for key in keys if getattr(out, key, None) is not None}
        views = self._prepared.get((data.edge_index, getattr(data, "edge_weight", None)),
                                   (data.num_nodes, tuple(missing),
                                    tuple(repr(self.transforms[name]) for name in missing)),
                                   build)
        prepared = copy.copy(data)
        for key, value in views.items():
            prepared[key] = value
        return prepared

    def inputs(self, data: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        data = self.prepare(data)
        args, kwargs = super().inputs(data)
        for name in self.stored_views():
            for key in (f"{name}_edge_index", f"{name}_edge_weight"):
                if getattr(data, key, None) is not None:
                    kwargs[key] = data[key]
        return args, kwargs

    # -- the model -----------------------------------------------------------------------

    def _view_of(self, v: int, base: Data) -> Data:
        view = self.views[v]
        return base if view is None else view(base)

    def _encode(self, v: int, view: Data, perm: Tensor) -> tuple[Tensor, Tensor]:
        encoder = self.encoders[0 if self.shared_encoder else v]
        weight = getattr(view, "edge_weight", None)
        uses = getattr(encoder, "uses_fast_path", None)
        if callable(uses) and hasattr(encoder, "forward_shuffled") \
                and uses(view.x, view.edge_index, weight):
            return encoder.forward_shuffled(view.x, view.edge_index, weight, perm=perm)
        _, *graph = encoder_inputs(view)
        return encoder(view.x, *graph), encoder(view.x[perm], *graph)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None, *,
                batch: Tensor | None = None, **graphs: Tensor) -> MultiViewOutput:
        self.check_inputs(x, edge_index, edge_weight, batch=batch)
        base = Data(x=x, edge_index=edge_index, num_nodes=x.size(0), **graphs)
        if edge_weight is not None:
            base.edge_weight = edge_weight
        if batch is not None:           # batch-aware augmentations keep graphs apart
            base.batch = batch
        perm = self.corruption.permutation(x.size(0), x.device)
        pos, neg = zip(*(self._encode(v, self._view_of(v, base), perm)
                         for v in range(self.num_views)))
        summaries = [self.summarise(z, batch) for z in pos]
        return MultiViewOutput(torch.stack(pos), torch.stack(neg), torch.stack(summaries))

    def summarise(self, z: Tensor, batch: Tensor | None = None) -> Tensor:
        """The readout of one view; with ``batch``, each node's own graph's summary."""
        if batch is None:
            return self.summary(z)
        return self.summary(z, batch=batch)[batch]

    def loss(self, pos_z: Tensor, neg_z: Tensor, summaries: Tensor) -> Tensor:
        """The negative mean MI estimate over the contrasted pairs, both directions."""
        terms = []
        for a, b in self.pairs():
            for node, other in ((a, b), (b, a)):
                positive = self.discriminator(pos_z[node], summaries[other])
                negative = self.discriminator(neg_z[node], summaries[other])
                terms.append(self.estimator(positive, negative))
        return -torch.stack(terms).mean()

    @torch.no_grad()
    def embed(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None, *,
              batch: Tensor | None = None, **graphs: Tensor) -> Tensor:
        """Node embeddings (``embedding``: the sum of the views', their concatenation or the
        first view's), in eval mode without gradient; augmentations are not applied (a view
        that is an augmentation embeds the graph itself)."""
        self.check_inputs(x, edge_index, edge_weight, batch=batch)
        was_training = self.training
        self.eval()
        try:
            base = Data(x=x, edge_index=edge_index, num_nodes=x.size(0), **graphs)
            if edge_weight is not None:
                base.edge_weight = edge_weight
            outs = []
            for v, view in enumerate(self.views):
                graph = view(base) if isinstance(view, UseView) else base
                encoder = self.encoders[0 if self.shared_encoder else v]
                outs.append(encoder(*encoder_inputs(graph)))
                if self.embedding == "first":
                    break
            if self.embedding == "concat":
                return torch.cat(outs, dim=-1)
            return torch.stack(outs).sum(0)
        finally:
            self.train(was_training)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.hidden_channels}, views={self.view_specs}, "
                f"contrast={self.contrast!r})")
