"""kerasmm.layers: backend-agnostic building blocks."""

from kerasmm.layers.activations import get_activation, gelu_approximate, quick_gelu
from kerasmm.layers.multi_head_attention import MultiHeadAttention
from kerasmm.layers.mlp import MLP
from kerasmm.layers.cross_attention import CrossAttention
from kerasmm.layers.self_attention import SelfAttention
from kerasmm.layers.position import (
    FourierPositionEncoding,
    LearnedPositionEmbedding,
    SinusoidalPositionEncoding,
    sincos_2d_positions,
)
from kerasmm.layers.latents import LatentArray
from kerasmm.layers.patching import ConvPatchEmbedding
from kerasmm.layers.patching import PatchEmbedding
from kerasmm.layers.image_adapter import ImageAdapter
from kerasmm.layers.text_adapter import TextAdapter
from kerasmm.layers.audio_adapter import AudioAdapter
from kerasmm.layers.video_adapter import VideoAdapter
from kerasmm.layers.label_adapter import LabelAdapter
from kerasmm.layers.multimodal_adapter import MultimodalAdapter
from kerasmm.layers.classification_decoder import ClassificationDecoder
from kerasmm.layers.basic_decoder import BasicDecoder
from kerasmm.layers.masked_lm_decoder import MaskedLMDecoder
from kerasmm.layers.multimodal_decoder import MultimodalDecoder
from kerasmm.layers.gradient_reversal import GradientReversal
from kerasmm.layers.vector_quantizer import VectorQuantizer
