"""The evaluation harness: `kerasmm eval zero-shot` and `kerasmm eval retrieval`.

- `evaluate_zero_shot(ZeroShotEvalConfig(...))`: zero-shot classification
  (`acc1`, `acc5`, `mean_per_class_recall`) on the shapes set, an image
  folder or a TFDS dataset;
- `evaluate_retrieval(RetrievalEvalConfig(...))`: image and text retrieval
  recall@k on the shapes test split, a Karpathy-format JSON (COCO,
  Flickr30K) or TFDS `coco_captions`.

Any contrastive family (`families.contrastive_families`) from a preset or a
saved `.keras` model; results in CLIP_benchmark's JSON layout, metrics by
`kerasmm.metrics.zero_shot_classification_metrics` /
`zero_shot_retrieval_metrics`.
"""

from kerasmm.utils.lazy import lazy_attributes

# Each public name and the module defining it, imported on first use: the
# configs need no TensorFlow (`kerasmm eval --help` prints them).
__getattr__, __dir__ = lazy_attributes(__name__, {
    "contrastive_families": "families",
    "load_model_and_preprocessor": "families",
    "evaluation_results": "results",
    "format_metrics": "results",
    "RetrievalEvalConfig": "configs",
    "evaluate_retrieval": "retrieval",
    "read_karpathy": "retrieval",
    "ZeroShotEvalConfig": "configs",
    "evaluate_zero_shot": "zero_shot",
})
