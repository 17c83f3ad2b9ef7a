"""kerasmm.datasets: embedded synthetic datasets and their tf.data pipelines.

Importing this package imports no TensorFlow Datasets (TFDS breaks some
protobuf stacks, e.g. Colab's): the `kerasmm_shapes` TFDS builder
(`shapes_builder`) registers when first used, by `ShapesConfig` or a
pipeline that reads TFDS.
"""

from kerasmm.datasets.av import av_dataset  # noqa: F401
from kerasmm.datasets.av import generate_av  # noqa: F401
from kerasmm.datasets.av_qa import av_qa_dataset  # noqa: F401
from kerasmm.datasets.av_qa import generate_av_qa  # noqa: F401
from kerasmm.datasets.imagenet_metadata import imagenet_class_names  # noqa: F401
from kerasmm.datasets.imagenet_metadata import imagenet_wnids  # noqa: F401
from kerasmm.datasets.imagenet_metadata import openai_imagenet_templates  # noqa: F401
from kerasmm.datasets.imagenet_metadata import readable_class_names  # noqa: F401
from kerasmm.datasets.load import load  # noqa: F401 (imports TFDS only when called)
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
from kerasmm.datasets.text import masked_bytes_dataset  # noqa: F401
from kerasmm.datasets.text import shapes_text_corpus  # noqa: F401
from kerasmm.datasets.webdataset import webdataset_dataset  # noqa: F401
from kerasmm.datasets.webdataset_shards import SkippedSamples  # noqa: F401
from kerasmm.datasets.webdataset_shards import expand_urls  # noqa: F401
from kerasmm.datasets.webdataset_writer import write_webdataset  # noqa: F401
from kerasmm.datasets.moving_shapes import DIRECTIONS  # noqa: F401
from kerasmm.datasets.moving_shapes import generate_moving_shapes  # noqa: F401
from kerasmm.datasets.moving_shapes import moving_shapes_dataset  # noqa: F401
from kerasmm.datasets.shapes_captions import CAPTION_SEQUENCE_LENGTH  # noqa: F401
from kerasmm.datasets.shapes_captions import caption_tokenizer  # noqa: F401
from kerasmm.datasets.shapes_captions import generate_shapes_captions  # noqa: F401
from kerasmm.datasets.shapes_captions import shapes_caption_dataset  # noqa: F401
from kerasmm.datasets.sounds import SOUND_CLASSES  # noqa: F401
from kerasmm.datasets.sounds import SOUND_TEMPLATES  # noqa: F401
from kerasmm.datasets.sounds import generate_sounds  # noqa: F401
from kerasmm.datasets.sounds import sounds_dataset  # noqa: F401
from kerasmm.datasets.sounds import sounds_tokenizer  # noqa: F401
from kerasmm.datasets.sounds import zero_shot_sounds  # noqa: F401
from kerasmm.datasets.shapes_vqa import SHAPES_VQA_ANSWERS  # noqa: F401
from kerasmm.datasets.shapes_vqa import SHAPES_VQA_QUESTION_TYPES  # noqa: F401
from kerasmm.datasets.shapes_vqa import generate_shapes_vqa  # noqa: F401
from kerasmm.datasets.shapes_vqa import shapes_vqa_dataset  # noqa: F401
from kerasmm.datasets.shapes_vqa import shapes_vqa_tokenizer  # noqa: F401
from kerasmm.datasets.chart_qa import CHART_QA_ANSWERS  # noqa: F401
from kerasmm.datasets.chart_qa import CHART_QA_QUESTION_TYPES  # noqa: F401
from kerasmm.datasets.chart_qa import chart_qa_dataset  # noqa: F401
from kerasmm.datasets.chart_qa import chart_qa_tokenizer  # noqa: F401
from kerasmm.datasets.chart_qa import generate_chart_qa  # noqa: F401
from kerasmm.datasets.multimodal_sentiment import SENTIMENT_LABELS  # noqa: F401
from kerasmm.datasets.multimodal_sentiment import generate_sentiment  # noqa: F401
from kerasmm.datasets.multimodal_sentiment import sentiment_dataset  # noqa: F401
from kerasmm.datasets.multimodal_sentiment import sentiment_tokenizer  # noqa: F401
from kerasmm.datasets.multimodal_sentiment import single_modality_signal  # noqa: F401

from kerasmm.utils.lazy import lazy_attributes  # noqa: E402

# Names whose modules import TFDS, imported on first use.
__getattr__, __dir__ = lazy_attributes(__name__, {"ShapesConfig": "shapes_builder"})
