import pytest
import torch

from graphinfo.nn import (
    BilinearDiscriminator,
    CosineDiscriminator,
    InnerProductDiscriminator,
    MLPDiscriminator,
    make_discriminator,
)

Z = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
S = torch.randn(4, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("critic", [BilinearDiscriminator(4), InnerProductDiscriminator(),
                                    CosineDiscriminator(0.5), MLPDiscriminator(4)])
def test_shared_summary_equals_expanded_summary(critic):
    shared = critic(Z, S)
    assert shared.shape == (6,)
    assert torch.allclose(shared, critic(Z, S.expand(6, 4)), atol=1e-6)


def test_bilinear_is_h_w_s():
    critic = BilinearDiscriminator(4)
    expected = torch.stack([Z[i] @ critic.weight @ S for i in range(6)])
    assert torch.allclose(critic(Z, S), expected, atol=1e-6)
    rows = torch.randn(6, 4)
    expected = torch.stack([Z[i] @ critic.weight @ rows[i] for i in range(6)])
    assert torch.allclose(critic(Z, rows), expected, atol=1e-6)


def test_cosine_is_bounded_by_inverse_temperature():
    scores = CosineDiscriminator(0.25)(Z * 100, S)
    assert scores.abs().max() <= 4.0 + 1e-5
    assert torch.allclose(CosineDiscriminator(1.0)(S.expand(2, 4), S), torch.ones(2))


def test_summary_shape_errors():
    with pytest.raises(ValueError, match=r"'summary' must have shape \[F\] or \[N=6, F\]"):
        BilinearDiscriminator(4)(Z, torch.randn(5, 4))
    with pytest.raises(ValueError, match="'temperature' must be > 0"):
        CosineDiscriminator(0.0)


def test_make_discriminator():
    assert isinstance(make_discriminator("bilinear", 4), BilinearDiscriminator)
    assert isinstance(make_discriminator("inner-product", 4), InnerProductDiscriminator)
    with pytest.raises(ValueError, match="Unknown discriminator 'dot'"):
        make_discriminator("dot", 4)
