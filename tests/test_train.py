import copy
import math

import pytest
import torch
from torch_geometric.data import Data

import graphinfo.train
from graphinfo.models import DGI
from graphinfo.sources import FullGraph
from graphinfo.train import (
    History,
    TrainingDivergedError,
    embed,
    embed_graphs,
    fit,
    fit_graphs,
    make_optimizer,
    model_inputs,
)


def _model(data, seed=0):
    torch.manual_seed(seed)
    return DGI(16, in_channels=data.num_features)


def test_fit_returns_history_and_restores_the_best_state(planted):
    model = _model(planted)
    seen = [{k: v.clone() for k, v in model.state_dict().items()}]  # before epoch 0
    history = fit(model, planted, epochs=40, lr=0.01, patience=None,
                  callbacks=[lambda epoch, loss, m: seen.append(
                      {k: v.clone() for k, v in m.state_dict().items()})])
    assert isinstance(history, History)
    assert history.epochs == 40 and len(history.epoch_times) == 40 and len(seen) == 41
    assert history.best_loss == min(history.losses)
    assert history.losses[history.best_epoch] == history.best_loss
    # The best state is the one that produced the lowest loss: before that epoch's step.
    best_state = seen[history.best_epoch]
    assert all(torch.equal(v, best_state[k]) for k, v in model.state_dict().items())


def test_early_stopping_counts_epochs_without_improvement(planted):
    model = DGI(16, in_channels=planted.num_features,
                corruption=lambda x, edge_index: (x.flip(0), edge_index))
    # A deterministic corruption and a learning rate of zero: the loss never improves on epoch 0.
    history = fit(model, planted, epochs=100, lr=0.0, patience=5)
    assert history.stopped_early
    assert history.epochs == 6 and history.best_epoch == 0


@pytest.mark.parametrize("clip", [None, 1e-3])
def test_gradients_are_clipped_to_max_grad_norm(planted, clip):
    model = _model(planted)
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    graphinfo.train.train(model, FullGraph(planted), epochs=1, patience=None,
                          restore_best=False, optimizer=optimizer, max_grad_norm=clip)
    # The final weights: one plain SGD step of the (clipped) gradient.
    step = torch.cat([p.detach().flatten() for p in model.parameters()]) - before
    if clip is None:
        assert step.norm() > 1e-2
    else:
        assert step.norm() <= clip * (1 + 1e-4)


@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf")])
def test_max_grad_norm_must_be_positive(planted, value):
    with pytest.raises(ValueError, match="'max_grad_norm' must be a positive number"):
        fit(_model(planted), planted, epochs=1, max_grad_norm=value)


def test_callback_returning_true_stops(planted):
    history = fit(_model(planted), planted, epochs=50, callbacks=[lambda e, loss, m: e == 2])
    assert history.epochs == 3 and not history.stopped_early


def test_checkpoint_and_resume_continue_the_same_run(planted, tmp_path):
    path = tmp_path / "ckpt.pt"
    full = _model(planted)
    torch.manual_seed(1)
    reference = fit(full, planted, epochs=20, lr=0.01, patience=None)

    part = _model(planted)
    torch.manual_seed(1)
    fit(part, planted, epochs=10, lr=0.01, patience=None, checkpoint=path, checkpoint_every=5)
    assert path.exists()
    resumed_model = _model(planted, seed=123)  # different init: everything must come from disk
    torch.manual_seed(999)  # the corruptions' random stream must come from the checkpoint too
    resumed = fit(resumed_model, planted, epochs=20, lr=0.01, patience=None, checkpoint=path,
                  resume=True)
    assert resumed.resumed_from_epoch == 10 and resumed.epochs == 20
    assert resumed.losses == pytest.approx(reference.losses, rel=1e-4)
    assert list(tmp_path.iterdir()) == [path]  # no temporary files left behind


