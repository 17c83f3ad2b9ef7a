"""kerasmm.models.coca: CoCa (contrastive captioner), trained here with `fit`."""

from kerasmm.models.coca.coca_model import CoCa

__all__ = ["CoCa"]
