import copy
import math

import pytest
import torch

import graphinfo.train
from graphinfo.models import DGI
from graphinfo.train import (
    History,
    TrainingDivergedError,
    embed,
    fit,
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
