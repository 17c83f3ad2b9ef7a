"""MMBT (Kiela et al. 2019): image features as extra tokens of a text transformer."""

from kerasmm.models.mmbt.mmbt_backbone import MMBT  # noqa: F401
from kerasmm.models.mmbt.text_embedding import TextEmbedding  # noqa: F401
