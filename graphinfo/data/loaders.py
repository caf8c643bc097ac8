"""``load_dataset(name, root)``: one entry point for every supported dataset, plus the registry.

Names are case-insensitive, and ``-`` / ``_`` are interchangeable (``'Cora'``, ``'PTC-MR'``).
Raw files are looked up in the data root (see :mod:`graphinfo.data.roots`) under both the shared
layout (``<root>/planetoid/Cora/raw/``, ``<root>/tu/MUTAG/raw/``, ``<root>/ogbn_arxiv/`` or
``<root>/ogb/ogbn_arxiv/``) and PyG's own (``<root>/Cora/raw/``, ``<root>/MUTAG/raw/``), then in
the cache's download folder; processed files always go to the cache.
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch_geometric.data import Data
from torch_geometric.datasets import Amazon, Coauthor, Planetoid, TUDataset
from torch_geometric.transforms import Compose
from torch_geometric.utils import from_networkx as pyg_from_networkx
from torch_geometric.utils import is_undirected, scatter, to_undirected

from graphinfo.data import roots
from graphinfo.data.cached import (
    ReadOnlyAmazon,
    ReadOnlyCoauthor,
    ReadOnlyPlanetoid,
    ReadOnlyTUDataset,
)
from graphinfo.data.features import DEFAULT_MAX_DEGREE, CappedOneHotDegree, max_degree_of
from graphinfo.data.files import GRAPH_FILE_SUFFIXES, encode_labels, load_graph_file
from graphinfo.data.loaded import LoadedDataset
from graphinfo.data.splits import masks_to_split, random_split
from graphinfo.data.synthetic import planted_partition

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class DatasetSpec:
    """A registry entry.

    Attributes:
        name (str): Registry name (``'cora'``).
        family (str): ``'synthetic'``, ``'planetoid'``, ``'amazon'``, ``'coauthor'``, ``'tu'`` or
            ``'ogb'``.
        source_name (str): The name the family's loader uses (``'Cora'``, ``'ogbn-arxiv'``).
        task (str): ``'node'`` or ``'graph'``.
    """

    name: str
    family: str
    source_name: str
    task: str


_FAMILY_DIRS: dict[str, tuple[str, ...]] = {
    "planetoid": ("planetoid", "Planetoid", ""),
    "amazon": ("amazon", "Amazon", ""),
    "coauthor": ("coauthor", "Coauthor", ""),
    "tu": ("tu", "TUDataset", ""),
    "ogb": ("", "ogb"),
    "acm3025": ("hetero/acm3025_han", "acm3025_han", "hetero", ""),
    "heco": ("hetero/heco", "heco"),
    "imdb_hdgi": ("hetero/imdb_hdgi", "imdb_hdgi"),
    "pyg": ("pyg_hetero", ""),
}
#: Families whose files lie in the dataset folder itself (no ``raw/`` sub-folder).
_NO_RAW_LEAF = ("ogb", "acm3025", "heco", "imdb_hdgi")
#: The heterogeneous families (their ``data`` is a ``HeteroData``; ``ogbn-mag`` too).
HETERO_FAMILIES = ("acm3025", "heco", "imdb_hdgi", "pyg")
_PYG_CLASSES: dict[str, Any] = {
    "planetoid": Planetoid, "amazon": Amazon, "coauthor": Coauthor, "tu": TUDataset,
}
_TU_NAMES = ("MUTAG", "PTC_MR", "NCI1", "NCI109", "ENZYMES", "PROTEINS", "DD", "IMDB-BINARY",
             "IMDB-MULTI", "REDDIT-BINARY", "REDDIT-MULTI-5K", "COLLAB")
_OGBN_NAMES = ("ogbn-arxiv", "ogbn-products", "ogbn-proteins", "ogbn-mag", "ogbn-papers100M")


def _build_registry() -> dict[str, DatasetSpec]:
    specs = [DatasetSpec("planted", "synthetic", "planted_partition", "node")]
    specs += [DatasetSpec(n.lower(), "planetoid", n, "node")
              for n in ("Cora", "CiteSeer", "PubMed")]
    specs += [DatasetSpec(f"amazon-{n.lower()}", "amazon", n, "node")
              for n in ("Computers", "Photo")]
    specs += [DatasetSpec(f"coauthor-{n.lower()}", "coauthor", n, "node")
              for n in ("CS", "Physics")]
    specs += [DatasetSpec(n.lower(), "tu", n, "graph") for n in _TU_NAMES]
    specs += [DatasetSpec(n.lower(), "ogb", n, "node") for n in _OGBN_NAMES]
    specs += [DatasetSpec("acm3025", "acm3025", "ACM3025", "node"),
              DatasetSpec("imdb-hdgi", "imdb_hdgi", "3-class", "node")]
    specs += [DatasetSpec(f"heco:{n}", "heco", n, "node") for n in ("acm", "aminer", "dblp")]
    specs += [DatasetSpec("pyg:IMDB", "pyg", "IMDB", "node"),
              DatasetSpec("pyg:DBLP", "pyg", "DBLP", "node")]
    return {spec.name: spec for spec in specs}


#: Every named dataset, keyed by registry name.
REGISTRY: dict[str, DatasetSpec] = _build_registry()


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "").replace("_", "")


_BY_KEY: dict[str, DatasetSpec] = {_key(name): spec for name, spec in REGISTRY.items()}


_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+.-]*")


def _check_plain_name(part: str, name: str) -> None:
    """Refuses a dataset name that could reach outside its root or the cache (a path)."""
    if not _PLAIN_NAME.fullmatch(part) or ".." in part:
        raise ValueError(f"dataset name {name!r}: {part!r} must be a plain name (letters, "
                         f"digits, '_', '+', '-', '.'; no path)")


def resolve_name(name: str) -> DatasetSpec:
    """Resolves a user-given dataset name to its registry entry.

    Args:
        name (str): ``'Cora'``, ``'imdb-binary'``, ``'tu:COLLAB'``, ``'ogbn-arxiv'`` ...

    Returns:
        DatasetSpec: The entry; for ``'tu:<NAME>'`` and unlisted ``'ogbn-*'`` names one is made.

    Raises:
        ValueError: If the name is not known.
        TypeError: If ``name`` is not a string.
    """
    if not isinstance(name, str):
        raise TypeError(f"'name' must be a dataset name (str), got {type(name).__name__}")
    spec = _BY_KEY.get(_key(name))
    if spec is not None:
        return spec
    stripped = name.strip()
    prefix, _, rest = stripped.partition(":")
    if prefix.lower() in ("tu", "heco", "pyg") and rest:
        _check_plain_name(rest, name)
    if stripped.lower().startswith("ogbn-"):
        _check_plain_name(stripped, name)
    if stripped.lower().startswith("tu:") and len(stripped) > 3:
        tu_name = stripped[3:]
        known = _BY_KEY.get(_key(tu_name))
        if known is not None and known.family == "tu":
            return known
        return DatasetSpec(f"tu:{tu_name}", "tu", tu_name, "graph")
    if stripped.lower().startswith("ogbn-"):
        return DatasetSpec(stripped, "ogb", stripped, "node")
    if stripped.lower().startswith("heco:") and len(stripped) > 5:
        return DatasetSpec(f"heco:{stripped[5:]}", "heco", stripped[5:], "node")
    if stripped.lower().startswith("pyg:") and len(stripped) > 4:
        cls_name = _pyg_class(stripped[4:]).__name__
        return DatasetSpec(f"pyg:{cls_name}", "pyg", cls_name, "node")
    choices = (", ".join(sorted(REGISTRY)) + ", tu:<TU dataset name>, heco:<folder name>, "
               "pyg:<PyG heterogeneous dataset class>")
    raise ValueError(f"Unknown dataset {name!r}; expected one of: {choices}")


def is_hetero_name(name: str) -> bool:
    """Whether ``name`` is a heterogeneous dataset (its ``data`` a ``HeteroData``)."""
    try:
        spec = resolve_name(name)
    except (ValueError, TypeError):
        return False
    return spec.family in HETERO_FAMILIES or spec.source_name.lower() == "ogbn-mag"


def is_graph_file(name: str | os.PathLike[str]) -> bool:
    """Whether :func:`~graphinfo.data.load_dataset` reads ``name`` as a graph file: a path
    with a folder in it, else (when it is not a registered dataset name) an existing file or a
    name with a graph file's suffix."""
    if not isinstance(name, (str, os.PathLike)):
        return False
    text = os.fspath(name)
    if not isinstance(text, str) or not text.strip():
        return False
    if not isinstance(name, str) or "/" in text or os.sep in text:
        return True
    try:
        resolve_name(text)
        return False
    except ValueError:
        pass
    path = Path(text).expanduser()
    return path.is_file() or path.suffix.lower() in GRAPH_FILE_SUFFIXES


