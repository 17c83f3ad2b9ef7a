"""kerasmm.models.perceiver: Perceiver, Perceiver IO and their preprocessor."""

from kerasmm.models.perceiver.av_qa import build_av_qa_fusion
from kerasmm.models.perceiver.av_qa import build_av_qa_perceiver
from kerasmm.models.perceiver.perceiver import Perceiver
from kerasmm.models.perceiver.perceiver_io import PerceiverIO
from kerasmm.models.perceiver.perceiver_preprocessor import PerceiverPreprocessor

__all__ = [
    "Perceiver",
    "PerceiverIO",
    "PerceiverPreprocessor",
    "build_av_qa_fusion",
    "build_av_qa_perceiver",
]
