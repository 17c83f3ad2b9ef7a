"""kerasmm.recipes: demos and training jobs, each driven by one config dataclass.

- `run_clip_demo(ClipDemoConfig())`: the `kerasmm demo` CLIP on shapes.
- `train_shapes_clip_tiny(ShapesClipTinyConfig())`: the shipped weights.
- `train_image_classifier`, `train_masked_bytes`,
  `train_multimodal_autoencoder`: three small Perceiver IO jobs, each with
  its config (`.small()` for a smoke run) and a dict of measured numbers.
"""

from kerasmm.recipes.clip_demo import run_clip_demo  # noqa: F401
from kerasmm.recipes.clip_demo import save_clip  # noqa: F401
from kerasmm.recipes.clip_demo_config import ClipDemoConfig  # noqa: F401
from kerasmm.recipes.clip_evaluation import evaluate_clip  # noqa: F401
from kerasmm.recipes.clip_evaluation import format_results  # noqa: F401
from kerasmm.recipes.clip_evaluation import load_test_split  # noqa: F401
from kerasmm.recipes.clip_retrievals import query_matches  # noqa: F401
from kerasmm.recipes.clip_retrievals import save_retrievals  # noqa: F401
from kerasmm.recipes.clip_training import build_demo_clip  # noqa: F401
from kerasmm.recipes.clip_training import demo_train_dataset  # noqa: F401
from kerasmm.recipes.clip_training import train_clip  # noqa: F401
from kerasmm.recipes.clock import Clock  # noqa: F401
from kerasmm.recipes import evaluation  # noqa: F401 (kerasmm eval)
from kerasmm.recipes.config_format import format_config  # noqa: F401
from kerasmm.recipes.output_dir import prepare_output_dir  # noqa: F401
from kerasmm.recipes.perceiver_image_classifier import PerceiverImageClassifierConfig  # noqa: F401
from kerasmm.recipes.perceiver_image_classifier import build_image_classifier  # noqa: F401
from kerasmm.recipes.perceiver_image_classifier import single_shape_images  # noqa: F401
from kerasmm.recipes.perceiver_image_classifier import train_image_classifier  # noqa: F401
from kerasmm.recipes.perceiver_masked_bytes import PerceiverMaskedBytesConfig  # noqa: F401
from kerasmm.recipes.perceiver_masked_bytes import build_masked_byte_model  # noqa: F401
from kerasmm.recipes.perceiver_masked_bytes import train_masked_bytes  # noqa: F401
from kerasmm.recipes.perceiver_autoencoder import PerceiverAutoencoderConfig  # noqa: F401
from kerasmm.recipes.perceiver_autoencoder import build_multimodal_autoencoder  # noqa: F401
from kerasmm.recipes.perceiver_autoencoder import heldout_clips  # noqa: F401
from kerasmm.recipes.perceiver_autoencoder import train_multimodal_autoencoder  # noqa: F401
from kerasmm.recipes.shapes_clip_tiny import ShapesClipTinyConfig  # noqa: F401
from kerasmm.recipes.shapes_clip_tiny import train_shapes_clip_tiny  # noqa: F401