def load_dataset(name: str, root: PathLike | None = None, *, download: bool = True,
                 **kwargs: Any) -> LoadedDataset:
    """Loads a dataset by name.

    Node datasets come with ``data`` (``x`` float32, ``edge_index``, ``y``) and a split;
    graph datasets (TU) come with ``dataset``. Splits: the public Planetoid split; OGB's official
    split; a seeded random 10%/10%/80% split (seed 0) for Amazon and Coauthor, which have none;
    20 per class / 500 / 1000 for ``'planted'``.

    OGB datasets carry their OGB name in ``ogb_name``, so that evaluation reports the metric of
    OGB's ``Evaluator`` (see :meth:`LoadedDataset.probe_protocol`). Labels of unlabelled nodes
    (``'ogbn-papers100M'``) are ``-1``; ``'ogbn-proteins'`` keeps its ``[N, 112]`` binary labels
    and gets node features as the mean of its incident edges' features.

    Heterogeneous datasets (``'acm3025'``, ``'heco:<name>'``, ``'imdb-hdgi'``,
    ``'pyg:<Class>'``, ``'ogbn-mag'``) come as a ``HeteroData`` whose target node type holds
    ``x``, ``y`` and the split masks (:attr:`LoadedDataset.target`), with their metapath
    relations (:mod:`graphinfo.data.hetero`); :meth:`LoadedDataset.homogeneous` gives one
    relation as a plain graph (for ``'ogbn-mag'``: paper-cites-paper, what it was before
    heterogeneous datasets were supported).

    Args:
        name (str): Dataset name, case-insensitive; see :func:`known_datasets`. Or the path
            of a graph file of your own (a ``torch.save``'d PyG ``Data``, an edge list, GraphML
            or GML): :func:`graphinfo.data.load_graph_file` reads it, with ``kwargs`` such as
            ``features=`` and ``labels=`` (files) passed on; ``root`` is then unused.
        root (str or PathLike, optional): Data root to read raw files from; default
            ``$GRAPHINFO_DATA``, else the cache folder. Never written to. Ignored by
            ``'planted'``. (default: ``None``)
        download (bool): Whether missing raw files may be downloaded (into the cache).
            (default: ``True``)
        **kwargs: Per family: ``'planted'`` forwards them to
            :func:`~graphinfo.data.planted_partition`; Amazon/Coauthor take ``train_ratio``,
            ``valid_ratio``, ``seed``; TU takes ``use_node_attr``, ``use_edge_attr``,
            ``max_degree`` (cap of the one-hot degree features of featureless datasets, default
            256), ``degree_features`` (``True``: append one-hot degrees to the node features of
            every dataset, MVGRL's graph features) and ``transform``; OGB takes
            ``to_undirected`` (default ``True``). Every
            heterogeneous one takes ``metapaths`` (``'PAP,PSP'`` or a list: the dataset's own
            metapath graphs where it ships them, else built from its typed relations);
            ``'heco:*'`` also ``labelled_per_class`` (20, 40 or 60: the layout's splits) or
            ``train_ratio`` / ``valid_ratio`` / ``seed`` (a random split); ``'imdb-hdgi'``
            ``features`` (``'6334'`` or ``'10048'``) and the random split's ratios and seed
            (default 0.2 / 0.1 / 0); ``'pyg:*'`` the PyG class's own arguments.

    Returns:
        LoadedDataset: The validated dataset.

    Raises:
        ValueError: If the name is unknown or the data is invalid.
        FileNotFoundError: If the raw files are missing and cannot be downloaded; the message
            names the dataset, every folder searched and the expected files.
    """
    if is_graph_file(name):
        return load_graph_file(name, **kwargs)
    spec = resolve_name(name)
    loader = _LOADERS[spec.family]
    loaded = loader(spec, root, download, **kwargs)
    logger.info("loaded dataset %s from %s", spec.name, loaded.source)
    return loaded.validate()


