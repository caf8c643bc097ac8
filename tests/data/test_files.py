"""A user's own graph files: edge lists, torch.save'd Data, GraphML / GML, features, labels."""
import pickle

import networkx as nx
import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from graphinfo.data import is_graph_file, load_dataset, load_graph_file


def write(path, text):
    path.write_text(text)
    return path


def edge_set(data):
    return set(map(tuple, data.edge_index.t().tolist()))


def test_integer_edge_list_is_symmetrised_with_comments_and_degree_features(tmp_path):
    path = write(tmp_path / "g.edges", "# a triangle and an edge\n% another comment\n"
                                       "0 1\n1 2\n2 0\n\n3 4\n2 2\n")
    loaded = load_dataset(path)
    data = loaded.data
    assert loaded.name == "g" and loaded.task == "node" and loaded.source == str(path)
    assert data.num_nodes == 5
    assert edge_set(data) == {(0, 1), (1, 0), (1, 2), (2, 1), (0, 2), (2, 0), (3, 4), (4, 3)}
    # No features: the one-hot degree (degrees 2, 2, 2, 1, 1 after the self-loop is dropped).
    assert data.x.dtype == torch.float32
    assert data.x.argmax(1).tolist() == [2, 2, 2, 1, 1]
    # No labels: trains and embeds, but no split and no classes.
    assert loaded.split is None and loaded.num_classes == 0
    assert data.y.tolist() == [-1] * 5


def test_directed_edge_list_keeps_direction_and_weights(tmp_path):
    path = write(tmp_path / "w.csv", "0,1,0.5\n1,2,2\n")
    data = load_graph_file(path, undirected=False).data
    assert edge_set(data) == {(0, 1), (1, 2)}
    assert data.edge_weight.tolist() == [0.5, 2.0]
    both = load_graph_file(path).data
    weights = dict(zip(map(tuple, both.edge_index.t().tolist()), both.edge_weight.tolist()))
    assert weights == {(0, 1): 0.5, (1, 0): 0.5, (1, 2): 2.0, (2, 1): 2.0}


def test_string_ids_with_text_features_and_labels(tmp_path):
    path = write(tmp_path / "people.tsv", "alice\tbob\nbob\tcarol\ndave\talice\n")
    features = write(tmp_path / "x.txt", "carol 3 30\nalice 1 10\nbob 2 20\ndave 4 40\n")
    labels = write(tmp_path / "y.txt", "alice red\nbob blue\ndave red\n")
    loaded = load_graph_file(path, features=features, labels=labels)
    data = loaded.data
    # Nodes numbered in order of first appearance: alice, bob, carol, dave.
    assert data.x.tolist() == [[1, 10], [2, 20], [3, 30], [4, 40]]
    # Labels in sorted order (blue 0, red 1); carol has none.
    assert data.y.tolist() == [1, 0, -1, 1]
    assert loaded.num_classes == 2
    assert set(torch.cat(list(loaded.split.values())).tolist()) == {0, 1, 3}


def test_feature_array_adds_isolated_nodes_and_npy_labels(tmp_path):
    path = write(tmp_path / "g.txt", "0 1\n1 2\n")
    x = np.arange(12, dtype=np.float64).reshape(4, 3)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.array([0, 1, 0, 1]))
    loaded = load_graph_file(path, features=tmp_path / "x.npy", labels=tmp_path / "y.npy")
    assert loaded.data.num_nodes == 4            # node 3 has no edge
    assert torch.equal(loaded.data.x, torch.from_numpy(x).float())
    assert loaded.data.y.tolist() == [0, 1, 0, 1] and loaded.split is not None


def test_bad_files_raise_errors_that_say_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="graph file 'missing.edges' does not exist"):
        load_dataset("missing.edges")
    with pytest.raises(ValueError, match="every line must be 'SOURCE TARGET'"):
        load_graph_file(write(tmp_path / "a.edges", "0 1\n0 1 2 3\n"))
    with pytest.raises(ValueError, match="third column must be a number"):
        load_graph_file(write(tmp_path / "b.edges", "0 1 heavy\n"))
    with pytest.raises(ValueError, match="holds no edges"):
        load_graph_file(write(tmp_path / "c.edges", "# nothing\n"))
    graph = write(tmp_path / "g.edges", "0 1\n1 2\n")
    with pytest.raises(ValueError, match="gives no features for 1 of 3 nodes"):
        load_graph_file(graph, features=write(tmp_path / "x.txt", "0 1.0\n1 2.0\n"))
    with pytest.raises(ValueError, match="node '7' is not a node of the graph"):
        load_graph_file(graph, labels=write(tmp_path / "y.txt", "7 1\n"))
    np.save(tmp_path / "short.npy", np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"at least 3: the largest node ID \+ 1"):
        load_graph_file(graph, features=tmp_path / "short.npy")


