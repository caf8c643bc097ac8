import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from graphinfo.evaluation import evaluate, linear_probe
from tests.conftest import blobs


def test_separable_embeddings_score_high_and_noise_scores_chance():
    z, y, split = blobs(separation=6.0)
    assert linear_probe(z, y, split)["test_acc"] > 0.97
    noise = torch.randn_like(z)
    assert linear_probe(noise, y, split)["test_acc"] < 0.5


def test_C_is_chosen_on_validation_never_on_test():
    z, y, split = blobs(separation=1.0)
    Cs = (1e-4, 1e-2, 1.0, 100.0)
    result = linear_probe(z, y, split, Cs=Cs)
    scaler = StandardScaler().fit(z[split["train"]].numpy())
    zs = scaler.transform(z.numpy())
    valid = {}
    for C in Cs:
        clf = LogisticRegression(C=C, max_iter=2000).fit(zs[split["train"]], y[split["train"]])
        valid[C] = clf.score(zs[split["valid"]], y[split["valid"]])
    assert result["C"] == max(Cs, key=lambda C: (valid[C], -Cs.index(C)))
    # Scrambling the test labels changes test accuracy but never the choice of C.
    y_scrambled = y.clone()
    y_scrambled[split["test"]] = y[split["test"]][torch.randperm(len(split["test"]))]
    assert linear_probe(z, y_scrambled, split, Cs=Cs)["C"] == result["C"]


def test_boolean_masks_work_as_splits():
    z, y, split = blobs()
    masks = {k: torch.zeros(len(y), dtype=torch.bool).index_fill_(0, v, True)
             for k, v in split.items()}
    assert linear_probe(z, y, masks) == linear_probe(z, y, split)


def test_bad_input():
    z, y, split = blobs()
    with pytest.raises(ValueError, match="'split' must have exactly the keys"):
        linear_probe(z, y, {"train": split["train"], "test": split["test"]})
    with pytest.raises(ValueError, match=r"'split\['test'\]' has indices in \[299, 300\]"):
        linear_probe(z, y, {**split, "test": torch.tensor([299, 300])})
    bad = z.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="'z' contains NaN or infinite values"):
        linear_probe(bad, y, split)
    with pytest.raises(ValueError, match=r"'z' must have shape \[N, F\] with N = len\(y\)"):
        linear_probe(z[:10], y, split)
    with pytest.raises(ValueError, match="'Cs' must hold at least one"):
        linear_probe(z, y, split, Cs=())
    with pytest.raises(ValueError, match="Unknown protocol 'svm'"):
        evaluate(z, y, split, protocol="svm")
    with pytest.raises(ValueError, match="needs a split"):
        evaluate(z, y)


def test_a_choice_at_the_edge_of_the_grid_is_reported(caplog):
    z, y, split = blobs(separation=6.0)
    with caplog.at_level("WARNING", logger="graphinfo.evaluation.linear_probe"):
        linear_probe(z, y, split, Cs=(1e-6, 1e-5))
    assert "at the edge of the searched grid" in caplog.text


def test_without_a_test_split_only_the_selection_runs():
    generator = torch.Generator().manual_seed(0)
    y = torch.arange(60) % 3
    z = torch.nn.functional.one_hot(y).float() + 0.1 * torch.randn(60, 3, generator=generator)
    split = {"train": torch.arange(0, 30), "valid": torch.arange(30, 45)}
    result = linear_probe(z, y, split)
    assert set(result) == {"train_acc", "valid_acc", "C"} and result["valid_acc"] > 0.9
    full = linear_probe(z, y, {**split, "test": torch.arange(45, 60)})
    assert full["valid_acc"] == result["valid_acc"] and full["C"] == result["C"]


def test_an_empty_valid_part_chooses_C_by_cross_validation_on_the_training_nodes():
    from sklearn.model_selection import StratifiedKFold

    z, y, split = blobs(separation=1.0)
    train = torch.cat([split["train"], split["valid"]])
    cv_split = {"train": train, "valid": torch.zeros(0, dtype=torch.long),
                "test": split["test"]}
    Cs = (1e-4, 1e-2, 1.0, 100.0)
    result = linear_probe(z, y, cv_split, Cs=Cs, inner_folds=3)
    zs = StandardScaler().fit(z[train].numpy()).transform(z[train].numpy())
    labels = y[train].numpy()
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(zs, labels))
    scores = {C: sum(LogisticRegression(C=C, max_iter=2000).fit(zs[a], labels[a])
                     .score(zs[b], labels[b]) for a, b in folds) / 3 for C in Cs}
    best = max(Cs, key=lambda C: (scores[C], -Cs.index(C)))
    assert result["C"] == best and result["valid_acc"] == pytest.approx(scores[best])
    # The test labels never enter the choice.
    y_scrambled = y.clone()
    y_scrambled[split["test"]] = y[split["test"]][torch.randperm(len(split["test"]))]
    assert linear_probe(z, y_scrambled, cv_split, Cs=Cs, inner_folds=3)["C"] == best
    with pytest.raises(ValueError, match=r"split\['train'\] is empty"):
        linear_probe(z, y, {**cv_split, "train": torch.zeros(0, dtype=torch.long)})
