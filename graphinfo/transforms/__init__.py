"""Once-per-dataset preprocessing as PyG :class:`~torch_geometric.transforms.BaseTransform`:
views and relations that models read as first-class inputs.

- :class:`DiffusionView`: a graph diffusion (personalised PageRank or heat kernel, through PyG's
  :class:`~torch_geometric.transforms.GDC`; for large graphs a sparse approximate PPR,
  :func:`~graphinfo.transforms.ppr.approximate_ppr`) added beside the graph as a second view,
  ``data.<name>_edge_index`` / ``data.<name>_edge_weight``; :func:`per_graph_diffusion`, the
  exact diffusion of each graph of a batch of small graphs; :class:`DegreeMatchedScaling`,
  MVGRL's code's thresholding and min-max scaling of CiteSeer's diffusion;
- :class:`NormalizedAdjacencyView`: GCN's normalised adjacency of the graph as a stored view
  (for windows cut from the full graph's normalisation);
- :class:`MetapathGraphs`: metapath relations of a ``HeteroData`` (PyG's
  :class:`~torch_geometric.transforms.AddMetaPaths`) under names of your choice.
"""
from graphinfo.transforms.diffusion import (
    DegreeMatchedScaling,
    DiffusionView,
    per_graph_diffusion,
    view_keys,
)
from graphinfo.transforms.metapaths import MetapathGraphs
from graphinfo.transforms.views import NormalizedAdjacencyView

__all__ = ["DegreeMatchedScaling", "DiffusionView", "MetapathGraphs", "NormalizedAdjacencyView",
           "per_graph_diffusion", "view_keys"]
