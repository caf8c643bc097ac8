import pytest
import torch
import torch.nn.functional as F

from graphinfo.nn import GCNEncoder, PReLU, prelu
from graphinfo.nn.activations import make_activation


def _input(shape, dtype=torch.float32, seed=0):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    x[0] = 0.0                 # a whole row of exact zeros ...
    x[1:, 0] = 0.0             # ... and a column of them
    x.view(-1)[5::7] = -0.0    # negative zeros too
    return x


def _values_and_grads(fn, x, weight, upstream):
    x = x.clone().requires_grad_()
    weight = weight.clone().requires_grad_()
    out = fn(x, weight)
    (out * upstream).sum().backward()
    return out.detach(), x.grad, weight.grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("weight", [
    torch.tensor([0.25]),                          # one shared slope
    torch.tensor([0.25, -0.5, 0.0, 1.5, -2.0]),    # per channel, negative and zero slopes
])
def test_prelu_values_and_gradients_equal_torch(weight, dtype):
    x, weight = _input((9, 5), dtype), weight.to(dtype)
    upstream = torch.randn(9, 5, generator=torch.Generator().manual_seed(1), dtype=dtype)
    ours = _values_and_grads(prelu, x, weight, upstream)
    reference = _values_and_grads(F.prelu, x, weight, upstream)
    assert ours[2].shape == weight.shape
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    for a, b, name in zip(ours, reference, ["value", "grad x", "grad weight"]):
        assert torch.allclose(a, b, atol=tol, rtol=tol), name
    # At x == 0 the input derivative is the slope a (torch's convention), not 1.
    grad_x = ours[1]
    slopes = weight.expand(5)
    assert torch.allclose(grad_x[0], upstream[0] * slopes)
    assert torch.allclose(grad_x[1:, 0], upstream[1:, 0] * slopes[0])


def test_prelu_takes_the_custom_backward_only_for_node_feature_matrices():
    weight = torch.full((4,), 0.25, requires_grad=True)
    out = prelu(torch.randn(3, 4), weight)
    assert type(out.grad_fn).__name__ == "_PReLUFunctionBackward"
    with torch.no_grad():
        assert prelu(torch.randn(3, 4), weight).grad_fn is None
    # Other inputs take torch's kernel, with torch's results.
    x3 = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(0))
    shared = torch.full((1,), -0.5, requires_grad=True)
    for x, w in [(x3, weight), (x3, shared), (x3[0, :, 0], shared), (x3[0, 0], shared)]:
        x = x.clone().requires_grad_()
        out = prelu(x, w)
        assert type(out.grad_fn).__name__ != "_PReLUFunctionBackward"
        assert torch.equal(out, F.prelu(x, w))
    with pytest.raises(RuntimeError, match="Type promoting not supported"):  # as torch does
        prelu(torch.randn(3, 4, dtype=torch.float64), weight)


def test_non_2d_inputs_get_torchs_gradients():
    x = _input((2, 4, 3)).requires_grad_()
    weight = torch.tensor([0.1, -0.3, 0.5, 2.0], requires_grad=True)
    upstream = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(1))
    ours = _values_and_grads(prelu, x.detach(), weight.detach(), upstream)
    reference = _values_and_grads(F.prelu, x.detach(), weight.detach(), upstream)
    for a, b in zip(ours, reference):
        assert torch.equal(a, b)


@pytest.mark.parametrize("needs", ["x", "weight"])
def test_prelu_gradient_of_only_one_input(needs):
    x, weight = _input((6, 3)), torch.tensor([0.2, -0.7, 1.1])
    upstream = torch.randn(6, 3, generator=torch.Generator().manual_seed(2))
    expected = _values_and_grads(F.prelu, x, weight, upstream)
    x.requires_grad_(needs == "x")
    weight.requires_grad_(needs == "weight")
    (prelu(x, weight) * upstream).sum().backward()
    if needs == "x":
        assert weight.grad is None and torch.allclose(x.grad, expected[1])
    else:
        assert x.grad is None and torch.allclose(weight.grad, expected[2])


@pytest.mark.parametrize("channels", [1, 4])
def test_prelu_gradcheck_in_float64(channels):
    x = torch.randn(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    x = torch.where(x.abs() < 1e-3, torch.full_like(x, 0.5), x)  # away from the kink
    x.requires_grad_()
    weight = torch.linspace(-0.5, 0.75, channels, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(prelu, (x, weight))


def test_prelu_module_is_torchs_module_with_the_same_state():
    ours, reference = PReLU(8), torch.nn.PReLU(8)
    assert isinstance(ours, torch.nn.PReLU)
    assert list(ours.state_dict()) == list(reference.state_dict()) == ["weight"]
    reference.weight.data.uniform_(-1, 1)
    ours.load_state_dict(reference.state_dict())
    x = _input((6, 8)).requires_grad_()
    out, expected = ours(x), reference(x)
    assert torch.allclose(out, expected)
    grads = torch.autograd.grad(out.sum(), [x, ours.weight])
    expected_grads = torch.autograd.grad(expected.sum(), [x, reference.weight])
    for a, b in zip(grads, expected_grads):
        assert torch.allclose(a, b, atol=1e-6)
    assert ours.num_parameters == 8 and "num_parameters=8" in repr(ours)
    # The encoders' 'prelu' is this module, one slope per channel.
    assert isinstance(make_activation("prelu", 5), PReLU)
    assert make_activation("prelu", 5).weight.shape == (5,)
    assert isinstance(GCNEncoder(3, 6).acts[0], PReLU)


def test_gradients_of_gradients_match_torch():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(6, 4, dtype=torch.float64, generator=generator, requires_grad=True)
    for slope in (0.25, -0.5):
        weight = torch.full((4,), slope, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradgradcheck(prelu, (x, weight))
        ours = torch.autograd.grad(prelu(x, weight).pow(2).sum(), (x, weight), create_graph=True)
        theirs = torch.autograd.grad(F.prelu(x, weight).pow(2).sum(), (x, weight),
                                     create_graph=True)
        penalty = sum(g.pow(2).sum() for g in ours)
        expected = sum(g.pow(2).sum() for g in theirs)
        assert torch.allclose(penalty, expected)
        assert torch.allclose(torch.autograd.grad(penalty, weight)[0],
                              torch.autograd.grad(expected, weight)[0])
