r"""The fast path's sparse algebra: CSR operators, gather-sum products and per-graph caches.

Message passing over an edge list materialises one message per edge (an :math:`E \times F`
tensor) before it scatters them. A :class:`SparseOperator` holds a sparse matrix in CSR form and
multiplies it with a dense matrix as one gather-sum per row
(:func:`torch.nn.functional.embedding_bag` with per-entry weights, no per-edge tensor; on CUDA
cuSPARSE's product over the same arrays); its
backward is the same product with the transposed operator, built once and kept. The same class
serves the normalised adjacency (:func:`gcn_operator`) and sparse input features
(:func:`feature_operator`). A small propagation matrix dense enough that a GEMM is faster (a
dense metapath graph) is a :class:`DenseOperator` with the same interface
(:func:`propagation_operator` chooses).

A node shuffle :math:`\mathbf{P}` composes with an operator by relabelling its columns,
:math:`(\mathbf{A}\mathbf{P})_{i,\pi(j)} = \mathbf{A}_{ij}`
(:meth:`SparseOperator.permute_columns`), so a corrupted view is aggregated without copying
the permuted feature matrix.

What is computed once per graph (the normalisation, the CSR forms of the features) is kept by
the caches of :mod:`graphinfo.tensor_cache` for as long as the very same tensors, unmodified,
are used again.
"""
from __future__ import annotations

import warnings
import weakref
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import to_torch_csr_tensor

#: Input features at most this dense are multiplied as a sparse operator in the forward pass.
#: Measured on 2 CPU cores, :math:`\mathbf{X}\mathbf{W}` for 19,717 x 500 features and 512
#: outputs: 55 ms as a gather-sum against 80 ms as a dense GEMM at 10 % density.
SPARSE_FEATURES_MAX_DENSITY = 0.15
#: ... and also in the backward pass (the weight gradient :math:`\mathbf{X}^\top\mathbf{G}`),
#: where the transposed gather-sum wins only on very sparse features: 3 ms against 26 ms at
#: 1.3 % density (Cora's shape), 133 ms against 65 ms at 10 %.
SPARSE_FEATURES_BACKWARD_MAX_DENSITY = 0.03


def _vendor_product(dense: Tensor) -> bool:
    """Whether products with ``dense`` go through :func:`torch.sparse.mm` (on CUDA)."""
    return dense.is_cuda


def _gather_sum(crow: Tensor, col: Tensor, val: Tensor, dense: Tensor) -> Tensor:
    """``out[i] = sum_k val[k] * dense[col[k]]`` over ``k in [crow[i], crow[i+1])``.

    On the CPU a weighted :func:`~torch.nn.functional.embedding_bag`; on CUDA cuSPARSE's
    product (:func:`torch.sparse.mm` of a CSR tensor over the same arrays, no copy), which
    measured 2.8-8.8x faster there (``benchmarks/results/gpu_spmm.md``: 0.65 against 5.7 ms on
    the ogbn-arxiv shape at width 256, 36 against 104 ms on the ogbn-products shape). Operands
    that need a gradient here keep the gather-sum: autograd through a CSR tensor's values is
    wrong for duplicate or unsorted entries, so no product taken under autograd relies on it
    (the operators' own products run inside their autograd function, without it).
    """
    if dense.dim() != 2:
        raise ValueError(f"A sparse operator multiplies a 2-D dense matrix, got shape "
                         f"{tuple(dense.shape)}")
    if val.dtype != dense.dtype:
        val = val.to(dense.dtype)
    if _vendor_product(dense) and not (torch.is_grad_enabled()
                                       and (val.requires_grad or dense.requires_grad)):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            matrix = torch.sparse_csr_tensor(crow.long(), col.long(), val,
                                             (crow.numel() - 1, dense.size(0)),
                                             check_invariants=False)
        return torch.sparse.mm(matrix, dense.contiguous())
    return F.embedding_bag(col, dense.contiguous(), crow, mode="sum", per_sample_weights=val,
                           include_last_offset=True)


class _SparseMatmul(torch.autograd.Function):
    """``op @ dense`` with gradient ``op.T @ grad`` for ``dense`` (the operator is constant)."""

    @staticmethod
    def forward(ctx: Any, dense: Tensor, op: SparseOperator) -> Tensor:
        ctx.op = op
        return _gather_sum(op.crow, op.col, op.val, dense)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, None]:
        # Written with differentiable operations: with create_graph=True the result is itself
        # differentiable in ``grad`` (a product with the transpose is linear).
        if not ctx.needs_input_grad[0]:
            return None, None
        op: SparseOperator = ctx.op
        dense = op._dense() if op._dense is not None else None
        if dense is not None:
            if dense._version != op._dense_version:
                raise RuntimeError("The dense matrix behind a SparseOperator was modified in "
                                   "place after the product was computed; its gradient would "
                                   "be wrong")
            return dense.t().to(grad.dtype) @ grad, None
        return op.t().matmul(grad), None


