r"""Lower bounds on mutual information, as pure functions of critic logits.

Every estimator takes the scores (logits) of a critic :math:`T` and returns a 0-dim tensor: the
estimate in nats, *higher is better*, so a training loss is its negative.  Scores of samples from
the joint distribution :math:`P = p(x, y)` are called *positive* (``pos``) and scores of samples
from the product of marginals :math:`Q = p(x)\,p(y)` *negative* (``neg``).

=================================  ==========================================================
Estimator                          Estimate
=================================  ==========================================================
:func:`jsd`                        :math:`\mathbb{E}_P[-\operatorname{sp}(-T)]
                                   - \mathbb{E}_Q[\operatorname{sp}(T)]` (Deep InfoMax / DGI)
:func:`dv`                         :math:`\mathbb{E}_P[T] - \log \mathbb{E}_Q[e^T]`
                                   (Donsker--Varadhan, MINE)
:func:`nwj`                        :math:`\mathbb{E}_P[T] - e^{-1}\,\mathbb{E}_Q[e^T]`
                                   (Nguyen--Wainwright--Jordan, MINE-f)
:func:`infonce`                    :math:`\frac{1}{N}\sum_i \log \frac{K_i\, e^{T_{ii}}}
                                   {\sum_j e^{T_{ij}}}` (InfoNCE / CPC)
:func:`infonce_shared_negatives`   InfoNCE where all positives share one pool of negatives
:class:`MINE`                      DV value with the bias-corrected (moving-average) gradient
=================================  ==========================================================

Here :math:`\operatorname{sp}(t) = \log(1 + e^t)` is the softplus.  All estimators are computed
with numerically stable primitives (:func:`torch.nn.functional.logsigmoid`,
:func:`torch.logsumexp`, :func:`torch.logaddexp`), so they stay finite for logits of any
magnitude (except :func:`nwj`, whose value :math:`e^{-1}\,\mathbb{E}_Q[e^T]` genuinely overflows
for huge negative scores).

The pair-form estimators accept scores of any shape (they are flattened) and optional boolean
masks ``pos_mask`` / ``neg_mask`` of the same shape that select the entries to use; entries that
are masked out never reach the computation, so they may hold anything (even NaN or inf) and
receive a zero gradient.

:data:`ESTIMATORS` maps names to pair-form callables ``estimator(pos, neg) -> Tensor`` for the
models (each also takes ``pos_weight=``, weights of the positive pairs); ``'mine'`` maps to
the :class:`MINE` class, whose instances are such callables (it is
stateful, so each model must create its own instance with ``MINE()``).

References:
    - R. D. Hjelm et al., *Learning deep representations by mutual information estimation and
      maximization*, ICLR 2019. https://arxiv.org/abs/1808.06670
    - P. Veličković et al., *Deep Graph Infomax*, ICLR 2019. https://arxiv.org/abs/1809.10341
    - M. I. Belghazi et al., *Mutual Information Neural Estimation*, ICML 2018.
      https://arxiv.org/abs/1801.04062
    - X. Nguyen, M. J. Wainwright, M. I. Jordan, *Estimating divergence functionals and the
      likelihood ratio by convex risk minimization*, IEEE Trans. Inf. Theory 2010.
      https://arxiv.org/abs/0809.0853
    - S. Nowozin, B. Cseke, R. Tomioka, *f-GAN: Training generative neural samplers using
      variational divergence minimization*, NeurIPS 2016. https://arxiv.org/abs/1606.00709
    - A. van den Oord, Y. Li, O. Vinyals, *Representation learning with contrastive predictive
      coding*, 2018. https://arxiv.org/abs/1807.03748
    - B. Poole et al., *On variational bounds of mutual information*, ICML 2019.
      https://arxiv.org/abs/1905.06922
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "jsd",
    "dv",
    "nwj",
    "infonce",
    "infonce_shared_negatives",
    "MINE",
    "ESTIMATORS",
]


def _check_scores(x: Any, name: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"'{name}' must be a torch.Tensor of critic scores, got "
                        f"{type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"'{name}' must be a floating-point tensor of critic scores, got dtype "
                        f"{x.dtype}")


def _check_mask(mask: Any, x: Tensor, name: str, mask_name: str) -> None:
    if not isinstance(mask, Tensor):
        raise TypeError(f"'{mask_name}' must be a boolean torch.Tensor or None, got "
                        f"{type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"'{mask_name}' must be a boolean tensor (torch.bool), got dtype "
                        f"{mask.dtype}")
    if mask.shape != x.shape:
        raise ValueError(f"'{mask_name}' must have the same shape as '{name}' "
                         f"{tuple(x.shape)}, got {tuple(mask.shape)}")


def _select(x: Any, mask: Tensor | None, name: str, mask_name: str) -> Tensor:
    """Validates ``x`` (and ``mask``) and returns the selected entries as a 1-D tensor."""
    _check_scores(x, name)
    if mask is None:
        out = x.reshape(-1)
    else:
        _check_mask(mask, x, name, mask_name)
        out = x[mask]
    if out.numel() == 0:
        raise ValueError(f"'{name}' must contain at least one selected entry, got 0")
    return out


def _log_mean_exp(x: Tensor) -> Tensor:
    r""":math:`\log \frac{1}{n}\sum_i e^{x_i}` of a 1-D tensor, computed stably."""
    return torch.logsumexp(x, dim=0) - math.log(x.numel())


def _positive_mean(values: Tensor, pos: Tensor, pos_mask: Tensor | None,
                   pos_weight: Tensor | None) -> Tensor:
    r"""Mean of ``values`` (one per selected positive), or with ``pos_weight`` the weighted mean
    :math:`\sum_k w_k v_k / \sum_k w_k`: the expectation under the joint distribution that
    gives positive :math:`k` probability proportional to :math:`w_k`."""
    if pos_weight is None:
        return values.mean()
    if not isinstance(pos_weight, Tensor) or not pos_weight.is_floating_point():
        raise TypeError("'pos_weight' must be a floating-point torch.Tensor or None, got "
                        + (f"dtype {pos_weight.dtype}" if isinstance(pos_weight, Tensor)
                           else type(pos_weight).__name__))
    if pos_weight.shape != pos.shape:
        raise ValueError(f"'pos_weight' must have the same shape as 'pos' {tuple(pos.shape)}, "
                         f"got {tuple(pos_weight.shape)}")
    weight = pos_weight.reshape(-1) if pos_mask is None else pos_weight[pos_mask]
    if not bool(torch.isfinite(weight).all()) or bool((weight < 0).any()):
        raise ValueError("'pos_weight' must hold finite, non-negative weights")
    total = weight.sum()
    if not bool(total > 0):
        raise ValueError("'pos_weight' must give a positive total weight to the selected "
                         "positives, got 0")
    return (weight * values).sum() / total


def jsd(pos: Tensor, neg: Tensor, pos_mask: Tensor | None = None,
        neg_mask: Tensor | None = None, *,
        pos_weight: Tensor | None = None) -> Tensor:
    r"""Jensen--Shannon mutual information estimator of Deep InfoMax.

    From Hjelm et al., *Learning deep representations by mutual information estimation and
    maximization* (ICLR 2019, eq. 4, https://arxiv.org/abs/1808.06670):

    .. math::
        \hat{I}_{\mathrm{JSD}}(T) = \mathbb{E}_P\left[-\operatorname{sp}(-T)\right]
        - \mathbb{E}_Q\left[\operatorname{sp}(T)\right],
        \qquad \operatorname{sp}(t) = \log(1 + e^t).

    Adding :math:`\log 4` gives the f-GAN variational lower bound on
    :math:`2\,\mathrm{JS}(P \,\|\, Q)` (Nowozin et al., 2016,
    https://arxiv.org/abs/1606.00709); the constant does not change gradients and is therefore
    left out.  The estimate is a bound on the Jensen--Shannon divergence rather than on the KL
    mutual information, but it is monotonically related to it and gives stable gradients.

    Its negative is exactly the binary cross-entropy loss of Deep Graph Infomax (positives
    labelled 1, negatives labelled 0, each term averaged separately), i.e. DGI's loss is
    ``-jsd(pos, neg)``:

    .. math::
        -\hat{I}_{\mathrm{JSD}} = \mathbb{E}_P\left[-\log \sigma(T)\right]
        + \mathbb{E}_Q\left[-\log(1 - \sigma(T))\right].

    Args:
        pos (Tensor): Critic scores (logits) of positive (joint) pairs, any shape.
        neg (Tensor): Critic scores (logits) of negative (product-of-marginals) pairs, any shape.
        pos_mask (Tensor, optional): Boolean mask of ``pos``'s shape selecting the positives to
            use. (default: :obj:`None`, all)
        neg_mask (Tensor, optional): Boolean mask of ``neg``'s shape selecting the negatives to
            use. (default: :obj:`None`, all)
        pos_weight (Tensor, optional): Non-negative weights of ``pos``'s shape: the positive
            expectation becomes the weighted mean over the selected positives (a joint
            distribution that samples pairs unevenly, e.g. GMI's neighbour weights).
            (default: :obj:`None`, uniform)

    Returns:
        Tensor: 0-dim tensor, the estimate (higher is better; at most 0).

    Raises:
        TypeError: If an input is not a floating tensor or a mask is not boolean.
        ValueError: If a mask has the wrong shape or selects no entry, or ``pos_weight`` has
            the wrong shape, a negative or non-finite entry, or a zero total.
    """
    p = _select(pos, pos_mask, "pos", "pos_mask")
    n = _select(neg, neg_mask, "neg", "neg_mask")
    # -sp(-t) = log sigmoid(t) and -sp(t) = log sigmoid(-t); F.logsigmoid is exact for all t
    # (F.softplus switches to the identity above a threshold).
    return _positive_mean(F.logsigmoid(p), pos, pos_mask, pos_weight) + F.logsigmoid(-n).mean()


def dv(pos: Tensor, neg: Tensor, pos_mask: Tensor | None = None,
       neg_mask: Tensor | None = None, *,
       pos_weight: Tensor | None = None) -> Tensor:
    r"""Donsker--Varadhan lower bound on the mutual information.

    .. math::
        \hat{I}_{\mathrm{DV}}(T) = \mathbb{E}_P[T] - \log \mathbb{E}_Q\left[e^T\right],

    computed as ``mean(pos) - (logsumexp(neg) - log n_neg)``.  The bound is tight for
    :math:`T = \log \frac{p(x, y)}{p(x)\,p(y)} + c` for any constant :math:`c`.  This is the
    objective of MINE (Belghazi et al., *Mutual Information Neural Estimation*, ICML 2018,
    https://arxiv.org/abs/1801.04062), based on the representation of Donsker & Varadhan
    (*Asymptotic evaluation of certain Markov process expectations for large time IV*, Comm.
    Pure Appl. Math. 1983).  Its mini-batch gradient is biased; :class:`MINE` corrects it.

    Args:
        pos (Tensor): Critic scores (logits) of positive (joint) pairs, any shape.
        neg (Tensor): Critic scores (logits) of negative (product-of-marginals) pairs, any shape.
        pos_mask (Tensor, optional): Boolean mask of ``pos``'s shape selecting the positives to
            use. (default: :obj:`None`, all)
        neg_mask (Tensor, optional): Boolean mask of ``neg``'s shape selecting the negatives to
            use. (default: :obj:`None`, all)
        pos_weight (Tensor, optional): Non-negative weights of ``pos``'s shape: the positive
            expectation becomes the weighted mean over the selected positives (a joint
            distribution that samples pairs unevenly, e.g. GMI's neighbour weights).
            (default: :obj:`None`, uniform)

    Returns:
        Tensor: 0-dim tensor, the estimate in nats (higher is better).

    Raises:
        TypeError: If an input is not a floating tensor or a mask is not boolean.
        ValueError: If a mask has the wrong shape or selects no entry, or ``pos_weight`` has
            the wrong shape, a negative or non-finite entry, or a zero total.
    """
    p = _select(pos, pos_mask, "pos", "pos_mask")
    n = _select(neg, neg_mask, "neg", "neg_mask")
    return _positive_mean(p, pos, pos_mask, pos_weight) - _log_mean_exp(n)


def nwj(pos: Tensor, neg: Tensor, pos_mask: Tensor | None = None,
        neg_mask: Tensor | None = None, *,
        pos_weight: Tensor | None = None) -> Tensor:
    r"""Nguyen--Wainwright--Jordan lower bound on the mutual information.

    .. math::
        \hat{I}_{\mathrm{NWJ}}(T) = \mathbb{E}_P[T] - e^{-1}\,\mathbb{E}_Q\left[e^T\right],

    computed stably as ``mean(pos) - exp(logsumexp(neg) - log n_neg - 1)``.  This is the f-GAN
    KL bound (Nguyen, Wainwright & Jordan, IEEE Trans. Inf. Theory 2010,
    https://arxiv.org/abs/0809.0853), called MINE-f by Belghazi et al. (2018) and
    :math:`I_{\mathrm{NWJ}}` by Poole et al., *On variational bounds of mutual information*
    (ICML 2019, https://arxiv.org/abs/1905.06922).  It is tight only for the critic
    :math:`T = 1 + \log \frac{p(x, y)}{p(x)\,p(y)}`, but its mini-batch gradient is unbiased.

    Since :math:`\log u \le u / e` for all :math:`u > 0`, ``nwj(pos, neg) <= dv(pos, neg)``
    always.  The value overflows to ``-inf`` for very large negative scores.

    Args:
        pos (Tensor): Critic scores (logits) of positive (joint) pairs, any shape.
        neg (Tensor): Critic scores (logits) of negative (product-of-marginals) pairs, any shape.
        pos_mask (Tensor, optional): Boolean mask of ``pos``'s shape selecting the positives to
            use. (default: :obj:`None`, all)
        neg_mask (Tensor, optional): Boolean mask of ``neg``'s shape selecting the negatives to
            use. (default: :obj:`None`, all)
        pos_weight (Tensor, optional): Non-negative weights of ``pos``'s shape: the positive
            expectation becomes the weighted mean over the selected positives (a joint
            distribution that samples pairs unevenly, e.g. GMI's neighbour weights).
            (default: :obj:`None`, uniform)

    Returns:
        Tensor: 0-dim tensor, the estimate in nats (higher is better).

    Raises:
        TypeError: If an input is not a floating tensor or a mask is not boolean.
        ValueError: If a mask has the wrong shape or selects no entry, or ``pos_weight`` has
            the wrong shape, a negative or non-finite entry, or a zero total.
    """
    p = _select(pos, pos_mask, "pos", "pos_mask")
    n = _select(neg, neg_mask, "neg", "neg_mask")
    return _positive_mean(p, pos, pos_mask, pos_weight) - torch.exp(_log_mean_exp(n) - 1.0)


def infonce(scores: Tensor, mask: Tensor | None = None) -> Tensor:
    r"""InfoNCE lower bound on the mutual information from a matrix of critic scores.

    ``scores[i, j]`` is :math:`T(x_i, y_j)` for an :math:`N \times M` matrix (:math:`M \ge N`)
    whose diagonal ``scores[i, i]`` holds the positive pairs; every other entry of row
    :math:`i` is a negative candidate for :math:`x_i`:

    .. math::
        \hat{I}_{\mathrm{NCE}}(T) = \frac{1}{N} \sum_{i=1}^{N}
        \left[\log K_i + T_{ii} - \log \sum_{j \in C_i} e^{T_{ij}}\right],

    where :math:`C_i` is the set of candidates of row :math:`i` (all :math:`M` columns without a
    mask) and :math:`K_i = |C_i|`.  From van den Oord et al., *Representation learning with
    contrastive predictive coding* (2018, https://arxiv.org/abs/1807.03748); see also Poole et
    al., *On variational bounds of mutual information* (ICML 2019,
    https://arxiv.org/abs/1905.06922).  The estimate never exceeds :math:`\log \max_i K_i`
    (this also holds in floating point), so it saturates for large mutual information.

    Args:
        scores (Tensor): ``[N, M]`` critic scores (logits) with ``M >= N``, positives on the
            diagonal.
        mask (Tensor, optional): Boolean ``[N, M]`` mask; ``mask[i, j] = False`` excludes
            column ``j`` from the candidates of row ``i`` (its score is ignored and gets a zero
            gradient).  The diagonal must be ``True``. (default: :obj:`None`, all candidates)

    Returns:
        Tensor: 0-dim tensor, the estimate in nats (higher is better).

    Raises:
        TypeError: If ``scores`` is not a floating tensor or ``mask`` is not boolean.
        ValueError: If ``scores`` is not 2-D with ``1 <= N <= M``, or ``mask`` has the wrong
            shape or excludes a diagonal entry.
    """
    _check_scores(scores, "scores")
    if scores.dim() != 2:
        raise ValueError(f"'scores' must be a 2-D [N, M] matrix of critic scores, got shape "
                         f"{tuple(scores.shape)}")
    num_rows, num_cols = scores.shape
    if num_rows == 0:
        raise ValueError(f"'scores' must have at least one row, got shape {tuple(scores.shape)}")
    if num_cols < num_rows:
        raise ValueError(f"'scores' must have at least as many columns (candidates) as rows "
                         f"(positives on the diagonal), expected M >= N, got shape "
                         f"{tuple(scores.shape)}")
    diag = scores.diagonal()
    if mask is None:
        lse = torch.logsumexp(scores, dim=1)
        log_k = math.log(num_cols)
        # diag - lse <= 0 holds exactly in floating point, hence so does its mean.
        return log_k + (diag - lse).mean()

    _check_mask(mask, scores, "scores", "mask")
    missing = int((~mask.diagonal()).sum())
    if missing > 0:
        raise ValueError(f"'mask' must keep the diagonal (positive) entries as candidates, got "
                         f"{missing} row(s) with mask[i, i] == False")
    lse = torch.logsumexp(scores.masked_fill(~mask, float("-inf")), dim=1)
    log_k = torch.log(mask.sum(dim=1).to(scores.dtype))
    # Clamping the (constant) mean of log K_i keeps the bound exact under rounding.
    log_k_mean = torch.minimum(log_k.mean(), log_k.max())
    return log_k_mean + (diag - lse).mean()


def infonce_shared_negatives(pos: Tensor, neg: Tensor, pos_mask: Tensor | None = None,
                             neg_mask: Tensor | None = None, *,
                             pos_weight: Tensor | None = None) -> Tensor:
    r"""InfoNCE when every positive competes with one shared pool of negatives.

    This is the setting of Deep Graph Infomax, where each node's score against the graph
    summary competes with the scores of all corrupted nodes.  It equals :func:`infonce` on the
    :math:`N \times (1 + K)` matrix whose row :math:`i` is
    :math:`[T^+_i, T^-_1, \dots, T^-_K]`, computed in :math:`O(N + K)` without building it:

    .. math::
        \hat{I}_{\mathrm{NCE}} = \log(1 + K) + \frac{1}{N} \sum_{i=1}^{N}
        \left[T^+_i - \log\left(e^{T^+_i} + \sum_{k=1}^{K} e^{T^-_k}\right)\right].

    See van den Oord et al. (2018, https://arxiv.org/abs/1807.03748) and Poole et al. (2019,
    https://arxiv.org/abs/1905.06922).  The estimate never exceeds :math:`\log(1 + K)`.

    Args:
        pos (Tensor): Critic scores (logits) of the :math:`N` positive pairs, any shape.
        neg (Tensor): Critic scores (logits) of the :math:`K` shared negatives, any shape.
        pos_mask (Tensor, optional): Boolean mask of ``pos``'s shape selecting the positives to
            use. (default: :obj:`None`, all)
        neg_mask (Tensor, optional): Boolean mask of ``neg``'s shape selecting the negatives to
            use. (default: :obj:`None`, all)
        pos_weight (Tensor, optional): Non-negative weights of ``pos``'s shape: the positive
            expectation becomes the weighted mean over the selected positives (a joint
            distribution that samples pairs unevenly, e.g. GMI's neighbour weights).
            (default: :obj:`None`, uniform)

    Returns:
        Tensor: 0-dim tensor, the estimate in nats (higher is better).

    Raises:
        TypeError: If an input is not a floating tensor or a mask is not boolean.
        ValueError: If a mask has the wrong shape or selects no entry, or ``pos_weight`` has
            the wrong shape, a negative or non-finite entry, or a zero total.
    """
    p = _select(pos, pos_mask, "pos", "pos_mask")
    n = _select(neg, neg_mask, "neg", "neg_mask")
    lse_neg = torch.logsumexp(n, dim=0)
    # logaddexp(p, .) >= p exactly, so every term and their mean are <= 0.
    terms = p - torch.logaddexp(p, lse_neg)
    return math.log(1 + n.numel()) + _positive_mean(terms, pos, pos_mask, pos_weight)


class MINE(torch.nn.Module):
    r"""Donsker--Varadhan estimator with the bias-corrected gradient of MINE.

    From Belghazi et al., *Mutual Information Neural Estimation* (ICML 2018, section 3.2,
    "Correcting the bias from the stochastic gradients", https://arxiv.org/abs/1801.04062).
    The mini-batch gradient of :func:`dv`,

    .. math::
        \nabla \hat{I}_{\mathrm{DV}} = \mathbb{E}_B[\nabla T]
        - \frac{\mathbb{E}_B[e^T \nabla T]}{\mathbb{E}_B[e^T]},

    is biased because the denominator is estimated from the same batch :math:`B`.  MINE replaces
    it by an exponential moving average :math:`m` of :math:`\mathbb{E}_B[e^T]` over batches,

    .. math::
        m \leftarrow (1 - \alpha)\, m + \alpha\, \mathbb{E}_B\left[e^T\right],

    i.e. it follows the gradient of the surrogate
    :math:`\mathbb{E}_B[T^+] - \mathbb{E}_B[e^{T^-}] / m` (with :math:`m` treated as a
    constant).  The returned tensor has the *value* of :func:`dv` (the estimate to report) and the
    *gradient* of that surrogate.

    The moving average is kept in log-space (buffer ``log_ema``) so it is stable for logits of
    any magnitude; the first batch seen in training mode initialises it (buffer
    ``ema_initialized``), and in training mode it is updated with the current batch *before* it
    is used (so the ratio :math:`\mathbb{E}_B[e^T] / m` is at most :math:`1 / \alpha`).  In
    evaluation mode the average is used but not updated; if it was never initialised, the batch
    value is used (the gradient then equals that of :func:`dv`).

    An instance is a pair-form estimator ``mine(pos, neg) -> Tensor``; it is stateful, so use one
    instance per model.

    Args:
        momentum (float, optional): The rate :math:`\alpha \in (0, 1]` of the moving average;
            :math:`\alpha = 1` uses the current batch only (the gradient of :func:`dv`).
            (default: :obj:`0.01`)
    """

    log_ema: Tensor
    ema_initialized: Tensor

    def __init__(self, momentum: float = 0.01) -> None:
        super().__init__()
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not (
                0.0 < momentum <= 1.0):
            raise ValueError(f"'momentum' must be a number in (0, 1], got {momentum!r}")
        self.momentum = float(momentum)
        self.register_buffer("log_ema", torch.zeros(()))
        self.register_buffer("ema_initialized", torch.tensor(False))

    def reset_parameters(self) -> None:
        r"""Forgets the moving average; the next training batch initialises it again."""
        self.log_ema.zero_()
        self.ema_initialized.fill_(False)

    def forward(self, pos: Tensor, neg: Tensor, pos_mask: Tensor | None = None,
                neg_mask: Tensor | None = None, *,
                pos_weight: Tensor | None = None) -> Tensor:
        r"""Returns the DV estimate with the moving-average corrected gradient.

        Args:
            pos (Tensor): Critic scores (logits) of positive (joint) pairs, any shape.
            neg (Tensor): Critic scores (logits) of negative (product-of-marginals) pairs,
                any shape.
            pos_mask (Tensor, optional): Boolean mask of ``pos``'s shape selecting the
                positives to use. (default: :obj:`None`, all)
            neg_mask (Tensor, optional): Boolean mask of ``neg``'s shape selecting the
                negatives to use. (default: :obj:`None`, all)
            pos_weight (Tensor, optional): Non-negative weights of ``pos``'s shape for a
                weighted positive expectation, as in :func:`dv`. (default: :obj:`None`)

        Returns:
            Tensor: 0-dim tensor whose value equals ``dv(pos, neg)`` (nats, higher is better)
            and whose gradient is that of
            :math:`\mathbb{E}_B[T^+] - \mathbb{E}_B[e^{T^-}] / m`.

        Raises:
            TypeError: If an input is not a floating tensor or a mask is not boolean.
            ValueError: If a mask has the wrong shape or selects no entry, or ``pos_weight``
                is malformed.
        """
        p = _select(pos, pos_mask, "pos", "pos_mask")
        n = _select(neg, neg_mask, "neg", "neg_mask")
        pos_mean = _positive_mean(p, pos, pos_mask, pos_weight)
        log_mean = _log_mean_exp(n)
        value = pos_mean - log_mean

        batch = log_mean.detach()
        initialized = bool(self.ema_initialized)
        if self.training:
            with torch.no_grad():
                if not initialized or self.momentum == 1.0:
                    new = batch
                else:
                    old = self.log_ema.to(batch.dtype)
                    new = torch.logaddexp(old + math.log1p(-self.momentum),
                                          batch + math.log(self.momentum))
                self.log_ema.copy_(new)
                self.ema_initialized.fill_(True)
            log_ema = self.log_ema.detach().clone().to(batch.dtype)
        elif initialized:
            log_ema = self.log_ema.detach().clone().to(batch.dtype)
        else:
            log_ema = batch

        surrogate = pos_mean - torch.exp(log_mean - log_ema)
        # Value of the DV bound (exactly), gradient of the surrogate.
        return value.detach() + (surrogate - surrogate.detach())

    def extra_repr(self) -> str:
        return f"momentum={self.momentum}"


ESTIMATORS: dict[str, Callable[..., Any]] = {
    "jsd": jsd,
    "dv": dv,
    "nwj": nwj,
    "infonce": infonce_shared_negatives,
    "mine": MINE,
}
r"""Names mapped to pair-form estimators ``estimator(pos, neg, pos_mask=None, neg_mask=None)``.

``'infonce'`` is :func:`infonce_shared_negatives` (every positive against the shared pool of
negatives).  ``'mine'`` is the :class:`MINE` *class*: ``ESTIMATORS['mine']()`` creates a fresh,
stateful instance, which is then called as ``mine(pos, neg)``; the other entries are plain
functions and are called directly.
"""
