"""Properties of the mutual-information estimators in :mod:`graphinfo.estimators`."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from graphinfo.estimators import (
    ESTIMATORS,
    MINE,
    dv,
    infonce,
    infonce_shared_negatives,
    jsd,
    nwj,
)

PAIR_ESTIMATORS = {
    "jsd": jsd,
    "dv": dv,
    "nwj": nwj,
    "infonce_shared_negatives": infonce_shared_negatives,
    "mine": lambda *args, **kwargs: MINE()(*args, **kwargs),
}

# ---------------------------------------------------------------------------------------------
# Correlated Gaussians with known mutual information
# ---------------------------------------------------------------------------------------------

DIM = 20


def _rho(mi: float) -> float:
    # MI = -DIM / 2 * log(1 - rho^2) for DIM independent pairs with correlation rho.
    return math.sqrt(1.0 - math.exp(-2.0 * mi / DIM))


def _sample(n: int, rho: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, DIM, generator=gen, dtype=torch.float64)
    noise = torch.randn(n, DIM, generator=gen, dtype=torch.float64)
    return x, rho * x + math.sqrt(1.0 - rho**2) * noise


def _log_ratio(x: torch.Tensor, y: torch.Tensor, rho: float) -> torch.Tensor:
    """Optimal critic log p(x, y) / (p(x) p(y)), row-wise for paired x and y."""
    s = 1.0 - rho**2
    per_dim = -0.5 * math.log(s) - (rho**2 * x**2 - 2 * rho * x * y + rho**2 * y**2) / (2 * s)
    return per_dim.sum(dim=-1)


def _log_ratio_matrix(x: torch.Tensor, y: torch.Tensor, rho: float) -> torch.Tensor:
    """scores[i, j] = log p(x_i, y_j) / (p(x_i) p(y_j))."""
    s = 1.0 - rho**2
    sq = (x**2).sum(1)[:, None] + (y**2).sum(1)[None, :]
    return -0.5 * DIM * math.log(s) - rho**2 / (2 * s) * sq + rho / s * (x @ y.T)


def test_gaussian_critic_helpers_agree():
    gen = torch.Generator().manual_seed(0)
    x, y = _sample(64, 0.5, gen)
    scores = _log_ratio_matrix(x, y, 0.5)
    assert torch.allclose(scores.diagonal(), _log_ratio(x, y, 0.5))
    assert torch.allclose(scores[3, 7], _log_ratio(x[3], y[7], 0.5))
    assert abs(-DIM / 2 * math.log(1 - _rho(1.5) ** 2) - 1.5) < 1e-12


@pytest.mark.parametrize("mi", [0.5, 1.0, 2.0])
def test_dv_and_nwj_recover_known_mi_with_optimal_critic(mi):
    rho = _rho(mi)
    n = 50_000
    gen = torch.Generator().manual_seed(1234)
    x, y = _sample(n, rho, gen)
    # A single n-cycle is a derangement: no sample is paired with its own y.
    perm = torch.randperm(n, generator=gen)
    shuffled = torch.empty_like(perm)
    shuffled[perm] = perm.roll(-1)
    assert bool((shuffled != torch.arange(n)).all())

    pos = _log_ratio(x, y, rho)
    neg = _log_ratio(x, y[shuffled], rho)
    assert abs(dv(pos, neg).item() - mi) < 0.1 * mi
    # NWJ is tight for the critic 1 + log ratio.
    assert abs(nwj(pos + 1, neg + 1).item() - mi) < 0.1 * mi


@pytest.mark.parametrize("mi", [0.5, 1.0, 2.0])
def test_infonce_recovers_known_mi_and_never_exceeds_log_n(mi):
    rho = _rho(mi)
    n = 1024
    gen = torch.Generator().manual_seed(4321)
    estimates = []
    # Every estimate uses one batch of 1024 samples; a single batch has a standard deviation of
    # about 5-8 % of the MI here, so the 10 % tolerance is checked on the mean of 10 independent
    # batches (each of which must respect the log N bound).
    for _ in range(10):
        x, y = _sample(n, rho, gen)
        est = infonce(_log_ratio_matrix(x, y, rho))
        assert est.item() <= math.log(n)
        estimates.append(est.item())
    assert abs(sum(estimates) / len(estimates) - mi) < 0.1 * mi


def test_infonce_saturates_at_log_n():
    n = 1024
    gen = torch.Generator().manual_seed(7)
    for dtype in (torch.float32, torch.float64):
        scores = torch.randn(n, n, generator=gen, dtype=dtype)
        scores.diagonal().add_(1e4)  # a critic that identifies every positive with certainty
        est = infonce(scores)
        assert est <= torch.tensor(math.log(n), dtype=dtype)
        assert est.item() > math.log(n) - 1e-5
    # Optimal critic for 50 nats of MI: the estimate is capped by log N instead.
    x, y = _sample(n, _rho(50.0), gen)
    est = infonce(_log_ratio_matrix(x, y, _rho(50.0)))
    assert math.log(n) - 0.1 < est.item() <= math.log(n)


# ---------------------------------------------------------------------------------------------
# Inequalities
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [0.01, 1.0, 5.0, 20.0, 60.0])
def test_nwj_is_never_above_dv(scale, dtype):
    for seed in range(5):
        gen = torch.Generator().manual_seed(seed)
        pos = scale * torch.randn(37, generator=gen, dtype=dtype)
        neg = scale * torch.randn(53, generator=gen, dtype=dtype) + (seed - 2)
        assert nwj(pos, neg) <= dv(pos, neg)
    # Equality case: E_Q[e^T] = e, where log u = u / e.
    pos = torch.zeros(4, dtype=dtype)
    neg = torch.ones(6, dtype=dtype)
    assert torch.allclose(nwj(pos, neg), dv(pos, neg))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_infonce_never_exceeds_log_k_with_mask(dtype):
    gen = torch.Generator().manual_seed(11)
    for _ in range(10):
        n, m = 50, 80
        mask = torch.rand(n, m, generator=gen) < 0.3
        mask.diagonal().fill_(True)
        scores = torch.randn(n, m, generator=gen, dtype=dtype) * 3
        k_max = int(mask.sum(1).max())
        log_k = torch.log(torch.tensor(float(k_max), dtype=dtype))
        assert infonce(scores, mask) <= log_k
        # Even when every positive is identified with certainty.
        scores.diagonal().add_(1e4)
        est = infonce(scores, mask)
        assert est <= log_k
        expected = torch.log(mask.sum(1).to(dtype)).mean()
        assert torch.allclose(est, expected)
    # All rows with the same number of candidates: the cap is reached, not exceeded.
    mask = torch.zeros(16, 16, dtype=torch.bool)
    for shift in range(5):
        mask |= torch.eye(16, dtype=torch.bool).roll(shift, dims=1)
    scores = torch.zeros(16, 16, dtype=dtype)
    scores.diagonal().fill_(1e4)
    est = infonce(scores, mask)
    assert est <= torch.log(torch.tensor(5.0, dtype=dtype))
    assert est.item() == pytest.approx(math.log(5), abs=1e-6)


def test_infonce_shared_negatives_equals_infonce_on_materialised_matrix():
    gen = torch.Generator().manual_seed(3)
    pos = torch.randn(30, generator=gen, dtype=torch.float64) * 2 + 1
    neg = torch.randn(45, generator=gen, dtype=torch.float64) * 2
    matrix = torch.cat([pos[:, None], neg.expand(30, 45)], dim=1)  # rows [pos_i, neg_1..K]
    # Put each positive on the diagonal of an N x (N + K) matrix whose other columns are
    # masked out except the K shared negatives.
    full = torch.zeros(30, 30 + 45, dtype=torch.float64)
    full[:, :30] = torch.diag(pos)
    full[:, 30:] = neg
    mask = torch.zeros(30, 75, dtype=torch.bool)
    mask.diagonal().fill_(True)
    mask[:, 30:] = True
    expected = infonce(full, mask)
    assert torch.allclose(infonce_shared_negatives(pos, neg), expected)
    # Same value from the row-wise definition [pos_i, neg_1..neg_K].
    rows = torch.logsumexp(matrix, dim=1)
    direct = math.log(1 + 45) + (pos - rows).mean()
    assert torch.allclose(infonce_shared_negatives(pos, neg), direct)
    # Upper bound log(1 + K), reached by a certain critic.
    est = infonce_shared_negatives(pos + 1e4, neg)
    assert est.item() <= math.log(46)
    assert est.item() == pytest.approx(math.log(46), abs=1e-9)


def test_estimators_flatten_any_shape():
    gen = torch.Generator().manual_seed(5)
    pos = torch.randn(4, 5, generator=gen)
    neg = torch.randn(3, 2, 6, generator=gen)
    for fn in (jsd, dv, nwj, infonce_shared_negatives):
        assert fn(pos, neg).dim() == 0
        assert torch.allclose(fn(pos, neg), fn(pos.flatten(), neg.flatten()))


# ---------------------------------------------------------------------------------------------
# Masks
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fill", [float("nan"), 1e30, -1e30, float("inf")])
@pytest.mark.parametrize("name", list(PAIR_ESTIMATORS))
def test_masked_out_entries_change_neither_value_nor_gradient(name, fill):
    fn = PAIR_ESTIMATORS[name]
    gen = torch.Generator().manual_seed(17)
    pos = torch.randn(6, 7, generator=gen)
    neg = torch.randn(40, generator=gen) * 2
    pos_mask = torch.rand(6, 7, generator=gen) < 0.6
    neg_mask = torch.rand(40, generator=gen) < 0.5
    pos_sel = pos[pos_mask].clone().requires_grad_()
    neg_sel = neg[neg_mask].clone().requires_grad_()
    expected = fn(pos_sel, neg_sel)
    expected.backward()

    pos_full = pos.masked_fill(~pos_mask, fill).requires_grad_()
    neg_full = neg.masked_fill(~neg_mask, fill).requires_grad_()
    out = fn(pos_full, neg_full, pos_mask=pos_mask, neg_mask=neg_mask)
    assert torch.isfinite(out)
    assert torch.allclose(out, expected)
    out.backward()
    for full, sel, mask in ((pos_full, pos_sel, pos_mask), (neg_full, neg_sel, neg_mask)):
        assert bool(torch.isfinite(full.grad).all())
        assert bool((full.grad[~mask] == 0).all())
        assert torch.allclose(full.grad[mask], sel.grad)


@pytest.mark.parametrize("fill", [float("nan"), 1e30, -1e30, float("inf")])
def test_infonce_mask_ignores_masked_out_scores(fill):
    gen = torch.Generator().manual_seed(23)
    n, m = 12, 20
    scores = torch.randn(n, m, generator=gen, dtype=torch.float64) * 2
    mask = torch.rand(n, m, generator=gen) < 0.5
    mask.diagonal().fill_(True)
    mask[0] = False
    mask[0, 0] = True  # a row whose only candidate is the positive
    full = scores.masked_fill(~mask, fill).requires_grad_()
    out = infonce(full, mask)

    # Reference: each row on its own candidates only.
    ref_scores = scores.clone().requires_grad_()
    terms = []
    for i in range(n):
        cand = ref_scores[i][mask[i]]
        terms.append(math.log(cand.numel()) + ref_scores[i, i] - torch.logsumexp(cand, 0))
    ref = torch.stack(terms).mean()
    assert torch.allclose(out, ref)
    out.backward()
    ref.backward()
    assert bool(torch.isfinite(full.grad).all())
    assert bool((full.grad[~mask] == 0).all())
    assert torch.allclose(full.grad, ref_scores.grad)


def test_infonce_without_mask_matches_cross_entropy():
    gen = torch.Generator().manual_seed(29)
    scores = torch.randn(10, 15, generator=gen, dtype=torch.float64) * 3
    expected = math.log(15) - F.cross_entropy(scores, torch.arange(10))
    assert torch.allclose(infonce(scores), expected)
    full_mask = torch.ones(10, 15, dtype=torch.bool)
    assert torch.allclose(infonce(scores, full_mask), expected)


# ---------------------------------------------------------------------------------------------
# Numerical stability
# ---------------------------------------------------------------------------------------------


def _extreme(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    signs = torch.randint(0, 2, shape, generator=gen).float() * 2 - 1
    return (1e4 * signs).requires_grad_()


@pytest.mark.parametrize("name", ["jsd", "dv", "infonce_shared_negatives", "mine"])
def test_pair_estimators_finite_at_huge_logits(name):
    fn = PAIR_ESTIMATORS[name]
    for seed in range(3):
        pos, neg = _extreme((25,), seed), _extreme((30,), seed + 100)
        for p, n in ((pos, neg), (pos, (-neg.detach()).requires_grad_()),
                     (torch.full((5,), 1e4, requires_grad=True),
                      torch.full((5,), -1e4, requires_grad=True))):
            out = fn(p, n)
            out.backward()
            assert torch.isfinite(out)
            assert bool(torch.isfinite(p.grad).all()) and bool(torch.isfinite(n.grad).all())


def test_infonce_finite_at_huge_logits():
    for seed in range(3):
        scores = _extreme((20, 30), seed)
        mask = torch.rand(20, 30, generator=torch.Generator().manual_seed(seed)) < 0.5
        mask.diagonal().fill_(True)
        for m in (None, mask):
            out = infonce(scores, m)
            out.backward()
            assert torch.isfinite(out)
            assert bool(torch.isfinite(scores.grad).all())
            scores.grad = None


def test_mine_finite_at_huge_logits_over_batches():
    mine = MINE(momentum=0.1)
    for seed in range(4):
        pos, neg = _extreme((25,), seed), _extreme((30,), seed + 10)
        if seed % 2:
            neg = (neg.detach() - 2e4).requires_grad_()  # a far smaller E_Q[e^T] than before
        out = mine(pos, neg)
        out.backward()
        assert torch.isfinite(out) and bool(torch.isfinite(neg.grad).all())
        assert torch.isfinite(mine.log_ema)
    mine.eval()
    pos, neg = _extreme((25,), 0), _extreme((30,), 10)
    out = mine(pos, neg)
    out.backward()
    assert torch.isfinite(out) and bool(torch.isfinite(neg.grad).all())


# ---------------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------------

_P = torch.randn(5)
_N = torch.randn(7)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: jsd(_P, _N, pos_mask=torch.ones(5)), TypeError,
         r"'pos_mask' must be a boolean tensor \(torch.bool\), got dtype torch.float32"),
        (lambda: dv(_P, _N, neg_mask=torch.ones(5, dtype=torch.uint8)), TypeError,
         r"'neg_mask' must be a boolean tensor \(torch.bool\), got dtype torch.uint8"),
        (lambda: nwj(_P, _N, neg_mask=torch.ones(6, dtype=torch.bool)), ValueError,
         r"'neg_mask' must have the same shape as 'neg' \(7,\), got \(6,\)"),
        (lambda: jsd(_P, _N, pos_mask=torch.ones(1, 5, dtype=torch.bool)), ValueError,
         r"'pos_mask' must have the same shape as 'pos' \(5,\), got \(1, 5\)"),
        (lambda: dv(_P, _N, pos_mask=torch.zeros(5, dtype=torch.bool)), ValueError,
         r"'pos' must contain at least one selected entry, got 0"),
        (lambda: infonce_shared_negatives(_P, _N, neg_mask=torch.zeros(7, dtype=torch.bool)),
         ValueError, r"'neg' must contain at least one selected entry, got 0"),
        (lambda: jsd(torch.empty(0), _N), ValueError,
         r"'pos' must contain at least one selected entry, got 0"),
        (lambda: dv(_P, torch.arange(3)), TypeError,
         r"'neg' must be a floating-point tensor of critic scores, got dtype torch.int64"),
        (lambda: nwj([1.0], _N), TypeError, r"'pos' must be a torch.Tensor .*, got list"),
        (lambda: MINE()(_P, _N, pos_mask=[True] * 5), TypeError,
         r"'pos_mask' must be a boolean torch.Tensor or None, got list"),
        (lambda: infonce(torch.randn(5, 3)), ValueError,
         r"expected M >= N, got shape \(5, 3\)"),
        (lambda: infonce(torch.randn(5)), ValueError,
         r"'scores' must be a 2-D \[N, M\] matrix of critic scores, got shape \(5,\)"),
        (lambda: infonce(torch.randn(0, 3)), ValueError,
         r"'scores' must have at least one row, got shape \(0, 3\)"),
        (lambda: infonce(torch.randn(3, 4), torch.ones(3, 4)), TypeError,
         r"'mask' must be a boolean tensor"),
        (lambda: infonce(torch.randn(3, 4), torch.ones(4, 4, dtype=torch.bool)), ValueError,
         r"'mask' must have the same shape as 'scores' \(3, 4\), got \(4, 4\)"),
        (lambda: infonce(torch.randn(3, 4), ~torch.eye(3, 4, dtype=torch.bool)), ValueError,
         r"'mask' must keep the diagonal .* got 3 row\(s\) with mask\[i, i\] == False"),
        (lambda: MINE(momentum=0.0), ValueError, r"'momentum' must be a number in \(0, 1\], "
                                                 r"got 0.0"),
        (lambda: MINE(momentum=1.5), ValueError, r"got 1.5"),
        (lambda: MINE(momentum=float("nan")), ValueError, r"got nan"),
    ],
)
def test_bad_input_raises_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_infonce_diagonal_mask_error_counts_single_row():
    mask = torch.ones(3, 4, dtype=torch.bool)
    mask[1, 1] = False
    with pytest.raises(ValueError, match=r"got 1 row\(s\) with mask\[i, i\] == False"):
        infonce(torch.randn(3, 4), mask)


# ---------------------------------------------------------------------------------------------
# MINE
# ---------------------------------------------------------------------------------------------


def _batch(seed: int, shift: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    pos = torch.randn(32, generator=gen, dtype=torch.float64) + 1
    neg = torch.randn(48, generator=gen, dtype=torch.float64) + shift
    return pos, neg


def _grads(fn, pos, neg):
    pos, neg = pos.clone().requires_grad_(), neg.clone().requires_grad_()
    out = fn(pos, neg)
    out.backward()
    return out.detach(), pos.grad, neg.grad


def test_mine_value_is_dv_and_gradient_uses_moving_average():
    mine = MINE(momentum=0.2).double()
    assert mine.log_ema.dtype == torch.float64 and mine.ema_initialized.dtype == torch.bool
    for seed in range(3):
        mine(*_batch(seed))
    pos, neg = _batch(10, shift=2.0)  # E_Q[e^T] now about e^2 times the running average
    value, pos_grad, neg_grad = _grads(mine, pos, neg)
    dv_value, dv_pos_grad, dv_neg_grad = _grads(dv, pos, neg)
    assert value == dv_value  # exactly the DV estimate
    assert torch.allclose(pos_grad, dv_pos_grad)
    assert not torch.allclose(neg_grad, dv_neg_grad, rtol=0.1)

    # By hand: gradient of mean(pos) - mean(e^neg) / ema, ema as a constant.
    ema = mine.log_ema.exp().item()
    _, hand_pos_grad, hand_neg_grad = _grads(
        lambda p, n: p.mean() - n.exp().mean() / ema, pos, neg)
    assert torch.allclose(pos_grad, hand_pos_grad)
    assert torch.allclose(neg_grad, hand_neg_grad)
    assert torch.allclose(neg_grad, -neg.exp() / (neg.numel() * ema))


def test_mine_moving_average_update_rule():
    a = 0.3
    mine = MINE(momentum=a).double()
    assert not bool(mine.ema_initialized)
    batches = [_batch(seed, shift=float(seed)) for seed in range(4)]
    ema = None
    for pos, neg in batches:
        mine(pos, neg)
        batch_mean = neg.exp().mean().item()
        ema = batch_mean if ema is None else (1 - a) * ema + a * batch_mean
        assert bool(mine.ema_initialized)
        assert mine.log_ema.item() == pytest.approx(math.log(ema), rel=1e-12)


def test_mine_first_batch_and_unit_momentum_give_dv_gradient():
    pos, neg = _batch(0, shift=1.5)
    _, dv_pos_grad, dv_neg_grad = _grads(dv, pos, neg)
    _, _, neg_grad = _grads(MINE().double(), pos, neg)  # EMA initialised to this batch
    assert torch.allclose(neg_grad, dv_neg_grad)
    mine = MINE(momentum=1.0).double()
    for seed in range(3):
        mine(*_batch(seed, shift=-float(seed)))
    _, _, neg_grad = _grads(mine, pos, neg)
    assert torch.allclose(neg_grad, dv_neg_grad)


def test_mine_eval_mode_uses_but_does_not_update_average():
    mine = MINE(momentum=0.1).double()
    for seed in range(3):
        mine(*_batch(seed))
    mine.eval()
    log_ema = mine.log_ema.clone()
    pos, neg = _batch(5, shift=3.0)
    value, _, neg_grad = _grads(mine, pos, neg)
    assert torch.equal(mine.log_ema, log_ema)
    assert value == dv(pos, neg)
    ema = log_ema.exp().item()
    assert torch.allclose(neg_grad, -neg.exp() / (neg.numel() * ema))

    # Never initialised: eval mode falls back to the batch value (the DV gradient).
    fresh = MINE().double().eval()
    _, _, neg_grad = _grads(fresh, pos, neg)
    assert not bool(fresh.ema_initialized)
    assert torch.allclose(neg_grad, _grads(dv, pos, neg)[2])


def test_mine_reset_parameters_and_state_dict():
    mine = MINE(momentum=0.5).double()
    for seed in range(3):
        mine(*_batch(seed, shift=2.0))
    state = {k: v.clone() for k, v in mine.state_dict().items()}
    assert set(state) == {"log_ema", "ema_initialized"}
    restored = MINE(momentum=0.5).double()
    restored.load_state_dict(state)
    assert torch.equal(restored.log_ema, mine.log_ema) and bool(restored.ema_initialized)

    mine.reset_parameters()
    assert not bool(mine.ema_initialized)
    assert mine.log_ema.item() == 0.0
    pos, neg = _batch(9)
    _, _, neg_grad = _grads(mine, pos, neg)
    assert mine.log_ema.item() == pytest.approx(
        (torch.logsumexp(neg, 0) - math.log(neg.numel())).item())
    assert torch.allclose(neg_grad, _grads(dv, pos, neg)[2])


def test_mine_repr_and_masks():
    assert "momentum=0.05" in repr(MINE(momentum=0.05))
    pos, neg = _batch(1)
    neg_mask = torch.arange(neg.numel()) % 3 != 0
    assert MINE()(pos, neg, neg_mask=neg_mask) == dv(pos, neg[neg_mask])


# ---------------------------------------------------------------------------------------------
# Jensen-Shannon estimator and Deep Graph Infomax
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-6), (torch.float64, 1e-12)])
def test_negative_jsd_is_binary_cross_entropy(dtype, tol):
    gen = torch.Generator().manual_seed(31)
    for scale in (0.1, 1.0, 5.0, 30.0):
        pos = torch.randn(300, generator=gen, dtype=dtype) * scale + 0.5
        neg = torch.randn(200, generator=gen, dtype=dtype) * scale - 0.5
        bce = (F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos))
               + F.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg)))
        assert torch.allclose(-jsd(pos, neg), bce, rtol=tol, atol=tol)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit use inside PyG
def test_negative_jsd_matches_pyg_deep_graph_infomax_loss():
    from torch_geometric.nn import DeepGraphInfomax

    torch.manual_seed(0)
    model = DeepGraphInfomax(
        hidden_channels=16, encoder=torch.nn.Identity(),
        summary=lambda z, *args, **kwargs: torch.sigmoid(z.mean(dim=0)),
        corruption=lambda *args, **kwargs: args).double()
    gen = torch.Generator().manual_seed(1)
    pos_z = torch.randn(50, 16, generator=gen, dtype=torch.float64)
    neg_z = torch.randn(50, 16, generator=gen, dtype=torch.float64)
    summary = torch.sigmoid(pos_z.mean(dim=0))
    pos = model.discriminate(pos_z, summary, sigmoid=False)
    neg = model.discriminate(neg_z, summary, sigmoid=False)
    assert torch.allclose(-jsd(pos, neg), model.loss(pos_z, neg_z, summary), atol=1e-9)


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------


def test_registry_entries_are_pair_form_estimators():
    assert set(ESTIMATORS) == {"jsd", "dv", "nwj", "infonce", "mine"}
    assert ESTIMATORS["infonce"] is infonce_shared_negatives
    assert ESTIMATORS["mine"] is MINE
    pos, neg = _batch(2)
    for name, entry in ESTIMATORS.items():
        estimator = entry() if isinstance(entry, type) else entry
        out = estimator(pos, neg)
        assert out.dim() == 0 and torch.isfinite(out), name
    assert ESTIMATORS["mine"]()(pos, neg) == ESTIMATORS["dv"](pos, neg)


@pytest.mark.parametrize("name", ["jsd", "dv", "nwj", "infonce", "mine"])
def test_pos_weight_is_a_weighted_positive_expectation(name):
    generator = torch.Generator().manual_seed(3)
    pos = torch.randn(6, generator=generator)
    neg = torch.randn(20, generator=generator)
    estimator = ESTIMATORS[name]() if name == "mine" else ESTIMATORS[name]
    plain = estimator(pos, neg)
    # Uniform weights of any scale change nothing.
    assert torch.allclose(estimator(pos, neg, pos_weight=torch.full((6,), 0.3)), plain,
                          atol=1e-6)
    # Integer weights equal repeating each positive that many times; a zero weight drops it.
    counts = torch.tensor([1.0, 3.0, 0.0, 2.0, 1.0, 1.0])
    repeated = pos.repeat_interleave(counts.long())
    expected = estimator(repeated, neg)
    assert torch.allclose(estimator(pos, neg, pos_weight=counts), expected, atol=1e-6)
    assert not torch.allclose(expected, plain, atol=1e-4)


def test_pos_weight_with_mask_uses_the_selected_weights_and_gives_their_gradient():
    pos = torch.tensor([0.5, -1.0, 2.0, float("nan")], requires_grad=True)
    mask = torch.tensor([True, True, True, False])
    weight = torch.tensor([1.0, 2.0, 1.0, float("nan")])
    neg = torch.zeros(3)
    value = jsd(pos, neg, pos_mask=mask, pos_weight=torch.where(mask, weight, 0.0))
    expected = (F.logsigmoid(pos[:3]) * weight[:3]).sum() / 4 + F.logsigmoid(-neg).mean()
    assert torch.allclose(value, expected)
    # Masked-out weights are never read, even NaN ones.
    assert torch.allclose(jsd(pos, neg, pos_mask=mask, pos_weight=weight), expected)
    value.backward()
    assert pos.grad[3] == 0 and torch.isfinite(pos.grad).all()


@pytest.mark.parametrize("weight, error, match", [
    (torch.ones(3, dtype=torch.long), TypeError, "floating-point"),
    ([1.0, 1.0, 1.0], TypeError, "torch.Tensor"),
    (torch.ones(4), ValueError, "same shape"),
    (torch.tensor([1.0, -1.0, 1.0]), ValueError, "non-negative"),
    (torch.tensor([1.0, float("inf"), 1.0]), ValueError, "finite"),
    (torch.zeros(3), ValueError, "positive total"),
])
def test_bad_pos_weight_gets_a_clear_error(weight, error, match):
    with pytest.raises(error, match=match):
        dv(torch.zeros(3), torch.zeros(2), pos_weight=weight)