class SparseOperator:
    r"""A constant sparse matrix :math:`\mathbf{S} \in \mathbb{R}^{M \times N}` in CSR form that
    multiplies dense matrices, ``op @ dense`` or :meth:`matmul`, differentiably in ``dense``.

    The product is a weighted gather-sum per row (no per-edge tensor); the backward pass uses the
    transposed operator (built on first use and kept), or a dense GEMM with the transpose of
    ``dense`` when the dense form is supplied (faster for moderately dense feature matrices).

    Args:
        crow (Tensor): Row pointers, :math:`(M + 1)`.
        col (Tensor): Column index of every stored entry, :math:`(\mathrm{nnz})`.
        val (Tensor): Value of every stored entry, :math:`(\mathrm{nnz})`.
        num_cols (int): :math:`N`.
        dense (Tensor, optional): :math:`\mathbf{S}` as a dense tensor, used (while it exists,
            weakly referenced) for the backward pass.
    """

    def __init__(self, crow: Tensor, col: Tensor, val: Tensor, num_cols: int,
                 dense: Tensor | None = None) -> None:
        # int64 indices throughout: int32 keys would overflow and embedding_bag wants one dtype.
        self.crow = crow.long()
        self.col = col.long()
        self.val = val
        self.shape = (self.crow.numel() - 1, num_cols)
        # The dense form of this matrix, referenced weakly (an operator never keeps a user's
        # tensor alive): while it exists and is unmodified, the backward pass multiplies by its
        # transpose; once it is gone, by the sparse transpose.
        self._dense: weakref.ref[Tensor] | None = None
        self._dense_version: int | None = None
        if dense is not None and not dense.is_inference():
            self._dense, self._dense_version = weakref.ref(dense), dense._version
        self._transpose: SparseOperator | None = None
        # Which stored entry each entry of the transpose is (set when the transpose is built by
        # sorting), so that :meth:`with_values` can transpose new values without sorting.
        self._transpose_order: Tensor | None = None
        self._transpose_of: weakref.ref[SparseOperator] | None = None  # no reference cycle
        # (operator, perm) when this is operator.permute_columns(perm): the transpose is then
        # built from the operator's kept transpose instead of by sorting.
        self._permuted_from: tuple[SparseOperator, Tensor] | None = None

    @property
    def dense_transpose(self) -> Tensor | None:
        r""":math:`\mathbf{S}^\top` as a dense view, while the dense matrix given at construction
        still exists; None otherwise."""
        dense = self._dense() if self._dense is not None else None
        return None if dense is None else dense.t()

    @classmethod
    def from_coo(cls, row: Tensor, col: Tensor, val: Tensor, shape: tuple[int, int],
                 **kwargs: Any) -> SparseOperator:
        """From unsorted COO entries (duplicates are kept and summed by every product)."""
        row, col = row.long(), col.long()
        order = torch.argsort(row * shape[1] + col)
        counts = torch.bincount(row, minlength=shape[0])
        crow = torch.zeros(shape[0] + 1, dtype=torch.long, device=row.device)
        torch.cumsum(counts, 0, out=crow[1:])
        return cls(crow, col[order], val[order], shape[1], **kwargs)

    @classmethod
    def from_dense(cls, matrix: Tensor, keep_dense_transpose: bool = False) -> SparseOperator:
        """The nonzeros of a dense 2-D matrix (or of a sparse COO / CSR tensor)."""
        if matrix.layout == torch.sparse_csr:
            return cls(matrix.crow_indices(), matrix.col_indices(), matrix.values(),
                       matrix.size(1))
        if matrix.layout == torch.sparse_coo:
            matrix = matrix.coalesce()
            row, col = matrix.indices()
            return cls.from_coo(row, col, matrix.values(), tuple(matrix.shape))
        row, col = matrix.nonzero(as_tuple=True)
        return cls.from_coo(row, col, matrix[row, col], tuple(matrix.shape),
                            dense=matrix if keep_dense_transpose else None)

    @property
    def nnz(self) -> int:
        return self.col.numel()

    @property
    def device(self) -> torch.device:
        return self.col.device

    def matmul(self, dense: Tensor) -> Tensor:
        """:math:`\\mathbf{S}\\,\\mathbf{D}`, differentiable with respect to ``dense``."""
        if dense.size(0) != self.shape[1]:
            raise ValueError(f"Cannot multiply a sparse operator of shape {self.shape} with a "
                             f"dense matrix of shape {tuple(dense.shape)}")
        if torch.is_grad_enabled() and dense.requires_grad:
            return _SparseMatmul.apply(dense, self)
        return _gather_sum(self.crow, self.col, self.val, dense)

    __matmul__ = matmul

    def row_index(self) -> Tensor:
        """The row of every stored entry."""
        counts = self.crow[1:] - self.crow[:-1]
        return torch.repeat_interleave(torch.arange(self.shape[0], device=self.device), counts,
                                       output_size=self.nnz)

    def t(self) -> SparseOperator:
        """The transposed operator (computed once, then kept)."""
        if self._transpose is None and self._transpose_of is not None:
            original = self._transpose_of()
            if original is not None:
                return original
        if self._transpose is None and self._permuted_from is not None:
            self._transpose = self._build_permuted_transpose()
        if self._transpose is None:
            # A stable sort by column keeps the rows in order within each column.
            order = torch.sort(self.col, stable=True).indices
            counts = torch.bincount(self.col, minlength=self.shape[1])
            crow = torch.zeros(self.shape[1] + 1, dtype=torch.long, device=self.device)
            torch.cumsum(counts, 0, out=crow[1:])
            transposed = SparseOperator(crow, self.row_index()[order], self.val[order],
                                        self.shape[0])
            transposed._transpose_of = weakref.ref(self)
            self._transpose = transposed
            self._transpose_order = order
        return self._transpose

    def with_values(self, val: Tensor) -> SparseOperator:
        """The same sparsity pattern with other values (dropout on the non-zeros, say). Its
        transpose, for the backward pass, reuses this operator's (built once) with the values
        reordered, instead of sorting the entries again on every call.

        Args:
            val (Tensor): One value per stored entry, in this operator's order.
        """
        if val.shape != self.val.shape:
            raise ValueError(f"'val' must hold one value per stored entry ({self.nnz}), got "
                             f"shape {tuple(val.shape)}")
        if self._transpose_order is None:
            self._transpose = None      # build it by sorting, which records the order
            self._permuted_from = None
            self.t()
        transposed = self.t()
        out = SparseOperator(self.crow, self.col, val, self.shape[1])
        out_t = SparseOperator(transposed.crow, transposed.col, val[self._transpose_order],
                               self.shape[0])
        out_t._transpose_of = weakref.ref(out)
        out._transpose = out_t
        return out

    def permute_columns(self, perm: Tensor) -> SparseOperator:
        r""":math:`\mathbf{S}\mathbf{P}` for the row permutation :math:`(\mathbf{P}\mathbf{D})_j =
        \mathbf{D}_{\pi(j)}` given by ``perm`` (a square operator, so ``S @ D[perm]`` becomes
        ``S.permute_columns(perm) @ D``). Its transpose, :math:`\mathbf{P}^\top\mathbf{S}^\top`,
        is :math:`\mathbf{S}^\top` with rows relabelled, built from the kept transpose."""
        if perm.numel() != self.shape[1]:
            raise ValueError(f"'perm' has {perm.numel()} entries, expected {self.shape[1]}")
        permuted = SparseOperator(self.crow, perm[self.col], self.val, self.shape[1])
        permuted._permuted_from = (self, perm)
        return permuted

    def _build_permuted_transpose(self) -> SparseOperator:
        assert self._permuted_from is not None
        source, perm = self._permuted_from
        transposed = source.t()
        # Row pi(j) of (S P)^T is row j of S^T: rows of S^T relabelled by the inverse of pi.
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(perm.numel(), device=perm.device)
        counts = (transposed.crow[1:] - transposed.crow[:-1])[inverse]
        crow = torch.zeros_like(transposed.crow)
        torch.cumsum(counts, 0, out=crow[1:])
        shift = transposed.crow[:-1][inverse] - crow[:-1]
        position = torch.arange(self.nnz, device=self.device) + torch.repeat_interleave(
            shift, counts, output_size=self.nnz)
        return SparseOperator(crow, transposed.col[position], transposed.val[position],
                              transposed.shape[1])

    def to_torch(self) -> Tensor:
        """The matrix as a :class:`torch.sparse_csr` tensor (for interoperability and tests)."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            return torch.sparse_csr_tensor(self.crow, self.col, self.val, self.shape)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(shape={self.shape}, nnz={self.nnz})"


#: A square propagation matrix at least this dense is multiplied as a dense GEMM
#: (:class:`DenseOperator`): measured on one core, 4,000 nodes, width 128, forward and
#: backward, the gather-sum takes 61 ms at 10 % density and 193 ms at 30 %, the GEMM 130-180 ms
#: at any density. Metapath graphs get there: ACM3025's PLP is 24 % dense, DBLP's APTPA 43 %.
DENSE_OPERATOR_MIN_DENSITY = 0.25
#: ... when it has at most this many entries (256 MiB in float32: about 8,000 nodes).
DENSE_OPERATOR_MAX_ENTRIES = 1 << 26


class DenseOperator:
    r"""A propagation matrix stored dense, with the interface of :class:`SparseOperator`
    (``op @ dense``, :meth:`t`, :meth:`permute_columns`, ``nnz``): what
    :func:`propagation_operator` returns for a small graph dense enough that a GEMM beats the
    gather-sum. The gradient is autograd's, :math:`\mathbf{S}^	op\mathbf{G}`.

    Args:
        matrix (Tensor): :math:`\mathbf{S}`, :math:`(M, N)`.
        nnz (int, optional): Its stored entries (default: its non-zeros), for the cost models
            of the callers.
    """

    def __init__(self, matrix: Tensor, nnz: int | None = None) -> None:
        if matrix.dim() != 2 or matrix.layout != torch.strided:
            raise ValueError(f"A DenseOperator holds a dense 2-D matrix, got shape "
                             f"{tuple(matrix.shape)} and layout {matrix.layout}")
        self.matrix = matrix
        self.shape = (matrix.size(0), matrix.size(1))
        self._nnz = int(torch.count_nonzero(matrix)) if nnz is None else nnz

    @property
    def nnz(self) -> int:
        return self._nnz

    @property
    def device(self) -> torch.device:
        return self.matrix.device

    def matmul(self, dense: Tensor) -> Tensor:
        r""":math:`\mathbf{S}\,\mathbf{D}`."""
        if dense.dim() != 2 or dense.size(0) != self.shape[1]:
            raise ValueError(f"Cannot multiply an operator of shape {self.shape} with a dense "
                             f"matrix of shape {tuple(dense.shape)}")
        return self.matrix.to(dense.dtype) @ dense

    __matmul__ = matmul

    def t(self) -> DenseOperator:
        return DenseOperator(self.matrix.t(), self._nnz)

    def permute_columns(self, perm: Tensor) -> DenseOperator:
        r""":math:`\mathbf{S}\mathbf{P}` (see :meth:`SparseOperator.permute_columns`)."""
        if perm.numel() != self.shape[1]:
            raise ValueError(f"'perm' has {perm.numel()} entries, expected {self.shape[1]}")
        out = torch.empty_like(self.matrix)
        out[:, perm] = self.matrix
        return DenseOperator(out, self._nnz)

    def to_torch(self) -> Tensor:
        """The matrix as a :class:`torch.sparse_csr` tensor (for interoperability and tests)."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            return self.matrix.to_sparse_csr()

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(shape={self.shape}, nnz={self.nnz})"


