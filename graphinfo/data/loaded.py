"""The result of :func:`graphinfo.data.load_dataset`: a graph (or graph dataset) and its split."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData

from graphinfo.data import hetero
from graphinfo.data.splits import SPLIT_KEYS, check_split
from graphinfo.validation import check_edge_index, check_features

logger = logging.getLogger(__name__)


@dataclass
class LoadedDataset:
    """A loaded dataset with everything a training or evaluation run needs.

    Attributes:
        name (str): Canonical dataset name (``'cora'``, ``'planted'``, ``'tu:COLLAB'`` ...).
        task (str): ``'node'`` (one graph, node labels) or ``'graph'`` (many graphs, graph labels).
        data (Data, HeteroData or None): The graph of a node task, with ``x`` (float32) and
            ``y``; ``None`` for graph tasks. A heterogeneous dataset is a ``HeteroData`` whose
            target node type (:attr:`target`) holds ``x``, ``y`` and the split masks (see
            :mod:`graphinfo.data.hetero`).
        dataset (Any): The PyG dataset of a graph task (e.g. a ``TUDataset``); ``None`` for
            node tasks.
        split (dict[str, Tensor] or None): ``{'train', 'valid', 'test'}`` long node-index
            tensors for node tasks; ``None`` when there is none (graph tasks, unlabelled graphs).
        num_classes (int): Number of classes (tasks, for multi-label data).
        num_features (int): Node feature dimension (of the target type, when heterogeneous).
        source (str): Folder the raw files were read from, or ``'synthetic'`` / ``'networkx'``.
        ogb_name (str or None): OGB's name of the dataset (``'ogbn-arxiv'``) when it is an OGB
            dataset, whose embeddings are then scored by OGB's ``Evaluator``; ``None``
            otherwise. (default: ``None``)
        target (str or None): The labelled node type of a heterogeneous dataset, whose nodes
            the split, labels and embeddings are about; ``None`` for homogeneous data.
            (default: ``None``)
        protocol (str or None): The evaluation protocol when it is not the one the data's
            kind implies (one relation of a heterogeneous dataset keeps ``'hetero_node'``, so
            that it is scored as the multiplex models are). (default: ``None``)
    """

    name: str
    task: str
    data: Data | None
    dataset: Any
    split: dict[str, Tensor] | None
    num_classes: int
    num_features: int
    source: str
    ogb_name: str | None = None
    target: str | None = None
    protocol: str | None = None

    def __post_init__(self) -> None:
        if self.task not in ("node", "graph"):
            raise ValueError(f"'task' must be 'node' or 'graph', got {self.task!r}")
        if isinstance(self.data, HeteroData) and self.target is None:
            self.target = hetero.target_node_type(self.data)

    @property
    def is_hetero(self) -> bool:
        """Whether :attr:`data` is a heterogeneous graph (``HeteroData``)."""
        return isinstance(self.data, HeteroData)

    @property
    def labels(self) -> Tensor | None:
        """The node labels the split refers to (the target type's, when heterogeneous)."""
        return None if self.data is None else hetero.node_labels(self.data)

    def homogeneous(self, relation: str | tuple[str, str, str] | None = None) -> LoadedDataset:
        """This dataset as one homogeneous graph: the target nodes with one of their
        relations (default: the first default metapath; for ``ogbn-mag`` paper-cites-paper),
        for models that read a single graph, under the same name and scored by the same
        protocol; ``data.relation`` names the relation. Homogeneous datasets return
        themselves.

        Args:
            relation (str or tuple, optional): The relation, by name (``'PAP'``) or edge type.
        """
        if not self.is_hetero:
            if relation is not None:
                raise ValueError(f"{self.name!r} is homogeneous: it has no relation {relation!r}")
            return self
        data = hetero.single_relation_graph(self.data, relation)
        return LoadedDataset(self.name, self.task, data, None, self.split, self.num_classes,
                             self.num_features, self.source, self.ogb_name,
                             protocol=self.probe_protocol()[0])

    def validate(self) -> LoadedDataset:
        """Checks and normalises the data in place: float32 finite features, valid split.

        Returns:
            LoadedDataset: ``self``, for chaining.

        Raises:
            ValueError: On missing or non-finite features, labels, bad edges or a bad split.
        """
        if self.task == "graph":
            if self.dataset is None or len(self.dataset) == 0:
                raise ValueError(f"Graph dataset {self.name!r} holds no graphs")
            stored = getattr(self.dataset, "_data", None)  # collated storage of in-memory sets
            if getattr(stored, "x", None) is not None:
                if stored.x.dtype != torch.float32:
                    stored.x = stored.x.float()
                    self.dataset._data_list = None  # drop graphs cached with the old dtype
                check_features(stored.x, name=f"{self.name}.x")
            return self
        data = self.data
        if data is None:
            raise ValueError(f"Node dataset {self.name!r} has no graph ('data' is None)")
        if isinstance(data, HeteroData):
            return self._validate_hetero(data)
        if data.x is None:
            raise ValueError(f"Node dataset {self.name!r} has no node features ('data.x')")
        if data.x.dtype != torch.float32:
            data.x = data.x.float()
        if data.y is None:
            raise ValueError(f"Node dataset {self.name!r} has no node labels ('data.y')")
        check_features(data.x, name=f"{self.name}.x")
        check_edge_index(data.edge_index, data.num_nodes, name=f"{self.name}.edge_index")
        if data.y.size(0) != data.num_nodes:
            raise ValueError(f"'{self.name}.y' has {data.y.size(0)} entries for "
                             f"{data.num_nodes} nodes")
        if self.split is not None:
            check_split(self.split, data.num_nodes, name=f"{self.name}.split")
        return self

    def _validate_hetero(self, data: HeteroData) -> LoadedDataset:
        store = data[self.target]
        if "x" in store and store.x.dtype != torch.float32:
            store.x = store.x.float()
        if "y" not in store:
            raise ValueError(f"Node dataset {self.name!r} has no labels on its target type "
                             f"{self.target!r}")
        hetero.check_hetero(data, name=self.name)
        if self.split is not None:
            check_split(self.split, store.num_nodes, name=f"{self.name}.split")
        return self

    def probe_protocol(self) -> tuple[str, dict[str, Any]]:
        """Names the linear-probe protocol that scores node embeddings of this dataset.

        Returns:
            tuple[str, dict[str, Any]]: A protocol of :func:`graphinfo.evaluation.evaluate` and
            its keyword arguments: ``('ogb', {'name': ogb_name})`` for OGB datasets (selection
            and metric from ``ogb.nodeproppred.Evaluator``), ``('hetero_node', {})`` for the
            other heterogeneous datasets (Macro-/Micro-F1, NMI/ARI, Sim@k),
            ``('linear_probe', {})`` otherwise.
            Use as ``protocol, kwargs = loaded.probe_protocol();
            evaluate(z, loaded.data.y, loaded.split, protocol=protocol, **kwargs)``.
        """
        if self.ogb_name is not None:
            return "ogb", {"name": self.ogb_name}
        if self.protocol is not None:
            return self.protocol, {}
        if self.is_hetero:
            return "hetero_node", {}
        return "linear_probe", {}

    def describe(self) -> dict[str, Any]:
        """Returns a small summary (sizes and source) for logs and the CLI.

        Returns:
            dict[str, Any]: name, task, counts, split sizes and source.
        """
        out: dict[str, Any] = {"name": self.name, "task": self.task}
        if isinstance(self.data, HeteroData):
            out.update(target=self.target, num_nodes=int(self.data[self.target].num_nodes),
                       node_types={t: int(self.data[t].num_nodes) for t in self.data.node_types},
                       relations={"__".join(t): int(self.data[t].num_edges)
                                  for t in self.data.edge_types})
        elif self.data is not None:
            out.update(num_nodes=int(self.data.num_nodes), num_edges=int(self.data.num_edges))
        if self.dataset is not None:
            out["num_graphs"] = len(self.dataset)
        out.update(num_features=self.num_features, num_classes=self.num_classes)
        if self.split is not None:
            out["split"] = {key: int(self.split[key].numel()) for key in SPLIT_KEYS}
        out["source"] = self.source
        if self.ogb_name is not None:
            out["ogb_name"] = self.ogb_name
        return out
