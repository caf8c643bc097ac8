import networkx as nx
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected

from graphinfo.nn import AdaptiveDropEdges, AdaptiveMaskFeatures, make_corruption
from graphinfo.nn.adaptive import adaptive_probabilities, node_centrality


def _star_and_path():
    """A hub (0) joined to 1..8, and a path 9-10-...-19 hanging off node 8."""
    edges = [(0, i) for i in range(1, 9)] + [(i, i + 1) for i in range(8, 19)]
    edge_index = to_undirected(torch.tensor(edges).t(), num_nodes=20)
    return Data(x=torch.rand(20, 6, generator=torch.Generator().manual_seed(0)),
                edge_index=edge_index, num_nodes=20)


def _networkx(view):
    graph = nx.Graph()
    graph.add_nodes_from(range(view.num_nodes))
    graph.add_edges_from(view.edge_index.t().tolist())
    return graph


def test_centralities_match_their_definitions():
    view = _star_and_path()
    degree = node_centrality(view.edge_index, 20, "degree")
    assert degree.tolist() == [d for _, d in sorted(_networkx(view).degree())]
    evc = node_centrality(view.edge_index, 20, "eigenvector", iterations=2000, tol=1e-10)
    expected = nx.eigenvector_centrality_numpy(_networkx(view))
    assert torch.allclose(evc, torch.tensor([expected[i] for i in range(20)]), atol=1e-4)
    pagerank = node_centrality(view.edge_index, 20, "pagerank", iterations=1000, tol=1e-10)
    reference = nx.pagerank(_networkx(view), alpha=0.85, tol=1e-12, max_iter=100000)
    # GCA's unnormalised PageRank, (I - 0.85 A D^-1)^-1 1, is networkx's times a constant.
    ratio = pagerank / torch.tensor([reference[i] for i in range(20)])
    assert torch.allclose(ratio, ratio.mean().expand(20), rtol=1e-4)
    with pytest.raises(ValueError, match="'centrality' must be one of"):
        node_centrality(view.edge_index, 20, "betweenness")


def test_probabilities_average_p_and_respect_the_cutoff():
    score = torch.log(torch.tensor([1.0, 2.0, 4.0, 8.0, 100.0]))
    probability = adaptive_probabilities(score, 0.3, 1.0)
    assert torch.isclose(probability.mean(), torch.tensor(0.3))
    assert probability[-1] == 0 and (probability.diff() < 0).all()
    assert adaptive_probabilities(score, 0.3, 0.4).max() == pytest.approx(0.4)
    assert torch.equal(adaptive_probabilities(torch.zeros(4), 0.3, 0.7), torch.full((4,), 0.3))


@pytest.mark.parametrize("centrality", ["degree", "pagerank", "eigenvector"])
def test_edges_into_central_nodes_are_dropped_less(centrality):
    view = _star_and_path()
    augmentation = AdaptiveDropEdges(0.3, centrality=centrality)
    probability = augmentation.probabilities(view)
    into_hub = view.edge_index[1] == 0
    into_path_end = view.edge_index[1] == 19
    assert probability[into_hub].max() < probability[into_path_end].min()
    kept = torch.zeros(probability.numel())
    for seed in range(400):
        out = AdaptiveDropEdges(0.3, centrality=centrality,
                                generator=torch.Generator().manual_seed(seed)).augment(view)
        present = set(map(tuple, out.edge_index.t().tolist()))
        kept += torch.tensor([tuple(e) in present for e in view.edge_index.t().tolist()]).float()
    assert torch.allclose(kept / 400, 1 - probability, atol=0.09)


def test_adaptive_drops_are_seeded_cached_and_named():
    view = _star_and_path()
    first = AdaptiveDropEdges(generator=torch.Generator().manual_seed(3)).augment(view)
    again = AdaptiveDropEdges(generator=torch.Generator().manual_seed(3)).augment(view)
    assert torch.equal(first.edge_index, again.edge_index)
    augmentation = make_corruption("adaptive_drop_edges", centrality="pagerank", p=0.2)
    assert augmentation.probabilities(view) is augmentation.probabilities(view)
    assert isinstance(make_corruption("adaptive_mask_features"), AdaptiveMaskFeatures)
    mean = AdaptiveDropEdges(edge_score="mean").probabilities(view)
    assert not torch.allclose(mean, AdaptiveDropEdges().probabilities(view))
    with pytest.raises(ValueError, match="'edge_score' must be 'target' or 'mean'"):
        AdaptiveDropEdges(edge_score="source")


def test_features_of_central_nodes_are_masked_less():
    view = _star_and_path()
    x = torch.zeros(20, 3)
    x[0, 0] = 1.0                  # only the hub has feature 0
    x[19, 1] = 1.0                 # only the path's end has feature 1
    view.x = x                     # feature 2: nobody
    augmentation = AdaptiveMaskFeatures(0.3, cutoff=0.9)
    probability = augmentation.probabilities(view)
    assert probability[0] < probability[1] <= probability[2]
    masked = torch.zeros(3)
    for seed in range(500):
        out = AdaptiveMaskFeatures(0.3, cutoff=0.9,
                                   generator=torch.Generator().manual_seed(seed)).augment(view)
        masked += torch.tensor([float(out.x[0, 0] == 0), float(out.x[19, 1] == 0), 1.0])
    assert torch.allclose(masked[:2] / 500, probability[:2], atol=0.07)
