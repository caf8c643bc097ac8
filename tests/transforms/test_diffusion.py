import pytest
import torch
from torch_geometric.utils import add_self_loops, to_dense_adj

from graphinfo.transforms import DiffusionView


def _exact_ppr(data, alpha):
    """alpha (I - (1 - alpha) T)^-1 with T the symmetric normalisation of A + I, by hand."""
    n = data.num_nodes
    edge_index, _ = add_self_loops(data.edge_index, num_nodes=n)
    a = to_dense_adj(edge_index, max_num_nodes=n)[0]
    d = a.sum(0).pow(-0.5)
    t = d[:, None] * a * d[None, :]
    return alpha * torch.linalg.inv(torch.eye(n) - (1 - alpha) * t)


def test_ppr_view_is_the_dense_diffusion_sparsified_beside_the_graph(tiny_graph):
    out = DiffusionView(alpha=0.2, k=6)(tiny_graph)      # k = all nodes: nothing dropped
    assert torch.equal(out.edge_index, tiny_graph.edge_index) and out.x is tiny_graph.x
    assert "diffusion_edge_index" not in tiny_graph       # the input is not changed
    s = _exact_ppr(tiny_graph, 0.2)
    s = s / s.sum(0, keepdim=True)                         # GDC's column normalisation
    dense = to_dense_adj(out.diffusion_edge_index, edge_attr=out.diffusion_edge_weight,
                         max_num_nodes=6)[0]
    # dense[i, j] is the edge i -> j, so entry (i, j) of the column-normalised diffusion.
    assert torch.allclose(dense, s, atol=1e-5)
    assert not torch.allclose(dense, s.t(), atol=1e-3)   # the orientation is checked


def test_topk_keeps_k_entries_per_node_and_heat_and_names_work(planted):
    out = DiffusionView(method="heat", t=3.0, k=10, name="heat")(planted)
    assert out.heat_edge_index.size(1) == 10 * planted.num_nodes
    assert torch.bincount(out.heat_edge_index[1], minlength=300).eq(10).all()
    assert out.heat_edge_weight.dtype == torch.float32 and (out.heat_edge_weight > 0).all()
    thresholded = DiffusionView(sparsification="threshold", eps=1e-3)(planted)
    assert (thresholded.diffusion_edge_weight > 0).all()


def test_bad_settings_and_the_approximate_path():
    with pytest.raises(ValueError, match="'method' must be 'ppr' or 'heat'"):
        DiffusionView(method="katz")
    with pytest.raises(ValueError, match="'alpha' must be in"):
        DiffusionView(alpha=1.5)
    with pytest.raises(ValueError, match="'name' must be a Python identifier"):
        DiffusionView(name="a b")
    with pytest.raises(ValueError, match="exact=False\\) is PPR only"):
        DiffusionView(method="heat", exact=False)
