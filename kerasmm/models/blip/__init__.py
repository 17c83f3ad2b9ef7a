"""BLIP (Li et al. 2022): ViT image tower and BERT text encoder / decoder.

The tasks built from these towers (captioning, generative VQA, image-text
matching) live in `kerasmm.tasks`; the presets in `blip_presets.py`.
"""

from kerasmm.models.blip.blip_backbone import BLIPBackbone  # noqa: F401
from kerasmm.models.blip.blip_preprocessor import BLIPPreprocessor  # noqa: F401
from kerasmm.models.blip.blip_presets import BLIP_PRESETS  # noqa: F401
from kerasmm.models.blip.blip_text_decoder import BLIPTextDecoder  # noqa: F401
from kerasmm.models.blip.blip_text_encoder import BLIPTextEncoder  # noqa: F401
from kerasmm.models.blip.blip_text_layer import BLIPTextLayer  # noqa: F401
from kerasmm.models.blip.blip_tokenizer import BLIPTokenizer  # noqa: F401
from kerasmm.models.blip.blip_vision_encoder import BLIPVisionEncoder  # noqa: F401