class _RunsCode:
    """Unpickling this calls ``Path.touch`` on a marker file: code a checkpoint must not run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import pathlib

        return pathlib.Path.touch, (pathlib.Path(self.marker),)


def test_a_checkpoint_that_runs_code_is_refused_and_never_run(planted, tmp_path):
    path, marker = tmp_path / "ckpt.pt", tmp_path / "ran"
    torch.save({"model": {}, "optimizer": {}, "history": {}, "evil": _RunsCode(marker)}, path)
    with pytest.raises(ValueError, match=f"checkpoint {path} could not be read"):
        fit(_model(planted), planted, epochs=2, checkpoint=path, resume=True)
    assert not marker.exists()


def test_a_truncated_or_foreign_checkpoint_names_the_file(planted, tmp_path):
    path = tmp_path / "ckpt.pt"
    fit(_model(planted), planted, epochs=2, patience=None, checkpoint=path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match=f"checkpoint {path} could not be read"):
        fit(_model(planted), planted, epochs=3, checkpoint=path, resume=True)
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="is not a graphinfo checkpoint .*'model'"):
        fit(_model(planted), planted, epochs=3, checkpoint=path, resume=True)


@pytest.mark.parametrize("poisoned_epoch, saved_epochs", [(11, 10), (9, 5)])
def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(
        planted, tmp_path, poisoned_epoch, saved_epochs):
    path = tmp_path / "ckpt.pt"
    model = _model(planted)

    def poison(epoch, loss, m):
        if epoch == poisoned_epoch:
            with torch.no_grad():
                m.discriminator.weight.fill_(float("nan"))

    # Epoch 9 is a checkpoint epoch (every 5): its NaN weights must not replace epoch 4's file.
    with pytest.raises(TrainingDivergedError,
                       match=f"The loss became nan at epoch {poisoned_epoch + 1}"):
        fit(model, planted, epochs=50, lr=0.01, patience=None, callbacks=[poison],
            checkpoint=path, checkpoint_every=5)
    saved = torch.load(path, weights_only=False)
    assert len(saved["history"]["losses"]) == saved_epochs
    assert all(math.isfinite(v) for v in saved["history"]["losses"])
    assert torch.isfinite(saved["model"]["discriminator.weight"]).all()
    # The model was put back in its best (finite) state.
    assert torch.isfinite(model.discriminator.weight).all()


def test_bad_arguments(planted):
    model = _model(planted)
    with pytest.raises(ValueError, match="'epochs' must be >= 1, got 0"):
        fit(model, planted, epochs=0)
    with pytest.raises(ValueError, match="'patience' must be >= 1 or None, got 0"):
        fit(model, planted, patience=0)
    with pytest.raises(ValueError, match="'resume=True' needs a 'checkpoint'"):
        fit(model, planted, resume=True)
    with pytest.raises(ValueError, match="'checkpoint_every' must be >= 1, got 0"):
        fit(model, planted, checkpoint_every=0)


def test_model_inputs_and_embed(planted):
    args, kwargs = model_inputs(planted)
    assert args == (planted.x, planted.edge_index) and kwargs == {}
    z = embed(_model(planted), planted)
    assert z.shape == (planted.num_nodes, 16) and not z.requires_grad


def test_every_callback_runs_even_when_an_earlier_one_stops(planted):
    calls = []
    fit(_model(planted), planted, epochs=5,
        callbacks=[lambda e, loss, m: True, lambda e, loss, m: calls.append(e)])
    assert calls == [0]


class Quadratic(torch.nn.Module):
    """A model whose loss is ``|w - 1|^2`` (it ignores the graph) and a buffer only callbacks
    change: SGD makes the loss fall every epoch until a callback throws ``w`` far away."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(3))
        self.register_buffer("tag", torch.zeros(2))

    def forward(self, x, edge_index):
        return (self.w,)

    def loss(self, w):
        return ((w - 1.0) ** 2).sum()


def test_the_best_state_is_the_weights_before_the_best_epochs_step(tiny_graph):
    model = Quadratic()
    seen = [copy.deepcopy(model.state_dict())]  # before epoch 0

    def callback(epoch, loss, m):
        with torch.no_grad():
            m.tag.fill_(epoch + 1)
            if epoch == 6:
                m.w.fill_(10.0)  # every later loss is worse than epoch 6's
        seen.append(copy.deepcopy(m.state_dict()))

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, tiny_graph, epochs=12, patience=None, optimizer=optimizer,
                  callbacks=[callback], progress=False)
    # Epochs 0-6 each improved (so the best state was overwritten in place six times), then
    # the loss jumped and never came back.
    assert history.best_epoch == 6 and history.losses.index(min(history.losses)) == 6
    assert all(a > b for a, b in zip(history.losses[:7], history.losses[1:7]))
    # The restored state is what produced epoch 6's loss: the weights the callback of epoch 5
    # left (before epoch 6's step), its buffer included; not the last or the initial weights.
    restored = model.state_dict()
    assert restored.keys() == seen[6].keys()
    assert all(torch.equal(v, seen[6][k]) for k, v in restored.items())
    assert float(restored["tag"][0]) == 6.0
    assert history.best_loss == pytest.approx(float(((seen[6]["w"] - 1) ** 2).sum()))
    assert not torch.equal(restored["w"], seen[-1]["w"])
    assert not torch.equal(restored["w"], seen[7]["w"])
    # The model's tensors are its own, not shared with a state kept inside fit.
    with torch.no_grad():
        model.w.add_(1.0)
    assert torch.equal(model.w, seen[6]["w"] + 1.0)


