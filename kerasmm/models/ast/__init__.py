"""AST (Gong et al. 2021): a ViT over log-mel spectrogram patches.

The classification head lives in `kerasmm.tasks.AudioClassifier`; the
presets in `ast_presets.py`.
"""

from kerasmm.models.ast.ast_backbone import AudioSpectrogramTransformer  # noqa: F401
from kerasmm.models.ast.ast_embedding import ASTEmbedding  # noqa: F401
from kerasmm.models.ast.ast_preprocessor import ASTPreprocessor  # noqa: F401
from kerasmm.models.ast.ast_presets import AST_PRESETS  # noqa: F401
