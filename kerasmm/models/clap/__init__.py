"""CLAP: contrastive audio-text models (CLIP's machinery with an audio tower)."""

from kerasmm.models.clap.clap_audio_encoder import CLAPAudioEncoder  # noqa: F401
from kerasmm.models.clap.clap_model import CLAP  # noqa: F401
from kerasmm.models.clap.clap_audio_encoder import PooledAudioTower  # noqa: F401