def _load_planted(spec: DatasetSpec, root: PathLike | None, download: bool,
                  **kwargs: Any) -> LoadedDataset:
    data = planted_partition(**kwargs)
    split = masks_to_split(data.train_mask, data.val_mask, data.test_mask)
    return LoadedDataset(spec.name, "node", data, None, split, int(data.y.max()) + 1,
                         data.num_features, "synthetic")


def _pyg_class(name: str) -> type:
    """The class of ``torch_geometric.datasets`` called ``name`` (any case)."""
    import torch_geometric.datasets as pyg_datasets

    for attr in pyg_datasets.__all__:
        if attr.lower() == name.strip().lower():
            return getattr(pyg_datasets, attr)
    raise ValueError(f"torch_geometric.datasets has no class {name!r} (pyg:<Class>, e.g. "
                     f"pyg:IMDB)")


def _raw_files(spec: DatasetSpec) -> list[str]:
    """The files that show a folder holds the dataset: the PyG class's own
    ``raw_file_names`` (a property reading only ``self.name``), or the layout's own files."""
    if spec.family == "acm3025":
        return ["ACM3025.mat"]
    if spec.family == "heco":
        return ["labels.npy"]
    if spec.family == "imdb_hdgi":
        from graphinfo.data.hetero_files import IMDB_HDGI_METAPATHS

        return ["index_label.txt", *IMDB_HDGI_METAPATHS.values()]
    cls = _pyg_class(spec.source_name) if spec.family == "pyg" else _PYG_CLASSES[spec.family]
    names = cls.raw_file_names.fget(SimpleNamespace(name=spec.source_name))
    return [names] if isinstance(names, str) else list(names)


