"""Train/valid/test splits as index tensors, following OGB's ``{train, valid, test}`` contract.

Every split in :mod:`graphinfo.data` is a dict with exactly the keys ``'train'``, ``'valid'`` and
``'test'``, each a 1-D ``torch.long`` tensor of node indices. Random splits are drawn from a local
:class:`torch.Generator`, so they never touch (or depend on) the global random state.
"""
from __future__ import annotations

import logging

import torch
from torch import Tensor
from torch_geometric.utils import mask_to_index

logger = logging.getLogger(__name__)

SPLIT_KEYS: tuple[str, str, str] = ("train", "valid", "test")


def masks_to_split(train_mask: Tensor, val_mask: Tensor, test_mask: Tensor) -> dict[str, Tensor]:
    """Converts boolean node masks (PyG's ``train_mask`` / ``val_mask`` / ``test_mask``) to a split.

    Args:
        train_mask (Tensor): Boolean mask of training nodes, shape ``[num_nodes]``.
        val_mask (Tensor): Boolean mask of validation nodes, shape ``[num_nodes]``.
        test_mask (Tensor): Boolean mask of test nodes, shape ``[num_nodes]``.

    Returns:
        dict[str, Tensor]: ``{'train', 'valid', 'test'}`` long index tensors.
    """
    return {
        key: mask_to_index(mask.bool()).long()
        for key, mask in zip(SPLIT_KEYS, (train_mask, val_mask, test_mask))
    }


def per_class_split(
    y: Tensor,
    num_train_per_class: int = 20,
    num_valid: int = 500,
    num_test: int = 1000,
    seed: int = 0,
) -> dict[str, Tensor]:
    """Planetoid-style split: a fixed number of training nodes per class, then valid and test.

    Training nodes are drawn uniformly within each class; validation and test nodes are drawn from
    the remaining labelled nodes (labels ``< 0`` count as unlabelled and are never drawn).

    Args:
        y (Tensor): Node labels, shape ``[num_nodes]``.
        num_train_per_class (int): Training nodes per class. (default: ``20``)
        num_valid (int): Validation nodes. (default: ``500``)
        num_test (int): Test nodes. (default: ``1000``)
        seed (int): Seed of the local generator. (default: ``0``)

    Returns:
        dict[str, Tensor]: ``{'train', 'valid', 'test'}`` long index tensors, each sorted.

    Raises:
        ValueError: If a class has fewer than ``num_train_per_class`` nodes, or fewer than
            ``num_valid + num_test`` labelled nodes remain.
    """
    y = y.view(-1)
    generator = torch.Generator().manual_seed(seed)
    train_parts = []
    classes = torch.unique(y[y >= 0])
    for c in classes.tolist():
        idx = (y == c).nonzero().view(-1)
        if idx.numel() < num_train_per_class:
            raise ValueError(f"Class {c} has {idx.numel()} nodes; 'num_train_per_class' "
                             f"({num_train_per_class}) needs at least that many")
        perm = torch.randperm(idx.numel(), generator=generator)
        train_parts.append(idx[perm[:num_train_per_class]])
    train = torch.cat(train_parts) if train_parts else y.new_empty(0, dtype=torch.long)
    taken = torch.zeros(y.numel(), dtype=torch.bool)
    taken[train] = True
    rest = ((~taken) & (y >= 0)).nonzero().view(-1)
    if rest.numel() < num_valid + num_test:
        raise ValueError(f"Only {rest.numel()} labelled nodes remain after drawing the training "
                         f"nodes; 'num_valid' + 'num_test' = {num_valid + num_test} requested")
    rest = rest[torch.randperm(rest.numel(), generator=generator)]
    split = {
        "train": train,
        "valid": rest[:num_valid],
        "test": rest[num_valid:num_valid + num_test],
    }
    return {key: value.sort().values.long() for key, value in split.items()}


