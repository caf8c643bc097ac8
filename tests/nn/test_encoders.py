import copy

import pytest
import torch
from torch_geometric.nn import GATConv, GCNConv
from torch_geometric.utils import coalesce

from graphinfo.nn import GATEncoder, GCNEncoder, GINEncoder, SAGEEncoder, make_encoder
from graphinfo.nn.encoders import GAT_FACTORISED_MAX_SPREAD, _dense_attention, _permutes_rows
from graphinfo.sparse import DenseOperator


@pytest.mark.parametrize("cls", [GCNEncoder, SAGEEncoder, GINEncoder, GATEncoder])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_shapes_gradients_and_reset(cls, num_layers, tiny_graph):
    torch.manual_seed(0)
    encoder = cls(4, 8, num_layers=num_layers)
    assert (encoder.in_channels, encoder.out_channels) == (4, 8)
    z = encoder(tiny_graph.x, tiny_graph.edge_index)
    assert z.shape == (6, 8)
    z.sum().backward()
    grads = [p.grad for p in encoder.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)

    torch.manual_seed(1)
    encoder.reset_parameters()
    first = encoder(tiny_graph.x, tiny_graph.edge_index)
    torch.manual_seed(1)
    encoder.reset_parameters()
    assert torch.equal(first, encoder(tiny_graph.x, tiny_graph.edge_index))
    torch.manual_seed(2)
    encoder.reset_parameters()
    assert not torch.equal(first, encoder(tiny_graph.x, tiny_graph.edge_index))


def test_gcn_encoder_is_the_papers_gcn_plus_prelu(tiny_graph):
    encoder = GCNEncoder(4, 8)
    conv, act = GCNConv(4, 8), torch.nn.PReLU(8)
    conv.load_state_dict(encoder.convs[0].state_dict())
    act.load_state_dict(encoder.acts[0].state_dict())
    expected = act(conv(tiny_graph.x, tiny_graph.edge_index))
    assert torch.allclose(encoder(tiny_graph.x, tiny_graph.edge_index), expected)


def test_gcn_encoder_uses_edge_weights(tiny_graph):
    encoder = GCNEncoder(4, 8)
    weight = torch.rand(tiny_graph.edge_index.size(1))
    plain = encoder(tiny_graph.x, tiny_graph.edge_index)
    weighted = encoder(tiny_graph.x, tiny_graph.edge_index, weight)
    assert not torch.allclose(plain, weighted)


def test_gat_heads_must_divide_hidden():
    with pytest.raises(ValueError, match="'heads' must be a positive int dividing"):
        GATEncoder(4, 10, heads=3)
    assert GATEncoder(4, 12, heads=3)(torch.randn(3, 4), torch.tensor([[0, 1], [1, 2]])).shape \
        == (3, 12)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="'in_channels' must be a positive int, got 0"):
        GCNEncoder(0, 8)
    with pytest.raises(ValueError, match="'num_layers' must be an int >= 1"):
        GCNEncoder(4, 8, num_layers=0)
    with pytest.raises(ValueError, match="Unknown activation 'swish'"):
        GCNEncoder(4, 8, activation="swish")


def test_make_encoder_by_name_and_object():
    assert isinstance(make_encoder("GCN", 4, 8), GCNEncoder)
    assert isinstance(make_encoder("sage", 4, 8, num_layers=2), SAGEEncoder)
    module = torch.nn.Linear(4, 8)
    assert make_encoder(module, None, 8) is module
    with pytest.raises(ValueError, match=r"Unknown encoder 'gnn'; expected one of: 'gcn'"):
        make_encoder("gnn", 4, 8)
    with pytest.raises(ValueError, match="'in_channels' is required"):
        make_encoder("gcn", None, 8)


def test_gcn_encoder_sparse_and_edge_list_paths_agree(tiny_graph):
    encoder = GCNEncoder(4, 8, num_layers=2)
    weight = torch.rand(tiny_graph.edge_index.size(1))
    fast = encoder(tiny_graph.x, tiny_graph.edge_index, weight)  # cached CSR adjacency
    learnable = weight.clone().requires_grad_()
    slow = encoder(tiny_graph.x, tiny_graph.edge_index, learnable)  # PyG's edge-list path
    assert torch.allclose(fast, slow, atol=1e-6)
    slow.sum().backward()
    assert learnable.grad is not None and learnable.grad.abs().sum() > 0
    # The cache never serves a graph that changed in place.
    edge_index = tiny_graph.edge_index.clone()
    before = encoder(tiny_graph.x, edge_index)
    edge_index[1, -1] = 5
    assert not torch.allclose(before, encoder(tiny_graph.x, edge_index))


