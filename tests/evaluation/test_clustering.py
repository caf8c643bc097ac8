import torch

from graphinfo.evaluation import clustering, evaluate


def test_separated_clusters_are_recovered_and_noise_is_not():
    generator = torch.Generator().manual_seed(0)
    y = torch.arange(4).repeat_interleave(50)
    z = torch.randn(200, 6, generator=generator) * 0.1 + 5 * torch.eye(4, 6)[y]
    result = clustering(z, y)
    assert result["nmi"] > 0.99 and result["ari"] > 0.99
    noise = clustering(torch.randn(200, 6, generator=generator), y)
    assert noise["nmi"] < 0.1 and noise["ari"] < 0.1
    assert evaluate(z, y, protocol="clustering") == result