def propagation_operator(row: Tensor, col: Tensor, val: Tensor,
                         num_nodes: int) -> SparseOperator | DenseOperator:
    """The square matrix with entries ``val`` at ``(row, col)`` (duplicates summed), as a
    :class:`DenseOperator` when it is at least :data:`DENSE_OPERATOR_MIN_DENSITY` dense and
    has at most :data:`DENSE_OPERATOR_MAX_ENTRIES` entries, else as a
    :class:`SparseOperator`."""
    entries = num_nodes * num_nodes
    if entries <= DENSE_OPERATOR_MAX_ENTRIES and row.numel() >= DENSE_OPERATOR_MIN_DENSITY \
            * entries and num_nodes > 0:
        matrix = torch.zeros(num_nodes, num_nodes, dtype=val.dtype, device=val.device)
        matrix.index_put_((row.long(), col.long()), val, accumulate=True)
        return DenseOperator(matrix)
    return SparseOperator.from_coo(row, col, val, (num_nodes, num_nodes))


def gcn_adjacency(edge_index: Tensor, num_nodes: int, edge_weight: Tensor | None = None,
                  add_self_loops: bool = True, improved: bool = False,
                  dtype: torch.dtype | None = None, normalize: bool = True) -> Tensor:
    r"""The transposed GCN propagation matrix as a :class:`torch.sparse_csr` tensor, rows
    indexed by target node:

    .. math::
        \hat{\mathbf{A}}^{\top} = \big(\hat{\mathbf{D}}^{-1/2}(\mathbf{A} + \lambda\mathbf{I})
        \hat{\mathbf{D}}^{-1/2}\big)^{\top}, \qquad \lambda = 2 \text{ if improved else } 1,

    so that ``adj_t @ x`` equals :class:`torch_geometric.nn.GCNConv`'s aggregation over
    ``edge_index`` (messages flow from ``edge_index[0]`` to ``edge_index[1]``). The values have
    ``dtype`` (default: ``edge_weight``'s, else float32). ``normalize=False`` takes the weighted
    adjacency as given (``GCNConv(normalize=False)``: no self-loops added, no degree
    normalisation), for a precomputed propagation matrix such as a diffusion.

    Raises:
        ValueError: If an edge weight is negative (the degree normalisation would be NaN).
    """
    edge_index, weight = _propagation_edges(edge_index, num_nodes, edge_weight, add_self_loops,
                                            improved, dtype, normalize)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly")
        return to_torch_csr_tensor(edge_index.flip(0), weight, size=(num_nodes, num_nodes))


