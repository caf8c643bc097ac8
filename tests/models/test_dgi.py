import copy

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.nn import DeepGraphInfomax, GCNConv

from graphinfo.evaluation import linear_probe
from graphinfo.models import DGI, DGIOutput
from graphinfo.nn import GCNEncoder, SigmoidMeanReadout
from graphinfo.train import embed, fit
from tests.conftest import split_of


class FixedPermutation:
    """A node-shuffle corruption with a fixed permutation, so two models see the same negatives."""

    def __init__(self, perm):
        self.perm = perm

    def __call__(self, x, edge_index):
        return x[self.perm], edge_index


class PyGEncoder(torch.nn.Module):
    """The encoder of PyG's DGI example: one cached GCN layer and a PReLU."""

    def __init__(self, in_channels, hidden_channels):
        super().__init__()
        self.conv = GCNConv(in_channels, hidden_channels, cached=True)
        self.prelu = torch.nn.PReLU(hidden_channels)

    def forward(self, x, edge_index):
        return self.prelu(self.conv(x, edge_index))


def test_pyg_state_dict_loads_and_gives_the_same_loss(planted):
    torch.manual_seed(0)
    perm = torch.randperm(planted.num_nodes)
    summary = lambda z, *args, **kwargs: torch.sigmoid(z.mean(dim=0))  # noqa: E731
    reference = DeepGraphInfomax(64, PyGEncoder(planted.num_features, 64), summary,
                                 FixedPermutation(perm))
    # Train the reference a little so the weights are not at their initial values.
    optimizer = torch.optim.Adam(reference.parameters(), lr=0.01)
    for _ in range(5):
        optimizer.zero_grad()
        reference.loss(*reference(planted.x, planted.edge_index)).backward()
        optimizer.step()

    ours = DGI(64, PyGEncoder(planted.num_features, 64), summary, FixedPermutation(perm))
    ours.load_state_dict(reference.state_dict())
    assert torch.equal(ours.discriminator.weight, reference.weight)

    ref_out = reference(planted.x, planted.edge_index)
    out = ours(planted.x, planted.edge_index)
    for a, b in zip(ref_out, out):
        assert torch.allclose(a, b)
    assert abs(reference.loss(*ref_out).item() - ours.loss(*out).item()) < 1e-5
    assert torch.allclose(reference.discriminate(out.pos_z, out.summary),
                          ours.discriminate(out.pos_z, out.summary), atol=1e-6)
    # PyG's probe API works the same way.
    z = out.pos_z.detach()
    acc = ours.test(z[:150], planted.y[:150], z[150:], planted.y[150:], max_iter=200)
    ref_acc = reference.test(z[:150], planted.y[:150], z[150:], planted.y[150:], max_iter=200)
    assert acc == pytest.approx(ref_acc)


def test_default_parts_shapes_and_gradients(planted):
    model = DGI(32, in_channels=planted.num_features)
    assert isinstance(model.encoder, GCNEncoder)
    assert isinstance(model.summary, SigmoidMeanReadout)
    out = model(planted.x, planted.edge_index)
    assert isinstance(out, DGIOutput)
    assert out.pos_z.shape == out.neg_z.shape == (planted.num_nodes, 32)
    assert out.summary.shape == (32,)
    loss = model.loss(*out)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name


def test_reset_parameters_is_reproducible(planted):
    model = DGI(16, in_channels=planted.num_features)
    torch.manual_seed(5)
    model.reset_parameters()
    first = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(5)
    model.reset_parameters()
    assert all(torch.equal(first[k], v) for k, v in model.state_dict().items())
    torch.manual_seed(6)
    model.reset_parameters()
    assert not torch.equal(first["discriminator.weight"], model.discriminator.weight)


def test_embed_has_no_grad_and_restores_mode(planted):
    model = DGI(16, in_channels=planted.num_features, encoder_kwargs={"dropout": 0.5,
                                                                     "num_layers": 2})
    model.train()
    z = model.embed(planted.x, planted.edge_index)
    assert not z.requires_grad and z.grad_fn is None
    assert model.training
    # Eval mode inside embed: dropout off, so two calls agree.
    assert torch.equal(z, model.embed(planted.x, planted.edge_index))