def test_the_initial_weights_are_restored_when_epoch_zero_is_best(tiny_graph):
    model = Quadratic()
    initial = copy.deepcopy(model.state_dict())

    def ruin(epoch, loss, m):
        with torch.no_grad():
            m.w.fill_(-5.0 - epoch)  # worse every epoch
            m.tag.fill_(epoch + 1)

    history = fit(model, tiny_graph, epochs=5, patience=None, lr=0.1, callbacks=[ruin],
                  progress=False)
    assert history.best_epoch == 0 and history.epochs == 5
    assert all(torch.equal(v, initial[k]) for k, v in model.state_dict().items())


def test_make_optimizer_is_fused_adam_on_the_cpu():
    model = DGI(8, in_channels=4)
    optimizer = make_optimizer(model, lr=0.02, weight_decay=1e-4)
    assert type(optimizer) is torch.optim.Adam
    assert optimizer.defaults["fused"] is True
    assert optimizer.defaults["lr"] == 0.02 and optimizer.defaults["weight_decay"] == 1e-4
    params = [p for group in optimizer.param_groups for p in group["params"]]
    assert len(params) == len(list(model.parameters()))
    assert all(a is b for a, b in zip(params, model.parameters()))
    assert make_optimizer(model.double()).defaults["fused"] is True
    # Parameters a fused kernel cannot take get the default implementation.
    meta = make_optimizer(torch.nn.Linear(3, 2, device="meta"))
    assert not meta.defaults["fused"]


def test_fused_adam_takes_the_same_steps_as_the_default_one():
    torch.manual_seed(0)
    fused_model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.PReLU(4))
    plain_model = copy.deepcopy(fused_model)
    initial = [p.detach().clone() for p in fused_model.parameters()]
    fused = make_optimizer(fused_model, lr=0.01, weight_decay=0.1)
    plain = torch.optim.Adam(plain_model.parameters(), lr=0.01, weight_decay=0.1,
                             foreach=False)
    x = torch.randn(20, 5)
    for _ in range(5):
        for model, optimizer in ((fused_model, fused), (plain_model, plain)):
            optimizer.zero_grad()
            model(x).pow(2).mean().backward()
            optimizer.step()
    for a, b, start in zip(fused_model.parameters(), plain_model.parameters(), initial):
        assert torch.allclose(a, b, atol=1e-6)
        assert not torch.allclose(a, start, atol=1e-3)  # they did move


def test_fit_trains_with_make_optimizer(planted, monkeypatch):
    made = []

    def recording(model, lr, weight_decay):
        made.append(make_optimizer(model, lr=lr, weight_decay=weight_decay))
        return made[-1]

    monkeypatch.setattr(graphinfo.train, "make_optimizer", recording)
    model = _model(planted)
    before = copy.deepcopy(model.state_dict())
    fit(model, planted, epochs=3, lr=0.01, weight_decay=1e-3, patience=None)
    assert len(made) == 1 and made[0].defaults["fused"] is True
    assert made[0].defaults["lr"] == 0.01 and made[0].defaults["weight_decay"] == 1e-3
    assert made[0].state  # it took the steps
    assert any(not torch.equal(v, before[k]) for k, v in model.state_dict().items())


# --- mini-batch training over many graphs ----------------------------------------------------

def _graphs(count, seed=0):
    """Cycles and stars (alternating) with nearly constant features: ``y`` tells them apart."""
    from tests.models.small_graphs import cycle_or_star as _graph

    generator = torch.Generator().manual_seed(seed)
    return [_graph("cycle" if i % 2 == 0 else "star",
                   int(torch.randint(5, 10, (1,), generator=generator)), generator)
            for i in range(count)]


def _numbered(count):
    """``count`` two-node graphs whose single feature is the graph's number."""
    return [Data(x=torch.full((2, 1), float(i)), edge_index=torch.tensor([[0, 1], [1, 0]]))
            for i in range(count)]


