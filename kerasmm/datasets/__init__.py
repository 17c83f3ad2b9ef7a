"""kerasmm.datasets: embedded synthetic datasets and their tf.data pipelines.

Importing this package registers the `kerasmm_shapes` TFDS builder.
"""

from kerasmm.datasets import shapes_builder  # noqa: F401 (registers with TFDS)
from kerasmm.datasets.av import av_dataset  # noqa: F401
from kerasmm.datasets.av import generate_av  # noqa: F401
from kerasmm.datasets.imagenet_metadata import imagenet_class_names  # noqa: F401
from kerasmm.datasets.imagenet_metadata import imagenet_wnids  # noqa: F401
from kerasmm.datasets.imagenet_metadata import openai_imagenet_templates  # noqa: F401
from kerasmm.datasets.imagenet_metadata import readable_class_names  # noqa: F401
from kerasmm.datasets.pipelines import SHAPES_SEQUENCE_LENGTH  # noqa: F401
from kerasmm.datasets.pipelines import shapes_dataset  # noqa: F401
from kerasmm.datasets.pipelines import shapes_tokenizer  # noqa: F401
from kerasmm.datasets.pipelines import shapes_zero_shot_set  # noqa: F401
from kerasmm.datasets.shapes import COLORS  # noqa: F401
from kerasmm.datasets.shapes import HELD_OUT_CLASS_IDS  # noqa: F401
from kerasmm.datasets.shapes import HELD_OUT_COMBOS  # noqa: F401
from kerasmm.datasets.shapes import SHAPES  # noqa: F401
from kerasmm.datasets.shapes import SIZES  # noqa: F401
from kerasmm.datasets.shapes import SPLIT_SIZES  # noqa: F401
from kerasmm.datasets.shapes import ZERO_SHOT_CLASSES  # noqa: F401
from kerasmm.datasets.shapes import ZERO_SHOT_TEMPLATES  # noqa: F401
from kerasmm.datasets.shapes import generate_shapes  # noqa: F401
from kerasmm.datasets.shapes import zero_shot_images  # noqa: F401
from kerasmm.datasets.shapes_builder import ShapesConfig  # noqa: F401
from kerasmm.datasets.text import masked_bytes_dataset  # noqa: F401
from kerasmm.datasets.text import shapes_text_corpus  # noqa: F401
