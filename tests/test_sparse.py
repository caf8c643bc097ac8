import pytest
import torch
from torch_geometric.nn import GCNConv

from graphinfo import sparse
from graphinfo.sparse import (
    DENSE_OPERATOR_MIN_DENSITY,
    SPARSE_FEATURES_BACKWARD_MAX_DENSITY,
    SPARSE_FEATURES_MAX_DENSITY,
    DenseOperator,
    SparseOperator,
    feature_operator,
    gcn_adjacency,
    gcn_operator,
    propagation_operator,
)


def _directed_graph():
    generator = torch.Generator().manual_seed(0)
    edge_index = torch.randint(0, 30, (2, 120), generator=generator)
    weight = torch.rand(120, generator=generator)
    return torch.randn(30, 5, generator=generator), edge_index, weight


def test_adjacency_matches_pyg_gcn_aggregation_on_a_directed_weighted_graph():
    x, edge_index, weight = _directed_graph()
    conv = GCNConv(5, 4, bias=False)
    conv_plain = GCNConv(5, 4, bias=False, normalize=False)
    conv_plain.load_state_dict(conv.state_dict())
    for improved in (False, True):
        conv.improved = improved
        adj_t = gcn_adjacency(edge_index, 30, weight, improved=improved)
        assert adj_t.layout == torch.sparse_csr
        assert torch.allclose(conv_plain(x, adj_t), conv(x, edge_index, weight), atol=1e-5)


# -- SparseOperator ------------------------------------------------------------------------------

# A directed weighted graph on 10 nodes: (0, 1) and (5, 6) appear twice, rows 4, 8 and 9 are
# empty (4 has only an in-edge, 8 and 9 are isolated), column 5 is empty.
ROW = torch.tensor([0, 0, 1, 2, 2, 2, 3, 5, 5, 6, 7, 0, 3])
COL = torch.tensor([1, 1, 0, 3, 0, 2, 7, 6, 6, 4, 0, 4, 3])
N = 10


def _operator(dtype=torch.float32):
    val = torch.rand(ROW.numel(), generator=torch.Generator().manual_seed(1), dtype=dtype) + 0.5
    dense = torch.zeros(N, N, dtype=dtype).index_put_((ROW, COL), val, accumulate=True)
    return SparseOperator.from_coo(ROW, COL, val, (N, N)), dense


