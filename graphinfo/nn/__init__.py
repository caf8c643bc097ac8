"""Parts that models compose: encoders, readouts, critics, corruptions and the semantic
attention of metapath models."""
from graphinfo.nn.activations import PReLU, make_activation, prelu
from graphinfo.nn.corruptions import DropEdges, MaskFeatures, ShuffleNodes, make_corruption
from graphinfo.nn.discriminators import (
    BilinearDiscriminator,
    CosineDiscriminator,
    InnerProductDiscriminator,
    MLPDiscriminator,
    make_discriminator,
)
from graphinfo.nn.encoders import (
    GATEncoder,
    GCNEncoder,
    GINEncoder,
    GNNEncoder,
    SAGEEncoder,
    make_encoder,
)
from graphinfo.nn.readouts import (
    AttentionReadout,
    MaxReadout,
    MeanReadout,
    Readout,
    SigmoidMeanReadout,
    SumReadout,
    make_readout,
)
from graphinfo.nn.semantic_attention import SemanticAttention

__all__ = [
    "PReLU", "prelu", "make_activation",
    "GNNEncoder", "GCNEncoder", "SAGEEncoder", "GINEncoder", "GATEncoder", "make_encoder",
    "Readout", "SigmoidMeanReadout", "MeanReadout", "SumReadout", "MaxReadout",
    "AttentionReadout", "make_readout",
    "BilinearDiscriminator", "InnerProductDiscriminator", "CosineDiscriminator",
    "MLPDiscriminator", "make_discriminator",
    "ShuffleNodes", "DropEdges", "MaskFeatures", "make_corruption",
    "SemanticAttention",
]
