"""kerasmm.models.clip: CLIP, its towers and their building blocks."""

from kerasmm.models.clip.clip_model import CLIP
from kerasmm.models.clip.modified_resnet import ModifiedResNet
from kerasmm.models.clip.resnet_layers import AttentionPool2D
from kerasmm.models.clip.resnet_layers import Bottleneck
from kerasmm.models.clip.text_transformer import TextTransformer
from kerasmm.models.clip.vision_transformer import VisionTransformer

__all__ = [
    "CLIP",
    "ModifiedResNet",
    "TextTransformer",
    "VisionTransformer",
]
