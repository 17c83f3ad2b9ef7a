"""ImageNet's zero-shot metadata: class names, OpenAI's 80 prompt templates, WordNet ids.

The lists are package data (`imagenet_metadata.json` beside this file, with
the source of each): the 1,000 readable class names and the 80 templates
are open_clip's `IMAGENET_CLASSNAMES` and `OPENAI_IMAGENET_TEMPLATES`
(those of OpenAI's CLIP notebook, each written with `{}` where the class
name goes); the WordNet ids ("n01440764", ...) are TFDS' `imagenet2012`
labels, in the standard class order (sorted), the order of the names.
"""

import functools
import json
import os
import re

METADATA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             "imagenet_metadata.json")
_WNID = re.compile(r"^n\d{8}$")


@functools.lru_cache(maxsize=None)
def _metadata():
    with open(METADATA_PATH, encoding="utf-8") as f:
        return json.load(f)


def imagenet_class_names():
    """The 1,000 readable ImageNet class names, in class-index order.

    Example:

    >>> names = imagenet_class_names()
    >>> len(names), names[0], names[999]
    (1000, 'tench', 'toilet paper')
    """
    return tuple(_metadata()["class_names"])


def openai_imagenet_templates():
    """OpenAI CLIP's 80 ImageNet prompt templates, each with one `{}`.

    Example:

    >>> templates = openai_imagenet_templates()
    >>> len(templates), templates[0].format("tench")
    (80, 'a bad photo of a tench.')
    """
    return tuple(_metadata()["openai_templates"])


def imagenet_wnids():
    """The 1,000 ImageNet WordNet ids ("n01440764", ...), in class-index order."""
    return tuple(_metadata()["wnids"])


def readable_class_names(names):
    """Label names as prompts should read them.

    ImageNet WordNet ids (the labels of TFDS' `imagenet2012`, `imagenet_v2`,
    `imagenette`, ... and the folder names of an ImageNet image folder)
    become their readable ImageNet names; other names get `_` replaced by
    spaces ("american_bulldog" -> "american bulldog").

    Example:

    >>> readable_class_names(["n01443537", "great_dane", "cat"])
    ['goldfish', 'great dane', 'cat']
    """
    by_wnid = dict(zip(imagenet_wnids(), imagenet_class_names()))
    return [by_wnid[name] if _WNID.match(name) and name in by_wnid
            else name.replace("_", " ") for name in names]