def gcn_operator(edge_index: Tensor, num_nodes: int, edge_weight: Tensor | None = None,
                 add_self_loops: bool = True, improved: bool = False,
                 dtype: torch.dtype | None = None,
                 normalize: bool = True) -> SparseOperator | DenseOperator:
    r"""The same propagation matrix as :func:`gcn_adjacency`, as a :class:`SparseOperator`
    (a :class:`DenseOperator` when dense enough, :func:`propagation_operator`):
    ``gcn_operator(...) @ h`` is GCN's normalised aggregation of ``h`` (with
    ``normalize=False``, the weighted sum over in-edges as given)."""
    edge_index, weight = _propagation_edges(edge_index, num_nodes, edge_weight, add_self_loops,
                                            improved, dtype, normalize)
    return propagation_operator(edge_index[1], edge_index[0], weight, num_nodes)


def gcn_normalised_edges(edge_index: Tensor, edge_weight: Tensor | None, num_nodes: int, *,
                         improved: bool = False, add_self_loops: bool = True,
                         dtype: torch.dtype | None = None) -> tuple[Tensor, Tensor]:
    r"""PyG's :func:`~torch_geometric.nn.conv.gcn_conv.gcn_norm`, with ``improved=True``
    honoured for unweighted graphs too: torch-geometric 2.8 adds the self-loops of an
    unweighted graph with weight 1 whatever ``improved`` says (``GCNConv(improved=True)`` then
    computes :math:`\mathbf{A} + \mathbf{I}`), so explicit unit weights are passed. The GCN
    encoders keep PyG's behaviour (parity with its layer); MVGRL's :math:`\mathbf{A} +
    2\mathbf{I}` view uses this."""
    if improved and add_self_loops and edge_weight is None:
        edge_weight = torch.ones(edge_index.size(1), dtype=dtype or torch.float32,
                                 device=edge_index.device)
    return gcn_norm(edge_index, edge_weight, num_nodes, improved=improved,
                    add_self_loops=add_self_loops, dtype=dtype)


