"""The evaluation configs, `ZeroShotEvalConfig` and `RetrievalEvalConfig`, and
their checks: plain data, no TensorFlow (`kerasmm eval --help` prints them)."""

import dataclasses
import os

from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_int_tuple
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_strings

SHAPES = "shapes"
TFDS_PREFIX = "tfds:"


def parse_dataset(dataset, local):
    """`(kind, value)` of a dataset string: `("shapes", None)`,
    `("tfds", name)` or `("path", path)`.

    Args:
        dataset: the string.
        local: what a local path must be, `"directory"` (an image folder)
            or `"file"` (an annotation file); it must exist.
    """
    if not isinstance(dataset, (str, os.PathLike)) or not os.fspath(dataset):
        raise ValueError(f"dataset must be a string. Received: dataset={dataset!r}")
    dataset = os.fspath(dataset)
    if dataset == SHAPES:
        return SHAPES, None
    if dataset.startswith(TFDS_PREFIX):
        name = dataset[len(TFDS_PREFIX):]
        if not name:
            raise ValueError(f"dataset 'tfds:' needs a TFDS name, e.g. 'tfds:cifar10'. "
                             f"Received: dataset={dataset!r}")
        return "tfds", name
    exists = os.path.isdir if local == "directory" else os.path.isfile
    if not exists(dataset):
        raise ValueError(f"dataset must be {SHAPES!r}, 'tfds:NAME' or an existing "
                         f"{local}. Received: dataset={dataset!r} (no such {local})")
    return "path", dataset


def check_data_fields(config):
    """The data fields every evaluation config shares."""
    for name in ("split", "data_dir"):
        value = getattr(config, name)
        if value is not None and (not isinstance(value, str) or not value):
            raise ValueError(f"{name} must be None or a non-empty string. "
                             f"Received: {name}={value!r}")
    check_bool("download", config.download)
    check_positive_int("num_examples", config.num_examples, allow_none=True)
    check_positive_int("batch_size", config.batch_size)
    if config.output_path is not None and not isinstance(config.output_path, str):
        raise ValueError(f"output_path must be None or a path. "
                         f"Received: output_path={config.output_path!r}")


def check_model_fields(config):
    """The model fields every evaluation config shares: `preset` a
    non-empty string, `model_path` None or an existing `.keras` file."""
    if not isinstance(config.preset, str) or not config.preset:
        raise ValueError("preset must be a preset name, a preset directory or "
                         f"'hf://org/repo'. Received: preset={config.preset!r}")
    path = config.model_path
    if path is not None and not (isinstance(path, (str, os.PathLike))
                                 and os.fspath(path).endswith(".keras")
                                 and os.path.isfile(path)):
        raise ValueError("model_path must be None or an existing .keras file "
                         f"(written by model.save). Received: model_path={path!r}")


