r"""Activations of the encoders, and a PReLU whose backward pass is cheap on the CPU.

:math:`\mathrm{PReLU}(x) = \max(0, x) + a \min(0, x)` with one learnable slope :math:`a_c` per
channel (He et al., ICCV 2015, `arXiv:1502.01852 <https://arxiv.org/abs/1502.01852>`_):

.. math::
    \frac{\partial \mathcal{L}}{\partial x_{nc}} = g_{nc}\,(\mathbb{1}[x_{nc} > 0] +
    a_c\,\mathbb{1}[x_{nc} \le 0]), \qquad
    \frac{\partial \mathcal{L}}{\partial a_c} = \sum_n g_{nc} \min(0, x_{nc}).

PyTorch's fused backward kernel for this is several times slower on the CPU than the few
vectorised passes below (measured on a 170k x 256 matrix: 400 ms against 120 ms), and the
encoder's activation is on the hot path of every epoch.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from graphinfo.resolver import check_part_kwargs, registered_name, resolve


class _PReLUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor) -> Tensor:
        out = F.prelu(x, weight)
        # With positive slopes the output has the input's sign and x = out / a where x <= 0, so
        # the backward pass needs only the output (which the next layer keeps anyway) and the
        # input can be freed: one activation-sized tensor less per layer and view. (On the CPU
        # only: elsewhere checking the slopes would make the host wait for the device.)
        ctx.from_output = x.device.type == "cpu" and bool((weight > 0).all())
        ctx.save_for_backward(out if ctx.from_output else x, weight)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        saved, weight = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: the same formulas, differentiably
            is_positive = saved > 0
            grad_x = torch.where(is_positive, grad, grad * weight)
            grad_weight = torch.where(is_positive, 0.0, grad * saved).sum(0)
            if weight.numel() == 1:
                grad_weight = grad_weight.sum().reshape(weight.shape)
            if ctx.from_output:
                grad_weight = grad_weight / weight
            return grad_x, grad_weight
        positive = torch.ops.aten.threshold_backward(grad, saved, 0)  # grad where x > 0, else 0
        negative = grad - positive                                      # grad where x <= 0
        # Both are fresh tensors, so the remaining passes can work in place.
        grad_x = positive.addcmul_(negative, weight) if ctx.needs_input_grad[0] else None
        grad_weight = None
        if ctx.needs_input_grad[1]:
            negative.mul_(saved)
            grad_weight = negative.new_ones(saved.size(0)) @ negative
            if weight.numel() == 1:
                grad_weight = grad_weight.sum().reshape(weight.shape)
            if ctx.from_output:  # sum of grad * a * x: divide the slope back out
                grad_weight = grad_weight / weight
        return grad_x, grad_weight


def prelu(x: Tensor, weight: Tensor) -> Tensor:
    """:func:`torch.nn.functional.prelu` with the cheaper backward pass for node-feature matrices
    :math:`(N, C)` (slopes of size :math:`C` or 1); other inputs take PyTorch's kernel.

    Gradients of gradients (``create_graph=True``) take a plain differentiable formula. On the
    CPU with positive slopes the output is kept for the backward pass rather than the input, so
    modifying the output in place before ``backward`` is an error; use
    :func:`torch.nn.functional.prelu` (or ``activation=torch.nn.PReLU(C)`` in an encoder) if you
    need that."""
    if x.dim() == 2 and weight.dim() == 1 and weight.numel() in (1, x.size(1)) \
            and x.dtype == weight.dtype and torch.is_grad_enabled() \
            and (x.requires_grad or weight.requires_grad):
        return _PReLUFunction.apply(x, weight)
    return F.prelu(x, weight)


class PReLU(torch.nn.PReLU):
    """:class:`torch.nn.PReLU` (same parameter and ``state_dict``) computed with :func:`prelu`."""

    def forward(self, input: Tensor) -> Tensor:
        return prelu(input, self.weight)


ACTIVATIONS: dict[str, Callable[..., torch.nn.Module]] = {
    "prelu": lambda channels, num_parameters=None, **kwargs: PReLU(
        channels if num_parameters is None else num_parameters, **kwargs),
    "relu": lambda channels, **kwargs: torch.nn.ReLU(**kwargs),
    "elu": lambda channels, **kwargs: torch.nn.ELU(**kwargs),
    "identity": lambda channels: torch.nn.Identity(),
}


def make_activation(activation: str | torch.nn.Module | None, channels: int,
                    **kwargs: Any) -> torch.nn.Module:
    """Resolves an activation name (``'prelu'`` with one slope per channel, or
    ``num_parameters=1`` for one shared slope as the DGI authors' code has, ``'relu'``,
    ``'elu'``, ``'identity'``; any other name through PyG's activation resolver, e.g.
    ``'gelu'``, ``'leaky_relu'``, ``'tanh'``) with ``kwargs``, or returns the given module;
    ``None`` means identity."""
    if activation is None:
        return torch.nn.Identity()
    check_part_kwargs("act", activation, kwargs)
    if not isinstance(activation, str) or registered_name(activation, ACTIVATIONS) is not None:
        return resolve("activation", activation, ACTIVATIONS, channels=channels, **kwargs)
    from torch_geometric.nn.resolver import activation_resolver

    try:
        module = activation_resolver(activation, **kwargs)
    except ValueError:
        module = None
    if not isinstance(module, torch.nn.Module):   # unknown, or a bare function
        choices = ", ".join(repr(name) for name in ACTIVATIONS)
        raise ValueError(f"Unknown activation {activation!r}; expected one of: {choices}, or "
                         f"a torch.nn activation module that PyG resolves by name ('gelu', "
                         f"'leaky_relu', 'tanh' ...)")
    return module