def test_batch_nodes_are_positive_only_with_their_own_graph():
    torch.manual_seed(0)
    x = torch.randn(7, 4)
    edge_index = torch.tensor([[0, 1, 1, 2, 3, 4, 5, 6], [1, 0, 2, 1, 4, 3, 6, 5]])
    batch = torch.tensor([0, 0, 0, 1, 1, 2, 2])
    model = DGI(8, in_channels=4)
    out = model(x, edge_index, batch=batch)
    assert out.summary.shape == (7, 8)
    for g in range(3):
        own = torch.sigmoid(out.pos_z[batch == g].mean(0))
        assert torch.allclose(out.summary[batch == g], own.expand(int((batch == g).sum()), 8))
    # Each node's positive logit uses its own graph's summary and no other graph's.
    logits = model.discriminate(out.pos_z, out.summary, sigmoid=False)
    for i in range(7):
        own = out.pos_z[i] @ model.discriminator.weight @ out.summary[i]
        assert torch.allclose(logits[i], own, atol=1e-6)
    model.loss(*out).backward()


@pytest.mark.parametrize("estimator", ["jsd", "dv", "nwj", "infonce", "mine"])
def test_every_estimator_learns_planted_structure(estimator):
    from graphinfo.data.synthetic import planted_partition

    data = planted_partition(num_nodes=600, num_classes=3, avg_degree=8.0, num_features=16,
                             features="gaussian", feature_noise=4.0, seed=1)
    split = split_of(data)
    torch.manual_seed(0)
    model = DGI(64, in_channels=data.num_features, estimator=estimator)
    raw = linear_probe(data.x, data.y, split)["test_acc"]
    history = fit(model, data, epochs=150, lr=0.005, patience=30, progress=False)
    assert all(torch.isfinite(torch.tensor(history.losses)))
    acc = linear_probe(embed(model, data), data.y, split)["test_acc"]
    # Chance is 1/3 and the raw features reach about 0.51; every estimator measured 0.72-0.77
    # here, so the embeddings must have used the graph.
    assert acc > 0.65, (estimator, acc, raw)
    assert acc > raw + 0.15, (estimator, acc, raw)


def test_named_parts_and_unknown_names():
    model = DGI(16, "sage", "mean", "drop_edges", in_channels=4, discriminator="mlp",
                estimator="dv")
    out = model(torch.randn(5, 4), torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]]))
    assert torch.isfinite(model.loss(*out))
    with pytest.raises(ValueError, match="Unknown estimator 'kl'; expected one of: 'jsd'"):
        DGI(16, in_channels=4, estimator="kl")
    with pytest.raises(ValueError, match="Unknown discriminator 'dot'"):
        DGI(16, in_channels=4, discriminator="dot")
    with pytest.raises(ValueError, match="'in_channels' is required"):
        DGI(16, "gcn")


@pytest.mark.parametrize("x, edge_index, error, message", [
    (torch.randn(4, 3), torch.tensor([[0, 1], [1, 4]]), ValueError,
     r"'edge_index' contains node index 4 but the graph has 4 nodes"),
    (torch.randn(4, 3), torch.tensor([[0, -1], [1, 2]]), ValueError,
     "'edge_index' contains negative node index -1"),
    (torch.randn(4, 3), torch.tensor([[0.0, 1.0], [1.0, 2.0]]), TypeError,
     "'edge_index' must hold integer node indices"),
    (torch.randn(4, 3), torch.tensor([0, 1, 2]), ValueError,
     r"'edge_index' must have shape \[2, num_edges\], got \(3,\)"),
    (torch.tensor([[1.0, float("nan"), 0.0]] + [[0.0, 0.0, 0.0]] * 3), torch.tensor([[0], [1]]),
     ValueError,
     "'x' contains 1 NaN or infinite value"),
    (torch.tensor([[1.0, float("inf"), 0.0]] * 4), torch.tensor([[0], [1]]), ValueError,
     "'x' contains 4 NaN or infinite value"),
    (torch.empty(0, 3), torch.empty(2, 0, dtype=torch.long), ValueError,
     "'x' describes a graph with no nodes"),
    (torch.randn(4, 5), torch.tensor([[0], [1]]), ValueError,
     "'x' has 5 features per node but the encoder expects in_channels=3"),
    (torch.randint(0, 2, (4, 3)), torch.tensor([[0], [1]]), TypeError,
     "'x' must be a floating-point tensor"),
])
def test_bad_input_gets_a_clear_error(x, edge_index, error, message):
    model = DGI(8, in_channels=3)
    with pytest.raises(error, match=message):
        model(x, edge_index)
    with pytest.raises(error, match=message):
        model.embed(x, edge_index)