def search_dirs(spec: DatasetSpec, root: PathLike | None = None) -> list[Path]:
    """Lists, in order, the folders where the raw files of ``spec`` are looked for.

    Args:
        spec (DatasetSpec): A registry entry (not ``'synthetic'``).
        root (str or PathLike, optional): Data root; see :func:`roots.data_root`.

    Returns:
        list[Path]: Raw folders (for OGB: dataset folders), the cache download folder last.
    """
    base = roots.data_root(root)
    if spec.family == "ogb":
        dir_name = spec.source_name.replace("-", "_")
        found = roots.candidate_dirs(base, _FAMILY_DIRS["ogb"], (dir_name, f"{dir_name}_pyg"),
                                     leaf=None)
        download = roots.download_dir("ogb", dir_name)
    else:
        names = tuple(dict.fromkeys((spec.source_name, spec.source_name.lower())))
        leaf = None if spec.family in _NO_RAW_LEAF else "raw"
        if spec.family == "acm3025":   # one file: the folders themselves
            names = ("",)
        found = roots.candidate_dirs(base, _FAMILY_DIRS[spec.family], names, leaf=leaf)
        download = roots.download_dir(spec.family, spec.source_name)
    return found + ([download] if download not in found else [])


def _open_pyg(spec: DatasetSpec, root: PathLike | None, download: bool, cls: Any,
              **kwargs: Any) -> tuple[Any, Path]:
    """Finds the raw folder of a PyG dataset and opens it with a read-only-root class."""
    searched = search_dirs(spec, root)
    files = _raw_files(spec)
    raw = roots.find_dir(searched, files) or searched[-1]
    missing = partial(roots.missing_message, spec.name, searched, files)
    processed = roots.processed_dir(spec.family, spec.source_name, raw)
    dataset = cls(spec.source_name, raw, processed, missing, allow_download=download, **kwargs)
    return dataset, raw


def _load_planetoid(spec: DatasetSpec, root: PathLike | None, download: bool,
                    **kwargs: Any) -> LoadedDataset:
    dataset, raw = _open_pyg(spec, root, download, ReadOnlyPlanetoid, **kwargs)
    data = dataset[0]
    split = masks_to_split(data.train_mask, data.val_mask, data.test_mask)
    return LoadedDataset(spec.name, "node", data, None, split, dataset.num_classes,
                         data.num_features, os.fspath(raw))


def _load_random_split(spec: DatasetSpec, root: PathLike | None, download: bool,
                       train_ratio: float = 0.1, valid_ratio: float = 0.1, seed: int = 0,
                       **kwargs: Any) -> LoadedDataset:
    cls = ReadOnlyAmazon if spec.family == "amazon" else ReadOnlyCoauthor
    dataset, raw = _open_pyg(spec, root, download, cls, **kwargs)
    data = dataset[0]
    split = random_split(data.num_nodes, train_ratio, valid_ratio, seed=seed, y=data.y)
    return LoadedDataset(spec.name, "node", data, None, split, dataset.num_classes,
                         data.num_features, os.fspath(raw))


