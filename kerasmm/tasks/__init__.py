"""kerasmm.tasks: what a trained model is used for (zero-shot, retrieval)."""

from kerasmm.tasks.audio_classifier import AudioClassifier
from kerasmm.tasks.blip_question_answerer import BLIPQuestionAnswerer
from kerasmm.tasks.image_captioner import ImageCaptioner
from kerasmm.tasks.image_text_matcher import ImageTextMatcher
from kerasmm.tasks.retrieval import Retriever
from kerasmm.tasks.zero_shot import ZeroShotClassifier
from kerasmm.tasks.classifier_head import ClassifierHead
from kerasmm.tasks.multimodal_classifier import MultimodalClassifier
from kerasmm.tasks.vilt_masked_lm import ViLTMaskedLM
from kerasmm.tasks.vilt_retrieval_scorer import ViLTRetrievalScorer
from kerasmm.tasks.vqa_classifier import VQAClassifier

__all__ = ["AudioClassifier", "BLIPQuestionAnswerer", "ImageCaptioner", "ImageTextMatcher", "Retriever",
           "ZeroShotClassifier",
           "ClassifierHead", "MultimodalClassifier", "ViLTMaskedLM", "ViLTRetrievalScorer",
           "VQAClassifier"]
