import math

import pytest
import torch

from graphinfo.models import DGI
from graphinfo.train import History, TrainingDivergedError, embed, fit, model_inputs


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