def _load_tu(spec: DatasetSpec, root: PathLike | None, download: bool,
             max_degree: int = DEFAULT_MAX_DEGREE, transform: Callable | None = None,
             degree_features: bool = False, **kwargs: Any) -> LoadedDataset:
    dataset, raw = _open_pyg(spec, root, download, ReadOnlyTUDataset, **kwargs)
    featureless = dataset.num_node_features == 0
    if featureless or degree_features:
        # No node features (IMDB-*, REDDIT-*, COLLAB): one-hot degree, as InfoGraph's baselines;
        # degree_features=True appends it to the node features (MVGRL's: label, then degree).
        cap = max_degree_of(dataset, cap=max_degree)
        logger.info("%s: %s one-hot degree (max degree %d)", spec.name,
                    "no node features; using" if featureless else "appending", cap)
        degrees = CappedOneHotDegree(cap, append=not featureless)
        transform = degrees if transform is None else Compose([degrees, transform])
    dataset.transform = transform
    return LoadedDataset(spec.name, "graph", None, dataset, None, dataset.num_classes,
                         dataset.num_features, os.fspath(raw))


def _load_ogbn(spec: DatasetSpec, root: PathLike | None, download: bool,
               to_undirected: bool = True, transform: Callable | None = None,
               metapaths: str | Sequence[str] | None = None) -> LoadedDataset:
    from graphinfo.data import ogbn  # imports ogb, which starts a version check: load lazily

    meta = ogbn.ogb_meta(spec.source_name)
    searched = search_dirs(spec, root)
    expected = ogbn.expected_files(meta)
    files = [f"RELEASE_v{meta['version']}.txt (may be empty)"] + expected
    folder = roots.find_dir(searched, expected) or searched[-1]
    missing = partial(roots.missing_message, spec.name, searched, files)
    processed = roots.processed_dir("ogb", spec.source_name, folder)
    dataset = ogbn.ReadOnlyNodePropPred(spec.source_name, folder, processed, missing,
                                        allow_download=download, transform=transform)
    if dataset.is_hetero:
        layout = ogbn.hetero_layout(meta)
        graph, split = ogbn.hetero_graph(dataset[0], dataset.get_idx_split(), layout,
                                         make_undirected=to_undirected)
        if metapaths is not None:
            _choose_metapaths(graph, metapaths)
        return LoadedDataset(spec.name, "node", graph, None, split, int(dataset.num_classes),
                             int(graph[layout.target].x.size(1)), os.fspath(folder),
                             ogb_name=spec.source_name)
    else:
        graph = dataset[0]
        split = {key: value.long().view(-1) for key, value in dataset.get_idx_split().items()}
    data = _normalise_ogbn(graph, dataset.num_tasks, to_undirected)
    return LoadedDataset(spec.name, "node", data, None, split, int(dataset.num_classes),
                         data.num_features, os.fspath(folder), ogb_name=spec.source_name)


def _normalise_ogbn(data: Data, num_tasks: int, make_undirected: bool) -> Data:
    """Flat long labels (-1 for unlabelled), features for ogbn-proteins, optional symmetrising."""
    y = data.y
    if y.is_floating_point() and num_tasks == 1:
        y = torch.where(torch.isnan(y), torch.full_like(y, -1), y).long()
    data.y = y.view(-1) if num_tasks == 1 else y
    if data.x is None and data.edge_attr is not None:
        # ogbn-proteins has edge features only: mean of the incident edges' features per node.
        data.x = scatter(data.edge_attr.float(), data.edge_index[0], dim=0,
                         dim_size=data.num_nodes, reduce="mean")
    if make_undirected and data.edge_attr is None and not is_undirected(data.edge_index,
                                                                        num_nodes=data.num_nodes):
        data.edge_index = to_undirected(data.edge_index, num_nodes=data.num_nodes)
    return data


def metapath_list(metapaths: str | Sequence[str]) -> list[str]:
    """``'MAM,MDM'`` or ``['MAM', 'MDM']`` as a list of upper-case names."""
    names = metapaths.split(",") if isinstance(metapaths, str) else list(metapaths)
    names = [str(name).strip().upper() for name in names if str(name).strip()]
    if not names:
        raise ValueError(f"'metapaths' names no metapath: {metapaths!r}")
    return names