def random_split(
    num_nodes: int,
    train_ratio: float = 0.1,
    valid_ratio: float = 0.1,
    seed: int = 0,
    y: Tensor | None = None,
) -> dict[str, Tensor]:
    """Uniformly random split: ``train_ratio`` / ``valid_ratio`` / the rest for test.

    This is the split used for datasets without an official one (Amazon, Coauthor, graphs built
    with :func:`graphinfo.data.from_networkx`): 10% / 10% / 80% with seed 0 by default.

    Args:
        num_nodes (int): Number of nodes.
        train_ratio (float): Fraction of (labelled) nodes for training. (default: ``0.1``)
        valid_ratio (float): Fraction of (labelled) nodes for validation. (default: ``0.1``)
        seed (int): Seed of the local generator. (default: ``0``)
        y (Tensor, optional): Node labels; when given, nodes with a label ``< 0`` (unlabelled)
            are left out of every part. (default: ``None``)

    Returns:
        dict[str, Tensor]: ``{'train', 'valid', 'test'}`` long index tensors, each sorted.

    Raises:
        ValueError: If the ratios are not in ``(0, 1)`` or sum to 1 or more.
    """
    if not (0.0 < train_ratio < 1.0 and 0.0 <= valid_ratio < 1.0
            and train_ratio + valid_ratio < 1.0):
        raise ValueError(f"'train_ratio' and 'valid_ratio' must be in (0, 1) and sum to less than "
                         f"1, got {train_ratio} and {valid_ratio}")
    candidates = torch.arange(num_nodes)
    if y is not None and y.dim() == 1:
        candidates = candidates[y.view(-1) >= 0]
    generator = torch.Generator().manual_seed(seed)
    perm = candidates[torch.randperm(candidates.numel(), generator=generator)]
    num_train = int(round(train_ratio * perm.numel()))
    num_valid = int(round(valid_ratio * perm.numel()))
    split = {
        "train": perm[:num_train],
        "valid": perm[num_train:num_train + num_valid],
        "test": perm[num_train + num_valid:],
    }
    return {key: value.sort().values.long() for key, value in split.items()}


def check_split(split: dict[str, Tensor], num_nodes: int, name: str = "split") -> None:
    """Checks a split: keys exactly ``train/valid/test``, 1-D long tensors, in range, disjoint.

    Args:
        split (dict[str, Tensor]): The split to check.
        num_nodes (int): Number of nodes (or graphs) the indices refer to.
        name (str): Name used in error messages. (default: ``'split'``)

    Raises:
        ValueError: If a key is missing or extra, an index is out of range, or parts overlap.
        TypeError: If a part is not a long tensor.
    """
    if set(split) != set(SPLIT_KEYS):
        raise ValueError(f"'{name}' must have exactly the keys {list(SPLIT_KEYS)}, got "
                         f"{sorted(split)}")
    seen = torch.zeros(num_nodes, dtype=torch.bool)
    for key in SPLIT_KEYS:
        idx = split[key]
        if not isinstance(idx, Tensor) or idx.dtype != torch.long or idx.dim() != 1:
            got = (f"{idx.dtype} tensor of shape {tuple(idx.shape)}"
                   if isinstance(idx, Tensor) else type(idx).__name__)
            raise TypeError(f"'{name}[{key!r}]' must be a 1-D torch.long index tensor, got {got}")
        if idx.numel() == 0:
            continue
        low, high = int(idx.min()), int(idx.max())
        if low < 0 or high >= num_nodes:
            raise ValueError(f"'{name}[{key!r}]' has indices in [{low}, {high}]; expected indices "
                             f"in [0, {num_nodes})")
        if idx.unique().numel() != idx.numel():
            raise ValueError(f"'{name}[{key!r}]' contains duplicate indices")
        if bool(seen[idx].any()):
            raise ValueError(f"'{name}[{key!r}]' overlaps an earlier part of the split; train, "
                             f"valid and test must be disjoint")
        seen[idx] = True
