import pytest
import torch
from torch_geometric.data import HeteroData

from graphinfo.transforms import MetapathGraphs

WRITTEN = ("paper", "written_by", "author")
WRITES = ("author", "writes", "paper")


def _papers():
    data = HeteroData()
    data["paper"].x = torch.randn(4, 3)
    data["author"].num_nodes = 3
    data[WRITTEN].edge_index = torch.tensor([[0, 1, 2, 3], [0, 0, 1, 2]])
    data[WRITES].edge_index = data[WRITTEN].edge_index.flip(0)
    return data


def test_metapath_relations_get_their_names_and_the_original_ones_stay():
    out = MetapathGraphs([[WRITTEN, WRITES]], names=["coauthor"])(_papers())
    assert ("paper", "coauthor", "paper") in out.edge_types
    assert WRITTEN in out.edge_types and WRITES in out.edge_types
    pairs = set(map(tuple, out["paper", "coauthor", "paper"].edge_index.t().tolist()))
    assert {(0, 1), (1, 0), (0, 0), (1, 1), (2, 2), (3, 3)} == pairs   # papers 0, 1 share one
    assert not any("metapath_0" in t[1] for t in out.edge_types)


def test_bad_metapaths_are_refused():
    with pytest.raises(ValueError, match="each starting where the previous ends"):
        MetapathGraphs([[WRITTEN, WRITTEN]])
    with pytest.raises(ValueError, match="one distinct name per metapath"):
        MetapathGraphs([[WRITTEN, WRITES]], names=["a", "b"])
    with pytest.raises(ValueError, match="has no relation"):
        MetapathGraphs([[("paper", "cites", "paper"), ("paper", "cites", "paper")]])(_papers())


@pytest.mark.parametrize("weighted", [False, True])
def test_a_multigraph_gives_the_metapath_counts_and_keeps_its_relations(weighted):
    # Papers listing an author twice, edges in no order: AddMetaPaths' CSR product crashed
    # on such input at one thread (repeated and unsorted columns in a CSR row).
    generator = torch.Generator().manual_seed(0)
    papers, authors = 300, 40
    written = torch.stack([torch.arange(papers).repeat_interleave(3),
                           torch.randint(0, authors, (3 * papers,), generator=generator)])
    written = written[:, torch.randperm(written.size(1), generator=generator)]
    data = HeteroData()
    data["paper"].x = torch.randn(papers, 2)
    data["author"].num_nodes = authors
    data["paper", "written_by", "author"].edge_index = written
    data["author", "writes", "paper"].edge_index = written.flip(0)
    path = [("paper", "written_by", "author"), ("author", "writes", "paper")]
    out = MetapathGraphs([path], names=["PAP"], weighted=weighted)(data)
    dense = torch.zeros(papers, authors)
    dense.index_put_((written[0], written[1]), torch.ones(written.size(1)), accumulate=True)
    counts = dense @ dense.t()
    got = torch.zeros(papers, papers)
    edge_index = out["paper", "PAP", "paper"].edge_index
    weight = out["paper", "PAP", "paper"].edge_weight if weighted else torch.ones(
        edge_index.size(1))
    got[edge_index[0], edge_index[1]] = weight
    assert torch.equal(got, counts if weighted else (counts > 0).float())
    assert torch.equal(out["paper", "written_by", "author"].edge_index, written)  # as given
    assert "edge_weight" not in out["paper", "written_by", "author"]
    assert torch.equal(data["paper", "written_by", "author"].edge_index, written)
