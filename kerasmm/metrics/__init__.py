"""kerasmm.metrics: retrieval, captioning and VQA metrics."""

from kerasmm.metrics.recall_at_k import RecallAtK
from kerasmm.metrics.retrieval import retrieval_recall
from kerasmm.metrics.benchmark import zero_shot_classification_metrics, zero_shot_retrieval_metrics
from kerasmm.metrics.caption_bleu import corpus_bleu
from kerasmm.metrics.caption_cider import cider_d
from kerasmm.metrics.caption_metrics import caption_metrics
from kerasmm.metrics.caption_text import exact_match
from kerasmm.metrics.caption_text import tokenize_caption
from kerasmm.metrics.vqa_accuracy import normalize_vqa_answer
from kerasmm.metrics.vqa_accuracy import vqa_accuracy