def _dense_input(rows, cols, dtype, seed=2):
    return torch.randn(rows, cols, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _product_and_grad(apply, dense, upstream):
    """``apply(dense)`` and the gradient of ``<apply(dense), upstream>`` with respect to dense."""
    dense = dense.clone().requires_grad_()
    out = apply(dense)
    (out * upstream).sum().backward()
    return out.detach(), dense.grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_operator_products_and_gradients_match_the_dense_matrix(dtype):
    op, matrix = _operator(dtype)
    assert op.shape == (N, N) and op.nnz == ROW.numel()  # duplicates are kept, not merged
    assert torch.equal(op.to_torch().to_dense(), matrix)
    dense = _dense_input(N, 3, dtype)
    upstream = _dense_input(N, 3, dtype, seed=3)
    tol = {"atol": 1e-6, "rtol": 1e-5} if dtype == torch.float32 else {"atol": 1e-12}
    out, grad = _product_and_grad(op.matmul, dense, upstream)
    expected, expected_grad = _product_and_grad(lambda d: matrix @ d, dense, upstream)
    assert out.dtype == dtype
    assert torch.allclose(out, expected, **tol)
    assert torch.allclose(grad, expected_grad, **tol)
    assert torch.equal((op @ dense), out)  # the operator form is matmul
    # Empty rows give zero rows; the gradient of a never-read node (empty column) is zero.
    assert torch.equal(out[[4, 8, 9]], torch.zeros(3, 3, dtype=dtype))
    assert torch.equal(grad[[5, 8, 9]], torch.zeros(3, 3, dtype=dtype))
    # Without gradient the product is the same.
    with torch.no_grad():
        assert torch.allclose(op @ dense.requires_grad_(), expected, **tol)


@pytest.mark.parametrize("permuted", [False, True])
def test_the_vendor_product_used_on_cuda_equals_the_gather_sum(monkeypatch, permuted):
    # On CUDA the products go through torch.sparse.mm of a CSR tensor over the same arrays;
    # forced here on the CPU: duplicates summed, empty rows zero, unsorted columns (a shuffle)
    # and the backward through the transpose all as with the gather-sum.
    op, _ = _operator()
    if permuted:
        op = op.permute_columns(torch.randperm(N, generator=torch.Generator().manual_seed(6)))
    dense, upstream = _dense_input(N, 3, torch.float32), _dense_input(N, 3, torch.float32, 3)
    expected, expected_grad = _product_and_grad(op.matmul, dense, upstream)
    calls = []
    monkeypatch.setattr(sparse, "_vendor_product", lambda d: calls.append(d.shape) or True)
    out, grad = _product_and_grad(op.matmul, dense, upstream)
    assert len(calls) == 2                      # the forward and the backward product
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.allclose(grad, expected_grad, atol=1e-6)
    empty = torch.zeros(0, dtype=torch.long)
    nothing = SparseOperator.from_coo(empty, empty, torch.zeros(0), (4, N))
    assert torch.equal(nothing @ dense, torch.zeros(4, 3))


def test_values_that_need_a_gradient_keep_the_gather_sum(monkeypatch):
    # Autograd through a CSR tensor's values mishandles duplicate and unsorted entries; the
    # gather-sum's value gradient is right (checked against the dense matrix).
    op, _ = _operator()
    val = op.val.clone().requires_grad_()
    dense, upstream = _dense_input(N, 3, torch.float32), _dense_input(N, 3, torch.float32, 3)
    monkeypatch.setattr(sparse, "_vendor_product", lambda d: True)
    out = sparse._gather_sum(op.crow, op.col, val, dense)
    (out * upstream).sum().backward()
    matrix_val = op.val.clone().requires_grad_()
    rows = op.row_index()
    matrix = torch.zeros(N, N).index_put((rows, op.col), matrix_val, accumulate=True)
    ((matrix @ dense) * upstream).sum().backward()
    assert torch.allclose(val.grad, matrix_val.grad, atol=1e-6)
    # ... and so do dense operands that need one (a product outside the operators' function).
    shuffled = op.permute_columns(torch.randperm(N, generator=torch.Generator().manual_seed(7)))
    expected, expected_grad = _product_and_grad(shuffled.matmul, dense, upstream)
    out, grad = _product_and_grad(
        lambda d: sparse._gather_sum(shuffled.crow, shuffled.col, shuffled.val, d), dense,
        upstream)
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.allclose(grad, expected_grad, atol=1e-6)


def test_operator_with_a_dense_transpose_has_the_same_gradient():
    _, matrix = _operator()
    op = SparseOperator.from_dense(matrix, keep_dense_transpose=True)
    assert op.dense_transpose is not None
    dense, upstream = _dense_input(N, 4, torch.float32), _dense_input(N, 4, torch.float32, 3)
    out, grad = _product_and_grad(op.matmul, dense, upstream)
    expected, expected_grad = _product_and_grad(lambda d: matrix @ d, dense, upstream)
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.allclose(grad, expected_grad, atol=1e-6)
    assert op._transpose is None  # the backward used the dense transpose, not a sorted copy


def test_dense_transpose_backward_follows_the_dense_dtype_like_the_forward():
    _, matrix = _operator()
    op = SparseOperator.from_dense(matrix, keep_dense_transpose=True)
    dense = _dense_input(N, 2, torch.float64)
    out, grad = _product_and_grad(op.matmul, dense, torch.ones(N, 2, dtype=torch.float64))
    assert out.dtype == grad.dtype == torch.float64
    assert torch.allclose(grad, matrix.double().t() @ torch.ones(N, 2, dtype=torch.float64))


@pytest.mark.parametrize("layout", ["dense", "coo", "csr"])
def test_from_dense_accepts_dense_coo_and_csr_matrices(layout):
    _, matrix = _operator()
    given = {"dense": matrix, "coo": matrix.to_sparse_coo(), "csr": matrix.to_sparse_csr()}[layout]
    op = SparseOperator.from_dense(given)
    assert op.shape == (N, N)
    assert op.nnz == int(torch.count_nonzero(matrix))
    assert torch.equal(op.to_torch().to_dense(), matrix)
    dense = _dense_input(N, 3, torch.float32)
    assert torch.allclose(op @ dense, matrix @ dense, atol=1e-6)
    # Rows are sorted: row_index() is the row of every stored entry, in order.
    rows = op.row_index()
    assert torch.equal(rows, matrix.nonzero()[:, 0])
    assert torch.equal(op.col, matrix.nonzero()[:, 1])


def test_from_dense_of_a_rectangular_matrix_and_its_transpose():
    matrix = torch.zeros(4, 7)
    matrix[0, 6], matrix[2, 0], matrix[2, 3], matrix[3, 6] = 1.0, 2.0, 3.0, 4.0
    op = SparseOperator.from_dense(matrix)
    assert op.shape == (4, 7)
    transposed = op.t()
    assert transposed.shape == (7, 4)
    assert torch.equal(transposed.to_torch().to_dense(), matrix.t())
    dense = _dense_input(7, 2, torch.float32)
    assert torch.allclose(op @ dense, matrix @ dense)
    with pytest.raises(ValueError, match=r"Cannot multiply a sparse operator of shape \(4, 7\) "
                                         r"with a dense matrix of shape \(4, 2\)"):
        op @ torch.ones(4, 2)


def test_row_index_repeats_each_row_by_its_number_of_entries():
    op, _ = _operator()
    assert torch.equal(op.row_index(), ROW.sort(stable=True).values)
    assert torch.equal(op.crow, torch.tensor([0, 3, 4, 7, 9, 9, 11, 12, 13, 13, 13]))


def test_transpose_is_built_once_and_its_transpose_is_the_operator():
    op, matrix = _operator()
    transposed = op.t()
    assert op.t() is transposed
    assert transposed.t() is op
    assert torch.equal(transposed.to_torch().to_dense(), matrix.t())
    # Within each row of the transpose the columns are sorted (a CSR invariant).
    for i in range(N):
        cols = transposed.col[transposed.crow[i]:transposed.crow[i + 1]]
        assert torch.equal(cols, cols.sort().values)


@pytest.mark.parametrize("transpose_source_first", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_permuted_operator_is_s_times_the_shuffled_rows(dtype, transpose_source_first):
    op, matrix = _operator(dtype)
    if transpose_source_first:
        op.t()
    perm = torch.randperm(N, generator=torch.Generator().manual_seed(4))
    permuted = op.permute_columns(perm)
    assert permuted.shape == op.shape and permuted.nnz == op.nnz
    dense, upstream = _dense_input(N, 3, dtype), _dense_input(N, 3, dtype, seed=5)
    tol = {"atol": 1e-6} if dtype == torch.float32 else {"atol": 1e-12}
    out, grad = _product_and_grad(permuted.matmul, dense, upstream)
    expected, expected_grad = _product_and_grad(lambda d: op @ d[perm], dense, upstream)
    dense_expected, dense_grad = _product_and_grad(lambda d: matrix @ d[perm], dense, upstream)
    assert torch.allclose(out, expected, **tol) and torch.allclose(out, dense_expected, **tol)
    assert torch.allclose(grad, expected_grad, **tol)
    assert torch.allclose(grad, dense_grad, **tol)
    # Its transpose, built by relabelling the rows of S^T, is (S P)^T as a valid CSR matrix.
    transposed = permuted.t()
    assert permuted.t() is transposed
    assert transposed.shape == (N, N) and transposed.nnz == op.nnz
    as_dense = torch.zeros(N, N, dtype=dtype)
    as_dense[:, perm] = matrix  # column perm[j] of S P is column j of S
    assert torch.allclose(transposed.to_torch().to_dense(), as_dense.t())
    assert torch.equal(transposed.crow[-1], torch.tensor(op.nnz))
    assert bool((transposed.crow[1:] >= transposed.crow[:-1]).all())
    # The source operator is untouched.
    assert torch.equal(op.to_torch().to_dense(), matrix)


def test_permute_columns_with_the_identity_and_a_wrong_size():
    op, matrix = _operator()
    same = op.permute_columns(torch.arange(N))
    assert torch.equal(same.to_torch().to_dense(), matrix)
    assert torch.equal(same.t().to_torch().to_dense(), matrix.t())
    with pytest.raises(ValueError, match="'perm' has 9 entries, expected 10"):
        op.permute_columns(torch.arange(N - 1))


def test_shape_errors_name_both_shapes():
    op, _ = _operator()
    with pytest.raises(ValueError, match=r"Cannot multiply a sparse operator of shape \(10, 10\) "
                                         r"with a dense matrix of shape \(9, 3\)"):
        op.matmul(torch.ones(9, 3))
    with pytest.raises(ValueError, match=r"A sparse operator multiplies a 2-D dense matrix, got "
                                         r"shape \(10,\)"):
        op @ torch.ones(10)
    with pytest.raises(ValueError, match=r"got shape \(10, 2, 2\)"):
        op @ torch.ones(10, 2, 2, requires_grad=True)


def test_an_operator_without_entries_gives_zeros_and_zero_gradients():
    empty = torch.zeros(0, dtype=torch.long)
    op = SparseOperator.from_coo(empty, empty, torch.zeros(0), (4, 3))
    assert op.nnz == 0 and op.shape == (4, 3)
    dense = torch.randn(3, 5, requires_grad=True)
    out = op @ dense
    assert torch.equal(out, torch.zeros(4, 5))
    out.sum().backward()
    assert torch.equal(dense.grad, torch.zeros(3, 5))
    assert op.t().shape == (3, 4) and torch.equal(op.t().to_torch().to_dense(), torch.zeros(3, 4))
    assert torch.equal(SparseOperator.from_dense(torch.zeros(4, 3)) @ dense.detach(),
                       torch.zeros(4, 5))


# -- gcn_operator and feature_operator -----------------------------------------------------------

@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("improved, add_self_loops", [(False, True), (True, True),
                                                      (False, False)])
def test_gcn_operator_equals_gcn_adjacency_and_pyg_aggregation(weighted, improved,
                                                               add_self_loops):
    x, edge_index, weight = _directed_graph()
    weight = weight if weighted else None
    op = gcn_operator(edge_index, 30, weight, improved=improved, add_self_loops=add_self_loops)
    adjacency = gcn_adjacency(edge_index, 30, weight, improved=improved,
                              add_self_loops=add_self_loops).to_dense()
    assert torch.allclose(op.to_torch().to_dense(), adjacency, atol=1e-6)
    conv = GCNConv(5, 5, bias=False, improved=improved, add_self_loops=add_self_loops)
    with torch.no_grad():
        conv.lin.weight.copy_(torch.eye(5))
    assert torch.allclose(op @ x, conv(x, edge_index, weight), atol=1e-5)


def test_gcn_normalised_edges_gives_weight_two_loops_without_edge_weights_too():
    from graphinfo.sparse import gcn_normalised_edges

    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])          # a path 0 - 1 - 2
    index, weight = gcn_normalised_edges(edge_index, None, 3, improved=True)
    loops = index[0] == index[1]
    assert torch.allclose(weight[loops], 2 / torch.tensor([3.0, 4.0, 3.0]))   # deg + 2
    # torch-geometric 2.8's GCNConv(improved=True) on an unweighted graph adds weight-1 loops,
    # which is what gcn_operator (the encoders' fast path) keeps for parity.
    dense = gcn_operator(edge_index, 3, improved=True).to_torch().to_dense()
    assert torch.allclose(dense.diagonal(), 1 / torch.tensor([2.0, 3.0, 2.0]))