def test_bad_batch_vector():
    model = DGI(8, in_channels=3)
    x, edge_index = torch.randn(4, 3), torch.tensor([[0], [1]])
    with pytest.raises(ValueError, match=r"'batch' must have shape \[4\]"):
        model(x, edge_index, batch=torch.zeros(3, dtype=torch.long))


def test_trains_inside_a_plain_pyg_loop(planted):
    """The PyG example's loop works unchanged."""
    torch.manual_seed(0)
    model = DGI(32, in_channels=planted.num_features)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        pos_z, neg_z, summary = model(planted.x, planted.edge_index)
        loss = model.loss(pos_z, neg_z, summary)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.3


def test_mine_model_loads_a_pyg_state_dict(planted):
    reference = DeepGraphInfomax(16, PyGEncoder(planted.num_features, 16),
                                 lambda z, *a, **k: torch.sigmoid(z.mean(0)),
                                 lambda x, ei: (x[torch.randperm(x.size(0))], ei))
    model = DGI(16, PyGEncoder(planted.num_features, 16), estimator="mine")
    model.load_state_dict(reference.state_dict())
    assert torch.equal(model.discriminator.weight, reference.weight)


@pytest.mark.parametrize("encoder", ["sage", "gin", "gat"])
def test_encoders_without_edge_weights_refuse_them(encoder):
    model = DGI(8, encoder, in_channels=3)
    x, edge_index = torch.randn(4, 3), torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="cannot use 'edge_weight'"):
        model(x, edge_index, torch.ones(2))


def test_edge_weight_checks():
    model = DGI(8, in_channels=3)
    x, edge_index = torch.randn(4, 3), torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="'edge_weight' contains NaN or infinite values"):
        model(x, edge_index, edge_weight=torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match=r"one entry per edge \(2\), got 3"):
        model(x, edge_index, torch.ones(3))
    with pytest.raises(ValueError, match=r"'edge_weight' must be 1-dimensional \[num_edges\]"):
        model(x, edge_index, torch.ones(2, 1))
    with pytest.raises(ValueError, match="'edge_weight' must be non-negative"):
        model(x, edge_index, torch.tensor([1.0, -0.5]))
    out = model(x, edge_index, torch.tensor([1.0, 0.5]))
    assert torch.isfinite(model.loss(*out))


def test_dtype_mismatch_is_clear_and_double_models_work(planted):
    model = DGI(8, in_channels=planted.num_features)
    with pytest.raises(TypeError, match="'x' has dtype torch.float64 but the model's parameters"):
        model(planted.x.double(), planted.edge_index)
    model = model.double()
    out = model(planted.x.double(), planted.edge_index)
    assert out.pos_z.dtype == torch.float64 and torch.isfinite(model.loss(*out))


def test_sparse_features(planted):
    from graphinfo.experiment import normalise_features

    model = DGI(8, in_channels=planted.num_features)
    with pytest.raises(TypeError, match="'x' is a sparse CSR tensor"):
        model(planted.x.to_sparse_csr(), planted.edge_index)
    positive = Data(x=planted.x.abs(), edge_index=planted.edge_index)
    sparse = Data(x=positive.x.to_sparse_coo(), edge_index=planted.edge_index)
    dense_norm = normalise_features(positive, "row").x
    assert torch.allclose(normalise_features(sparse, "row").x.to_dense(), dense_norm)
    torch.manual_seed(0)
    sparse_out = model(normalise_features(sparse, "row").x, planted.edge_index)
    torch.manual_seed(0)
    dense_out = model(dense_norm, planted.edge_index)
    assert torch.allclose(sparse_out.pos_z, dense_out.pos_z, atol=1e-5)
    assert torch.allclose(model.loss(*sparse_out), model.loss(*dense_out), atol=1e-5)


def test_inference_mode_embedding_then_training(planted):
    model = DGI(8, in_channels=planted.num_features)
    with torch.inference_mode():
        model.embed(planted.x, planted.edge_index)
    model.loss(*model(planted.x, planted.edge_index)).backward()
    assert model.discriminator.weight.grad is not None


