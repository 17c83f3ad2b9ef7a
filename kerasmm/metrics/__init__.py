"""kerasmm.metrics: retrieval metrics for paired embeddings."""

from kerasmm.metrics.recall_at_k import RecallAtK
from kerasmm.metrics.retrieval import retrieval_recall
from kerasmm.metrics.benchmark import zero_shot_classification_metrics, zero_shot_retrieval_metrics
