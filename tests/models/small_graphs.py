"""Collections of small graphs whose class is their shape (cycles against stars), for the
graph-level models' tests."""
import torch
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected


def cycle_or_star(kind: str, size: int, generator: torch.Generator) -> Data:
    """A cycle (label 0) or a star (label 1) of ``size`` nodes with near-constant features."""
    if kind == "cycle":
        nodes = torch.arange(size)
        edge_index = torch.stack([nodes, (nodes + 1) % size])
    else:  # a star: one hub joined to every other node
        edge_index = torch.stack([torch.zeros(size - 1, dtype=torch.long),
                                  torch.arange(1, size)])
    edge_index = to_undirected(edge_index, num_nodes=size)
    return Data(x=torch.ones(size, 1) + 0.01 * torch.randn(size, 1, generator=generator),
                edge_index=edge_index, y=torch.tensor([0 if kind == "cycle" else 1]))
