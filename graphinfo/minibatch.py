r"""Mini-batch training of DGI-style models on neighbour-sampled batches, on one process or
many (:mod:`torch.distributed`), and layer-wise full-graph inference for exporting embeddings.

**A training step.** A batch is the subgraph that PyG's
:class:`~torch_geometric.loader.NeighborLoader` samples around :math:`B` seed nodes
(:func:`graphinfo.sampler.neighbor_loader`). The model runs on that subgraph as on a whole
graph, so the corruption (e.g. shuffling the node features) is applied inside the batch, among
its sampled nodes. The loss uses the seeds only: their clean embeddings
:math:`\mathbf{h}_1 \dots \mathbf{h}_B` are the positives, their corrupted embeddings the
negatives, and the summary is

* ``summary='batch'`` (the default): the readout of the batch's seeds,
  :math:`\mathbf{s}_t = \mathcal{R}(\mathbf{h}_1, \dots, \mathbf{h}_B)`; with :math:`B` in the
  hundreds it estimates the full-graph summary closely, and it is what PyG's mini-batch DGI
  example does;
* ``summary='ema'``: an exponential moving average of the batch summaries,
  :math:`\bar{\mathbf{s}}_t = m\,\bar{\mathbf{s}}_{t-1} + (1 - m)\,\mathbf{s}_t`, starting
  from :math:`\bar{\mathbf{s}}_1 = \mathbf{s}_1`; it smooths the summary over roughly the last
  :math:`1 / (1 - m)` batches (10 for the default :math:`m = 0.9`), not over the whole graph.
  The gradient flows through the current batch's share :math:`(1 - m)\,\mathbf{s}_t` only
  (:math:`\bar{\mathbf{s}}_{t-1}` is a constant), and through all of :math:`\mathbf{s}_1` at the
  first step.

With several processes each one trains on its own share of the seeds; the batch summary is
averaged over the processes with a differentiable all-reduce before it is used (so every
process scores against the same global summary) and the gradients are all-reduced by
:class:`~torch.nn.parallel.DistributedDataParallel`.

**GCN on a sampled subgraph.** Normalising a sampled subgraph by its own degrees, as a plain
GCN layer would, changes the operator: a neighbour sampled from the last hop has no edges of
its own in the subgraph. For :class:`graphinfo.nn.GCNEncoder` the batch therefore carries edge
weights built from the full graph's in-degrees :math:`d` (:func:`sampled_gcn_edges`): an edge
sampled for node :math:`i` weighs :math:`d_i / k_i` (:math:`k_i` neighbours sampled), so each
layer's neighbour sum, before the activation, is an unbiased estimate of the full graph's, and
node :math:`i`'s degree is exactly :math:`d_i + 1`; every node gets an explicit self-loop, of
weight :math:`1` for expanded nodes and :math:`d_j + 1` for the last hop's, whose degree is
then exact too. (Through the activations and across layers the estimate is no longer
unbiased, as with any sampled GNN.) When every neighbour is sampled the seeds' embeddings equal
the full-graph GCN's exactly.

**Memory** per step is bounded by the batch: the loader gathers the features of the sampled
nodes only, and nothing of the size of the graph is built per step. What stays for the whole
run grows with the graph: its features and edges, and the sampler's CSC copy of the edges
(built once, about 50 bytes per edge with PyG's edge permutation). **Export**
(:func:`embed_layerwise`) computes every node's embedding without sampling, one layer at a time
over the whole graph.

The pieces live where they belong: the loop in :mod:`graphinfo.train`
(:func:`~graphinfo.train.fit_minibatch`, :func:`~graphinfo.train.embed_layerwise`), the batches in
:mod:`graphinfo.sources` (:class:`~graphinfo.sources.NeighborBatches`,
:class:`~graphinfo.sources.SummaryTracker`), the sampler and the GCN weights in
:mod:`graphinfo.sampler` (:func:`~graphinfo.sampler.sampled_gcn_edges`), the loss on the seeds in
the model (:meth:`graphinfo.models.MIModel.subgraph_loss`). This module gathers their names.
"""
from __future__ import annotations

from graphinfo.sampler import sampled_gcn_edges
from graphinfo.sources import DEFAULT_FANOUT, SUMMARY_MODES, NeighborBatches, SummaryTracker
from graphinfo.train import embed_layerwise, fit_minibatch

__all__ = ["DEFAULT_FANOUT", "SUMMARY_MODES", "NeighborBatches", "SummaryTracker",
           "embed_layerwise", "fit_minibatch", "sampled_gcn_edges"]
