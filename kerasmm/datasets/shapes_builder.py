"""tensorflow-datasets builder of the embedded shapes dataset.

Importing this module imports TFDS and registers `kerasmm_shapes` with it;
`import kerasmm.datasets` does not (it imports this module when
`kerasmm.datasets.ShapesConfig` is first read, and the pipelines do when they
read TFDS). Building needs no network: examples come from
`kerasmm.datasets.generate_shapes`.

>>> import tempfile
>>> import tensorflow_datasets as tfds
>>> from kerasmm.datasets import shapes_builder  # registers the builder
>>> builder = tfds.builder("kerasmm_shapes/tiny", data_dir=tempfile.mkdtemp())
>>> builder.download_and_prepare()  # generates locally; nothing is downloaded
Downloading and preparing dataset ...
Dataset kerasmm_shapes downloaded and prepared to .... Subsequent calls will reuse this data.
>>> sorted(next(iter(builder.as_dataset(split="train"))))
['caption', 'colors', 'image', 'label', 'num_shapes', 'relation', 'shapes', 'sizes']
"""

import dataclasses

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from kerasmm.datasets import shapes


@dataclasses.dataclass
class ShapesConfig(tfds.core.BuilderConfig):
    """Size and seed of a `kerasmm_shapes` build.

    Attributes:
        image_size: int, height and width of the images.
        num_train, num_validation, num_test: examples in each split.
        seed: int, the generator's seed.
    """

    image_size: int = 64
    num_train: int = shapes.SPLIT_SIZES["train"]
    num_validation: int = shapes.SPLIT_SIZES["validation"]
    num_test: int = shapes.SPLIT_SIZES["test"]
    seed: int = 0


class KerasmmShapes(tfds.core.GeneratorBasedBuilder):
    """Images of one or two coloured shapes with captions (see `shapes.py`).

    Configs: `default` (20k / 2k / 2k examples of 64x64) and `tiny`
    (256 / 64 / 64, for tests). Other sizes:
    `tfds.builder("kerasmm_shapes", config=ShapesConfig(name=..., ...))`.
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = [
        ShapesConfig(name="default", description="20k/2k/2k images of 64x64."),
        ShapesConfig(
            name="tiny",
            description="256/64/64 images of 64x64, for tests.",
            num_train=256,
            num_validation=64,
            num_test=64,
        ),
    ]
    DEFAULT_CONFIG_NAME = "default"
    # TFDS finds this itself through `importlib_resources`, which TFDS 4.9
    # does not install on Python >= 3.9 (tensorflow/datasets#11212).
    code_path = epath.Path(__file__)

    def _info(self):
        size = self.builder_config.image_size
        pair = tfds.features.Tensor(shape=(2,), dtype=np.int32)
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                "Procedural images of coloured shapes with captions; held-out "
                "colour x shape combinations appear only in the test split. "
                f"Held out: {shapes.HELD_OUT_COMBOS}."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(size, size, 3)),
                    "caption": tfds.features.Text(),
                    "num_shapes": np.int32,
                    "colors": pair,  # Indices into COLORS, -1 when absent.
                    "shapes": pair,
                    "sizes": pair,
                    "relation": tfds.features.ClassLabel(names=shapes.RELATIONS),
                    "label": tfds.features.ClassLabel(names=shapes.ZERO_SHOT_CLASSES),
                }
            ),
            supervised_keys=("image", "caption"),
            homepage="https://github.com/kerasmm/kerasmm",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Nothing to download.
        config = self.builder_config
        sizes = {
            "train": config.num_train,
            "validation": config.num_validation,
            "test": config.num_test,
        }
        return {split: self._generate_examples(split, n) for split, n in sizes.items()}

    def _generate_examples(self, split, num_examples):
        config = self.builder_config
        data = shapes.generate_shapes(split, num_examples, config.image_size, config.seed)
        for i in range(num_examples):
            yield i, {
                "image": data["images"][i],
                "caption": data["captions"][i],
                "num_shapes": data["num_shapes"][i],
                "colors": data["colors"][i],
                "shapes": data["shapes"][i],
                "sizes": data["sizes"][i],
                "relation": data["relation"][i],
                "label": data["labels"][i],
            }
