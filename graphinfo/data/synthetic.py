"""Synthetic graphs generated in-process: fully offline, deterministic for a seed.

:func:`planted_partition` is the library's default dataset (``load_dataset('planted')``): a
stochastic-block-model graph with sparse bag-of-words features that carry the class only weakly,
so that a method that uses the graph beats one that looks at the features alone, and a trained
encoder beats an untrained one.
"""
from __future__ import annotations

import logging

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import index_to_mask, remove_self_loops, to_undirected

from graphinfo.data.splits import per_class_split

logger = logging.getLogger(__name__)


def planted_partition(
    num_nodes: int = 2000,
    num_classes: int = 5,
    avg_degree: float = 4.0,
    homophily: float = 0.8,
    num_features: int | None = None,
    features: str = "words",
    words_per_node: float = 15.0,
    topic_words: int | None = None,
    topic_fraction: float = 0.2,
    feature_noise: float | None = None,
    seed: int = 0,
    num_train_per_class: int = 20,
    num_valid: int = 500,
    num_test: int = 1000,
) -> Data:
    r"""Generates a planted-partition (stochastic block model) graph whose node features carry
    the class only weakly.

    Nodes are split into ``num_classes`` blocks of (almost) equal size, assigned in random order;
    the block is the label ``y``. The graph has ``round(num_nodes * avg_degree / 2)`` sampled
    undirected edges: each picks a uniform source node and, with probability ``homophily``, a
    uniform *other* node of the same block, else a uniform node of another block. So every node
    has expected degree ``avg_degree`` (Poisson-like) and expects a ``homophily`` fraction of its
    edges inside its block, i.e. block-pair edge densities

    .. math::
        p_{\text{in}} \approx \frac{h\,d}{n/K - 1}, \qquad
        p_{\text{out}} \approx \frac{(1-h)\,d}{n - n/K}.

    Sampling costs :math:`O(E)` time and memory (PyG's ``stochastic_blockmodel_graph`` enumerates
    all :math:`O(n^2)` node pairs and uses the global random state, so it is not used here). The
    rare duplicate edges are merged, so the realised edge count is a hair below the target.

    **Features** (``features``):

    ``'words'`` (the default): sparse binary bag-of-words, like Cora's. Each node is a short
    document over a vocabulary of ``num_features`` words (default 1000): it draws
    :math:`1 + \mathrm{Poisson}(\text{words\_per\_node} - 1)` tokens, each, with probability
    ``topic_fraction``, from the ``topic_words`` words its class owns (uniformly; the classes'
    words are disjoint and drawn at random), else from a background shared by all classes, Zipfian
    in a random word order (:math:`p(w) \propto 1 / r_w`); :math:`x_{vw} = 1` when word :math:`w`
    was drawn. With the defaults a node has about 13 distinct words, about 3 of its class.

    ``'gaussian'``: :math:`x_v = \mu_{y_v} + \sigma \epsilon_v` with class means
    :math:`\mu_c \sim \mathcal{N}(0, I)` and :math:`\epsilon_v \sim \mathcal{N}(0, I)` in
    ``num_features`` dimensions (default 64), :math:`\sigma` = ``feature_noise`` (default 4).
    Dense class signal: any random projection keeps it, so an *untrained* GNN encoder already
    does about as well as a trained one; use it to test code, not to show learning.

    With all defaults (``load_dataset('planted')``, row-normalised as ``graphinfo pretrain``
    does), logistic regression on the 100 training nodes scores 65 % test accuracy on the raw
    features, a randomly initialised DGI encoder 69 % and a trained one 94 % (DGI's defaults,
    seeds 0-4: 93.9 ± 0.5 against 68.6 ± 1.7 untrained): the words of a node's neighbours tell
    its class, and training learns which words to listen to.

    The split is Planetoid-like: ``num_train_per_class`` training nodes per class, then
    ``num_valid`` validation and ``num_test`` test nodes, stored as ``train_mask``, ``val_mask``
    and ``test_mask``. For small graphs the sizes shrink to fit: at most half of the smallest
    class is used for training, and valid/test share the remaining nodes 1:2.

    Args:
        num_nodes (int): Number of nodes. (default: ``2000``)
        num_classes (int): Number of blocks (classes), at least 2. (default: ``5``)
        avg_degree (float): Expected node degree. (default: ``4.0``)
        homophily (float): Expected fraction of each node's edges inside its block, in
            ``[0, 1]``. (default: ``0.8``)
        num_features (int, optional): Feature dimension (the vocabulary size for ``'words'``).
            (default: ``1000`` for ``'words'``, ``64`` for ``'gaussian'``)
        features (str): ``'words'`` or ``'gaussian'``. (default: ``'words'``)
        words_per_node (float): ``'words'``: expected tokens per node, at least 1.
            (default: ``15.0``)
        topic_words (int, optional): ``'words'``: words owned by each class; at most
            ``num_features // num_classes``. (default: ``60``, or
            ``num_features // (2 * num_classes)`` when that is smaller)
        topic_fraction (float): ``'words'``: probability that a token comes from the class's
            words, in ``[0, 1]``; larger is easier. (default: ``0.2``)
        feature_noise (float, optional): ``'gaussian'``: the noise's standard deviation
            :math:`\sigma`; larger is harder. (default: ``4.0``)
        seed (int): Seed; the same arguments give the same graph. (default: ``0``)
        num_train_per_class (int): Training nodes per class. (default: ``20``)
        num_valid (int): Validation nodes. (default: ``500``)
        num_test (int): Test nodes. (default: ``1000``)

    Returns:
        Data: ``x`` (float32 ``[num_nodes, num_features]``), ``edge_index`` (undirected, coalesced,
        no self-loops), ``y`` (long ``[num_nodes]``) and the three boolean split masks.

    Raises:
        ValueError: If an argument is out of range, or belongs to the other feature model.
    """
    if features not in ("words", "gaussian"):
        raise ValueError(f"'features' must be 'words' or 'gaussian', got {features!r}")
    if num_features is None:
        num_features = 1000 if features == "words" else 64
    _check_args(num_nodes, num_classes, avg_degree, homophily, num_features)
    generator = torch.Generator().manual_seed(seed)

    # Balanced blocks, assigned to nodes in random order.
    sizes = torch.full((num_classes,), num_nodes // num_classes, dtype=torch.long)
    sizes[: num_nodes % num_classes] += 1
    y = torch.repeat_interleave(torch.arange(num_classes), sizes)
    y = y[torch.randperm(num_nodes, generator=generator)]

    edge_index = _sample_edges(y, sizes, avg_degree, homophily, generator)

    if features == "words":
        if feature_noise is not None:
            raise ValueError("'feature_noise' belongs to features='gaussian'")
        if topic_words is None:
            topic_words = max(1, min(60, num_features // (2 * num_classes)))
        x = _word_features(y, num_features, words_per_node, topic_words, topic_fraction,
                           generator)
    else:
        if topic_words is not None:
            raise ValueError("'topic_words' belongs to features='words'")
        noise = 4.0 if feature_noise is None else feature_noise
        if not noise >= 0.0:
            raise ValueError(f"'feature_noise' must be non-negative, got {noise}")
        means = torch.randn(num_classes, num_features, generator=generator)
        eps = torch.randn(num_nodes, num_features, generator=generator)
        x = (means[y] + noise * eps).float()

    split = _fitted_split(y, sizes, num_train_per_class, num_valid, num_test, seed)
    data = Data(x=x, edge_index=edge_index, y=y, num_nodes=num_nodes)
    data.train_mask = index_to_mask(split["train"], num_nodes)
    data.val_mask = index_to_mask(split["valid"], num_nodes)
    data.test_mask = index_to_mask(split["test"], num_nodes)
    logger.debug("planted_partition: %d nodes, %d directed edges, %d classes, %s features",
                 num_nodes, edge_index.size(1), num_classes, features)
    return data


def _word_features(y: Tensor, num_words: int, words_per_node: float, topic_words: int,
                   topic_fraction: float, generator: torch.Generator) -> Tensor:
    """Binary bag-of-words features: class topics over a shared Zipfian background."""
    num_classes = int(y.max()) + 1 if y.numel() else 0
    if not 1 <= topic_words <= num_words // num_classes:
        raise ValueError(f"'topic_words' must be in [1, num_features // num_classes = "
                         f"{num_words // num_classes}], got {topic_words}")
    if not words_per_node >= 1.0:
        raise ValueError(f"'words_per_node' must be at least 1, got {words_per_node}")
    if not 0.0 <= topic_fraction <= 1.0:
        raise ValueError(f"'topic_fraction' must be in [0, 1], got {topic_fraction}")
    num_nodes = y.numel()
    # Rows 0..K-1: the class topics (uniform over their own words); row K: the background.
    rank = torch.randperm(num_words, generator=generator).double()
    owned = torch.randperm(num_words, generator=generator)[: num_classes * topic_words]
    probs = torch.zeros(num_classes + 1, num_words, dtype=torch.double)
    probs[torch.arange(num_classes).unsqueeze(1), owned.view(num_classes, topic_words)] = 1.0
    probs[num_classes] = (rank + 1.0).reciprocal()
    probs = (probs / probs.sum(dim=1, keepdim=True)).float()

    lengths = 1 + torch.poisson(torch.full((num_nodes,), words_per_node - 1.0),
                                generator=generator).long()
    node = torch.repeat_interleave(torch.arange(num_nodes), lengths)
    from_topic = torch.rand(node.numel(), generator=generator) < topic_fraction
    source = torch.where(from_topic, y[node], torch.full_like(node, num_classes))
    word = torch.empty_like(node)
    for row in range(num_classes + 1):
        tokens = (source == row).nonzero().view(-1)
        if tokens.numel() > 0:
            word[tokens] = torch.multinomial(probs[row], tokens.numel(), replacement=True,
                                             generator=generator)
    x = torch.zeros(num_nodes, num_words)
    x[node, word] = 1.0
    return x


def _sample_edges(y: Tensor, sizes: Tensor, avg_degree: float, homophily: float,
                  generator: torch.Generator) -> Tensor:
    """Samples the undirected edge index of the planted partition in O(E)."""
    num_nodes = y.numel()
    num_edges = int(round(num_nodes * avg_degree / 2.0))
    if num_edges == 0:
        return torch.empty(2, 0, dtype=torch.long)

    # Nodes sorted by block: block c occupies order[start[c]:start[c] + sizes[c]].
    order = torch.argsort(y, stable=True)
    start = torch.cumsum(sizes, 0) - sizes
    position = torch.empty(num_nodes, dtype=torch.long)
    position[order] = torch.arange(num_nodes) - start[y[order]]

    src = torch.randint(num_nodes, (num_edges,), generator=generator)
    block = y[src]
    size = sizes[block]
    inside = torch.rand(num_edges, generator=generator) < homophily
    uniform = torch.rand(num_edges, generator=generator)

    # Inside: another node of the same block (offset 1 .. size-1 skips the source itself; every
    # block has at least two nodes, see _check_args).
    offset = 1 + torch.minimum((uniform * (size - 1)).long(), size - 2)
    inner = order[start[block] + (position[src] + offset) % size]
    # Outside: a node of the other blocks (positions past the own block jump over it).
    r = torch.minimum((uniform * (num_nodes - size)).long(), num_nodes - size - 1)
    outer = order[r + (r >= start[block]).long() * size]

    edge_index = torch.stack([src, torch.where(inside, inner, outer)])
    edge_index, _ = remove_self_loops(edge_index)
    return to_undirected(edge_index, num_nodes=num_nodes)


def _fitted_split(y: Tensor, sizes: Tensor, num_train_per_class: int, num_valid: int,
                  num_test: int, seed: int) -> dict[str, Tensor]:
    """Planetoid-like split, shrunk to fit small graphs."""
    num_classes = sizes.numel()
    per_class = min(num_train_per_class, max(1, int(sizes.min()) // 2))
    remaining = y.numel() - per_class * num_classes
    shrunk = per_class != num_train_per_class or remaining < num_valid + num_test
    if remaining < num_valid + num_test:
        num_valid, num_test = remaining // 3, remaining - remaining // 3
    if shrunk:
        logger.info("planted_partition: split shrunk to fit %d nodes: %d train per class, "
                    "%d valid, %d test", y.numel(), per_class, num_valid, num_test)
    return per_class_split(y, per_class, num_valid, num_test, seed=seed)


def _check_args(num_nodes: int, num_classes: int, avg_degree: float, homophily: float,
                num_features: int) -> None:
    if num_classes < 2:
        raise ValueError(f"'num_classes' must be at least 2, got {num_classes}")
    if num_nodes < 2 * num_classes:
        raise ValueError(f"'num_nodes' must be at least 2 * num_classes = {2 * num_classes}, "
                         f"got {num_nodes}")
    if not avg_degree >= 0.0 or avg_degree >= num_nodes:
        raise ValueError(f"'avg_degree' must be in [0, num_nodes), got {avg_degree}")
    if not 0.0 <= homophily <= 1.0:
        raise ValueError(f"'homophily' must be in [0, 1], got {homophily}")
    if num_features < 1:
        raise ValueError(f"'num_features' must be at least 1, got {num_features}")
