"""kerasmm.models.perceiver: Perceiver, Perceiver IO and their preprocessor."""

from kerasmm.models.perceiver.perceiver import Perceiver
from kerasmm.models.perceiver.perceiver_io import PerceiverIO
from kerasmm.models.perceiver.perceiver_preprocessor import PerceiverPreprocessor

__all__ = [
    "Perceiver",
    "PerceiverIO",
    "PerceiverPreprocessor",
]
