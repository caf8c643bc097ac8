"""Models defined only here, in a test file, train through every loop of the package: the
model contract is all the engine, the samplers, the distributed wrapper, the Embedder and the
CLI need. A second model reads a HeteroData with two relations, a third two views of a graph."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from graphinfo import Embedder, distributed
from graphinfo.cli import main
from graphinfo.data.synthetic import planted_partition
from graphinfo.evaluation import linear_probe
from graphinfo.models import MIModel, ModelDefaults, build_model, model_class
from graphinfo.models.base import make_estimator
from graphinfo.nn import BilinearDiscriminator, GCNEncoder
from graphinfo.sources import SubgraphWindows
from graphinfo.train import embed, embed_layerwise, fit, fit_minibatch, train
from graphinfo.transforms import DiffusionView, MetapathGraphs
from tests.conftest import split_of

HERE = __name__   # how pytest imported this file (importable by that name)
#: pretrain without the plots (tests/test_runs.py draws them).
PRETRAIN = ["pretrain", "--no-plots"]


class SummaryContrast(MIModel):
    """Node embeddings against a squashed mean of them, negatives from shuffled features, as a
    user would write it from graphinfo's parts (it is not DGI's class)."""

    defaults = ModelDefaults(hidden_channels=32, num_layers=1, epochs=30, patience=None,
                             lr=0.01)

    def __init__(self, in_channels: int, hidden_channels: int = 32, num_layers: int = 1,
                 estimator: str = "jsd") -> None:
        super().__init__()
        self.encoder = GCNEncoder(in_channels, hidden_channels, num_layers)
        self.critic = BilinearDiscriminator(hidden_channels)
        self.estimator = make_estimator(estimator)
        self.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None):
        z = self.encoder(x, edge_index, edge_weight)
        negative = self.encoder(x[torch.randperm(x.size(0))], edge_index, edge_weight)
        return z, negative, torch.sigmoid(z.mean(dim=0))

    def loss(self, z: Tensor, negative: Tensor, summary: Tensor) -> Tensor:
        return -self.estimator(self.critic(z, summary), self.critic(negative, summary))

    def subgraph_loss(self, batch, global_summary) -> Tensor:
        seeds = int(batch.batch_size)
        z, negative, _ = self(*self.subgraph_inputs(batch))
        summary = global_summary(torch.sigmoid(z[:seeds].mean(dim=0)))
        return self.loss(z[:seeds], negative[:seeds], summary)


def _graph(seed: int = 3):
    return planted_partition(num_nodes=900, num_classes=3, avg_degree=8.0, num_features=24,
                             features="gaussian", feature_noise=4.0, seed=seed)


def _accuracy(z: Tensor, data) -> float:
    return linear_probe(z, data.y, split_of(data))["test_acc"]


@pytest.fixture(scope="module")
def graph():
    data = _graph()
    return data, _accuracy(data.x, data)


def test_full_batch_and_sampled_subgraphs(graph):
    data, raw = graph
    torch.manual_seed(0)
    model = SummaryContrast(data.num_features)
    history = fit(model, data, epochs=30, lr=0.01, patience=None, progress=False)
    assert history.losses[-1] < history.losses[0]
    full = _accuracy(embed(model, data), data)
    torch.manual_seed(0)
    sampled = SummaryContrast(data.num_features)
    history = fit_minibatch(sampled, data, batch_size=128, num_neighbors=[5], epochs=8,
                            lr=0.01, patience=None, progress=False)
    assert history.losses[-1] < history.losses[0]
    mini = _accuracy(embed_layerwise(sampled, data), data)
    assert full > raw + 0.1 and mini > raw + 0.1, (raw, full, mini)


def _worker(out: str) -> None:
    distributed.init_from_env("cpu")
    try:
        torch.set_num_threads(1)
        data = _graph()
        torch.manual_seed(0)
        model = SummaryContrast(data.num_features)
        torch.manual_seed(10 + distributed.rank())
        fit_minibatch(model, data, batch_size=64, num_neighbors=[5], epochs=8, lr=0.01,
                      patience=None, progress=False)
        torch.save({k: v.clone() for k, v in model.state_dict().items()},
                   Path(out) / f"state-{distributed.rank()}.pt")
    finally:
        distributed.destroy()


def test_two_gloo_processes(tmp_path, graph):
    data, raw = graph
    distributed.launch(2, _worker, str(tmp_path))
    states = [torch.load(tmp_path / f"state-{rank}.pt") for rank in (0, 1)]
    assert all(torch.equal(states[0][key], states[1][key]) for key in states[0])
    model = SummaryContrast(data.num_features)
    model.load_state_dict(states[0])
    assert _accuracy(embed(model, data), data) > raw + 0.1


def test_the_embedder_takes_the_class_or_its_path(graph):
    data, raw = graph
    by_class = Embedder(SummaryContrast, seed=0, epochs=30).fit(data)
    by_path = Embedder(f"{HERE}:SummaryContrast", seed=0, epochs=30).fit(data)
    assert isinstance(by_path.model_, SummaryContrast)
    assert by_class.history_.epochs == 30    # the model's own defaults: 30 epochs, no patience
    assert torch.allclose(by_class.embedding_, by_path.embedding_)
    assert _accuracy(by_class.embedding_, data) > raw + 0.1
    sampled = Embedder(SummaryContrast, seed=0, epochs=5, batch_size=128,
                       num_neighbors=[5]).fit(data)
    assert sampled.history_.epochs == 5 and sampled.embedding_.shape == (900, 32)


def test_the_cli_trains_a_model_given_as_module_and_class(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*PRETRAIN, "--model", f"{HERE}:SummaryContrast", "--dataset", "planted",
                 "--hidden", "16", "--epochs", "15", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "full-batch" in printed and "test accuracy (%)" in printed
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == f"{HERE}:SummaryContrast"
    assert config["hidden_channels"] == 16 and config["num_layers"] == 1
    assert config["epochs"] == 15 and config["patience"] is None   # the model's own default
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["per_seed"][0]["test_acc"] > 0.6
    assert torch.load(out / "embeddings.pt").shape == (2000, 16)
    assert main([*PRETRAIN, "--model", f"{HERE}:SummaryContrast", "--dataset", "planted",
                 "--hidden", "16", "--epochs", "2", "--batch-size", "256",
                 "--out", str(tmp_path / "mini")]) == 0
    assert "mini-batches of 256 seed nodes" in capsys.readouterr().out
    # A setting the model's constructor cannot take is refused, naming the model.
    assert main([*PRETRAIN, "--model", f"{HERE}:SummaryContrast", "--encoder", "sage",
                 "--out", str(tmp_path / "x")]) == 2
    assert "SummaryContrast has no 'encoder' setting" in capsys.readouterr().err


def test_models_named_by_path_are_checked():
    assert model_class(f"{HERE}:SummaryContrast") is SummaryContrast
    with pytest.raises(ValueError, match="Cannot import the module of model 'no_such_pkg:X'"):
        model_class("no_such_pkg:X")
    with pytest.raises(ValueError, match=f"Module '{HERE}' has no class 'Missing'"):
        model_class(f"{HERE}:Missing")
    with pytest.raises(TypeError, match="must be a subclass of graphinfo.models.MIModel"):
        model_class(f"{HERE}:HERE")
    with pytest.raises(ValueError, match="Unknown model 'dgx'"):
        model_class("dgx")


# -- a HeteroData with two relations ---------------------------------------------------------

class TwoRelationInfomax(MIModel):
    """DMGI's shape: one encoder per relation of one node type, DGI's loss per relation, the
    node embedding the mean over relations."""

    defaults = ModelDefaults(hidden_channels=32, epochs=40, patience=None, lr=0.01)

    def __init__(self, in_channels: int, relations: list[tuple[str, str, str]],
                 hidden_channels: int = 32) -> None:
        super().__init__()
        self.relations = relations
        self.node_type = relations[0][0]
        self.encoders = torch.nn.ModuleList(GCNEncoder(in_channels, hidden_channels)
                                            for _ in relations)
        self.encoder = self.encoders[0]
        self.critic = BilinearDiscriminator(hidden_channels)
        self.reset_parameters()

    @classmethod
    def from_data(cls, data: HeteroData, **hparams) -> TwoRelationInfomax:
        relations = [t for t in data.edge_types if t[0] == t[2]]
        return cls(data[relations[0][0]].num_features, relations, **hparams)

    def inputs(self, data: HeteroData):
        return (data[self.node_type].x, *(data[r].edge_index for r in self.relations)), {}

    def forward(self, x: Tensor, *edge_indices: Tensor):
        perm = torch.randperm(x.size(0))
        out = []
        for encoder, edge_index in zip(self.encoders, edge_indices):
            z = encoder(x, edge_index)
            out.append((z, encoder(x[perm], edge_index), torch.sigmoid(z.mean(0))))
        return (out,)

    def loss(self, per_relation) -> Tensor:
        return sum(-make_estimator("jsd")(self.critic(z, s), self.critic(n, s))
                   for z, n, s in per_relation)

    @torch.no_grad()
    def embed(self, x: Tensor, *edge_indices: Tensor) -> Tensor:
        self.eval()
        return torch.stack([encoder(x, edge_index) for encoder, edge_index
                            in zip(self.encoders, edge_indices)]).mean(0)


def _multiplex(seed: int = 4) -> tuple[HeteroData, object]:
    """Papers with two relations on the same communities, a citation graph and a co-author
    graph (the metapath paper-author-paper of a paper-author graph)."""
    cites = planted_partition(num_nodes=600, num_classes=3, avg_degree=4.0, homophily=0.7,
                              num_features=24, features="gaussian", feature_noise=5.0,
                              seed=seed)
    generator = torch.Generator().manual_seed(seed)
    authors = 200
    # Each paper has two authors of its own community's third of the authors.
    community = cites.y.repeat_interleave(2)
    author = community * (authors // 3) + torch.randint(0, authors // 3, (1200,),
                                                        generator=generator)
    data = HeteroData()
    data["paper"].x, data["paper"].y = cites.x, cites.y
    data["author"].num_nodes = authors
    data["paper", "cites", "paper"].edge_index = cites.edge_index
    written = torch.stack([torch.arange(600).repeat_interleave(2), author])
    data["paper", "written_by", "author"].edge_index = written
    data["author", "writes", "paper"].edge_index = written.flip(0)
    data = MetapathGraphs([[("paper", "written_by", "author"),
                            ("author", "writes", "paper")]], names=["coauthor"])(data)
    return data, cites


def test_a_heterodata_model_with_two_relations_trains_in_the_same_loop():
    data, labelled = _multiplex()
    assert ("paper", "coauthor", "paper") in data.edge_types
    torch.manual_seed(0)
    model = build_model(TwoRelationInfomax, data=data)
    assert [r[1] for r in model.relations] == ["cites", "coauthor"]
    before = [p.detach().clone() for p in model.encoders[1].parameters()]
    history = fit(model, data, epochs=40, lr=0.01, patience=None, progress=False)
    assert history.losses[-1] < history.losses[0]
    assert any(not torch.equal(a, b) for a, b in zip(before, model.encoders[1].parameters()))
    z = embed(model, data)
    assert z.shape == (600, 32)
    assert _accuracy(z, labelled) > _accuracy(labelled.x, labelled) + 0.1


# -- two views: the graph and its diffusion --------------------------------------------------

class TwoViewInfomax(MIModel):
    """MVGRL's shape: one encoder per view, each view's nodes against the other view's summary;
    the embedding is the sum over views."""

    defaults = ModelDefaults(hidden_channels=32, epochs=40, patience=None, lr=0.01)

    def __init__(self, in_channels: int, hidden_channels: int = 32) -> None:
        super().__init__()
        self.encoder = GCNEncoder(in_channels, hidden_channels)
        self.diffusion_encoder = GCNEncoder(in_channels, hidden_channels)
        self.critic = BilinearDiscriminator(hidden_channels)
        self.reset_parameters()

    def inputs(self, data):
        return (data.x, data.edge_index, data.diffusion_edge_index,
                data.diffusion_edge_weight), {}

    def forward(self, x, edge_index, diffusion_index, diffusion_weight):
        perm = torch.randperm(x.size(0))
        views = []
        for encoder, args in ((self.encoder, (edge_index,)),
                              (self.diffusion_encoder, (diffusion_index, diffusion_weight))):
            z = encoder(x, *args)
            views.append((z, encoder(x[perm], *args), torch.sigmoid(z.mean(0))))
        return tuple(views)

    def loss(self, graph_view, diffusion_view) -> Tensor:
        (z1, n1, s1), (z2, n2, s2) = graph_view, diffusion_view
        jsd = make_estimator("jsd")
        return -jsd(self.critic(z1, s2), self.critic(n1, s2)) - \
            jsd(self.critic(z2, s1), self.critic(n2, s1))

    @torch.no_grad()
    def embed(self, x, edge_index, diffusion_index, diffusion_weight) -> Tensor:
        self.eval()
        return self.encoder(x, edge_index) + self.diffusion_encoder(x, diffusion_index,
                                                                    diffusion_weight)


def test_a_two_view_model_trains_in_the_same_loop_full_batch_and_on_windows():
    data = DiffusionView(k=32)(planted_partition(num_nodes=600, num_classes=3, avg_degree=8.0,
                                                 num_features=24, features="gaussian",
                                                 feature_noise=5.0, seed=5))
    raw = _accuracy(data.x, data)
    torch.manual_seed(0)
    model = build_model(TwoViewInfomax, data=data)
    history = fit(model, data, epochs=40, lr=0.01, patience=None, progress=False)
    assert history.losses[-1] < history.losses[0]
    assert _accuracy(embed(model, data), data) > raw + 0.15
    torch.manual_seed(0)
    windowed = build_model(TwoViewInfomax, data=data)
    history = train(windowed, SubgraphWindows(data, size=200, steps=4, seed=0), epochs=15,
                    lr=0.01, patience=None, progress=False)
    assert history.epochs == 15 and history.losses[-1] < history.losses[0]
    assert _accuracy(embed(windowed, data), data) > raw + 0.15
