"""kerasmm.models.siglip: SigLIP / SigLIP 2, their towers and their preprocessor."""

from kerasmm.models.siglip.multihead_attention_pooling import MultiheadAttentionPooling
from kerasmm.models.siglip.siglip_image_preprocessor import SigLIPImagePreprocessor
from kerasmm.models.siglip.siglip_model import SigLIP
from kerasmm.models.siglip.siglip_preprocessor import SigLIPPreprocessor
from kerasmm.models.siglip.siglip_text_encoder import SigLIPTextEncoder
from kerasmm.models.siglip.siglip_tokenizer import SigLIPTokenizer
from kerasmm.models.siglip.siglip_vision_encoder import SigLIPVisionEncoder

__all__ = [
    "MultiheadAttentionPooling",
    "SigLIP",
    "SigLIPImagePreprocessor",
    "SigLIPPreprocessor",
    "SigLIPTextEncoder",
    "SigLIPTokenizer",
    "SigLIPVisionEncoder",
]
