"""kerasmm.models.diffusion: text-to-image denoising diffusion (issue 14)."""

from kerasmm.models.diffusion.diffusion_blocks import ImageTextAttention  # noqa: F401
from kerasmm.models.diffusion.diffusion_blocks import ResBlock  # noqa: F401
from kerasmm.models.diffusion.text_to_image_diffusion import TextToImageDiffusion
from kerasmm.models.diffusion.text_to_image_preprocessor import TextToImagePreprocessor

__all__ = ["TextToImageDiffusion", "TextToImagePreprocessor"]