def _choose_metapaths(data: Any, metapaths: str | Sequence[str]) -> None:
    """Adds the chosen metapath relations (built from the typed relations where the dataset
    has none precomputed) and makes them the defaults of multiplex models."""
    from graphinfo.data.hetero import METAPATHS_ATTR, add_metapaths

    relations = add_metapaths(data, metapath_list(metapaths))
    data[METAPATHS_ATTR] = [relation[1] for relation in relations]


def _hetero_folder(spec: DatasetSpec, root: PathLike | None) -> Path:
    searched = search_dirs(spec, root)[:-1]     # nothing of these is downloaded
    files = _raw_files(spec)
    folder = roots.find_dir(searched, files)
    if folder is None:
        raise FileNotFoundError(roots.missing_message(spec.name, searched, files,
                                                      "no download source"))
    return folder


def _native(names: list[str] | None, available: Sequence[str]) -> tuple[str, ...] | None:
    """The metapaths a dataset's files hold among ``names`` (``None``: the default)."""
    if names is None:
        return None
    native = tuple(n for n in names if n.upper() in {a.upper() for a in available})
    return native or None


def _load_acm3025(spec: DatasetSpec, root: PathLike | None, download: bool,
                  metapaths: str | Sequence[str] | None = None) -> LoadedDataset:
    from graphinfo.data.hetero_files import ACM3025_DEFAULT, ACM3025_METAPATHS, read_acm3025

    folder = _hetero_folder(spec, root)
    names = metapath_list(metapaths) if metapaths is not None else None
    unknown = [n for n in names or () if n not in ACM3025_METAPATHS]
    if unknown:
        raise ValueError(f"acm3025 ships only the metapath graphs {ACM3025_METAPATHS} (no "
                         f"typed relations to build others from); got {unknown}")
    data, split = read_acm3025(folder / "ACM3025.mat", tuple(names or ACM3025_DEFAULT))
    return _hetero_loaded(spec, data, split, folder)


def _load_heco(spec: DatasetSpec, root: PathLike | None, download: bool,
               labelled_per_class: int = 20, train_ratio: float | None = None,
               valid_ratio: float = 0.1, seed: int = 0,
               metapaths: str | Sequence[str] | None = None) -> LoadedDataset:
    from graphinfo.data.hetero_files import heco_layout, read_heco

    folder = _hetero_folder(spec, root)
    names = metapath_list(metapaths) if metapaths is not None else None
    native = _native(names, heco_layout(folder)["metapaths"])
    data, split = read_heco(folder, labelled_per_class, train_ratio, valid_ratio, seed,
                            metapaths=native)
    if names is not None:
        _choose_metapaths(data, names)
    return _hetero_loaded(spec, data, split, folder)


def _load_imdb_hdgi(spec: DatasetSpec, root: PathLike | None, download: bool,
                    features: str = "6334", train_ratio: float = 0.2, valid_ratio: float = 0.1,
                    seed: int = 0, metapaths: str | Sequence[str] | None = None
                    ) -> LoadedDataset:
    from graphinfo.data.hetero_files import read_imdb_hdgi

    folder = _hetero_folder(spec, root)
    names = metapath_list(metapaths) if metapaths is not None else ["MAM", "MDM"]
    data, split = read_imdb_hdgi(folder, features, train_ratio, valid_ratio, seed,
                                 tuple(names))
    return _hetero_loaded(spec, data, split, folder)


#: Default metapaths of PyG's heterogeneous datasets, where the papers fix them (others get
#: every two-step path target -> type -> target that the relations allow).
PYG_METAPATHS: dict[str, tuple[str, ...]] = {
    "IMDB": ("MAM", "MDM"),          # MAGNN / HAN / DMGI
    "DBLP": ("APA", "APCPA", "APTPA"),   # HAN / MAGNN
}