def test_parts_must_be_names_or_callables():
    with pytest.raises(TypeError, match="'estimator' must be a name or a callable, got float"):
        DGI(8, in_channels=3, estimator=0.5)
    critic = DGI(8, in_channels=3).discriminator
    with pytest.raises(ValueError, match="scores embeddings of size 8 with summaries of size 8, "
                                         "got 5 and 8"):
        critic(torch.randn(4, 5), torch.randn(8))


# -- the fast path -------------------------------------------------------------------------------

def _sparse_feature_graph(planted):
    """The planted graph with binary features at about 5 % density (a sparse operator) and
    positive edge weights."""
    generator = torch.Generator().manual_seed(0)
    x = (torch.rand(planted.num_nodes, 40, generator=generator) < 0.05).float()
    weight = torch.rand(planted.edge_index.size(1), generator=generator) + 0.5
    return x, planted.edge_index, weight


def _loss_and_grads(model, args, seed, kwargs=None):
    model.zero_grad()
    torch.manual_seed(seed)  # the same permutation for both models
    loss = model.loss(*model(*args, **(kwargs or {})))
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("features", ["dense", "sparse"])
@pytest.mark.parametrize("estimator, num_layers", [("jsd", 1), ("dv", 1), ("jsd", 2),
                                                   ("dv", 2)])
def test_fast_path_gives_the_general_paths_loss_and_gradients(planted, features, estimator,
                                                              num_layers):
    args = (planted.x, planted.edge_index) if features == "dense" else \
        _sparse_feature_graph(planted)
    torch.manual_seed(0)
    fast = DGI(16, in_channels=args[0].size(1), estimator=estimator,
               encoder_kwargs={"num_layers": num_layers})
    general = copy.deepcopy(fast)
    general.fast_path = False
    assert fast.uses_fast_path(*args) and not general.uses_fast_path(*args)
    assert not general.encoder.fast_path  # PyG's message passing, as in DeepGraphInfomax
    optimizers = [torch.optim.Adam(m.parameters(), lr=0.01) for m in (fast, general)]
    for step in range(3):  # the same training trajectory, not only the same first step
        loss, grads = _loss_and_grads(fast, args, seed=step)
        expected_loss, expected_grads = _loss_and_grads(general, args, seed=step)
        # rtol 1e-5, and an absolute floor of float32 rounding for a DV loss near zero
        assert torch.allclose(loss, expected_loss, rtol=1e-5, atol=1e-6), (
            step, float(loss), float(expected_loss))
        assert grads.keys() == expected_grads.keys()
        for name, grad in grads.items():
            assert torch.allclose(grad, expected_grads[name], atol=1e-6), (step, name)
        for optimizer in optimizers:
            optimizer.step()
    # Another permutation gives another loss: the permutation is what the seed fixed.
    assert not torch.allclose(_loss_and_grads(fast, args, seed=100)[0], loss, rtol=1e-5)


def test_fast_path_with_edge_weights_as_keyword_and_a_batch_vector(planted):
    x, edge_index, weight = _sparse_feature_graph(planted)
    batch = (torch.arange(planted.num_nodes) >= 100).long()
    torch.manual_seed(0)
    fast = DGI(8, in_channels=x.size(1))
    general = copy.deepcopy(fast)
    general.fast_path = False
    assert fast.uses_fast_path(x, edge_index, edge_weight=weight)
    for kwargs in ({"edge_weight": weight}, {"edge_weight": weight, "batch": batch}):
        loss, grads = _loss_and_grads(fast, (x, edge_index), seed=1, kwargs=kwargs)
        expected_loss, expected_grads = _loss_and_grads(general, (x, edge_index), seed=1,
                                                        kwargs=kwargs)
        assert torch.allclose(loss, expected_loss, rtol=1e-5, atol=0)
        for name, grad in grads.items():
            assert torch.allclose(grad, expected_grads[name], atol=1e-6), name


def test_fast_path_switch_reaches_the_encoder():
    x, edge_index = torch.randn(5, 3), torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    model = DGI(8, in_channels=3)
    assert model.fast_path and model.encoder.fast_path
    assert model.uses_fast_path(x, edge_index) and model.uses_fast_path(x, edge_index,
                                                                        torch.ones(4))
    model.fast_path = False
    assert not model.fast_path and not model.encoder.fast_path
    assert not model.uses_fast_path(x, edge_index)
    model.fast_path = True
    assert model.encoder.fast_path and model.uses_fast_path(x, edge_index)
    off = DGI(8, in_channels=3, fast_path=False)
    assert not off.encoder.fast_path and not off.uses_fast_path(x, edge_index)
    # Learnable edge weights: the encoder's general path, so the model's too.
    assert not model.uses_fast_path(x, edge_index, torch.ones(4, requires_grad=True))


