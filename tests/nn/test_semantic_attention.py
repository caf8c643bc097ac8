"""HAN's semantic attention: one softmax weight per metapath, shared by all nodes."""
import pytest
import torch

from graphinfo.nn import SemanticAttention


def test_semantic_attention_is_one_softmax_weight_per_metapath():
    torch.manual_seed(0)
    attention = SemanticAttention(6, 4)
    stacked = torch.randn(3, 10, 6)
    beta = attention.weights(stacked)
    assert beta.shape == (3,) and (beta > 0).all()
    assert float(beta.detach().sum()) == pytest.approx(1.0)
    mixed = attention(stacked)
    assert torch.allclose(mixed, (beta.view(3, 1, 1) * stacked).sum(0))
    # shuffling the nodes changes no metapath's weight (it is a mean over nodes)
    assert torch.allclose(attention.weights(stacked[:, torch.randperm(10)]), beta, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(P, N, F\)"):
        attention(torch.randn(10, 6))