def _two_step_metapaths(data: Any, target: str) -> list[str]:
    """Every metapath target -> T -> target with one relation each way, in node-type
    initials (``'MAM'``), when the initials tell the node types apart."""
    initials = {t[0].upper() for t in data.node_types}
    if len(initials) != len(data.node_types):
        raise ValueError(f"the node types {data.node_types} do not have distinct initials; "
                         f"give metapaths= by relation names")
    out = []
    for node_type in data.node_types:
        if node_type == target:
            continue
        forward = [t for t in data.edge_types if t[0] == target and t[2] == node_type]
        back = [t for t in data.edge_types if t[0] == node_type and t[2] == target]
        if len(forward) == 1 and len(back) == 1:
            letter = target[0].upper()
            out.append(f"{letter}{node_type[0].upper()}{letter}")
    if not out:
        raise ValueError(f"no two-step metapath through another type leads back to {target!r}; "
                         f"give metapaths=")
    return out


def _load_pyg_hetero(spec: DatasetSpec, root: PathLike | None, download: bool,
                     metapaths: str | Sequence[str] | None = None, **kwargs: Any
                     ) -> LoadedDataset:
    from torch_geometric.data import HeteroData

    from graphinfo.data.cached import read_only_class
    from graphinfo.data.hetero import TARGET_ATTR, target_node_type

    cls = _pyg_class(spec.source_name)
    searched = search_dirs(spec, root)
    files = _raw_files(spec)
    raw = roots.find_dir(searched, files) or searched[-1]
    missing = partial(roots.missing_message, spec.name, searched, files)
    processed = roots.processed_dir("pyg", spec.source_name, raw)
    dataset = read_only_class(cls)(raw, processed, missing, allow_download=download, **kwargs)
    data = dataset[0]
    if not isinstance(data, HeteroData):
        raise ValueError(f"pyg:{spec.source_name} is not a heterogeneous dataset (its graph is a "
                         f"{type(data).__name__}); load homogeneous datasets by their names")
    target = target_node_type(data)
    data[TARGET_ATTR] = target
    _choose_metapaths(data, metapaths if metapaths is not None
                      else PYG_METAPATHS.get(cls.__name__) or _two_step_metapaths(data, target))
    store = data[target]
    if "train_mask" in store and "val_mask" in store and "test_mask" in store:
        split = masks_to_split(store.train_mask, store.val_mask, store.test_mask)
    else:
        split = random_split(store.num_nodes, 0.2, 0.1, seed=0, y=store.y)
    return _hetero_loaded(spec, data, split, raw)


def _hetero_loaded(spec: DatasetSpec, data: Any, split: dict[str, Any],
                   folder: Path) -> LoadedDataset:
    from graphinfo.data.hetero import target_node_type

    target = target_node_type(data)
    store = data[target]
    if "x" not in store:       # as for HeCo's featureless types: one-hot features
        store.x = torch.eye(store.num_nodes)
    labels = store.y[store.y >= 0]
    return LoadedDataset(spec.name, "node", data, None, split, int(labels.max()) + 1,
                         int(store.x.size(1)), os.fspath(folder), target=target)


_LOADERS: dict[str, Callable[..., LoadedDataset]] = {
    "synthetic": _load_planted,
    "planetoid": _load_planetoid,
    "amazon": _load_random_split,
    "coauthor": _load_random_split,
    "tu": _load_tu,
    "ogb": _load_ogbn,
    "acm3025": _load_acm3025,
    "heco": _load_heco,
    "imdb_hdgi": _load_imdb_hdgi,
    "pyg": _load_pyg_hetero,
}


