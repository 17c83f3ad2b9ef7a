"""kerasmm.models.vqvae: the VQ-VAE image tokenizer and a DALL-E-style text-to-image transformer."""

from kerasmm.models.vqvae.text_to_image_transformer import TextToImageTransformer
from kerasmm.models.vqvae.vqvae_model import VQVAE

__all__ = ["TextToImageTransformer", "VQVAE"]