# -- GCNEncoder's fast path ----------------------------------------------------------------------

NUM_NODES, NUM_FEATURES = 40, 50


#: Edge counts of the test graphs: few enough that a shuffled view relabels the operator's
#: columns (nnz < N F / 2 at width 8), more (its rows are shuffled), and enough for a dense
#: operator (at least 25 % of the entries).
GRAPH_EDGES = {"sparse": 30, "medium": 150, "dense": 700}


def _graph(seed=0, kind="medium"):
    """A directed graph on 40 nodes with duplicate edges; nodes 36-39 have no edges at all."""
    generator = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, 36, (2, GRAPH_EDGES[kind]), generator=generator)
    edge_index = torch.cat([edge_index, edge_index[:, :10]], dim=1)  # duplicates
    weight = torch.rand(edge_index.size(1), generator=generator) + 0.1
    return edge_index, weight


def _features(kind, seed=0):
    """Dense features, binary ones at 2 % or 8 % density, or the 8 % ones as a sparse COO."""
    generator = torch.Generator().manual_seed(seed)
    if kind == "dense":
        return torch.randn(NUM_NODES, NUM_FEATURES, generator=generator)
    density = 0.02 if kind == "binary_2" else 0.08
    numel = NUM_NODES * NUM_FEATURES
    x = torch.zeros(numel)
    x[torch.randperm(numel, generator=generator)[:round(density * numel)]] = 1.0
    x = x.view(NUM_NODES, NUM_FEATURES)
    return x.to_sparse_coo() if kind == "coo" else x


def _shuffle(x, perm):
    return x.index_select(0, perm)


def _run(encoder, x, edge_index, weight, upstream, perm=None):
    """Embeddings (clean, and shuffled when ``perm`` is given) and every parameter's gradient of
    a fixed linear function of them."""
    encoder.zero_grad()
    if perm is None:
        outs = [encoder(x, edge_index, weight)]
    else:
        outs = list(encoder.forward_shuffled(x, edge_index, weight, perm=perm))
    sum((out * u).sum() for out, u in zip(outs, upstream)).backward()
    return [out.detach() for out in outs], {n: p.grad.clone() for n, p in
                                           encoder.named_parameters()}


def _upstream(count=2):
    generator = torch.Generator().manual_seed(7)
    return [torch.randn(NUM_NODES, 8, generator=generator) for _ in range(count)]


def _fast_and_general(num_layers, aggregate_first):
    """A seeded GCN encoder and a copy of it on the general path (same weights)."""
    torch.manual_seed(0)
    fast = GCNEncoder(NUM_FEATURES, 8, num_layers=num_layers, aggregate_first=aggregate_first)
    general = copy.deepcopy(fast)
    general.fast_path = False
    return fast, general


def _assert_close(first, second, atol=1e-5):
    (outs, grads), (other_outs, other_grads) = first, second
    assert len(outs) == len(other_outs)
    for a, b in zip(outs, other_outs):
        assert torch.allclose(a, b, atol=atol), float((a - b).abs().max())
    assert grads.keys() == other_grads.keys()
    for name in grads:
        assert torch.allclose(grads[name], other_grads[name], atol=atol), name


FEATURE_CASES = [("dense", None), ("dense", True), ("dense", False), ("binary_2", None),
                 ("binary_8", None), ("coo", None)]