def _propagation_edges(edge_index: Tensor, num_nodes: int, edge_weight: Tensor | None,
                       add_self_loops: bool, improved: bool, dtype: torch.dtype | None,
                       normalize: bool) -> tuple[Tensor, Tensor]:
    _check_edge_weight(edge_weight)
    if normalize:
        return gcn_norm(edge_index, edge_weight, num_nodes, improved=improved,
                        add_self_loops=add_self_loops, dtype=dtype)
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.size(1), dtype=dtype or torch.float32,
                                 device=edge_index.device)
    return edge_index, edge_weight if dtype is None else edge_weight.to(dtype)


def feature_operator(x: Tensor) -> SparseOperator | None:
    """``x`` as a :class:`SparseOperator` when it is sparse enough for that to be faster
    (:data:`SPARSE_FEATURES_MAX_DENSITY`), else None. A sparse COO / CSR ``x`` always is."""
    if x.layout != torch.strided:
        return SparseOperator.from_dense(x)
    nnz = int(torch.count_nonzero(x))
    density = nnz / max(x.numel(), 1)
    if density > SPARSE_FEATURES_MAX_DENSITY:
        return None
    return SparseOperator.from_dense(
        x, keep_dense_transpose=density > SPARSE_FEATURES_BACKWARD_MAX_DENSITY)


