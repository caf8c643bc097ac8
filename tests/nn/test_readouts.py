import pytest
import torch

from graphinfo.nn import (
    AttentionReadout,
    MaxReadout,
    MeanReadout,
    SigmoidMeanReadout,
    SumReadout,
    make_readout,
)

Z = torch.randn(7, 5, generator=torch.Generator().manual_seed(0))
BATCH = torch.tensor([0, 0, 0, 1, 1, 2, 2])


def test_global_readouts():
    assert torch.allclose(SigmoidMeanReadout()(Z), torch.sigmoid(Z.mean(0)))
    assert torch.allclose(MeanReadout()(Z), Z.mean(0))
    assert torch.allclose(SumReadout()(Z), Z.sum(0))
    assert torch.allclose(MaxReadout()(Z), Z.max(0).values)


@pytest.mark.parametrize("readout", [SigmoidMeanReadout(), MeanReadout(), SumReadout(),
                                     MaxReadout(), AttentionReadout(5)])
def test_per_graph_summary_equals_each_graph_alone(readout):
    per_graph = readout(Z, batch=BATCH)
    assert per_graph.shape == (3, 5)
    for g in range(3):
        assert torch.allclose(per_graph[g], readout(Z[BATCH == g]), atol=1e-6)


def test_readouts_ignore_pyg_style_extra_arguments():
    x, edge_index = torch.randn(7, 3), torch.tensor([[0], [1]])
    assert torch.allclose(SigmoidMeanReadout()(Z, x, edge_index), torch.sigmoid(Z.mean(0)))


def test_attention_weights_sum_to_one():
    constant = torch.ones(4, 5) * 3.0
    assert torch.allclose(AttentionReadout(5)(constant), torch.full((5,), 3.0))


def test_make_readout():
    assert isinstance(make_readout("sigmoid_mean", 5), SigmoidMeanReadout)
    assert isinstance(make_readout("attention", 5), AttentionReadout)

    def fn(z, *args, **kwargs):
        return z.mean(0)

    assert make_readout(fn, 5) is fn
    with pytest.raises(ValueError, match="Unknown summary 'median'"):
        make_readout("median", 5)


@pytest.mark.parametrize("readout, aggregation", [
    (MeanReadout(), "MeanAggregation"), (SumReadout(), "SumAggregation"),
    (MaxReadout(), "MaxAggregation")])
def test_readouts_pool_through_pygs_aggregations(readout, aggregation):
    import torch_geometric.nn.aggr as aggr

    assert type(readout.aggr).__name__ == aggregation
    reference = getattr(aggr, aggregation)()
    assert torch.allclose(readout(Z, batch=BATCH), reference(Z, BATCH))
    # One graph: the dense reduction gives the aggregation's value.
    assert torch.allclose(readout(Z), reference(Z)[0], atol=1e-6)


def test_summary_kwargs_configure_named_readouts_only():
    with pytest.raises(ValueError, match=r"'summary_kwargs' \['x'\] configure a summary built"):
        make_readout(lambda z, *args: z.mean(0), 5, x=1)
