import pytest
import torch
import torch_geometric.utils
from torch_geometric.data import Data
from torch_geometric.utils import add_self_loops, coalesce, to_dense_adj

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


def _dense(index, weight, n):
    return to_dense_adj(index, edge_attr=weight, max_num_nodes=n)[0]


@pytest.mark.parametrize("sparsification, k", [("topk", 300), ("topk", 12), ("threshold", 0)])
def test_approximate_view_equals_the_exact_one_up_to_the_tolerance(planted, sparsification, k):
    pytest.importorskip("numba")
    settings = dict(alpha=0.15, sparsification=sparsification, k=max(k, 1), eps=2e-3)
    exact = DiffusionView(**settings)(planted)
    approximate = DiffusionView(exact=False, tolerance=1e-8, **settings)(planted)
    a = _dense(exact.diffusion_edge_index, exact.diffusion_edge_weight, 300)
    b = _dense(approximate.diffusion_edge_index, approximate.diffusion_edge_weight, 300)
    assert torch.allclose(a, b, atol=2e-5)
    assert torch.equal(a > 0, b > 0)              # the same entries are kept
    if sparsification == "topk" and k < 300:
        assert torch.bincount(approximate.diffusion_edge_index[1], minlength=300).eq(k).all()
    assert torch.allclose(b.sum(0), torch.ones(300))      # columns normalised


def test_approximate_ppr_rows_are_ppr_vectors_within_the_tolerance():
    pytest.importorskip("numba")
    from graphinfo.transforms.ppr import approximate_ppr

    generator = torch.Generator().manual_seed(0)
    n = 50
    edge_index = torch.randint(0, n, (2, 200), generator=generator)
    edge_index = coalesce(torch.cat([edge_index, edge_index.flip(0)], 1), num_nodes=n)
    weight = torch.rand(edge_index.size(1), generator=generator) + 0.5
    a = torch.zeros(n, n, dtype=torch.float64)
    a[edge_index[0], edge_index[1]] = weight.double()
    degree = a.sum(1)
    alpha, eps = 0.2, 1e-3
    exact = alpha * torch.linalg.inv(torch.eye(n, dtype=torch.float64)
                                     - (1 - alpha) * a / degree[:, None])
    index, value = approximate_ppr(edge_index, n, alpha=alpha, eps=eps, edge_weight=weight,
                                   normalization="row", top_k=n)
    got = torch.zeros(n, n, dtype=torch.float64)
    got[index[0], index[1]] = value.double()
    error = exact - got
    assert (error >= -1e-6).all()                                  # pushes never overshoot
    assert (error <= eps * degree[None, :] + 1e-6).all()           # Andersen et al.'s bound
    assert error.abs().max() > 1e-6                                # and it is approximate
    # sym = D^1/2 Pi D^-1/2, sorted by source then by decreasing value; sources= picks rows.
    index, value = approximate_ppr(edge_index, n, alpha=alpha, eps=1e-8, edge_weight=weight,
                                   top_k=4, sources=torch.tensor([7, 3]))
    sym = degree.sqrt()[:, None] * exact / degree.sqrt()[None, :]
    assert index[0].tolist() == [7] * 4 + [3] * 4
    for row, cols in ((7, index[1, :4]), (3, index[1, 4:])):
        assert cols.tolist() == sym[row].topk(4).indices.tolist()
    assert torch.allclose(value[:4].double(), sym[7].topk(4).values, atol=1e-6)
    assert (value[:4].diff() <= 0).all()


def test_approximate_ppr_rejects_bad_arguments():
    from graphinfo.transforms.ppr import approximate_ppr

    edge_index = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="give 'top_k', 'threshold' or both"):
        approximate_ppr(edge_index, 2, top_k=None)
    with pytest.raises(ValueError, match="outside \\[0, 2\\)"):
        approximate_ppr(torch.tensor([[0, 2], [1, 0]]), 2)
    with pytest.raises(ValueError, match="'edge_weight' must hold 2 finite non-negative"):
        approximate_ppr(edge_index, 2, edge_weight=torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="'normalization' must be 'row' or 'sym'"):
        approximate_ppr(edge_index, 2, normalization="col")
    with pytest.raises(ValueError, match="'tolerance' must be > 0"):
        DiffusionView(tolerance=0.0)


def test_approximate_ppr_checks_its_sources_and_takes_none():
    pytest.importorskip("numba")
    from graphinfo.transforms.ppr import approximate_ppr

    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    with pytest.raises(ValueError, match="'sources' holds nodes outside \\[0, 3\\)"):
        approximate_ppr(edge_index, 3, sources=torch.tensor([3]))
    index, value = approximate_ppr(edge_index, 3, sources=torch.tensor([], dtype=torch.long))
    assert index.shape == (2, 0) and value.shape == (0,)