@pytest.mark.parametrize("encoder, corruption", [("gcn", "drop_edges"), ("gcn", "mask_features"),
                                                 ("sage", "shuffle"), ("gin", "shuffle")])
def test_no_fast_path_for_other_corruptions_or_encoders(encoder, corruption):
    x, edge_index = torch.randn(5, 3), torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    model = DGI(8, encoder, corruption=corruption, in_channels=3)
    assert not model.uses_fast_path(x, edge_index)
    model.fast_path = True  # an encoder without the switch is left alone
    if encoder != "gcn":
        assert not hasattr(model.encoder, "fast_path")
    out = model(x, edge_index)
    assert torch.isfinite(model.loss(*out))
    # A plain callable corruption (even a shuffle) runs the general path too.
    model = DGI(8, in_channels=3, corruption=lambda x, ei: (x.flip(0), ei))
    assert not model.uses_fast_path(x, edge_index)
    out = model(x, edge_index)
    assert torch.allclose(out.neg_z, model.encoder(x.flip(0), edge_index))


def test_check_inputs_skips_inputs_that_already_passed(planted, monkeypatch):
    import graphinfo.models.base as base

    calls = []
    check_graph = base.check_graph

    def counting(*args, **kwargs):
        calls.append(args[0])
        return check_graph(*args, **kwargs)

    monkeypatch.setattr(base, "check_graph", counting)
    model = DGI(8, in_channels=planted.num_features)
    x, edge_index = planted.x.clone(), planted.edge_index.clone()
    model(x, edge_index)
    model(x, edge_index)
    model.embed(x, edge_index)
    assert len(calls) == 1
    model(x.clone(), edge_index)  # another tensor is checked ...
    assert len(calls) == 2
    model(x, edge_index)          # ... and so is the first one again after it
    assert len(calls) == 3
    weight = torch.ones(edge_index.size(1))
    model(x, edge_index, weight)
    model(x, edge_index, edge_weight=weight)
    assert len(calls) == 4

    # Modified in place: checked again, with the usual error.
    with torch.no_grad():
        x[0, 0] = float("nan")
    with pytest.raises(ValueError, match="'x' contains 1 NaN or infinite value"):
        model(x, edge_index, weight)
    with pytest.raises(ValueError, match="'x' contains 1 NaN or infinite value"):
        model(x, edge_index, weight)  # a failed check is not remembered
    x[0, 0] = 0.0
    model(x, edge_index, weight)
    edge_index[0, 0] = planted.num_nodes
    with pytest.raises(ValueError, match="'edge_index' contains node index 300"):
        model(x, edge_index, weight)
    edge_index[0, 0] = 0
    weight[0] = -1.0
    with pytest.raises(ValueError, match="'edge_weight' must be non-negative"):
        model(x, edge_index, weight)
    weight[0] = 1.0
    model(x, edge_index, weight)
    # A model whose dtype changed checks again.
    model.double()
    with pytest.raises(TypeError, match="'x' has dtype torch.float32 but the model's"):
        model(x, edge_index, weight)


def test_embed_inputs_created_in_inference_mode(planted):
    model = DGI(8, in_channels=planted.num_features)
    expected = model.embed(planted.x, planted.edge_index)
    with torch.inference_mode():
        x, edge_index = planted.x.clone(), planted.edge_index.clone()
        assert torch.allclose(model.embed(x, edge_index), expected)
        assert torch.allclose(model.embed(x, edge_index), expected)


def test_a_used_model_can_be_saved_whole(tmp_path):
    x, edge_index = torch.randn(5, 3), torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    model = DGI(8, in_channels=3)
    model(x, edge_index)
    torch.save(model, tmp_path / "model.pt")
    loaded = torch.load(tmp_path / "model.pt", weights_only=False)
    assert torch.equal(loaded.embed(x, edge_index), model.embed(x, edge_index))


