"""A multiplex graph whose label signal is split across its relations, and its baselines."""
from __future__ import annotations

import functools

import torch
from torch_geometric.data import Data, HeteroData

from graphinfo.models import DGI, build_model
from graphinfo.train import embed, fit
from tests.conftest import split_of


def _community_edges(community: torch.Tensor, num_edges: int, homophily: float,
                     generator: torch.Generator) -> torch.Tensor:
    """Undirected edges, a ``homophily`` fraction inside the endpoints' community."""
    n = community.numel()
    src = torch.randint(n, (num_edges,), generator=generator)
    members = [torch.nonzero(community == c).view(-1) for c in range(int(community.max()) + 1)]
    same = torch.stack([members[int(community[s])][torch.randint(
        len(members[int(community[s])]), (1,), generator=generator)] for s in src]).view(-1)
    other = torch.randint(n, (num_edges,), generator=generator)
    dst = torch.where(torch.rand(num_edges, generator=generator) < homophily, same, other)
    edge_index = torch.stack([src, dst])
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    return torch.cat([edge_index, edge_index.flip(0)], dim=1)


def split_multiplex(seed: int = 0, num_nodes: int = 400) -> HeteroData:
    """Four classes whose signal is split across two relations: relation 'a' joins nodes of
    the same class pair {0, 1} / {2, 3} (y // 2), relation 'b' of the same parity (y % 2), so
    each relation alone tells two groups apart and only both together tell the four classes.
    The features carry the class weakly (class means at 0.6 of the noise)."""
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(num_nodes) % 4
    y = y[torch.randperm(num_nodes, generator=generator)]
    data = HeteroData()
    means = torch.randn(4, 16, generator=generator)
    data["node"].x = 0.6 * means[y] + torch.randn(num_nodes, 16, generator=generator)
    data["node"].y = y
    data["node", "a", "node"].edge_index = _community_edges(y // 2, 4 * num_nodes, 0.9,
                                                           generator)
    data["node", "b", "node"].edge_index = _community_edges(y % 2, 4 * num_nodes, 0.9,
                                                           generator)
    perm = torch.randperm(num_nodes, generator=generator)
    for name, part in (("train_mask", perm[:80]), ("val_mask", perm[80:160]),
                       ("test_mask", perm[160:])):
        mask = torch.zeros(num_nodes, dtype=torch.bool)
        mask[part] = True
        data["node"][name] = mask
    return data


def accuracy_of(z: torch.Tensor, store) -> float:
    """Linear-probe test accuracy of embeddings of the nodes of ``store``."""
    from graphinfo.evaluation import linear_probe

    return linear_probe(z, store.y, split_of(store))["test_acc"]


@functools.cache
def single_relation_accuracies(seed: int = 0, num_nodes: int = 400,
                               epochs: int = 150) -> tuple[float, ...]:
    """Probe accuracy of DGI trained on each relation of ``split_multiplex(seed, num_nodes)``
    alone (computed once per session: both multiplex models compare against it)."""
    data = split_multiplex(seed, num_nodes)
    store = data["node"]
    out = []
    for relation in ("a", "b"):
        graph = Data(x=store.x, edge_index=data["node", relation, "node"].edge_index, y=store.y)
        torch.manual_seed(0)
        dgi = build_model(DGI, data=graph, hidden_channels=32)
        fit(dgi, graph, epochs=epochs, lr=0.01, patience=None, progress=False)
        out.append(accuracy_of(embed(dgi, graph), store))
    return tuple(out)
