"""ViLT (Kim et al. 2021): one transformer over word and patch tokens.

The heads (VQA, NLVR2, retrieval score, masked LM) live in
`kerasmm.tasks`; the presets in `vilt_presets.py`.
"""

from kerasmm.models.vilt.vilt_backbone import ViLT  # noqa: F401
from kerasmm.models.vilt.vilt_image_embedding import ViLTImageEmbedding  # noqa: F401
from kerasmm.models.vilt.vilt_image_preprocessor import ViLTImagePreprocessor  # noqa: F401
from kerasmm.models.vilt.vilt_preprocessor import ViLTPreprocessor  # noqa: F401
from kerasmm.models.vilt.vilt_presets import VILT_PRESETS  # noqa: F401