@pytest.mark.parametrize("kind, aggregate_first", FEATURE_CASES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("graph", ["medium", "dense"])
def test_gcn_fast_path_equals_the_pyg_path(kind, aggregate_first, weighted, num_layers, graph):
    fast, general = _fast_and_general(num_layers, aggregate_first)
    x = _features(kind)
    edge_index, weight = _graph(kind=graph)
    weight = weight if weighted else None
    assert fast.uses_fast_path(x, edge_index, weight)
    assert not general.uses_fast_path(x, edge_index, weight)
    upstream = _upstream(1)
    expected = _run(general, x, edge_index, weight, upstream)
    _assert_close(_run(fast, x, edge_index, weight, upstream), expected)
    # Again, now from the caches.
    _assert_close(_run(fast, x, edge_index, weight, upstream), expected)


@pytest.mark.parametrize("kind, aggregate_first", FEATURE_CASES)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("graph", list(GRAPH_EDGES))
def test_forward_shuffled_is_forward_of_x_and_of_the_shuffled_x(kind, aggregate_first,
                                                               num_layers, graph):
    encoder, general = _fast_and_general(num_layers, aggregate_first)
    x = _features(kind)
    edge_index, weight = _graph(kind=graph)
    adjacency = encoder._adjacency_of(x, edge_index, weight)
    assert isinstance(adjacency, DenseOperator) == (graph == "dense")
    assert _permutes_rows(adjacency, 8) == (graph != "sparse")
    perm = torch.randperm(NUM_NODES, generator=torch.Generator().manual_seed(3))
    upstream = _upstream()
    shuffled = _run(encoder, x, edge_index, weight, upstream, perm=perm)

    def separately(model):
        clean, clean_grads = _run(model, x, edge_index, weight, upstream[:1])
        corrupt, corrupt_grads = _run(model, _shuffle(x, perm), edge_index, weight,
                                      upstream[1:])
        return clean + corrupt, {n: g + corrupt_grads[n] for n, g in clean_grads.items()}

    _assert_close(shuffled, separately(encoder))
    _assert_close(shuffled, separately(general))
    # The two views really differ (the permutation was applied).
    assert not torch.allclose(shuffled[0][0], shuffled[0][1], atol=1e-3)


@pytest.mark.parametrize("kind", ["dense", "binary_2"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_features_that_require_grad_get_the_same_gradient_on_both_paths(kind, num_layers):
    torch.manual_seed(0)
    fast = GCNEncoder(NUM_FEATURES, 8, num_layers=num_layers, aggregate_first=True)
    general = copy.deepcopy(fast)
    general.fast_path = False
    edge_index, weight = _graph()
    perm = torch.randperm(NUM_NODES, generator=torch.Generator().manual_seed(3))
    upstream = _upstream()
    base = _features(kind)

    x_fast, x_general = base.clone().requires_grad_(), base.clone().requires_grad_()
    fast_run = _run(fast, x_fast, edge_index, weight, upstream, perm=perm)
    general.zero_grad()
    pos = general(x_general, edge_index, weight)
    neg = general(x_general[perm], edge_index, weight)
    ((pos * upstream[0]).sum() + (neg * upstream[1]).sum()).backward()
    _assert_close(fast_run, ([pos.detach(), neg.detach()],
                             {n: p.grad for n, p in general.named_parameters()}))
    assert x_fast.grad is not None and x_fast.grad.abs().sum() > 0
    assert torch.allclose(x_fast.grad, x_general.grad, atol=1e-5)

    x_single = base.clone().requires_grad_()
    (fast(x_single, edge_index, weight) * upstream[0]).sum().backward()
    x_reference = base.clone().requires_grad_()
    (general(x_reference, edge_index, weight) * upstream[0]).sum().backward()
    assert torch.allclose(x_single.grad, x_reference.grad, atol=1e-5)


@pytest.mark.parametrize("kind", ["dense", "binary_2", "coo"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("graph", ["sparse", "dense", "dense_with_repeats"])
def test_gat_forward_shuffled_is_forward_of_x_and_of_the_shuffled_x(kind, num_layers, graph):
    torch.manual_seed(0)
    encoder = GATEncoder(NUM_FEATURES, 8, num_layers=num_layers, heads=2)
    x = _features(kind)
    edge_index, _ = _graph(kind=graph.removesuffix("_with_repeats"))
    if graph == "dense":
        edge_index = coalesce(edge_index)
    edge_index = torch.cat([edge_index, torch.tensor([[3, 5], [3, 5]])], 1)   # own self-loops
    assert encoder.shares_projection(x, edge_index)
    # Scored as dense matrices exactly when the graph is dense and has no repeated edge.
    assert (encoder._dense_mask(edge_index, NUM_NODES, 4) is not None) == (graph == "dense")
    perm = torch.randperm(NUM_NODES, generator=torch.Generator().manual_seed(3))
    upstream = _upstream()

    def run(shuffled):
        encoder.zero_grad()
        if shuffled:
            outs = list(encoder.forward_shuffled(x, edge_index, perm=perm))
        else:
            dense = x.to_dense()
            outs = [encoder(dense, edge_index), encoder(dense[perm], edge_index)]
        sum((out * u).sum() for out, u in zip(outs, upstream)).backward()
        return [out.detach() for out in outs], {n: p.grad.clone() for n, p in
                                               encoder.named_parameters()}
    together = run(True)
    _assert_close(together, run(False))
    _assert_close(run(True), together)      # again, from the cached feature operator
    assert not torch.allclose(together[0][0], together[0][1], atol=1e-3)


@pytest.mark.parametrize("spread, offset, slope", [
    (4.0, 0.0, 0.2),          # factorised
    (50.0, 0.0, 0.2),         # factorised, near its limit
    (50.0, 150.0, 0.2),       # factorised, every target score far above zero
    (50.0, -150.0, 0.0),      # factorised, far below zero, slope 0 (ReLU)
    (200.0, 0.0, 0.2),        # too wide: the masked softmax
    (4.0, 0.0, 1.5),          # slope outside [0, 1]: the masked softmax
])
def test_gat_dense_attention_equals_the_masked_softmax(spread, offset, slope, monkeypatch):
    generator = torch.Generator().manual_seed(0)
    nodes, heads, channels = 30, 3, 5
    adjacency = (torch.rand(nodes, nodes, generator=generator) < 0.3).float()
    adjacency.diagonal().fill_(1.0)
    adjacency[4] = 0.0                     # a node that attends to itself only
    adjacency[4, 4] = 1.0
    x = torch.randn(nodes, heads, channels, generator=generator).requires_grad_()
    src = (spread * torch.rand(nodes, heads, generator=generator)).requires_grad_()
    dst = (offset + spread * torch.rand(nodes, heads, generator=generator)).requires_grad_()
    conv = GATConv(4, channels, heads=heads, negative_slope=slope)
    upstream = torch.randn(nodes, heads, channels, generator=generator)

    def run(fn):
        for t in (x, src, dst):
            t.grad = None
        out = fn()
        (out * upstream).sum().backward()
        return [out.detach()] + [t.grad.clone() for t in (x, src, dst)]

    def reference():
        scores = torch.nn.functional.leaky_relu(dst.t().unsqueeze(2).double()
                                                + src.t().unsqueeze(1).double(), slope)
        weights = torch.softmax(scores.masked_fill(adjacency == 0, float("-inf")), -1)
        return torch.bmm(weights, x.transpose(0, 1).double()).transpose(0, 1).float()

    expected = run(reference)
    softmax_calls = []
    softmax = torch.softmax
    monkeypatch.setattr(torch, "softmax", lambda *a, **k: softmax_calls.append(1) or
                        softmax(*a, **k))
    got = run(lambda: _dense_attention(conv, x, (src, dst), adjacency))
    factorised = spread <= GAT_FACTORISED_MAX_SPREAD and 0.0 <= slope <= 1.0
    assert bool(softmax_calls) != factorised
    for a, b in zip(got, expected):
        assert torch.isfinite(a).all()
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4), (a - b).abs().max()
    assert torch.allclose(got[0][4], x[4].detach(), atol=1e-6)


def test_gat_dense_attention_drops_attention_only_through_the_softmax(monkeypatch):
    generator = torch.Generator().manual_seed(0)
    adjacency = torch.ones(12, 12)
    x, src, dst = (torch.randn(12, 2, 3, generator=generator), torch.randn(12, 2,
                   generator=generator), torch.randn(12, 2, generator=generator))
    conv = GATConv(4, 3, heads=2, dropout=0.5)
    calls = []
    softmax = torch.softmax
    monkeypatch.setattr(torch, "softmax", lambda *a, **k: calls.append(1) or softmax(*a, **k))
    conv.eval()
    clean = _dense_attention(conv, x, (src, dst), adjacency)
    assert not calls
    conv.train()
    dropped = _dense_attention(conv, x, (src, dst), adjacency)
    assert calls and not torch.allclose(clean, dropped)


def test_gat_forward_shuffled_runs_other_layers_as_two_calls():
    torch.manual_seed(0)
    encoder = GATEncoder(NUM_FEATURES, 8, heads=2, residual=True)
    x, (edge_index, _) = _features("dense"), _graph()
    assert not encoder.shares_projection(x, edge_index)
    perm = torch.randperm(NUM_NODES, generator=torch.Generator().manual_seed(3))
    pos, neg = encoder.forward_shuffled(x, edge_index, perm=perm)
    assert torch.allclose(pos, encoder(x, edge_index))
    assert torch.allclose(neg, encoder(x[perm], edge_index))
    with pytest.raises(ValueError, match="'perm' must be a permutation of the 40 nodes"):
        encoder.forward_shuffled(x, edge_index, perm=perm[:-1])


def test_learnable_edge_weights_take_the_general_path_and_get_gradients():
    torch.manual_seed(0)
    encoder = GCNEncoder(NUM_FEATURES, 8)
    x = _features("dense")
    edge_index, weight = _graph()
    learnable = weight.clone().requires_grad_()
    assert encoder.uses_fast_path(x, edge_index, weight)
    assert not encoder.uses_fast_path(x, edge_index, learnable)
    with pytest.raises(ValueError, match="forward_shuffled needs inputs of the fast path"):
        encoder.forward_shuffled(x, edge_index, learnable, perm=torch.arange(NUM_NODES))
    out = encoder(x, edge_index, learnable)
    assert torch.allclose(out, encoder(x, edge_index, weight), atol=1e-5)
    # PyG's own normalising GCNConv + PReLU with the same weights gives the same gradient.
    conv, act = GCNConv(NUM_FEATURES, 8), torch.nn.PReLU(8)
    conv.load_state_dict(encoder.convs[0].state_dict())
    act.load_state_dict(encoder.acts[0].state_dict())
    reference_weight = weight.clone().requires_grad_()
    upstream = _upstream(1)[0]
    (out * upstream).sum().backward()
    (act(conv(x, edge_index, reference_weight)) * upstream).sum().backward()
    assert learnable.grad.abs().sum() > 0
    assert torch.allclose(learnable.grad, reference_weight.grad, atol=1e-5)


def test_fast_path_does_not_use_message_passing(monkeypatch):
    encoder = GCNEncoder(NUM_FEATURES, 8, num_layers=2)
    x, (edge_index, weight) = _features("binary_8"), _graph()

    def fail(*args, **kwargs):
        raise AssertionError("GCNConv.forward called on the fast path")

    expected = copy.deepcopy(encoder)(x, edge_index, weight)
    monkeypatch.setattr(GCNConv, "forward", fail)
    assert torch.allclose(encoder(x, edge_index, weight), expected, atol=1e-5)
    encoder.forward_shuffled(x, edge_index, weight, perm=torch.arange(NUM_NODES))
    encoder.fast_path = False
    with pytest.raises(AssertionError, match="GCNConv.forward called"):
        encoder(x, edge_index, weight)


def test_uses_fast_path_only_for_edge_lists_and_constant_weights():
    encoder = GCNEncoder(4, 8)
    x, edge_index = torch.randn(5, 4), torch.tensor([[0, 1, 2], [1, 2, 3]])
    assert encoder.uses_fast_path(x, edge_index)
    assert encoder.uses_fast_path(x, edge_index, torch.ones(3))
    assert not encoder.uses_fast_path(x, edge_index, torch.ones(3, requires_grad=True))
    adjacency = torch.sparse_coo_tensor(edge_index, torch.ones(3), (5, 5), check_invariants=True)
    assert not encoder.uses_fast_path(x, adjacency)
    encoder.fast_path = False
    assert not encoder.uses_fast_path(x, edge_index)


@pytest.mark.parametrize("kind, aggregate_first", [("dense", True), ("dense", False),
                                                   ("binary_2", None)])
def test_a_graph_changed_in_place_is_not_served_from_the_cache(kind, aggregate_first):
    torch.manual_seed(0)
    encoder = GCNEncoder(NUM_FEATURES, 8, num_layers=2, aggregate_first=aggregate_first)
    general = copy.deepcopy(encoder)
    general.fast_path = False
    x = _features(kind)
    edge_index, weight = _graph()
    perm = torch.randperm(NUM_NODES, generator=torch.Generator().manual_seed(3))
    before = encoder(x, edge_index, weight)
    encoder.forward_shuffled(x, edge_index, weight, perm=perm)
    changes = [lambda: edge_index[1, :20].copy_(torch.arange(36, 40).repeat(5)),  # isolated
               lambda: weight.mul_(torch.linspace(0.1, 3.0, weight.numel())),
               lambda: x[:10].mul_(-2.0)]
    for change in changes:
        change()
        out = encoder(x, edge_index, weight)
        assert not torch.allclose(out, before, atol=1e-4)
        assert torch.allclose(out, general(x, edge_index, weight), atol=1e-5)
        pos, neg = encoder.forward_shuffled(x, edge_index, weight, perm=perm)
        assert torch.allclose(pos, out, atol=1e-5)
        assert torch.allclose(neg, general(x[perm], edge_index, weight), atol=1e-5)
        before = out


def test_forward_shuffled_checks_the_permutation():
    encoder = GCNEncoder(NUM_FEATURES, 8)
    x, (edge_index, _) = _features("dense"), _graph()
    with pytest.raises(ValueError, match=r"'perm' must be a permutation of the 40 nodes, got "
                                         r"shape \(39,\)"):
        encoder.forward_shuffled(x, edge_index, perm=torch.arange(NUM_NODES - 1))
    with pytest.raises(ValueError, match=r"got shape \(2, 20\)"):
        encoder.forward_shuffled(x, edge_index, perm=torch.arange(NUM_NODES).view(2, 20))


def test_fast_path_after_inference_mode_and_in_float64():
    torch.manual_seed(0)
    encoder = GCNEncoder(NUM_FEATURES, 8, num_layers=2).double()
    general = copy.deepcopy(encoder)
    general.fast_path = False
    edge_index, weight = _graph()
    for kind in ("dense", "binary_2"):
        x = _features(kind).double()
        with torch.inference_mode():  # fills the caches inside inference mode
            first = encoder(x, edge_index, weight)
        assert torch.allclose(first, general(x, edge_index, weight), atol=1e-12)
        upstream = [u.double() for u in _upstream()]
        perm = torch.randperm(NUM_NODES, generator=torch.Generator().manual_seed(3))
        run = _run(encoder, x, edge_index, weight, upstream, perm=perm)
        clean, clean_grads = _run(general, x, edge_index, weight, upstream[:1])
        corrupt, corrupt_grads = _run(general, x[perm], edge_index, weight, upstream[1:])
        _assert_close(run, (clean + corrupt,
                            {n: g + corrupt_grads[n] for n, g in clean_grads.items()}),
                      atol=1e-12)


@pytest.mark.parametrize("options", [{"improved": True}, {"add_self_loops": False},
                                     {"bias": False}])
@pytest.mark.parametrize("aggregate_first", [True, False])
def test_fast_path_follows_the_gcn_options(options, aggregate_first):
    torch.manual_seed(0)
    encoder = GCNEncoder(NUM_FEATURES, 8, num_layers=2, aggregate_first=aggregate_first,
                         **options)
    general = copy.deepcopy(encoder)
    general.fast_path = False
    x, (edge_index, weight) = _features("dense"), _graph()
    upstream = _upstream(1)
    before = _run(encoder, x, edge_index, weight, upstream)
    _assert_close(before, _run(general, x, edge_index, weight, upstream))
    if "bias" in options:
        return
    # Options changed on a used encoder are not served from the caches of the old ones.
    for model in (encoder, general):
        model.improved, model.add_self_loops = not model.improved, not model.add_self_loops
    changed = _run(encoder, x, edge_index, weight, upstream)
    assert not torch.allclose(changed[0][0], before[0][0], atol=1e-3)
    _assert_close(changed, _run(general, x, edge_index, weight, upstream))


@pytest.mark.parametrize("conv_kwargs", [{"aggr": "max"}, {"aggr": "mean"},
                                         {"flow": "target_to_source"}])
def test_fast_path_is_not_taken_for_convolution_options_it_does_not_implement(conv_kwargs):
    torch.manual_seed(0)
    encoder = GCNEncoder(NUM_FEATURES, 8, **conv_kwargs)
    general = copy.deepcopy(encoder)
    general.fast_path = False
    x, (edge_index, _) = _features("dense"), _graph()  # a directed graph
    assert torch.allclose(encoder(x, edge_index), general(x, edge_index), atol=1e-5)


def test_hooks_on_a_convolution_send_the_encoder_to_the_general_path():
    encoder = GCNEncoder(NUM_FEATURES, 8)
    x, (edge_index, _) = _features("dense"), _graph()
    assert encoder.uses_fast_path(x, edge_index)
    calls = []
    encoder.convs[0].register_forward_hook(lambda *args: calls.append(1))
    assert not encoder.uses_fast_path(x, edge_index)
    encoder(x, edge_index)
    assert calls == [1]


def test_cached_forms_of_the_features_are_freed_with_them():
    import gc
    import weakref

    encoder = GCNEncoder(NUM_FEATURES, 8)
    x, (edge_index, _) = _features("dense"), _graph()
    encoder(x, edge_index)
    assert encoder._aggregated._entries or encoder._features._entries
    ref = weakref.ref(x)
    del x
    gc.collect()
    assert ref() is None
    assert not encoder._aggregated._entries and not encoder._features._entries
    encoder.clear_cache()
    assert not encoder._adjacency._entries


def test_inference_tensors_with_moderately_sparse_features():
    encoder = GCNEncoder(NUM_FEATURES, 8)
    edge_index, _ = _graph()
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(NUM_NODES, NUM_FEATURES, generator=generator) \
        * (torch.rand(NUM_NODES, NUM_FEATURES, generator=generator) < 0.08)
    expected = encoder(x, edge_index).detach()
    with torch.inference_mode():
        assert torch.allclose(encoder(x.clone(), edge_index.clone()), expected, atol=1e-6)


# -- PyG's BasicGNN underneath -----------------------------------------------------------------

def _copy_weights(ours, theirs):
    for mine, pyg in zip(ours.convs, theirs.convs):
        pyg.load_state_dict(mine.state_dict(), strict=False)


@pytest.mark.parametrize("num_layers", [1, 3])
def test_every_encoder_is_a_basic_gnn_and_matches_pygs_model_with_the_same_weights(num_layers,
                                                                                  tiny_graph):
    from torch_geometric.nn.models import GCN, GraphSAGE
    from torch_geometric.nn.models.basic_gnn import BasicGNN

    x, edge_index = tiny_graph.x, tiny_graph.edge_index
    for ours, theirs in ((GCNEncoder(4, 8, num_layers, act="relu", act_last=False),
                          GCN(4, 8, num_layers, act="relu")),
                         (SAGEEncoder(4, 8, num_layers, act="relu", act_last=False),
                          GraphSAGE(4, 8, num_layers, act="relu"))):
        assert isinstance(ours, BasicGNN)
        for mine, pyg in zip(ours.convs, theirs.convs):
            for name, value in mine.state_dict().items():
                pyg.state_dict()[name].copy_(value)
        assert torch.allclose(ours(x, edge_index), theirs(x, edge_index), atol=1e-5)


def test_norm_jk_and_activation_by_name(tiny_graph):
    x, edge_index = tiny_graph.x, tiny_graph.edge_index
    encoder = GINEncoder(4, 8, num_layers=3, act="relu", act_first=True, norm="batch_norm",
                         jk="cat")
    assert encoder.out_channels == 24 and not hasattr(encoder, "lin")
    z = encoder(x, edge_index)
    assert z.shape == (6, 24)
    # Each block of the concatenation is one layer's (ReLU, then batch norm) output.
    h = x
    blocks = []
    for conv, norm in zip(encoder.convs, encoder.norms):
        h = norm(torch.relu(conv(h, edge_index)))
        blocks.append(h)
    assert torch.allclose(z, torch.cat(blocks, dim=-1), atol=1e-6)
    projected = GCNEncoder(4, 8, num_layers=2, jk="max", out_channels=5)
    assert projected(x, edge_index).shape == (6, 5) and projected.out_channels == 5
    gelu = GCNEncoder(4, 8, act="gelu")
    assert isinstance(gelu.acts[0], torch.nn.GELU)
    leaky = GCNEncoder(4, 8, act="leaky_relu", act_kwargs={"negative_slope": 0.3})
    assert leaky.acts[0].negative_slope == 0.3
    with pytest.raises(ValueError, match="'jk' must be one of"):
        GCNEncoder(4, 8, jk="sum")


def test_a_plain_stack_keeps_the_fast_path_and_norms_or_jk_leave_it(tiny_graph):
    x, edge_index = tiny_graph.x, tiny_graph.edge_index
    assert GCNEncoder(4, 8, num_layers=2).uses_fast_path(x, edge_index)
    for kwargs in ({"norm": "layer_norm"}, {"jk": "cat"}, {"jk": "last", "out_channels": 3}):
        encoder = GCNEncoder(4, 8, num_layers=2, **kwargs)
        assert not encoder.uses_fast_path(x, edge_index)
        assert torch.isfinite(encoder(x, edge_index)).all()


def test_the_last_layer_is_activated_unless_act_last_is_off(tiny_graph):
    x, edge_index = tiny_graph.x, tiny_graph.edge_index
    on = GCNEncoder(4, 8, act="relu")
    off = GCNEncoder(4, 8, act="relu", act_last=False)
    off.load_state_dict(on.state_dict())
    assert torch.equal(on(x, edge_index), torch.relu(off(x, edge_index)))
    assert (off(x, edge_index) < 0).any()


@pytest.mark.parametrize("cls", [GCNEncoder, SAGEEncoder, GINEncoder, GATEncoder])
def test_pygs_layerwise_inference_through_a_loader_equals_the_forward_pass(cls, planted):
    from graphinfo.sampler import neighbor_loader

    torch.manual_seed(0)
    encoder = cls(planted.num_features, 8, num_layers=2).eval()
    expected = encoder(planted.x, planted.edge_index)
    loader = neighbor_loader(planted, [-1], batch_size=64)
    got = encoder.inference(loader)
    assert torch.allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("cls", [GCNEncoder, SAGEEncoder, GINEncoder, GATEncoder])
def test_layerwise_export_in_chunks_equals_the_forward_pass(cls, planted):
    torch.manual_seed(0)
    kwargs = {"jk": "cat", "norm": "batch_norm"} if cls is GINEncoder else {}
    encoder = cls(planted.num_features, 8, num_layers=2, **kwargs).eval()
    expected = encoder(planted.x, planted.edge_index)
    assert torch.allclose(encoder.layerwise(planted.x, planted.edge_index, chunk_size=37),
                          expected, atol=1e-5)
    if cls is GCNEncoder:   # weighted edges, on the general path too
        weight = torch.rand(planted.num_edges)
        general = GCNEncoder(planted.num_features, 8, num_layers=2, norm="layer_norm").eval()
        assert torch.allclose(general.layerwise(planted.x, planted.edge_index, weight, 37),
                              general(planted.x, planted.edge_index, weight), atol=1e-5)
    with pytest.raises(ValueError, match="'chunk_size' must be >= 1"):
        encoder.layerwise(planted.x, planted.edge_index, chunk_size=0)


def test_encoder_kwargs_must_come_with_a_named_encoder():
    with pytest.raises(ValueError, match=r"'encoder_kwargs' \['num_layers'\] configure an "
                                         r"encoder built by name"):
        make_encoder(torch.nn.Linear(4, 8), None, 8, num_layers=2)


def test_gcn_without_normalisation_propagates_the_given_weights_as_pyg_does():
    torch.manual_seed(0)
    x = torch.randn(NUM_NODES, NUM_FEATURES)
    edge_index, _ = _graph()
    weight = torch.rand(edge_index.size(1))
    fast = GCNEncoder(NUM_FEATURES, 8, normalize=False, act="identity")
    general = GCNEncoder(NUM_FEATURES, 8, normalize=False, act="identity", fast_path=False)
    general.load_state_dict(fast.state_dict())
    conv = GCNConv(NUM_FEATURES, 8, normalize=False)
    conv.lin.weight.data.copy_(fast.convs[0].lin.weight)
    conv.bias.data.copy_(fast.convs[0].bias)
    expected = conv(x, edge_index, weight)
    assert torch.allclose(fast(x, edge_index, weight), expected, atol=1e-5)
    assert torch.allclose(general(x, edge_index, weight), expected, atol=1e-5)
    normalised = GCNEncoder(NUM_FEATURES, 8, act="identity")
    normalised.load_state_dict(fast.state_dict())
    assert not torch.allclose(normalised(x, edge_index, weight), expected, atol=1e-3)


def test_gat_shuffled_pair_of_an_empty_graph_is_empty():
    encoder = GATEncoder(NUM_FEATURES, 8, heads=2)
    x = torch.empty(0, NUM_FEATURES)
    pos, neg = encoder.forward_shuffled(x, torch.empty(2, 0, dtype=torch.long),
                                        perm=torch.empty(0, dtype=torch.long))
    assert pos.shape == neg.shape == (0, 8)