class GraphQuadratic(torch.nn.Module):
    """Loss ``|w - 1|^2`` whatever the batch; records each batch's graphs (their numbers, read
    from ``x``) and loss."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(3))
        self.batches, self.batch_losses = [], []

    def forward(self, x, edge_index, batch=None):
        return self.w, x, batch

    def loss(self, w, x, batch):
        self.batches.append(x[:, 0].unique().long().tolist())
        loss = ((w - 1.0) ** 2).sum()
        self.batch_losses.append(float(loss.detach()))
        return loss


def test_fit_graphs_infograph_loss_decreases():
    from graphinfo.models import InfoGraph

    torch.manual_seed(0)
    graphs = _graphs(30)
    model = InfoGraph(1, hidden_channels=16, num_layers=2)
    history = fit_graphs(model, graphs, epochs=6, batch_size=10, lr=0.01, seed=0,
                         progress=False)
    assert history.epochs == 6 and len(history.epoch_times) == 6
    assert all(math.isfinite(v) for v in history.losses)
    assert sum(history.losses[-2:]) / 2 < 0.8 * history.losses[0]
    assert history.best_loss == min(history.losses)
    assert history.losses[history.best_epoch] == history.best_loss


def test_fit_graphs_batches_losses_and_final_weights():
    model = GraphQuadratic()
    seen = []

    def callback(epoch, loss, m):
        seen.append(copy.deepcopy(m.state_dict()))
        if epoch == 2:  # the last epoch: the worst weights, which must be kept
            with torch.no_grad():
                m.w.fill_(10.0)

    graphs = _numbered(9)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit_graphs(model, graphs, epochs=3, batch_size=4, shuffle=False,
                         optimizer=optimizer, callbacks=[callback], progress=False)
    # 9 graphs in batches of 4: the trailing single-graph batch is never trained on.
    assert model.batches == [[0, 1, 2, 3], [4, 5, 6, 7]] * 3
    # The epoch's loss is the mean of its batch losses.
    assert history.losses == pytest.approx(
        [sum(model.batch_losses[i:i + 2]) / 2 for i in (0, 2, 4)])
    assert history.losses[1] < history.losses[0]
    # Fixed-epoch training keeps the final weights, not the best ones.
    assert torch.equal(model.w, torch.full((3,), 10.0))
    assert not torch.equal(seen[-1]["w"], model.w)


def test_fit_graphs_keeps_every_batch_that_is_not_a_lone_trailing_graph():
    model = GraphQuadratic()
    fit_graphs(model, _numbered(3), epochs=1, batch_size=1, shuffle=False, progress=False)
    assert model.batches == [[0], [1], [2]]  # batch_size=1: single graphs are all there is
    model = GraphQuadratic()
    fit_graphs(model, _numbered(10), epochs=1, batch_size=4, shuffle=False, progress=False)
    assert model.batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_fit_graphs_infograph_with_a_trailing_single_graph():
    from graphinfo.models import InfoGraph

    torch.manual_seed(0)
    model = InfoGraph(1, hidden_channels=8, num_layers=2)
    # 9 graphs in batches of 4 end with one graph, which InfoGraph cannot contrast (its loss
    # raises on a single graph): training must skip it and still train on the others.
    before = {k: v.clone() for k, v in model.state_dict().items()}
    history = fit_graphs(model, _graphs(9), epochs=2, batch_size=4, seed=0, progress=False)
    assert history.epochs == 2 and all(math.isfinite(v) for v in history.losses)
    assert any(not torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_fit_graphs_shuffle_order_follows_the_seed():
    orders = []
    for global_seed in (0, 1):
        torch.manual_seed(global_seed)  # the private generator must not depend on this
        model = GraphQuadratic()
        fit_graphs(model, _numbered(12), epochs=2, batch_size=4, seed=5, progress=False)
        orders.append(model.batches)
    assert orders[0] == orders[1]
    assert orders[0][:3] != [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]  # it did shuffle
    assert orders[0][:3] != orders[0][3:]  # and reshuffled for the second epoch


def test_fit_graphs_nan_loss_raises_and_resets_to_the_last_complete_epoch():
    model = GraphQuadratic()
    seen = []

    def poison(epoch, loss, m):
        seen.append(copy.deepcopy(m.state_dict()))
        if epoch == 1:
            with torch.no_grad():
                m.w.fill_(float("nan"))

    with pytest.raises(TrainingDivergedError, match="The loss became nan at epoch 2, batch 0"):
        fit_graphs(model, _numbered(6), epochs=5, batch_size=3, lr=0.1, callbacks=[poison],
                   progress=False)
    assert torch.equal(model.w, seen[1]["w"]) and torch.isfinite(model.w).all()


def test_embed_graphs_matches_each_graph_embedded_alone_in_order():
    from graphinfo.models import InfoGraph

    torch.manual_seed(0)
    graphs = _graphs(7)
    model = InfoGraph(1, hidden_channels=8, num_layers=2)
    fit_graphs(model, graphs, epochs=2, batch_size=4, progress=False)  # batch-norm statistics
    z = embed_graphs(model, graphs, batch_size=3)
    alone = torch.cat([model.embed(g.x, g.edge_index, batch=torch.zeros(g.num_nodes,
                                                                        dtype=torch.long))
                       for g in graphs])
    assert z.shape == (7, 16) and z.device.type == "cpu" and not z.requires_grad
    assert torch.allclose(z, alone, atol=1e-5)
    nodes = embed_graphs(model, graphs, batch_size=3, nodes=True)
    assert nodes.shape == (sum(g.num_nodes for g in graphs), 16)
    assert torch.allclose(nodes[: graphs[0].num_nodes].sum(0), z[0], atol=1e-4)
    assert model.training  # the mode is left as it was


def test_embed_graphs_leaves_the_global_random_state_alone():
    from graphinfo.models import InfoGraph

    torch.manual_seed(0)
    model = InfoGraph(1, hidden_channels=8, num_layers=2)
    state = torch.get_rng_state()
    embed_graphs(model, _graphs(7), batch_size=3)
    assert torch.equal(torch.get_rng_state(), state)


def test_fit_graphs_and_embed_graphs_bad_arguments():
    model = GraphQuadratic()
    graphs = _numbered(4)
    with pytest.raises(ValueError, match="'epochs' must be >= 1, got 0"):
        fit_graphs(model, graphs, epochs=0)
    for function in (fit_graphs, embed_graphs):
        with pytest.raises(ValueError, match="'batch_size' must be >= 1, got 0"):
            function(model, graphs, batch_size=0)
        with pytest.raises(ValueError, match="'graphs' is empty"):
            function(model, [])
        with pytest.raises(ValueError, match="must have node features 'x'"):
            function(model, [Data(edge_index=torch.tensor([[0], [1]]), num_nodes=2)])
        with pytest.raises(ValueError, match="'graphs' must be a PyG Dataset or a list"):
            function(model, graphs[0])


# --- the engine's parts ------------------------------------------------------------------------

def test_early_stopping_keeps_the_best_state_in_either_direction():
    from graphinfo.train import EarlyStopping

    model = torch.nn.Linear(2, 1)
    stopper = EarlyStopping(patience=2, min_delta=0.1)
    stopper.start(model)
    assert stopper.update(1.0, 0, model) and stopper.best_epoch == 0
    with torch.no_grad():
        model.weight.add_(1.0)
    kept = model.weight.detach().clone()
    assert stopper.update(0.5, 1, model)
    with torch.no_grad():
        model.weight.add_(1.0)
    assert not stopper.update(0.45, 2, model)      # better, but not by min_delta
    assert not stopper.should_stop
    assert not stopper.update(0.9, 3, model) and stopper.should_stop
    stopper.restore(model)
    assert torch.equal(model.weight, kept) and stopper.best == 0.5
    best = EarlyStopping(patience=None, mode="max")
    assert best.update(0.7, 0, model) and not best.update(0.6, 1, model)
    assert best.best == 0.7 and not best.should_stop
    with pytest.raises(RuntimeError, match="no weights were kept"):
        EarlyStopping(keep_state=False).restore(model)
    with pytest.raises(ValueError, match="'mode' must be 'min' or 'max'"):
        EarlyStopping(mode="up")


def test_graph_batches_resume_equals_an_uninterrupted_run(tmp_path):
    from graphinfo.models import InfoGraph

    graphs = _graphs(21)
    torch.manual_seed(0)
    whole = InfoGraph(1, hidden_channels=8, num_layers=2)
    reference = fit_graphs(whole, graphs, epochs=4, batch_size=5, progress=False)
    path = tmp_path / "graphs.pt"
    torch.manual_seed(0)
    fit_graphs(InfoGraph(1, hidden_channels=8, num_layers=2), graphs, epochs=2, batch_size=5,
               checkpoint=path, progress=False)
    torch.manual_seed(7)   # shuffling and weights must come from the checkpoint
    resumed_model = InfoGraph(1, hidden_channels=8, num_layers=2)
    resumed = fit_graphs(resumed_model, graphs, epochs=4, batch_size=5, checkpoint=path,
                         resume=True, progress=False)
    assert resumed.resumed_from_epoch == 2
    assert resumed.losses == pytest.approx(reference.losses, rel=1e-6)
    assert all(torch.allclose(v, whole.state_dict()[k], atol=1e-6)
               for k, v in resumed_model.state_dict().items() if v.is_floating_point())


def test_node_windows_train_in_the_engine_and_resume(planted, tmp_path):
    from graphinfo.sources import SubgraphWindows
    from graphinfo.train import train

    def run(epochs, seed_model, **kwargs):
        model = _model(planted, seed=seed_model)
        source = SubgraphWindows(planted, size=100, steps=3, seed=4)
        return model, train(model, source, epochs=epochs, lr=0.01, patience=None,
                            progress=False, **kwargs)

    torch.manual_seed(0)
    whole, reference = run(6, 0)
    assert reference.epochs == 6 and reference.losses[-1] < reference.losses[0]
    torch.manual_seed(0)
    run(3, 0, checkpoint=tmp_path / "w.pt")
    torch.manual_seed(5)
    model, resumed = run(6, 9, checkpoint=tmp_path / "w.pt", resume=True)
    assert resumed.losses == pytest.approx(reference.losses, rel=1e-6)


def test_without_a_terminal_progress_is_a_periodic_log_line(planted, monkeypatch, caplog):
    import logging

    monkeypatch.setattr(graphinfo.train, "LOG_INTERVAL", 0.0)
    with caplog.at_level(logging.INFO, logger="graphinfo.train"):
        fit(_model(planted), planted, epochs=3, patience=None, progress=None)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch ")]
    assert lines[0].startswith("epoch 1/3: loss ") and len(lines) == 3


def test_fit_trains_a_heterodata_model_and_leaves_the_data_alone():
    from torch_geometric.data import HeteroData

    class Relations(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(2))

        def training_loss(self, data):
            counts = torch.stack([data[t].edge_index.size(1) * torch.ones(())
                                  for t in data.edge_types])
            return ((self.w * counts - 1.0) ** 2).sum()

    data = HeteroData()
    data["a"].x = torch.ones(3, 1)
    data["a", "r", "a"].edge_index = torch.tensor([[0, 1], [1, 2]])
    data["a", "s", "a"].edge_index = torch.tensor([[0], [2]])
    model = Relations()
    history = fit(model, data, epochs=50, lr=0.05, patience=None, progress=False)
    assert history.losses[-1] < 0.1 * history.losses[0]
    assert torch.allclose(model.w, torch.tensor([0.5, 1.0]), atol=0.1)


def test_resuming_a_finished_run_returns_its_result_without_training(planted, tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.manual_seed(0)
    model = _model(planted)
    first = fit(model, planted, epochs=300, lr=0.01, patience=2, checkpoint=path)
    assert first.stopped_early
    calls = []
    again = _model(planted, seed=7)
    resumed = fit(again, planted, epochs=300, lr=0.01, patience=2, checkpoint=path,
                  resume=True, callbacks=[lambda *args: calls.append(args)])
    assert calls == [] and resumed.stopped_early and resumed.losses == first.losses
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in again.state_dict().items())


def test_a_resume_applies_the_learning_rate_it_asks_for(planted, tmp_path, caplog):
    path = tmp_path / "ckpt.pt"
    fit(_model(planted), planted, epochs=2, lr=0.01, patience=None, checkpoint=path)
    seen = []
    with caplog.at_level("WARNING", logger="graphinfo.train"):
        fit(_model(planted), planted, epochs=4, lr=0.001, patience=None, checkpoint=path,
            resume=True, callbacks=[lambda e, loss, m: seen.append(e)])
    assert seen == [2, 3]
    assert "with lr 0.001 and weight_decay 0 (it was trained with lr 0.01" in caplog.text
    state = torch.load(path, weights_only=True)
    assert state["optimizer"]["param_groups"][0]["lr"] == 0.001