def _check_edge_weight(edge_weight: Tensor | None) -> None:
    if edge_weight is not None and bool((edge_weight < 0).any()):
        raise ValueError(f"'edge_weight' must be non-negative for GCN normalisation, got minimum "
                         f"{float(edge_weight.min()):.4g}")


def _offsets(index: Tensor, size: int) -> Tensor:
    """CSR offsets (``size + 1`` entries) of a sorted index vector."""
    counts = torch.bincount(index, minlength=size)
    return torch.cat([counts.new_zeros(1), counts.cumsum(0)])


#: :func:`pair_dot` gathers at most this many values per operand at a time, so scoring many
#: pairs never holds a pairs x features tensor (16 MiB chunks in float32).
PAIR_DOT_CHUNK_ELEMENTS = 1 << 22


def _pair_dot_forward(a: Tensor, b: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    chunk = max(1, PAIR_DOT_CHUNK_ELEMENTS // max(a.size(1), 1))
    if rows.numel() <= chunk:
        return (a.index_select(0, rows) * b.index_select(0, cols)).sum(dim=-1)
    out = a.new_empty(rows.numel(), dtype=torch.result_type(a, b))
    for start in range(0, rows.numel(), chunk):
        stop = start + chunk
        out[start:stop] = (a.index_select(0, rows[start:stop])
                           * b.index_select(0, cols[start:stop])).sum(dim=-1)
    return out


class _PairDot(torch.autograd.Function):
    """Row-wise dot products of gathered pairs, backpropagated as two gather-sums."""

    @staticmethod
    def forward(ctx: Any, a: Tensor, b: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
        ctx.save_for_backward(a, b, rows, cols)
        return _pair_dot_forward(a, b, rows, cols)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None, None]:
        a, b, rows, cols = ctx.saved_tensors
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            if rows.numel() > 1 and bool((rows[1:] < rows[:-1]).any()):
                order = torch.argsort(rows, stable=True)
                grad_a = _gather_sum(_offsets(rows[order], a.size(0)), cols[order],
                                     grad[order], b)
            else:
                grad_a = _gather_sum(_offsets(rows, a.size(0)), cols, grad, b)
        if ctx.needs_input_grad[1]:
            order = torch.argsort(cols, stable=True)
            grad_b = _gather_sum(_offsets(cols[order], b.size(0)), rows[order], grad[order], a)
        return grad_a, grad_b, None, None


def pair_dot(a: Tensor, rows: Tensor, b: Tensor, cols: Tensor) -> Tensor:
    r"""Scores of index pairs, :math:`s_k = \mathbf{a}_{r_k}^\top \mathbf{b}_{c_k}` (a sampled
    dense-dense product), as the critic scores of edges or sampled pairs.

    The forward pass gathers the rows in chunks (:data:`PAIR_DOT_CHUNK_ELEMENTS`); the
    backward pass is two CSR gather-sums,
    :math:`\partial\mathbf{a}_i = \sum_{k: r_k = i} g_k \mathbf{b}_{c_k}` and its transpose,
    instead of the sorting scatter that backpropagating advanced indexing costs (several times
    slower on the CPU). Pairs sorted by ``rows`` skip one sort. Differentiable once (with
    ``create_graph`` use plain indexing).

    Args:
        a (Tensor): :math:`(N_a, F)`.
        rows (Tensor): Long indices into ``a``, :math:`(K)`.
        b (Tensor): :math:`(N_b, F)`; may be ``a`` itself.
        cols (Tensor): Long indices into ``b``, :math:`(K)`.

    Returns:
        Tensor: :math:`(K)` scores.
    """
    if a.dim() != 2 or b.dim() != 2 or a.size(1) != b.size(1):
        raise ValueError(f"'a' and 'b' must be 2-D with the same number of columns, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    if rows.shape != cols.shape or rows.dim() != 1:
        raise ValueError(f"'rows' and 'cols' must be 1-D of the same length, got shapes "
                         f"{tuple(rows.shape)} and {tuple(cols.shape)}")
    if torch.is_grad_enabled() and (a.requires_grad or b.requires_grad):
        return _PairDot.apply(a, b, rows, cols)
    return _pair_dot_forward(a, b, rows, cols)
