"""kerasmm.layers: backend-agnostic building blocks."""

from kerasmm.layers.activations import get_activation, gelu_approximate, quick_gelu
from kerasmm.layers.multi_head_attention import MultiHeadAttention
from kerasmm.layers.attention import MLP, CrossAttention, SelfAttention
from kerasmm.layers.position import (
    FourierPositionEncoding,
    LearnedPositionEmbedding,
    SinusoidalPositionEncoding,
)
from kerasmm.layers.latents import LatentArray
from kerasmm.layers.patching import PatchEmbedding
