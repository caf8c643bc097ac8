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


@pytest.mark.parametrize("critic", [BilinearDiscriminator(4), InnerProductDiscriminator(),
                                    CosineDiscriminator(0.5), MLPDiscriminator(4),
                                    make_discriminator("projection", 4)])
def test_pairwise_scores_every_node_against_every_summary(critic):
    summaries = torch.randn(3, 4, generator=torch.Generator().manual_seed(2))
    scores = critic.pairwise(Z, summaries)
    assert scores.shape == (6, 3)
    for b in range(3):
        assert torch.allclose(scores[:, b], critic(Z, summaries[b]), atol=1e-5)
        assert torch.allclose(scores[:, b], critic(Z, summaries[b].expand(6, 4)), atol=1e-5)


def test_the_projection_critic_is_infographs():
    critic = make_discriminator("projection", 4)
    phi, psi = critic.local_projection, critic.global_projection
    assert torch.allclose(critic(Z, S), phi(Z) @ psi(S), atol=1e-6)
    with pytest.raises(ValueError, match="'summary_channels' must equal 'channels'"):
        make_discriminator("projection", 4, 3)


def test_discriminator_kwargs():
    assert make_discriminator("cosine", 4, temperature=0.2).temperature == 0.2
    assert make_discriminator("mlp", 4, hidden_channels=9).hidden_channels == 9
    with pytest.raises(ValueError, match="'discriminator_kwargs'"):
        make_discriminator(BilinearDiscriminator(4), 4, temperature=0.2)


def test_the_dgi_authors_bilinear_critic_has_a_bias_and_their_initialisation():
    torch.manual_seed(0)
    critic = BilinearDiscriminator(512, bias=True, init="bilinear_xavier")
    bilinear = torch.nn.Bilinear(512, 512, 1)
    torch.nn.init.xavier_uniform_(bilinear.weight)
    bound = (6.0 / (512 * 512 + 512)) ** 0.5
    assert critic.weight.abs().max() <= bound and critic.weight.abs().max() > 0.9 * bound
    assert bilinear.weight.abs().max() <= bound         # the same bound as torch's Bilinear
    with torch.no_grad():
        bilinear.weight.copy_(critic.weight.unsqueeze(0))
        critic.bias.fill_(0.3)
        bilinear.bias.fill_(0.3)
    z, s = torch.randn(5, 512), torch.randn(512)
    assert torch.allclose(critic(z, s), bilinear(z, s.expand(5, 512)).squeeze(-1), atol=1e-5)
    assert torch.allclose(critic.pairwise(z, s.unsqueeze(0))[:, 0], critic(z, s), atol=1e-5)
    assert "bias" not in BilinearDiscriminator(4).state_dict()
    with pytest.raises(ValueError, match="'init' must be one of"):
        BilinearDiscriminator(4, init="normal")
