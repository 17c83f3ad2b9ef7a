"""kerasmm.tasks: what a trained model is used for (zero-shot, retrieval)."""

from kerasmm.tasks.retrieval import Retriever
from kerasmm.tasks.zero_shot import ZeroShotClassifier

__all__ = ["Retriever", "ZeroShotClassifier"]
