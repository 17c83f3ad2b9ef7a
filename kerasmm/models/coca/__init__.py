"""kerasmm.models.coca: CoCa (contrastive captioner), trained here with `fit`
or converted from open_clip."""

from kerasmm.models.coca.coca_model import CoCa
from kerasmm.models.coca.coca_preprocessor import CoCaPreprocessor
from kerasmm.models.coca.coca_presets import COCA_PRESETS
from kerasmm.models.coca.coca_vit import CoCaVisionTransformer

__all__ = ["CoCa", "COCA_PRESETS", "CoCaPreprocessor", "CoCaVisionTransformer"]
