"""Tests of graphinfo.data.splits."""
from __future__ import annotations

import pytest
import torch

from graphinfo.data import check_split, masks_to_split, per_class_split, random_split


def test_per_class_split_counts_and_determinism() -> None:
    y = torch.arange(3).repeat_interleave(100)
    split = per_class_split(y, num_train_per_class=5, num_valid=30, num_test=60, seed=2)
    check_split(split, 300)
    assert torch.bincount(y[split["train"]]).tolist() == [5, 5, 5]
    assert [split[k].numel() for k in ("valid", "test")] == [30, 60]
    again = per_class_split(y, num_train_per_class=5, num_valid=30, num_test=60, seed=2)
    assert all(torch.equal(split[k], again[k]) for k in split)


def test_per_class_split_skips_unlabelled_and_checks_sizes() -> None:
    y = torch.tensor([0, 0, 1, 1, -1, -1, 0, 1])
    split = per_class_split(y, num_train_per_class=1, num_valid=2, num_test=2)
    used = torch.cat(list(split.values()))
    assert used.numel() == 6 and not bool((y[used] < 0).any())
    with pytest.raises(ValueError, match="num_train_per_class"):
        per_class_split(y, num_train_per_class=5)
    with pytest.raises(ValueError, match="num_valid"):
        per_class_split(y, num_train_per_class=1, num_valid=5, num_test=5)


def test_random_split_ratios() -> None:
    split = random_split(1000, 0.1, 0.1, seed=0)
    check_split(split, 1000)
    assert [split[k].numel() for k in ("train", "valid", "test")] == [100, 100, 800]
    other = random_split(1000, 0.1, 0.1, seed=1)
    assert not torch.equal(split["train"], other["train"])
    with pytest.raises(ValueError, match="train_ratio"):
        random_split(10, 0.6, 0.5)


def test_masks_to_split_gives_long_indices() -> None:
    mask = torch.tensor([True, False, False, True])
    split = masks_to_split(mask, ~mask & torch.tensor([0, 1, 0, 0]).bool(),
                           torch.tensor([False, False, True, False]))
    assert split["train"].tolist() == [0, 3] and split["train"].dtype == torch.long
    assert split["valid"].tolist() == [1] and split["test"].tolist() == [2]


@pytest.mark.parametrize("split, error, match", [
    ({"train": torch.tensor([0]), "valid": torch.tensor([1])}, ValueError, "exactly the keys"),
    ({"train": torch.tensor([0.0]), "valid": torch.tensor([1]), "test": torch.tensor([2])},
     TypeError, "torch.long"),
    ({"train": torch.tensor([0]), "valid": torch.tensor([7]), "test": torch.tensor([2])},
     ValueError, "expected indices in"),
    ({"train": torch.tensor([0, 1]), "valid": torch.tensor([1]), "test": torch.tensor([2])},
     ValueError, "disjoint"),
    ({"train": torch.tensor([0, 0]), "valid": torch.tensor([1]), "test": torch.tensor([2])},
     ValueError, "duplicate"),
])
def test_check_split_rejects_bad_splits(split: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        check_split(split, 5)