@pytest.mark.parametrize("method", ["ppr", "heat"])
def test_per_graph_diffusion_is_the_whole_batchs_dense_diffusion(method):
    from torch_geometric.data import Batch, Data
    from torch_geometric.utils import erdos_renyi_graph, to_undirected

    from graphinfo.transforms import per_graph_diffusion

    torch.manual_seed(0)
    sizes = (5, 9, 1, 7)
    batch = Batch.from_data_list([
        Data(edge_index=to_undirected(erdos_renyi_graph(n, 0.4)), num_nodes=n) for n in sizes])
    index, weight = per_graph_diffusion(batch.edge_index, batch.batch, method=method)
    assert index.size(1) == sum(n * n for n in sizes)             # every within-graph pair
    assert bool((batch.batch[index[0]] == batch.batch[index[1]]).all())   # never across
    whole = DiffusionView(method, sparsification=None, normalization_out=None)(
        Data(edge_index=batch.edge_index, num_nodes=batch.num_nodes))
    n = batch.num_nodes
    expected = torch.zeros(n, n)
    expected[whole.diffusion_edge_index[0], whole.diffusion_edge_index[1]] = \
        whole.diffusion_edge_weight
    got = torch.zeros(n, n)
    got[index[0], index[1]] = weight
    assert torch.allclose(got, expected, atol=1e-5)
    if method == "ppr":                    # hand formula on the first graph
        first = Data(edge_index=batch.get_example(0).edge_index, num_nodes=5)
        assert torch.allclose(got[:5, :5], _exact_ppr(first, 0.2), atol=1e-5)


def test_per_graph_diffusion_checks_its_arguments():
    from graphinfo.transforms import per_graph_diffusion

    edge_index = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="'method'"):
        per_graph_diffusion(edge_index, method="katz")
    with pytest.raises(ValueError, match="'alpha'"):
        per_graph_diffusion(edge_index, alpha=1.5)
    with pytest.raises(ValueError, match="sorted"):
        per_graph_diffusion(edge_index, torch.tensor([1, 0]))
    index, weight = per_graph_diffusion(edge_index)         # one graph, read off the edges
    assert index.size(1) == 4 and torch.allclose(weight.view(2, 2), weight.view(2, 2).t())


def test_degree_matched_scaling_is_the_authors_citeseer_step():
    from sklearn.preprocessing import MinMaxScaler

    from graphinfo.transforms import DegreeMatchedScaling, DiffusionView

    generator = torch.Generator().manual_seed(0)
    n = 40
    edge_index = torch.randint(0, n, (2, 120), generator=generator)
    edge_index = torch_geometric.utils.to_undirected(
        torch_geometric.utils.remove_self_loops(edge_index)[0], num_nodes=n)
    data = Data(edge_index=edge_index, num_nodes=n)
    dense_view = DiffusionView(sparsification=None, normalization_out=None)
    plain = dense_view(data)
    diff = torch.zeros(n, n, dtype=torch.float64)
    diff[plain.diffusion_edge_index[1], plain.diffusion_edge_index[0]] = \
        plain.diffusion_edge_weight.double()
    # The authors' code (node/train.py, CiteSeer), on the dense matrix.
    adj = torch.zeros(n, n)
    adj[edge_index[0], edge_index[1]] = 1.0
    average = float(adj.sum()) / n
    epsilons = [1e-5, 1e-4, 1e-3, 1e-2]
    gaps = [abs(average - float((diff >= e).sum()) / n) for e in epsilons]
    epsilon = epsilons[gaps.index(min(gaps))]
    expected = diff.clone().numpy()
    expected[expected < epsilon] = 0.0
    expected = MinMaxScaler().fit(expected).transform(expected)
    transform = DegreeMatchedScaling(dense_view)
    assert transform.threshold(plain.diffusion_edge_weight, n, edge_index.size(1)) == epsilon
    out = transform(data)
    got = torch.zeros(n, n, dtype=torch.float64)
    got[out.diffusion_edge_index[1], out.diffusion_edge_index[0]] = \
        out.diffusion_edge_weight.double()
    # Messages from node j carry column j of the authors' matrix (its rows are targets).
    assert torch.allclose(got, torch.from_numpy(expected), atol=1e-5)
    assert torch.equal(out.edge_index, edge_index)
    with pytest.raises(ValueError, match="dense exact diffusion"):
        DegreeMatchedScaling(DiffusionView())
