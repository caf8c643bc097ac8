r"""A model of your own, in one file, trained by every loop of graphinfo with no edit to it.

**Neighbourhood infomax.** Each node's embedding :math:`\mathbf{h}_i` should share information
with the mean embedding of its neighbours, :math:`\mathbf{c}_i = \frac{1}{|\mathcal{N}(i)|}
\sum_{j \in \mathcal{N}(i)} \mathbf{h}_j`, and not with another node's neighbourhood: the pairs
:math:`(\mathbf{h}_i, \mathbf{c}_i)` are positives and :math:`(\mathbf{h}_i, \mathbf{c}_{\pi(i)})`
negatives (:math:`\pi` a random permutation), scored by a bilinear critic and turned into an MI
estimate by any of graphinfo's estimators (JSD by default).

The class below is the whole model. What it declares is what graphinfo's engine, samplers,
distributed wrapper, Embedder and CLI read (the model contract, ``graphinfo.models.base``):

- ``level`` and ``defaults``: node embeddings; its own hidden size, epochs, patience, lr;
- ``forward`` and ``loss``: the full-graph objective (``training_loss`` calls them on
  ``inputs(data)``, by default ``x, edge_index[, edge_weight]``);
- ``subgraph_loss``: the objective on a neighbour-sampled subgraph, from its seed nodes only;
- ``embed`` comes from :class:`~graphinfo.models.MIModel` (the encoder's output), so exporting
  after mini-batch training runs layer-wise.

Run it to train it five ways (full-batch, sampled subgraphs, two processes, the Embedder, the
command line) on the built-in planted-partition graph::

    python examples/custom_model.py            # about a minute on 2 CPU cores
    python examples/custom_model.py --quick    # fewer epochs (the test suite runs this)

From the command line alone::

    graphinfo pretrain --model examples/custom_model.py:NeighbourhoodInfomax --dataset planted
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch_geometric.utils import scatter

from graphinfo.models import MIModel, ModelDefaults
from graphinfo.models.base import make_estimator
from graphinfo.nn import BilinearDiscriminator, make_encoder


class NeighbourhoodOutput(NamedTuple):
    z: Tensor          # node embeddings, (N, F)
    context: Tensor    # each node's neighbourhood mean, (N, F)
    negative: Tensor   # another node's neighbourhood mean, (N, F)


class NeighbourhoodInfomax(MIModel):
    r"""Node embeddings that keep the MI with their neighbourhood's embeddings (see the module
    docstring).

    Args:
        in_channels (int): Node feature size.
        hidden_channels (int, optional): Embedding size. (default: :obj:`128`)
        encoder (str or torch.nn.Module, optional): The encoder. (default: :obj:`'gcn'`)
        estimator (str or callable, optional): The MI estimator. (default: :obj:`'jsd'`)
        encoder_kwargs (dict, optional): Keyword arguments of a named encoder.
    """

    level = "node"
    defaults = ModelDefaults(hidden_channels=128, num_layers=1, epochs=100, patience=20,
                             lr=0.005)

    def __init__(self, in_channels: int, hidden_channels: int = 128, *,
                 encoder: str | torch.nn.Module = "gcn", estimator: Any = "jsd",
                 encoder_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.hidden_channels = hidden_channels
        self.encoder = make_encoder(encoder, in_channels, hidden_channels,
                                    **(encoder_kwargs or {}))
        self.critic = BilinearDiscriminator(hidden_channels)
        self.estimator = make_estimator(estimator)
        self.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor,
                edge_weight: Tensor | None = None) -> NeighbourhoodOutput:
        self.check_inputs(x, edge_index, edge_weight)
        z = self.encoder(x, edge_index) if edge_weight is None else \
            self.encoder(x, edge_index, edge_weight)
        source, target = edge_index[:, edge_index[0] != edge_index[1]]   # neighbours only
        context = scatter(z[source], target, dim=0, dim_size=z.size(0), reduce="mean")
        negative = context[torch.randperm(z.size(0), device=z.device)]
        return NeighbourhoodOutput(z, context, negative)

    def loss(self, z: Tensor, context: Tensor, negative: Tensor) -> Tensor:
        return -self.estimator(self.critic(z, context), self.critic(z, negative))

    def subgraph_loss(self, batch: Any, global_summary: Any) -> Tensor:
        """The loss of the seeds (the first ``batch.batch_size`` nodes) of a sampled subgraph;
        there is no global summary here, so ``global_summary`` goes unused."""
        seeds = int(batch.batch_size)
        z, context, negative = self(*self.subgraph_inputs(batch))
        return self.loss(z[:seeds], context[:seeds], negative[:seeds])


# -- five ways to train it ---------------------------------------------------------------------

def _accuracy(z: Tensor, dataset: Any) -> float:
    from graphinfo.evaluation import linear_probe

    return linear_probe(z, dataset.data.y, dataset.split)["test_acc"]


def _two_processes(out: str, epochs: int) -> None:
    """One of two processes: joins the group, trains on its share of the seeds, rank 0 writes
    the embeddings."""
    from graphinfo import distributed
    from graphinfo.data import load_dataset
    from graphinfo.train import embed_layerwise, fit_minibatch

    distributed.init_from_env("cpu")
    try:
        torch.set_num_threads(1)
        data = load_dataset("planted").data
        torch.manual_seed(0)
        model = NeighbourhoodInfomax(data.num_features)     # same weights on both (DDP)
        torch.manual_seed(1 + distributed.rank())           # their own samples
        fit_minibatch(model, data, batch_size=128, num_neighbors=[10], epochs=epochs,
                      patience=None, lr=model.defaults.lr, progress=False)
        if distributed.is_main_process():
            torch.save(embed_layerwise(model, data), Path(out) / "z.pt")
    finally:
        distributed.destroy()


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description="Train NeighbourhoodInfomax five ways")
    parser.add_argument("--quick", action="store_true", help="fewer epochs")
    args = parser.parse_args(argv)
    epochs, sampled_epochs = (20, 6) if args.quick else (100, 10)

    from graphinfo import Embedder, distributed
    from graphinfo.cli import main as cli
    from graphinfo.data import load_dataset
    from graphinfo.train import embed, embed_layerwise, fit, fit_minibatch

    planted = load_dataset("planted")
    data = planted.data
    results = {"raw features": _accuracy(data.x, planted)}

    torch.manual_seed(0)
    model = NeighbourhoodInfomax(data.num_features)
    fit(model, data, epochs=epochs, lr=model.defaults.lr, progress=False)
    results["full-batch"] = _accuracy(embed(model, data), planted)

    torch.manual_seed(0)
    model = NeighbourhoodInfomax(data.num_features)
    fit_minibatch(model, data, batch_size=128, num_neighbors=[10], epochs=sampled_epochs,
                  patience=None, lr=model.defaults.lr, progress=False)
    results["sampled subgraphs"] = _accuracy(embed_layerwise(model, data), planted)

    with tempfile.TemporaryDirectory() as out:
        distributed.launch(2, _two_processes, out, sampled_epochs)
        results["2 processes"] = _accuracy(torch.load(Path(out) / "z.pt"), planted)

        embedder = Embedder(NeighbourhoodInfomax, seed=0, epochs=epochs)
        results["Embedder"] = _accuracy(embedder.fit_transform(data), planted)

        run = Path(out) / "run"
        cli(["pretrain", "--model", f"{Path(__file__).resolve()}:NeighbourhoodInfomax",
             "--dataset", "planted", "--epochs", str(epochs), "--out", str(run),
             "--no-plots"])                 # the run folder is temporary: no pictures
        results["command line"] = _accuracy(torch.load(run / "embeddings.pt"), planted)

    width = max(map(len, results))
    for name, accuracy in results.items():
        print(f"{name:<{width}}  linear-probe test accuracy {100 * accuracy:.1f} %")
    return results


if __name__ == "__main__":
    main()
