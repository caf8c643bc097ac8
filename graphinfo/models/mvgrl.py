r"""MVGRL, node level (Hassani & Khasahmadi, ICML 2020, "Contrastive Multi-View Representation
Learning on Graphs", `arXiv:2006.05582 <https://arxiv.org/abs/2006.05582>`_)."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from graphinfo.models.base import ModelDefaults
from graphinfo.models.multiview import MultiView
from graphinfo.transforms.diffusion import DegreeMatchedScaling, DiffusionView
from graphinfo.transforms.views import NormalizedAdjacencyView

__all__ = ["MVGRL", "MVGRL_EXACT_MAX_NODES"]

#: Graphs up to this many nodes get the exact dense diffusion by default (the authors' form,
#: 8 N^2 bytes); larger ones the sparse approximate PPR, top-128 per node.
MVGRL_EXACT_MAX_NODES = 12_000


class MVGRL(MultiView):
    r"""Contrastive multi-view learning on graphs: two GCN encoders, one on the normalised
    adjacency :math:`\mathbf{S}_1 = \hat{\mathbf{D}}^{-1/2}(\mathbf{A} + \lambda\mathbf{I})
    \hat{\mathbf{D}}^{-1/2}`, one on a diffusion (personalised PageRank :math:`\mathbf{S}_2 =
    \alpha(\mathbf{I} - (1 - \alpha)\mathbf{T})^{-1}`, or the heat kernel :math:`e^{-t(\mathbf{I}
    - \mathbf{T})}`, of :math:`\mathbf{T} = \tilde{\mathbf{D}}^{-1/2}(\mathbf{A} + \mathbf{I})
    \tilde{\mathbf{D}}^{-1/2}`), each view's nodes contrasted with the
    other view's summary :math:`\sigma(\operatorname{mean} \mathbf{H})` by a shared bilinear
    critic against the nodes of row-shuffled features (one permutation for both views):

    .. math::
        \mathcal{L} = -\tfrac{1}{2}\big[\hat I(T(\mathbf{H}_1, \mathbf{s}_2);
        T(\tilde{\mathbf{H}}_1, \mathbf{s}_2)) + \hat I(T(\mathbf{H}_2, \mathbf{s}_1);
        T(\tilde{\mathbf{H}}_2, \mathbf{s}_1))\big],
        \qquad \mathbf{H}_v = \mathrm{PReLU}(\mathbf{S}_v\mathbf{X}\mathbf{W}_v + \mathbf{b}_v),

    the exported embedding :math:`\mathbf{H}_1 + \mathbf{H}_2` of the whole graph. A
    :class:`~graphinfo.models.MultiView` with views ``['adjacency', 'diffusion']``.

    Where this follows the authors' code (``kavehhassani/mvgrl``, ``node/``) rather than the
    paper: the adjacency view has self-loops of weight :math:`\lambda = 2` (the code adds
    :math:`\mathbf{I}` twice; ``adjacency_self_loops=1`` gives the paper's form); both
    propagation matrices are
    built once on the full graph and training steps (``sample_size``) cut ``batch_size``
    windows of consecutive node ids from them (the window's rows of :math:`\mathbf{S}_v`, so a
    window keeps the full graph's degrees and diffusion), averaging the windows' losses; the
    diffusion is used as it is, dense (no sparsification, no renormalisation) on graphs of up
    to :data:`MVGRL_EXACT_MAX_NODES` nodes. Larger graphs get the sparse approximate PPR (top
    128 entries per node, :func:`graphinfo.transforms.ppr.approximate_ppr`), where the
    authors' dense inverse does not fit. The heat kernel here is the matrix exponential of the
    paper; the code's (unused) heat function exponentiates element-wise. The code also
    thresholds and min-max scales CiteSeer's diffusion: ``degree_matched_scaling=True`` does
    the same (:class:`~graphinfo.transforms.DegreeMatchedScaling`).

    Args:
        hidden_channels (int, optional): Embedding size. (default: :obj:`512`)
        in_channels (int): Input features.
        diffusion (str, optional): ``'ppr'`` or ``'heat'``. (default: :obj:`'ppr'`)
        alpha (float, optional): PPR's teleport probability. (default: :obj:`0.2`)
        t (float, optional): The heat kernel's time. (default: :obj:`5.0`)
        adjacency_self_loops (int, optional): :math:`\lambda`, 1 or 2. (default: :obj:`2`)
        exact (bool, optional): Dense exact diffusion (``True``), sparse approximate PPR
            (``False``) or by size (``None``). (default: ``None``)
        top_k (int, optional): Entries kept per node by a sparse diffusion. (default: 128)
        sample_size (int, optional): Nodes per training window; ``None`` trains on the whole
            graph. (default: ``None``; the authors: 2000)
        batch_size (int, optional): Windows per step. (default: :obj:`4`)
        degree_matched_scaling (bool, optional): Post-process the dense diffusion as the
            authors' code does for CiteSeer (:class:`~graphinfo.transforms.DegreeMatchedScaling`).
            (default: ``False``)
        estimator (str or callable, optional): The MI estimator. (default: :obj:`'jsd'`)
        encoder_kwargs (dict, optional): Arguments of both GCN encoders (``num_layers``,
            ``act`` ...).
    """

    defaults = ModelDefaults(hidden_channels=512, num_layers=1, epochs=3000, patience=20,
                             lr=1e-3)

    def __init__(self, hidden_channels: int = 512, *, in_channels: int | None = None,
                 diffusion: str = "ppr", alpha: float = 0.2, t: float = 5.0,
                 adjacency_self_loops: int = 2,
                 exact: bool | None = None, top_k: int = 128, sample_size: int | None = None,
                 batch_size: int = 4, degree_matched_scaling: bool = False,
                 estimator: Any = "jsd",
                 encoder_kwargs: dict[str, Any] | None = None,
                 estimator_kwargs: dict[str, Any] | None = None) -> None:
        if sample_size is not None and (not isinstance(sample_size, int) or sample_size < 1):
            raise ValueError(f"'sample_size' must be a positive int or None, got "
                             f"{sample_size!r}")
        if adjacency_self_loops not in (1, 2):
            raise ValueError(f"'adjacency_self_loops' must be 1 or 2, got "
                             f"{adjacency_self_loops!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"'batch_size' must be a positive int, got {batch_size!r}")
        kwargs = {"act": "prelu", **(encoder_kwargs or {}), "normalize": False}
        self.diffusion_method, self.alpha, self.t = diffusion, alpha, t
        self.exact, self.top_k = exact, top_k
        self.degree_matched_scaling = degree_matched_scaling
        super().__init__(hidden_channels, views=["adjacency", "diffusion"], encoder="gcn",
                         in_channels=in_channels, estimator=estimator, embedding="sum",
                         encoder_kwargs=kwargs, estimator_kwargs=estimator_kwargs,
                         diffusion=self._diffusion_for(None),
                         transforms={"adjacency": NormalizedAdjacencyView(
                             improved=adjacency_self_loops == 2)})
        self.sample_size, self.batch_size = sample_size, batch_size

    def _diffusion_for(self, num_nodes: int | None) -> DiffusionView | DegreeMatchedScaling:
        exact = self.exact if self.exact is not None else \
            (num_nodes is None or num_nodes <= MVGRL_EXACT_MAX_NODES)
        if self.degree_matched_scaling and not exact:
            raise ValueError(f"degree_matched_scaling post-processes the dense exact diffusion; "
                             f"a graph of {num_nodes} nodes gets the sparse approximate one "
                             f"(pass exact=True to force the dense one)")
        if exact:
            dense = DiffusionView(self.diffusion_method, alpha=self.alpha, t=self.t,
                                  sparsification=None, normalization_out=None)
            return DegreeMatchedScaling(dense) if self.degree_matched_scaling else dense
        return DiffusionView("ppr", alpha=self.alpha, k=self.top_k, exact=False,
                             normalization_out=None)

    def prepare(self, data: Any) -> Any:
        """``data`` with the normalised adjacency and the diffusion (chosen by size, see the
        class docstring) as stored views, computed once per graph."""
        if getattr(data, "diffusion_edge_index", None) is None:
            self.diffusion = self._diffusion_for(int(data.num_nodes))
            self.transforms[self.diffusion.name] = self.diffusion
        return super().prepare(data)

    def training_loss(self, data: Any) -> Tensor:
        """The loss of one step: on the whole graph, or (``sample_size`` smaller than the
        graph) the mean loss of ``batch_size`` windows of consecutive node ids cut from the
        full graph's views (the authors' sampling)."""
        from graphinfo.sources import induced_subgraph  # sources imports the models

        data = self.prepare(data)
        if self.sample_size is None or self.sample_size >= data.num_nodes:
            return super().training_loss(data)
        device = data.x.device
        losses = []
        for _ in range(self.batch_size):
            start = int(torch.randint(0, data.num_nodes - self.sample_size + 1, (1,)))
            window = induced_subgraph(data, torch.arange(start, start + self.sample_size,
                                                         device=device))
            args, kwargs = self.inputs(window)
            losses.append(self.loss(*self(*args, **kwargs)))
        return torch.stack(losses).mean()

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.hidden_channels}, "
                f"diffusion={self.diffusion_method!r}, sample_size={self.sample_size})")
