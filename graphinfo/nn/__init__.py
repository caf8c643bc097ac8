"""Parts that models compose: encoders, readouts, critics, corruptions and augmentations
(every one registered under a name for ``make_corruption``), and the semantic attention of
metapath models."""
from graphinfo.nn.activations import PReLU, make_activation, prelu
from graphinfo.nn.adaptive import AdaptiveDropEdges, AdaptiveMaskFeatures
from graphinfo.nn.augmentations import (
    AddEdges,
    DropNodes,
    FeatureDropout,
    RandomWalkSubgraph,
    RewireEdges,
    UseView,
)
from graphinfo.nn.corruptions import (
    Compose,
    DropEdges,
    MaskFeatures,
    RandomChoice,
    ShuffleNodes,
    make_corruption,
)
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
    "ShuffleNodes", "DropEdges", "MaskFeatures", "DropNodes", "FeatureDropout",
    "RandomWalkSubgraph", "AddEdges", "RewireEdges", "UseView", "AdaptiveDropEdges",
    "AdaptiveMaskFeatures", "Compose", "RandomChoice", "make_corruption",
    "SemanticAttention",
]
