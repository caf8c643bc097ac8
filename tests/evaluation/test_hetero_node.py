"""The heterogeneous node protocol: Macro-/Micro-F1 with C chosen on validation, k-means NMI/ARI
over runs, and Sim@k among test nodes."""
import numpy as np
import pytest
import torch

from graphinfo.evaluation import evaluate, hetero_node_protocol, similarity_search
from tests.conftest import blobs


def test_separated_classes_score_high_and_noise_scores_chance():
    z, y, split = blobs(separation=6.0)
    result = hetero_node_protocol(z, y, split, runs=3)
    assert result["metric"] == "macro_f1"
    for key in ("test_macro_f1", "test_micro_f1", "nmi", "ari", "sim@5", "sim@10"):
        assert result[key] > 0.9, (key, result[key])
    assert 0.0 <= result["nmi_std"] < 0.05
    noise = hetero_node_protocol(torch.randn_like(z), y, split, runs=3)
    assert noise["test_micro_f1"] < 0.5 and noise["nmi"] < 0.05 and noise["sim@5"] < 0.45
    assert evaluate(z, y, split, protocol="hetero_node", runs=3) == result


def test_micro_f1_is_accuracy_and_macro_f1_weighs_classes_equally():
    # 9 of class 0 and 1 of class 1 on test; a classifier that always says 0 gets 0.9 accuracy
    # but a Macro-F1 near 0.47.
    y = torch.tensor([0, 1] * 10 + [0] * 9 + [1])
    z = torch.zeros(30, 2)
    split = {"train": torch.arange(0, 10), "valid": torch.arange(10, 20),
             "test": torch.arange(20, 30)}
    result = hetero_node_protocol(z, y, split, runs=1, cluster=False, standardize=False)
    assert result["test_micro_f1"] == pytest.approx(0.9)
    assert result["test_macro_f1"] == pytest.approx(0.9 / 1.9, rel=1e-6)
    assert "nmi" not in result


def test_similarity_search_never_counts_a_node_as_its_own_neighbour():
    # two tight pairs with different labels inside each pair: each node's nearest other node
    # disagrees with it, so sim@1 is 0 (it would be 1 if the node itself counted).
    z = np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0], [0.01, 1.0]])
    y = np.array([0, 1, 0, 1])
    assert similarity_search(z, y, ks=(1, 3, 10)) == {"sim@1": 0.0, "sim@3": pytest.approx(1 / 3)}


def test_without_test_nodes_only_the_selection_runs():
    z, y, split = blobs()
    result = hetero_node_protocol(z, y, {"train": split["train"], "valid": split["valid"]})
    assert "valid_macro_f1" in result and not any(k.startswith("test_") for k in result)
    assert "nmi" not in result
    with pytest.raises(ValueError, match="needs a split"):
        evaluate(z, y, protocol="hetero_node")
    with pytest.raises(ValueError, match="'runs' must be >= 1"):
        hetero_node_protocol(z, y, split, runs=0)