def from_networkx(graph: Any, x_attr: str | Sequence[str] | None = None,
                  y_attr: str | None = None, name: str = "networkx",
                  max_degree: int = DEFAULT_MAX_DEGREE, train_ratio: float = 0.1,
                  valid_ratio: float = 0.1, seed: int = 0,
                  edge_weight_attr: str | None = "weight") -> LoadedDataset:
    """Wraps a :mod:`networkx` graph as a node-task :class:`LoadedDataset`.

    Built on :func:`torch_geometric.utils.from_networkx` (nodes are numbered in
    ``graph.nodes`` order; an undirected graph gets both edge directions).

    Args:
        graph (networkx.Graph): The graph.
        x_attr (str or Sequence[str], optional): Node attribute(s) concatenated into ``x``; if
            ``None``, ``x`` is the one-hot node degree capped at ``max_degree``.
            (default: ``None``)
        y_attr (str, optional): Node attribute holding the label (ints, or any sortable values
            that are mapped to ``0 .. C-1`` in sorted order; ``None`` marks an unlabelled node).
            Without it, ``y`` is all ``-1`` and the split is ``None``. (default: ``None``)
        name (str): Name of the result. (default: ``'networkx'``)
        max_degree (int): Cap of the degree features. (default: ``256``)
        train_ratio (float): Training fraction of the random split. (default: ``0.1``)
        valid_ratio (float): Validation fraction of the random split. (default: ``0.1``)
        seed (int): Seed of the random split. (default: ``0``)
        edge_weight_attr (str, optional): Edge attribute that becomes ``edge_weight`` (the
            weight the encoders aggregate with); networkx's convention is ``'weight'``.
            ``None`` keeps every edge attribute as it is. (default: ``'weight'``)

    Returns:
        LoadedDataset: Task ``'node'``, source ``'networkx'``.

    Raises:
        ValueError: If the graph is empty, a node lacks ``y_attr``, or the edge weights are
            not one finite number per edge.
    """
    if graph.number_of_nodes() == 0:
        raise ValueError("'graph' has no nodes")
    attrs = [x_attr] if isinstance(x_attr, str) else (list(x_attr) if x_attr else None)
    data = pyg_from_networkx(graph, group_node_attrs=attrs)
    if edge_weight_attr is not None and edge_weight_attr in data:
        weight = torch.as_tensor(data[edge_weight_attr])
        del data[edge_weight_attr]
        if weight.dim() != 1 or weight.numel() != data.num_edges \
                or not bool(torch.isfinite(weight.double()).all()):
            raise ValueError(f"edge attribute {edge_weight_attr!r} must be one finite number "
                             f"per edge, got shape {tuple(weight.shape)}")
        data.edge_weight = weight.float()
    if attrs is None:
        data = CappedOneHotDegree(max_degree_of([data], cap=max_degree))(data)
    data.x = data.x.float().view(data.num_nodes, -1)

    split = None
    num_classes = 0
    if y_attr is None:
        data.y = torch.full((data.num_nodes,), -1, dtype=torch.long)
    else:
        data.y, num_classes = _labels(graph, y_attr)
        if y_attr != "y" and y_attr in data:
            del data[y_attr]
        split = random_split(data.num_nodes, train_ratio, valid_ratio, seed=seed, y=data.y)
    return LoadedDataset(name, "node", data, None, split, num_classes, data.num_features,
                         "networkx").validate()


def _labels(graph: Any, y_attr: str) -> tuple[torch.Tensor, int]:
    """Reads node labels in ``graph.nodes`` order and maps them to ``0 .. C-1`` (``-1``: none)."""
    values = []
    for node, attrs in graph.nodes(data=True):
        if y_attr not in attrs:
            raise ValueError(f"Node {node!r} has no attribute {y_attr!r} ('y_attr'); give every "
                             f"node a label, or None for unlabelled nodes")
        values.append(attrs[y_attr])
    return encode_labels(values)


def known_datasets(root: PathLike | None = None) -> list[dict[str, Any]]:
    """Describes every named dataset and where its files are looked for.

    Args:
        root (str or PathLike, optional): Data root; see :func:`roots.data_root`.

    Returns:
        list[dict[str, Any]]: One dict per dataset with ``name``, ``task``, ``family``,
        ``search`` (folders searched, in order) and ``found`` (the folder holding the files, or
        ``None``; ``'synthetic'`` for generated data). A last entry ``'tu:<NAME>'`` stands for
        any other TU dataset.
    """
    out = []
    for spec in REGISTRY.values():
        entry: dict[str, Any] = {"name": spec.name, "task": spec.task, "family": spec.family}
        if spec.family == "synthetic":
            entry.update(search=[], found="synthetic")
        else:
            searched = search_dirs(spec, root)
            if spec.family == "ogb":
                hit = next((d for d in searched if (d / "raw").is_dir() and (d / "split").is_dir()),
                           None)
            else:
                hit = roots.find_dir(searched, _raw_files(spec))
            entry.update(search=[os.fspath(d) for d in searched],
                         found=os.fspath(hit) if hit else None)
        out.append(entry)
    base = roots.data_root(root)
    out.append({"name": "tu:<NAME>", "task": "graph", "family": "tu",
                "search": [os.fspath(base / d / "<NAME>" / "raw") if d else
                           os.fspath(base / "<NAME>" / "raw") for d in _FAMILY_DIRS["tu"]],
                "found": None})
    return out
