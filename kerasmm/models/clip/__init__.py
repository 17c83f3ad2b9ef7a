"""kerasmm.models.clip: CLIP, its towers, their building blocks and its preprocessor."""

from kerasmm.models.clip.clip_model import CLIP
from kerasmm.models.clip.clip_preprocessor import CLIPPreprocessor
from kerasmm.models.clip.modified_resnet import ModifiedResNet
from kerasmm.models.clip.patch_dropout import PatchDropout  # noqa: F401
from kerasmm.models.clip.resnet_layers import AttentionPool2D  # noqa: F401
from kerasmm.models.clip.resnet_layers import Bottleneck  # noqa: F401
from kerasmm.models.clip.text_transformer import TextTransformer
from kerasmm.models.clip.tower_locking import lock_tower  # noqa: F401
from kerasmm.models.clip.tower_locking import unlock_tower  # noqa: F401
from kerasmm.models.clip.vision_transformer import VisionTransformer

__all__ = [
    "CLIP",
    "CLIPPreprocessor",
    "ModifiedResNet",
    "TextTransformer",
    "VisionTransformer",
]
