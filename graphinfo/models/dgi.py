r"""Deep Graph Infomax (Veličković et al., ICLR 2019, `arXiv:1809.10341
<https://arxiv.org/abs/1809.10341>`_)."""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor

from graphinfo.models.base import MIModel, ModelDefaults, make_estimator
from graphinfo.nn.corruptions import ShuffleNodes, make_corruption
from graphinfo.nn.discriminators import BilinearDiscriminator, make_discriminator
from graphinfo.nn.encoders import make_encoder
from graphinfo.nn.readouts import make_readout


class DGIOutput(NamedTuple):
    """What :meth:`DGI.forward` returns; ``model.loss(*out)`` takes it back."""

    pos_z: Tensor
    """Embeddings of the clean graph, :math:`(N, F)`."""
    neg_z: Tensor
    """Embeddings of the corrupted graph, :math:`(N, F)`."""
    summary: Tensor
    """The summary :math:`(F,)`, or with ``batch`` each node's own graph summary :math:`(N, F)`."""


class DGI(MIModel):
    r"""Deep Graph Infomax: maximises the mutual information between node ("patch")
    embeddings and a summary of the whole graph, contrasting them with embeddings of a corrupted
    graph (Veličković et al., ICLR 2019, `arXiv:1809.10341 <https://arxiv.org/abs/1809.10341>`_).

    With encoder :math:`\mathcal{E}`, readout :math:`\mathcal{R}`, corruption :math:`\mathcal{C}`
    and critic :math:`T`:

    .. math::
        \mathbf{H} = \mathcal{E}(\mathbf{X}, \mathbf{A}), \quad
        \tilde{\mathbf{H}} = \mathcal{E}(\mathcal{C}(\mathbf{X}, \mathbf{A})), \quad
        \mathbf{s} = \mathcal{R}(\mathbf{H}),

    and the loss is the negative MI estimate of the chosen estimator on the positive logits
    :math:`T(\mathbf{h}_i, \mathbf{s})` and negative logits :math:`T(\tilde{\mathbf{h}}_j,
    \mathbf{s})`. The default, ``estimator='jsd'``, gives the paper's binary cross-entropy

    .. math::
        \mathcal{L} = \frac{1}{N}\sum_{i} \operatorname{softplus}(-T(\mathbf{h}_i, \mathbf{s}))
        + \frac{1}{N}\sum_{j} \operatorname{softplus}(T(\tilde{\mathbf{h}}_j, \mathbf{s})).

    A drop-in for :class:`torch_geometric.nn.DeepGraphInfomax`: the same constructor arguments,
    ``forward``, ``discriminate``, ``loss`` and ``test``; a ``state_dict`` of PyG's class loads
    into it (its ``weight`` becomes ``discriminator.weight``). With a ``batch`` vector every node
    is scored only against its own graph's summary; unlike PyG's class, ``batch`` goes to the
    readout only, not to the encoder or the corruption.

    Args:
        hidden_channels (int): Size of the node embeddings.
        encoder (torch.nn.Module or str): The encoder, or a name (``'gcn'``, ``'sage'``, ``'gin'``,
            ``'gat'``) built with ``in_channels`` and ``encoder_kwargs``. (default: :obj:`'gcn'`,
            the paper's one-layer GCN with PReLU)
        summary (callable or str, optional): The readout, called as
            ``summary(z, *args, **kwargs)`` with the arguments the model got (PyG's
            convention), plus ``batch=batch`` when a batch vector is given; it must then return
            one row per graph. (default: :obj:`'sigmoid_mean'`)
        corruption (callable or str, optional): The corruption, called with the encoder's
            arguments and returning them corrupted. (default: :obj:`'shuffle'`)
        in_channels (int, optional): Number of input features; needed when ``encoder`` is a name.
        discriminator (torch.nn.Module or str, optional): The critic returning logits.
            (default: :obj:`'bilinear'`)
        estimator (str or callable, optional): The MI estimator on (positive, negative) logits:
            ``'jsd'``, ``'dv'``, ``'nwj'``, ``'infonce'``, ``'mine'``, or a callable.
            (default: :obj:`'jsd'`)
        encoder_kwargs (dict, optional): Keyword arguments of a named encoder (``num_layers``,
            ``act``, ``norm`` ...).
        summary_kwargs (dict, optional): Keyword arguments of a named summary.
        corruption_kwargs (dict, optional): Keyword arguments of a named corruption (``p`` ...).
        discriminator_kwargs (dict, optional): Keyword arguments of a named critic
            (``temperature`` ...).
        estimator_kwargs (dict, optional): Keyword arguments of a stateful estimator
            (``'mine'``: ``momentum``).
        fast_path (bool, optional): Embed the clean and the shuffled graph together when the
            encoder offers it (:meth:`graphinfo.nn.GCNEncoder.forward_shuffled`: the first
            layer's work is shared and aggregation is sparse) and the corruption is
            :class:`graphinfo.nn.ShuffleNodes`. The same model, loss and permutation as the
            general path, up to float rounding (with dropout between layers the random numbers
            are drawn in another order, so one seed gives other masks). ``False`` runs the
            encoder twice and, for an encoder with a ``fast_path`` switch
            (:class:`graphinfo.nn.GCNEncoder`), turns its sparse kernels off too: PyG's message
            passing, as in :class:`torch_geometric.nn.DeepGraphInfomax`. ``None`` (the
            default) means on, leaving the switch of a given encoder as it was set.

    Shapes:
        - **input:** node features :math:`(N, F_{in})`, edge index :math:`(2, E)`, optional
          edge weights :math:`(E)`, optional ``batch`` :math:`(N)`; with an encoder of the
          features alone (PyG's ``encoder=lambda x: ...``), ``model(x)``
        - **output:** :class:`DGIOutput` with :math:`(N, F)`, :math:`(N, F)` and
          :math:`(F)` or :math:`(N, F)`

    **Mini-batch training** (:meth:`subgraph_loss`): on a neighbour-sampled subgraph the model
    runs as on a whole graph, so the corruption shuffles the batch's sampled nodes; the loss
    scores the seed nodes' clean and corrupted embeddings against the summary of the seeds'
    clean embeddings (or a moving average of such summaries, averaged over processes).
    """

    level = "node"
    #: The paper's transductive settings: a one-layer GCN of 512 units, Adam 0.001, patience
    #: 20 on the loss.
    defaults = ModelDefaults(hidden_channels=512, num_layers=1, epochs=1000, patience=20)

    def __init__(self, hidden_channels: int, encoder: torch.nn.Module | str = "gcn",
                 summary: Callable[..., Tensor] | str = "sigmoid_mean",
                 corruption: Callable[..., Any] | str = "shuffle", *,
                 in_channels: int | None = None,
                 discriminator: torch.nn.Module | str = "bilinear",
                 estimator: Callable[[Tensor, Tensor], Tensor] | str = "jsd",
                 encoder_kwargs: dict[str, Any] | None = None,
                 summary_kwargs: dict[str, Any] | None = None,
                 corruption_kwargs: dict[str, Any] | None = None,
                 discriminator_kwargs: dict[str, Any] | None = None,
                 estimator_kwargs: dict[str, Any] | None = None,
                 fast_path: bool | None = None) -> None:
        super().__init__()
        if not isinstance(hidden_channels, int) or hidden_channels <= 0:
            raise ValueError(f"'hidden_channels' must be a positive int, got {hidden_channels!r}")
        self.hidden_channels = hidden_channels
        self.encoder = make_encoder(encoder, in_channels, hidden_channels,
                                    **(encoder_kwargs or {}))
        self.summary = make_readout(summary, hidden_channels, **(summary_kwargs or {}))
        self.corruption = make_corruption(corruption, **(corruption_kwargs or {}))
        self.discriminator = make_discriminator(discriminator, hidden_channels,
                                                **(discriminator_kwargs or {}))
        self.estimator = make_estimator(estimator, **(estimator_kwargs or {}))
        self._fast_path = True
        if fast_path is not None:  # None leaves the encoder's own switch as it is
            self.fast_path = fast_path
        self._register_load_state_dict_pre_hook(self._load_pyg_weight)
        self.reset_parameters()

    def forward(self, *args: Any, batch: Tensor | None = None, **kwargs: Any) -> DGIOutput:
        """Embeds the graph and its corruption, and summarises the clean embeddings; called as
        ``model(x, edge_index[, edge_weight], batch=None)``, or with whatever arguments a given
        encoder takes (PyG's convention: they reach the encoder, the corruption and the
        summary)."""
        if args and isinstance(args[0], Tensor):
            self.check_inputs(*args, batch=batch, **kwargs)
        shuffled = self._forward_shuffled(*args, **kwargs) if len(args) >= 2 else None
        if shuffled is not None:
            pos_z, neg_z = shuffled
            return DGIOutput(pos_z, neg_z, self.summarise(pos_z, *args, batch=batch, **kwargs))
        pos_z = self.encoder(*args, **kwargs)

        corrupted = self.corruption(*args, **kwargs)
        corrupted = corrupted if isinstance(corrupted, tuple) else (corrupted,)
        cor_kwargs = copy.copy(kwargs)
        for key, value in zip(kwargs.keys(), corrupted[len(args):]):
            cor_kwargs[key] = value
        neg_z = self.encoder(*corrupted[:len(args)], **cor_kwargs)

        summary = self.summarise(pos_z, *args, batch=batch, **kwargs)
        return DGIOutput(pos_z, neg_z, summary)

    @property
    def fast_path(self) -> bool:
        """Whether the fast path is on (setting it sets the encoder's switch too)."""
        return self._fast_path

    @fast_path.setter
    def fast_path(self, value: bool) -> None:
        self._fast_path = bool(value)
        if hasattr(self.encoder, "fast_path"):
            self.encoder.fast_path = self._fast_path

    def uses_fast_path(self, x: Tensor, edge_index: Tensor, *args: Any, **kwargs: Any) -> bool:
        """Whether :meth:`forward` takes the fast path for these inputs."""
        if not self.fast_path or type(self.corruption) is not ShuffleNodes:
            return False
        if len(args) + len(kwargs) > 1 or (kwargs and "edge_weight" not in kwargs):
            return False
        edge_weight = args[0] if args else kwargs.get("edge_weight")
        uses = getattr(self.encoder, "uses_fast_path", None)
        return callable(uses) and hasattr(self.encoder, "forward_shuffled") \
            and bool(uses(x, edge_index, edge_weight))

    def _forward_shuffled(self, x: Tensor, edge_index: Tensor, *args: Any,
                          **kwargs: Any) -> tuple[Tensor, Tensor] | None:
        if not self.uses_fast_path(x, edge_index, *args, **kwargs):
            return None
        edge_weight = args[0] if args else kwargs.get("edge_weight")
        perm = self.corruption.permutation(x.size(0), x.device)
        return self.encoder.forward_shuffled(x, edge_index, edge_weight, perm=perm)

    def subgraph_loss(self, batch: Any, global_summary: Callable[[Tensor], Tensor]) -> Tensor:
        """The loss on a neighbour-sampled subgraph: the seeds' clean and corrupted embeddings
        against ``global_summary`` of the seeds' summary (see the class docstring)."""
        seeds = int(batch.batch_size)
        out = self(*self.subgraph_inputs(batch))
        pos_z, neg_z = out.pos_z[:seeds], out.neg_z[:seeds]
        return self.loss(pos_z, neg_z, global_summary(self.summarise(pos_z)))

    def summarise(self, z: Tensor, *args: Any, batch: Tensor | None = None,
                  **kwargs: Any) -> Tensor:
        """The readout of ``z``; with ``batch``, each node's own graph summary, :math:`(N, F)`."""
        if batch is None:
            return self.summary(z, *args, **kwargs)
        per_graph = self.summary(z, *args, batch=batch, **kwargs)
        if per_graph.dim() != 2:
            raise ValueError(f"With 'batch', the summary must return one row per graph, got "
                             f"shape {tuple(per_graph.shape)}")
        return per_graph[batch]

    def discriminate(self, z: Tensor, summary: Tensor, sigmoid: bool = True) -> Tensor:
        r"""Scores each node against the summary (or its row of a per-node summary); returns
        probabilities, or logits with ``sigmoid=False``."""
        logits = self.discriminator(z, summary)
        return torch.sigmoid(logits) if sigmoid else logits

    def loss(self, pos_z: Tensor, neg_z: Tensor, summary: Tensor) -> Tensor:
        """The negative MI estimate of positive and negative node–summary pairs."""
        pos = self.discriminator(pos_z, summary)
        neg = self.discriminator(neg_z, summary)
        return -self.estimator(pos, neg)

    def test(self, train_z: Tensor, train_y: Tensor, test_z: Tensor, test_y: Tensor,
             solver: str = "lbfgs", *args: Any, **kwargs: Any) -> float:
        """Accuracy of a logistic regression trained on ``train_z`` and scored on ``test_z``
        (PyG's signature; delegates to :func:`graphinfo.evaluation.logistic_regression_score`).
        """
        from graphinfo.evaluation import logistic_regression_score

        return logistic_regression_score(train_z, train_y, test_z, test_y, solver, *args,
                                         **kwargs)

    def _load_pyg_weight(self, state_dict: dict[str, Tensor], prefix: str, *args: Any) -> None:
        # PyG's DeepGraphInfomax keeps the bilinear critic as a top-level ``weight``.
        old, new = prefix + "weight", prefix + "discriminator.weight"
        if old in state_dict and new not in state_dict and \
                isinstance(self.discriminator, BilinearDiscriminator):
            state_dict[new] = state_dict.pop(old)
            # PyG's model has no estimator state (MINE's moving average): keep ours.
            if isinstance(self.estimator, torch.nn.Module):
                for key, value in self.estimator.state_dict().items():
                    state_dict.setdefault(f"{prefix}estimator.{key}", value)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.hidden_channels}, encoder={self.encoder}, "
                f"estimator={getattr(self.estimator, '__name__', self.estimator)})")
