import torch

from graphinfo.sparse import SparseOperator
from graphinfo.tensor_cache import AdjacencyCache, TensorCache


def _directed_graph():
    generator = torch.Generator().manual_seed(0)
    edge_index = torch.randint(0, 30, (2, 120), generator=generator)
    weight = torch.rand(120, generator=generator)
    return torch.randn(30, 5, generator=generator), edge_index, weight


def test_cache_hits_only_for_the_same_unchanged_tensors():
    _, edge_index, weight = _directed_graph()
    cache = AdjacencyCache(size=2)
    first = cache.get(edge_index, 30)
    assert cache.get(edge_index, 30) is first
    assert cache.get(edge_index.clone(), 30) is not first           # another tensor
    assert cache.get(edge_index, 30, weight) is not first           # with weights
    assert cache.get(edge_index, 30, improved=True) is not first    # other options
    edge_index[0, 0] = (edge_index[0, 0] + 1) % 30                  # changed in place
    changed = cache.get(edge_index, 30)
    assert changed is not first
    assert not torch.equal(changed.to_dense(), first.to_dense())
    assert len(cache._entries) == 2


def test_tensor_cache_hits_only_for_the_same_unmodified_tensors_and_extra():
    cache = TensorCache(size=2)
    a, b = torch.ones(3), torch.zeros(3)
    calls = []

    def build(value):
        calls.append(value)
        return value

    assert cache.get((a, None), "k", lambda: build(1)) == 1
    assert cache.get((a, None), "k", lambda: build(2)) == 1          # hit
    assert cache.get((a, b), "k", lambda: build(3)) == 3             # None vs a tensor
    assert cache.get((a, None), "other", lambda: build(4)) == 4      # another extra key
    twin = a.clone()
    assert cache.get((twin, None), "k", lambda: build(5)) == 5       # equal, not the same
    assert calls == [1, 3, 4, 5]
    assert len(cache._entries) == 2                                  # the size limit
    del twin                                                         # freed: its entry goes
    assert len(cache._entries) == 1
    assert cache.get((a, None), "other", lambda: build(6)) == 4      # still kept
    a.add_(1)                                                        # modified in place
    assert cache.get((a, None), "other", lambda: build(7)) == 7
    cache.clear()
    assert cache.get((a, None), "other", lambda: build(8)) == 8


def test_tensor_cache_builds_without_grad_and_outside_inference_mode():
    cache = TensorCache()
    weight = torch.randn(3, requires_grad=True)
    key = torch.ones(3)
    with torch.inference_mode():
        value = cache.get((key,), None, lambda: key * weight)
    assert not value.requires_grad and not value.is_inference()
    # Usable in a later backward pass of another computation.
    other = torch.randn(3, requires_grad=True)
    (cache.get((key,), None, lambda: None) * other).sum().backward()
    assert torch.equal(other.grad, value)


def test_adjacency_cache_keeps_operators_and_csr_tensors_apart():
    _, edge_index, weight = _directed_graph()
    cache = AdjacencyCache(size=3)
    op = cache.get(edge_index, 30, weight, operator=True)
    assert isinstance(op, SparseOperator)
    assert cache.get(edge_index, 30, weight, operator=True) is op
    csr = cache.get(edge_index, 30, weight)
    assert isinstance(csr, torch.Tensor) and csr.layout == torch.sparse_csr
    assert torch.allclose(op.to_torch().to_dense(), csr.to_dense(), atol=1e-6)
    improved = cache.get(edge_index, 30, weight, operator=True, improved=True)
    assert improved is not op
    assert not torch.allclose(improved.to_torch().to_dense(), op.to_torch().to_dense())
    weight[0] += 1.0
    assert cache.get(edge_index, 30, weight, operator=True) is not op


def test_tensor_cache_accepts_inference_tensors_as_keys():
    cache = TensorCache()
    with torch.inference_mode():
        key = torch.ones(3)
    assert cache.get((key,), None, lambda: 1) == 1
    assert cache.get((key,), None, lambda: 2) in (1, 2)  # a hit, or no caching at all