def test_gcn_operator_dtype_and_negative_weights():
    _, edge_index, weight = _directed_graph()
    assert gcn_operator(edge_index, 30, dtype=torch.float64).val.dtype == torch.float64
    assert gcn_operator(edge_index, 30, weight.double()).val.dtype == torch.float64
    with pytest.raises(ValueError, match="'edge_weight' must be non-negative"):
        gcn_operator(edge_index, 30, -weight)


def _square_entries(density, nodes=30, seed=0):
    """Random entries (with duplicates) covering about ``density`` of a square matrix."""
    generator = torch.Generator().manual_seed(seed)
    count = round(density * nodes * nodes)
    index = torch.randint(0, nodes, (2, count), generator=generator)
    return index[0], index[1], torch.rand(count, generator=generator)


def test_propagation_operator_is_dense_from_the_density_threshold_and_equal_either_way():
    for density in (0.1, DENSE_OPERATOR_MIN_DENSITY, 0.6):
        row, col, val = _square_entries(density)
        op = propagation_operator(row, col, val, 30)
        assert isinstance(op, DenseOperator) == (density >= DENSE_OPERATOR_MIN_DENSITY)
        expected = torch.zeros(30, 30).index_put_((row, col), val, accumulate=True)
        assert torch.allclose(op.to_torch().to_dense(), expected)
        # The stored entries: the non-zeros of a dense one, every (duplicate) entry of a sparse.
        assert op.nnz == (int(torch.count_nonzero(expected)) if isinstance(op, DenseOperator)
                          else row.numel())
        dense = torch.randn(30, 4, requires_grad=True)
        upstream = torch.randn(30, 4)
        ((op @ dense) * upstream).sum().backward()
        assert torch.allclose(op @ dense.detach(), expected @ dense.detach(), atol=1e-5)
        assert torch.allclose(dense.grad, expected.t() @ upstream, atol=1e-5)


