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

from kerasmm.recipes.evaluation.families import contrastive_families  # noqa: F401
from kerasmm.recipes.evaluation.families import load_model_and_preprocessor  # noqa: F401
from kerasmm.recipes.evaluation.results import evaluation_results  # noqa: F401
from kerasmm.recipes.evaluation.results import format_metrics  # noqa: F401
from kerasmm.recipes.evaluation.retrieval import RetrievalEvalConfig  # noqa: F401
from kerasmm.recipes.evaluation.retrieval import evaluate_retrieval  # noqa: F401
from kerasmm.recipes.evaluation.retrieval import read_karpathy  # noqa: F401
from kerasmm.recipes.evaluation.zero_shot import ZeroShotEvalConfig  # noqa: F401
from kerasmm.recipes.evaluation.zero_shot import evaluate_zero_shot  # noqa: F401
