import pytest
import torch

from graphinfo.walks import random_walks, walk_csr


def _path_graph(n):
    src = torch.arange(n - 1)
    return torch.stack([torch.cat([src, src + 1]), torch.cat([src + 1, src])])


def test_every_step_follows_an_edge_and_a_sink_keeps_its_walker():
    edge_index = torch.tensor([[0, 0, 1, 2, 2], [1, 2, 2, 0, 3]])    # node 3 has no out-edge
    generator = torch.Generator().manual_seed(0)
    walks = random_walks(edge_index, torch.tensor([0, 1, 2, 3] * 50), 6, generator=generator)
    assert walks.shape == (200, 7)
    assert walks[:, 0].tolist() == [0, 1, 2, 3] * 50
    edges = set(map(tuple, edge_index.t().tolist()))
    for a, b in zip(walks[:, :-1].reshape(-1).tolist(), walks[:, 1:].reshape(-1).tolist()):
        assert (a, b) in edges or (a == b == 3)
    assert (walks[3::4] == 3).all()                 # started on the sink, stayed there


def test_neighbours_are_drawn_uniformly_and_a_generator_reproduces_the_walks():
    edge_index = torch.tensor([[0, 0, 0, 0], [1, 2, 3, 3]])            # 3 listed twice
    start = torch.zeros(40000, dtype=torch.long)
    first = random_walks(edge_index, start, 1, generator=torch.Generator().manual_seed(1))
    share = torch.bincount(first[:, 1], minlength=4).float() / 40000
    assert torch.allclose(share, torch.tensor([0.0, 0.25, 0.25, 0.5]), atol=0.01)
    again = random_walks(walk_csr(edge_index, 4), start, 1,
                         generator=torch.Generator().manual_seed(1))
    assert torch.equal(first, again)


def test_walks_on_a_path_move_one_step_at_a_time_and_bad_input_is_refused():
    walks = random_walks(_path_graph(30), torch.arange(30), 20,
                         generator=torch.Generator().manual_seed(2))
    assert ((walks[:, 1:] - walks[:, :-1]).abs() == 1).all()
    with pytest.raises(ValueError, match="'walk_length' must be a non-negative int"):
        random_walks(_path_graph(3), torch.tensor([0]), -1)
    with pytest.raises(ValueError, match="'start' holds nodes outside \\[0, 3\\)"):
        random_walks(walk_csr(_path_graph(3), 3), torch.tensor([3]), 2)
    with pytest.raises(ValueError, match="outside \\[0, 2\\)"):
        walk_csr(_path_graph(3), 2)
