"""kerasmm.models: the model families, one folder each, with their preprocessors.

Each family's presets are plain data in its folder and travel with its
classes (`CLIP.family_presets`); `kerasmm.models.presets.PRESETS` lists
them all.
"""

from kerasmm.models.ast import ASTPreprocessor, AudioSpectrogramTransformer  # noqa: F401
from kerasmm.models.blip import BLIPBackbone  # noqa: F401
from kerasmm.models.blip import BLIPPreprocessor  # noqa: F401
from kerasmm.models.blip import BLIPTextDecoder  # noqa: F401
from kerasmm.models.blip import BLIPTextEncoder  # noqa: F401
from kerasmm.models.blip import BLIPTokenizer  # noqa: F401
from kerasmm.models.blip import BLIPVisionEncoder  # noqa: F401
from kerasmm.models.clap import CLAP  # noqa: F401
from kerasmm.models.clap import CLAPAudioEncoder  # noqa: F401
from kerasmm.models.clip import CLIP  # noqa: F401
from kerasmm.models.clip import CLIPPreprocessor  # noqa: F401
from kerasmm.models.clip import ModifiedResNet  # noqa: F401
from kerasmm.models.clip import TextTransformer  # noqa: F401
from kerasmm.models.clip import VisionTransformer  # noqa: F401
from kerasmm.models.coca import CoCa  # noqa: F401
from kerasmm.models.coca import CoCaPreprocessor  # noqa: F401
from kerasmm.models.coattention import CoAttentionTransformer  # noqa: F401
from kerasmm.models.conv_encoder import build_conv_encoder  # noqa: F401
from kerasmm.models.diffusion import TextToImageDiffusion  # noqa: F401
from kerasmm.models.diffusion import TextToImagePreprocessor  # noqa: F401
from kerasmm.models.mmbt import MMBT  # noqa: F401
from kerasmm.models.perceiver import Perceiver  # noqa: F401
from kerasmm.models.perceiver import PerceiverIO  # noqa: F401
from kerasmm.models.perceiver import PerceiverPreprocessor  # noqa: F401
from kerasmm.models.perceiver import build_av_qa_fusion  # noqa: F401
from kerasmm.models.perceiver import build_av_qa_perceiver  # noqa: F401
from kerasmm.models.siglip import SigLIP  # noqa: F401
from kerasmm.models.siglip import SigLIPPreprocessor  # noqa: F401
from kerasmm.models.siglip import SigLIPTextEncoder  # noqa: F401
from kerasmm.models.siglip import SigLIPVisionEncoder  # noqa: F401
from kerasmm.models.video import VideoCLIP  # noqa: F401
from kerasmm.models.video import VideoEncoder  # noqa: F401
from kerasmm.models.vilt import ViLT  # noqa: F401
from kerasmm.models.vilt import ViLTPreprocessor  # noqa: F401
from kerasmm.models.vqvae import TextToImageTransformer, VQVAE  # noqa: F401
