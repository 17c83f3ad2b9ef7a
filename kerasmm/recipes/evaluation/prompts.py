"""CLIP_benchmark's zero-shot prompts for the TFDS datasets the harness names.

CLIP_benchmark (LAION-AI/CLIP_benchmark) evaluates each dataset with its
own templates (`en_zeroshot_classification_templates.json`: 18 for
CIFAR-10, 34 for Caltech-101, one for the pets) and, where the dataset's
label names read badly in a prompt, its own class names
(`en_classnames.json`: `"off-center face"` for Caltech-101's `faces`);
datasets without an entry get ImageNet's (OpenAI's 80 templates). Using the
same prompts is what makes `kerasmm eval zero-shot` numbers comparable with
CLIP_benchmark's and open_clip's published tables. The lists needed here
are package data (`clip_benchmark_prompts.json` beside this file, with
their source and licence).
"""

import dataclasses
import functools
import json
import os

from kerasmm import datasets

PROMPTS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "clip_benchmark_prompts.json")
IMAGENET = "imagenet1k"
# TFDS name -> (CLIP_benchmark's dataset name, its class-name key or None
# for the TFDS label names). CIFAR-10: CLIP_benchmark takes torchvision's
# names, the same as TFDS'. Caltech-101: its `caltech101_vtab` names follow
# TFDS' label order (VTAB reads TFDS' caltech101). Pets: its names follow
# the dataset's class ids, TFDS' order. ImageNet sets: TFDS' labels are
# WordNet ids, read as ImageNet's names (CLIP_benchmark's `imagenet1k`).
TFDS_DATASETS = {
    "cifar10": ("cifar10", None),
    "caltech101": ("caltech101", "caltech101_vtab"),
    "oxford_iiit_pet": ("pets", "pets"),
    "imagenette": (IMAGENET, None),
    "imagenet_v2": (IMAGENET, None),
    "imagenet2012": (IMAGENET, None),
}


@dataclasses.dataclass(frozen=True)
class DatasetPrompts:
    """The prompts of one dataset: `name` (`"clip_benchmark:<dataset>"`),
    `templates` (each with one `{}`) and `class_names` (None: the
    dataset's own label names, made readable)."""

    name: str
    templates: tuple
    class_names: tuple = None


@functools.lru_cache(maxsize=None)
def _prompts_data():
    with open(PROMPTS_PATH, encoding="utf-8") as f:
        return json.load(f)


def tfds_prompts(name):
    """CLIP_benchmark's prompts for TFDS dataset `name`, or None if it has none here.

    `name` may carry a config or version (`"imagenet_v2/matched-frequency"`,
    `"cifar10:3.0.2"`).

    Example:

    >>> prompts = tfds_prompts("oxford_iiit_pet")
    >>> prompts.name, prompts.templates, len(prompts.class_names)
    ('clip_benchmark:pets', ('a photo of a {}, a type of pet.',), 37)
    >>> len(tfds_prompts("cifar10").templates), tfds_prompts("mnist")
    (18, None)
    """
    base = name.split("/")[0].split(":")[0]
    if base not in TFDS_DATASETS:
        return None
    benchmark, names_key = TFDS_DATASETS[base]
    if benchmark == IMAGENET:
        templates = datasets.openai_imagenet_templates()
    else:
        templates = tuple(_prompts_data()["templates"][benchmark])
    class_names = None
    if names_key is not None:
        class_names = tuple(_prompts_data()["class_names"][names_key])
    return DatasetPrompts(f"clip_benchmark:{benchmark}", templates, class_names)