def test_a_large_graph_stays_sparse_however_dense(monkeypatch):
    import graphinfo.sparse as sparse
    row, col, val = _square_entries(0.6)
    monkeypatch.setattr(sparse, "DENSE_OPERATOR_MAX_ENTRIES", 899)
    assert isinstance(propagation_operator(row, col, val, 30), SparseOperator)


def test_dense_operator_transpose_permutation_and_errors():
    row, col, val = _square_entries(0.6)
    dense_op = propagation_operator(row, col, val, 30)
    sparse_op = SparseOperator.from_coo(row, col, val, (30, 30))
    assert isinstance(dense_op, DenseOperator)
    d = torch.randn(30, 3)
    perm = torch.randperm(30, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(dense_op.t() @ d, sparse_op.t() @ d, atol=1e-5)
    assert torch.allclose(dense_op.permute_columns(perm) @ d, dense_op @ d[perm], atol=1e-5)
    assert torch.allclose(dense_op.permute_columns(perm) @ d,
                          sparse_op.permute_columns(perm) @ d, atol=1e-5)
    assert dense_op.shape == (30, 30)
    assert dense_op.permute_columns(perm).nnz == dense_op.t().nnz == dense_op.nnz
    with pytest.raises(ValueError, match=r"Cannot multiply an operator of shape \(30, 30\) "
                                         r"with a dense matrix of shape \(29, 3\)"):
        dense_op @ torch.randn(29, 3)
    with pytest.raises(ValueError, match="'perm' has 29 entries, expected 30"):
        dense_op.permute_columns(torch.arange(29))
    with pytest.raises(ValueError, match="A DenseOperator holds a dense 2-D matrix"):
        DenseOperator(torch.zeros(3))


def test_gcn_operator_of_a_dense_graph_is_dense_and_equals_pyg():
    generator = torch.Generator().manual_seed(0)
    edge_index = torch.randint(0, 30, (2, 400), generator=generator)
    x = torch.randn(30, 5, generator=generator)
    op = gcn_operator(edge_index, 30)
    assert isinstance(op, DenseOperator)
    conv = GCNConv(5, 5, bias=False)
    with torch.no_grad():
        conv.lin.weight.copy_(torch.eye(5))
    assert torch.allclose(op @ x, conv(x, edge_index), atol=1e-5)


def _features_of_density(density, rows=40, cols=50, seed=0):
    generator = torch.Generator().manual_seed(seed)
    nnz = round(density * rows * cols)
    x = torch.zeros(rows * cols)
    x[torch.randperm(rows * cols, generator=generator)[:nnz]] = torch.rand(nnz,
                                                                           generator=generator)
    return x.view(rows, cols)


def test_feature_operator_follows_the_density_thresholds():
    assert SPARSE_FEATURES_BACKWARD_MAX_DENSITY < SPARSE_FEATURES_MAX_DENSITY
    weight = torch.randn(50, 6, generator=torch.Generator().manual_seed(1))
    for density, kind in [(0.02, "sparse"), (0.08, "dense transpose"), (0.3, None)]:
        x = _features_of_density(density)
        op = feature_operator(x)
        if kind is None:
            assert op is None
            continue
        assert op is not None and op.shape == (40, 50) and op.nnz == int(torch.count_nonzero(x))
        assert (op.dense_transpose is not None) == (kind == "dense transpose")
        upstream = torch.randn(40, 6, generator=torch.Generator().manual_seed(2))
        out, grad = _product_and_grad(op.matmul, weight, upstream)
        expected, expected_grad = _product_and_grad(lambda w, x=x: x @ w, weight,
                                                    upstream)
        assert torch.allclose(out, expected, atol=1e-5)
        assert torch.allclose(grad, expected_grad, atol=1e-5)


def test_sparse_coo_features_are_always_an_operator():
    x = torch.rand(6, 4) + 0.1  # fully dense content
    assert feature_operator(x) is None
    op = feature_operator(x.to_sparse_coo())
    assert op is not None and op.nnz == 24
    assert torch.equal(op.to_torch().to_dense(), x)


def test_int32_indices_of_a_large_graph_do_not_overflow_the_sort_key():
    # 50,000^2 does not fit in int32: the row-major key must be computed in int64.
    generator = torch.Generator().manual_seed(0)
    edge_index = torch.randint(0, 50_000, (2, 2_000), generator=generator)
    dense = torch.randn(50_000, 3, generator=generator)
    wide = gcn_operator(edge_index, 50_000, add_self_loops=False)
    narrow = gcn_operator(edge_index.int(), 50_000, add_self_loops=False)
    assert narrow.col.dtype == torch.long and narrow.crow.dtype == torch.long
    assert torch.allclose(narrow @ dense, wide @ dense)


def test_an_operator_does_not_keep_its_dense_matrix_alive():
    import gc
    import weakref

    matrix = (torch.rand(40, 30) < 0.1).float()
    op = SparseOperator.from_dense(matrix, keep_dense_transpose=True)
    ref = weakref.ref(matrix)
    del matrix
    gc.collect()
    assert ref() is None and op.dense_transpose is None
    weight = torch.randn(30, 2, requires_grad=True)
    (op @ weight).sum().backward()        # falls back to the sparse transpose
    expected = op.to_torch().to_dense().t() @ torch.ones(40, 2)
    assert torch.allclose(weight.grad, expected, atol=1e-6)


def test_products_are_twice_differentiable():
    generator = torch.Generator().manual_seed(1)
    edge_index = torch.randint(0, 12, (2, 40), generator=generator)
    op = gcn_operator(edge_index, 12, dtype=torch.float64)
    dense = torch.randn(12, 3, dtype=torch.float64, generator=generator, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda d: op @ d, (dense,))
    assert torch.autograd.gradgradcheck(lambda d: op.permute_columns(torch.arange(12).flip(0)) @ d,
                                        (dense,))


@pytest.mark.parametrize("sorted_rows", [True, False])
def test_pair_dot_values_and_gradients_match_indexing(sorted_rows):
    from graphinfo.sparse import pair_dot

    generator = torch.Generator().manual_seed(0)
    a = torch.randn(9, 5, dtype=torch.double, generator=generator, requires_grad=True)
    b = torch.randn(7, 5, dtype=torch.double, generator=generator, requires_grad=True)
    rows = torch.randint(0, 9, (30,), generator=generator)
    cols = torch.randint(0, 7, (30,), generator=generator)
    if sorted_rows:
        rows = rows.sort().values
    out = pair_dot(a, rows, b, cols)
    assert torch.allclose(out, (a[rows] * b[cols]).sum(-1))
    assert torch.autograd.gradcheck(lambda a, b: pair_dot(a, rows, b, cols), (a, b))
    # The same tensor on both sides (a Gram entry) accumulates both gradients.
    assert torch.autograd.gradcheck(lambda a: pair_dot(a, rows, a, rows.flip(0)), (a,))


def test_pair_dot_in_chunks_matches_one_pass(monkeypatch):
    import graphinfo.sparse as sparse

    generator = torch.Generator().manual_seed(1)
    a = torch.randn(20, 6, dtype=torch.double, generator=generator, requires_grad=True)
    rows = torch.randint(0, 20, (50,), generator=generator)
    cols = torch.randint(0, 20, (50,), generator=generator)
    whole = sparse.pair_dot(a, rows, a, cols)
    monkeypatch.setattr(sparse, "PAIR_DOT_CHUNK_ELEMENTS", 6 * 7)   # 7 pairs per chunk
    chunked = sparse.pair_dot(a, rows, a, cols)
    assert torch.allclose(whole, chunked)
    assert torch.autograd.gradcheck(lambda a: sparse.pair_dot(a, rows, a, cols), (a,))


def test_pair_dot_rejects_mismatched_shapes():
    from graphinfo.sparse import pair_dot

    with pytest.raises(ValueError, match="same number of columns"):
        pair_dot(torch.zeros(3, 2), torch.zeros(1, dtype=torch.long), torch.zeros(3, 4),
                 torch.zeros(1, dtype=torch.long))
    with pytest.raises(ValueError, match="same length"):
        pair_dot(torch.zeros(3, 2), torch.zeros(2, dtype=torch.long), torch.zeros(3, 2),
                 torch.zeros(1, dtype=torch.long))