# -- PyG's own unit test of DeepGraphInfomax (test/nn/models/test_deep_graph_infomax.py), run
# against graphinfo's DGI. Changed: the class (its repr names graphinfo's class); PyG's
# TorchScript export runs only in its "full test" mode and is left out, as there.

def test_pyg_infomax():
    def corruption(z):
        return z + 1

    model = DGI(
        hidden_channels=16,
        encoder=lambda x: x,
        summary=lambda z, *args: z.mean(dim=0),
        corruption=lambda x: x + 1,
    ).to("cpu")
    assert str(model).startswith("DGI(16")

    x = torch.ones(20, 16)

    pos_z, neg_z, summary = model(x)
    assert pos_z.size() == (20, 16)
    assert neg_z.size() == (20, 16)
    assert summary.size() == (16, )

    loss = model.loss(pos_z, neg_z, summary)
    assert float(loss) >= 0

    acc = model.test(
        train_z=torch.ones(20, 16),
        train_y=torch.randint(10, (20, )),
        test_z=torch.ones(20, 16),
        test_y=torch.randint(10, (20, )),
    )
    assert 0 <= acc <= 1


def test_pyg_infomax_predefined_model():
    from torch_geometric.nn import GCN

    def corruption(x, edge_index, edge_weight):
        return (
            x[torch.randperm(x.size(0), device=x.device)],
            edge_index,
            edge_weight,
        )

    model = DGI(
        hidden_channels=16,
        encoder=GCN(16, 16, num_layers=2),
        summary=lambda z, *args, **kwargs: z.mean(dim=0).sigmoid(),
        corruption=corruption,
    ).to("cpu")

    x = torch.randn(4, 16)
    edge_index = torch.tensor(
        [[0, 0, 0, 1, 2, 3], [1, 2, 3, 0, 0, 0]],
    )
    edge_weight = torch.rand(edge_index.size(1))

    pos_z, neg_z, summary = model(x, edge_index, edge_weight=edge_weight)
    assert pos_z.size() == (4, 16)
    assert neg_z.size() == (4, 16)
    assert summary.size() == (16, )

    loss = model.loss(pos_z, neg_z, summary)
    assert float(loss) >= 0


def test_every_named_part_takes_its_keyword_arguments():
    from graphinfo.estimators import MINE
    from graphinfo.nn import CosineDiscriminator, DropEdges

    model = DGI(8, in_channels=4, encoder_kwargs={"num_layers": 2, "act": "relu"},
                corruption="drop_edges", corruption_kwargs={"p": 0.4},
                discriminator="cosine", discriminator_kwargs={"temperature": 0.3},
                estimator="mine", estimator_kwargs={"momentum": 0.5},
                summary="attention", summary_kwargs={})
    assert model.encoder.num_layers == 2 and isinstance(model.encoder.acts[0], torch.nn.ReLU)
    assert isinstance(model.corruption, DropEdges) and model.corruption.p == 0.4
    assert isinstance(model.discriminator, CosineDiscriminator)
    assert model.discriminator.temperature == 0.3
    assert isinstance(model.estimator, MINE) and model.estimator.momentum == 0.5
    with pytest.raises(ValueError, match="'corruption_kwargs'"):
        DGI(8, in_channels=4, corruption=lambda x, e: (x, e), corruption_kwargs={"p": 0.1})
    with pytest.raises(ValueError, match="'estimator_kwargs'.*takes none"):
        DGI(8, in_channels=4, estimator="jsd", estimator_kwargs={"momentum": 0.5})


def test_the_loss_on_a_sampled_subgraph_uses_its_seeds_only(tiny_graph):
    from torch_geometric.data import Data

    torch.manual_seed(0)
    model = DGI(8, in_channels=4, encoder_kwargs={"add_self_loops": False})
    batch = Data(x=tiny_graph.x, edge_index=tiny_graph.edge_index, batch_size=2)
    seen = []

    def global_summary(summary):
        seen.append(summary)
        return summary

    torch.manual_seed(1)
    loss = model.subgraph_loss(batch, global_summary)
    torch.manual_seed(1)
    out = model(tiny_graph.x, tiny_graph.edge_index)
    assert torch.allclose(seen[0], model.summarise(out.pos_z[:2]))
    assert torch.allclose(loss, model.loss(out.pos_z[:2], out.neg_z[:2], seen[0]))
    assert DGI.level == "node" and DGI.defaults.hidden_channels == 512