def test_object_arrays_are_not_unpickled(tmp_path):
    np.save(tmp_path / "x.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="numeric .npy array"):
        load_graph_file(write(tmp_path / "g.edges", "0 1\n"), features=tmp_path / "x.npy")


class _Planted:
    """A pickle that would run code when loaded without weights_only."""

    ran = False

    def __reduce__(self):
        return (_mark_ran, ())


def _mark_ran():
    _Planted.ran = True
    return Data(edge_index=torch.tensor([[0], [1]]))


def test_torch_files_load_data_dicts_and_graph_lists_but_run_no_code(tmp_path):
    data = Data(x=torch.randn(3, 2), edge_index=torch.tensor([[0, 1], [1, 2]]),
                y=torch.tensor([0, 1, 1]), train_mask=torch.tensor([True, False, False]),
                val_mask=torch.tensor([False, True, False]),
                test_mask=torch.tensor([False, False, True]))
    torch.save(data, tmp_path / "data.pt")
    loaded = load_dataset(str(tmp_path / "data.pt"))
    assert torch.equal(loaded.data.x, data.x) and loaded.num_classes == 2
    assert {key: value.tolist() for key, value in loaded.split.items()} == \
        {"train": [0], "valid": [1], "test": [2]}

    torch.save({"edge_index": data.edge_index, "x": data.x}, tmp_path / "dict.pth")
    assert load_graph_file(tmp_path / "dict.pth").data.num_nodes == 3

    graphs = [Data(x=torch.randn(4, 2), edge_index=torch.tensor([[0, 1], [1, 0]]),
                   y=torch.tensor([i % 2])) for i in range(6)]
    torch.save(graphs, tmp_path / "graphs.pt")
    as_graphs = load_graph_file(tmp_path / "graphs.pt")
    assert as_graphs.task == "graph" and len(as_graphs.dataset) == 6
    assert as_graphs.num_classes == 2 and as_graphs.num_features == 2

    with open(tmp_path / "evil.pt", "wb") as handle:
        pickle.dump(_Planted(), handle, protocol=2)
    with pytest.raises(ValueError, match=r"weights_only=True"):
        load_graph_file(tmp_path / "evil.pt")
    assert not _Planted.ran
    torch.save({"weights": torch.zeros(2)}, tmp_path / "nograph.pt")
    with pytest.raises(ValueError, match="dict without 'edge_index'"):
        load_graph_file(tmp_path / "nograph.pt")


@pytest.mark.parametrize("suffix", ["graphml", "gml"])
def test_networkx_files_give_weights_numeric_features_and_labels(tmp_path, suffix):
    graph = nx.karate_club_graph()
    for node in graph.nodes:
        graph.nodes[node]["y"] = int(graph.nodes[node]["club"] == "Mr. Hi")
        graph.nodes[node]["age"] = float(node)
    path = tmp_path / f"karate.{suffix}"
    (nx.write_graphml if suffix == "graphml" else nx.write_gml)(graph, path)
    loaded = load_dataset(path)
    data = loaded.data
    assert data.num_nodes == 34 and data.num_edges == 2 * graph.number_of_edges()
    assert data.x.view(-1).tolist() == [float(n) for n in range(34)]   # 'club' is text: left out
    assert data.y.sum().item() == sum(graph.nodes[n]["y"] for n in graph.nodes)
    assert data.edge_weight is not None and data.edge_weight.numel() == data.num_edges
    u, v = data.edge_index[:, 0].tolist()
    assert data.edge_weight[0].item() == graph.edges[u, v]["weight"]


def test_registered_names_win_over_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "planted", "0 1\n")
    assert not is_graph_file("planted") and not is_graph_file("tu:MUTAG")
    assert load_dataset("planted").data.num_nodes > 2
    assert is_graph_file("./planted") and is_graph_file("mine.graphml")
    assert not is_graph_file("no-such-graph")
    with pytest.raises(ValueError, match="Unknown dataset 'no-such-graph'"):
        load_dataset("no-such-graph")