@dataclasses.dataclass(frozen=True)
class ZeroShotEvalConfig:
    """Zero-shot classification of a labelled image set, CLIP_benchmark style.

    Each class name goes into every template; the prompt embeddings are
    averaged per class (`kerasmm.tasks.ZeroShotClassifier`), and each
    image's best classes give `acc1`, `acc5` and `mean_per_class_recall`
    (`kerasmm.metrics.zero_shot_classification_metrics`).

    `dataset` is one of:
    - `"shapes"`: the embedded zero-shot set (`num_per_class` single shapes
      of each of the 30 `ZERO_SHOT_CLASSES`, with `ZERO_SHOT_TEMPLATES`),
      drawn at the preprocessor's image size, as the demo evaluates it;
    - a directory with one subfolder of images per class (subfolders
      sorted; their names, with `_` read as spaces, are the class names;
      ImageNet WordNet ids become ImageNet's names);
    - `"tfds:NAME"`, e.g. `tfds:imagenet_v2`, `tfds:imagenette`,
      `tfds:caltech101`, `tfds:oxford_iiit_pet`, `tfds:cifar10`: the
      dataset's `(image, label)` pairs from `data_dir`, with its label
      names made readable (`kerasmm.datasets.readable_class_names`).
    TFDS datasets CLIP_benchmark has prompts for (`cifar10`, `caltech101`,
    `oxford_iiit_pet`; the ImageNet sets) use its templates and class names
    (`kerasmm.recipes.evaluation.prompts`); other datasets use OpenAI's 80
    ImageNet templates (`kerasmm.datasets.openai_imagenet_templates()`).
    `templates` and `class_names`, when set, replace either.

    Example:

    >>> config = ZeroShotEvalConfig(dataset="shapes", num_per_class=1)
    >>> config.preset, config.batch_size
    ('shapes_clip_tiny', 64)
    """

    # === Model ===
    preset: str = "shapes_clip_tiny"  # the model, or only its preprocessor with model_path
    model_path: str = None  # a .keras file written by model.save

    # === Data ===
    dataset: str = "shapes"  # "shapes", an image-folder directory or "tfds:NAME"
    split: str = None  # TFDS split; None: "test", or "validation" without one
    data_dir: str = None  # TFDS data directory (TFDS' default when None)
    download: bool = False  # let TFDS download a dataset missing from data_dir
    num_examples: int = None  # evaluate only the first images
    num_per_class: int = 20  # shapes: images per class
    class_names: tuple = None  # None: the dataset's
    templates: tuple = None  # None: shapes' 5, CLIP_benchmark's for its TFDS sets, else OpenAI's 80

    # === Run ===
    batch_size: int = 64
    output_path: str = None  # where the results JSON goes (None: not written)

    def __post_init__(self):
        check_model_fields(self)
        parse_dataset(self.dataset, "directory")
        check_data_fields(self)
        check_positive_int("num_per_class", self.num_per_class)
        # Frozen: normalise the sequences with object.__setattr__ (lists become tuples).
        if self.class_names is not None:
            object.__setattr__(self, "class_names",
                               tuple(check_strings("class_names", self.class_names)))
        if self.templates is not None:
            object.__setattr__(self, "templates", tuple(
                check_strings("templates", self.templates, placeholder=True)))


@dataclasses.dataclass(frozen=True)
class RetrievalEvalConfig:
    """Image-text retrieval over a captioned image set, CLIP_benchmark style.

    Every image and every caption is embedded; `image_retrieval_recall@k`
    is the fraction of captions whose image is among the `k` best images,
    `text_retrieval_recall@k` the fraction of images with one of their
    captions among the `k` best captions
    (`kerasmm.metrics.zero_shot_retrieval_metrics`).

    `dataset` is one of:
    - `"shapes"`: the embedded test split (one caption per image);
    - a Karpathy-format JSON file (`dataset_coco.json`,
      `dataset_flickr30k.json`: `{"images": [{"filename", "filepath"?,
      "split", "sentences": [{"raw"}, ...]}, ...]}`), its images found at
      `image_root/filepath/filename` (`image_root` defaults to the JSON's
      folder); the entries of `split` are used;
    - `"tfds:coco_captions"` (Karpathy's splits of COCO, from `data_dir`).

    Example:

    >>> config = RetrievalEvalConfig(num_examples=32, recall_k=(1, 5))
    >>> config.dataset, config.recall_k
    ('shapes', (1, 5))
    """

    # === Model ===
    preset: str = "shapes_clip_tiny"  # the model, or only its preprocessor with model_path
    model_path: str = None  # a .keras file written by model.save

    # === Data ===
    dataset: str = "shapes"  # "shapes", a Karpathy JSON file or "tfds:coco_captions"
    image_root: str = None  # Karpathy: the folder images are under (default: the JSON's)
    split: str = "test"  # Karpathy or TFDS split ("test": 5,000 COCO / 1,000 Flickr images)
    data_dir: str = None  # TFDS data directory (TFDS' default when None)
    download: bool = False  # let TFDS download a dataset missing from data_dir
    num_examples: int = None  # evaluate only the first images (with all their captions)
    recall_k: tuple = (1, 5, 10)

    # === Run ===
    batch_size: int = 64
    output_path: str = None  # where the results JSON goes (None: not written)

    def __post_init__(self):
        check_model_fields(self)
        kind, _ = parse_dataset(self.dataset, "file")
        check_data_fields(self)
        if self.image_root is not None and not os.path.isdir(self.image_root):
            raise ValueError("image_root must be None or an existing directory. "
                             f"Received: image_root={self.image_root!r}")
        if self.image_root is not None and kind != "path":
            raise ValueError("image_root is for a Karpathy JSON dataset only. "
                             f"Received: image_root={self.image_root!r}, "
                             f"dataset={self.dataset!r}")
        object.__setattr__(self, "recall_k", check_int_tuple("recall_k", self.recall_k))
