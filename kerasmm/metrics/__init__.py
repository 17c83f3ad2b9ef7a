"""kerasmm.metrics: retrieval metrics for paired embeddings."""

from kerasmm.metrics.recall_at_k import RecallAtK
from kerasmm.metrics.retrieval import retrieval_recall
