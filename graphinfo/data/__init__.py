"""Datasets: ``load_dataset(name, root)`` for real benchmarks, synthetic graphs, splits.

Data roots are read-only inputs: raw files are read where they are found and everything derived
goes to the cache folder (``$GRAPHINFO_CACHE``, default ``~/.cache/graphinfo``); see
:mod:`graphinfo.data.roots`.
"""
from graphinfo.data.features import CappedOneHotDegree
from graphinfo.data.files import load_graph_file
from graphinfo.data.loaded import LoadedDataset
from graphinfo.data.loaders import (
    REGISTRY,
    DatasetSpec,
    from_networkx,
    is_graph_file,
    known_datasets,
    load_dataset,
    resolve_name,
)
from graphinfo.data.roots import cache_dir, data_root
from graphinfo.data.splits import check_split, masks_to_split, per_class_split, random_split
from graphinfo.data.synthetic import planted_partition

__all__ = [
    "REGISTRY",
    "CappedOneHotDegree",
    "DatasetSpec",
    "LoadedDataset",
    "cache_dir",
    "check_split",
    "data_root",
    "from_networkx",
    "is_graph_file",
    "known_datasets",
    "load_dataset",
    "load_graph_file",
    "masks_to_split",
    "per_class_split",
    "planted_partition",
    "random_split",
    "resolve_name",
]
