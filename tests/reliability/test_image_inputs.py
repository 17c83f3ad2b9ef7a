"""Every image entry point refuses what would silently give wrong results.

The library-wide rule: models and adapters take preprocessed float images
(channels last); an integer batch (uint8 pictures straight from disk) is
refused with a ValueError that names the preprocessor to use, and a batch
of the wrong rank or channel count is refused with its shape. (Before the
fix, uint8 images were cast to float and run as 0-255 values.)
"""

import keras
import numpy as np
import pytest

from kerasmm.layers import ImageAdapter
from kerasmm.layers import VideoAdapter
from kerasmm.models import CLIP
from kerasmm.models import ModifiedResNet
from kerasmm.models import TextTransformer
from kerasmm.models import VisionTransformer

PREPROCESSOR = r"kerasmm\.models\.CLIPPreprocessor\.from_preset"
TEXT = {"vocabulary_size": 64, "context_length": 8, "hidden_dim": 16, "num_layers": 1,
        "num_heads": 2, "output_dim": 8}


def vit():
    return VisionTransformer(image_size=16, patch_size=8, hidden_dim=16, num_layers=1,
                             num_heads=2, output_dim=8)


def resnet():
    return ModifiedResNet(block_counts=(1, 1, 1, 1), width=8, num_heads=4, output_dim=8,
                          image_size=32)


def clip_image_call(images):
    model = CLIP(vit(), TextTransformer(**TEXT))
    return model({"images": images, "token_ids": np.array([[1, 63, 0], [1, 5, 63]])})


def clip_encode_image(images):
    return CLIP(vit(), TextTransformer(**TEXT)).encode_image(images)


# Entry point: (call, image shape it takes).
ENTRY_POINTS = {
    "VisionTransformer": (lambda x: vit()(x), (16, 16, 3)),
    "ModifiedResNet": (lambda x: resnet()(x), (32, 32, 3)),
    "CLIP": (clip_image_call, (16, 16, 3)),
    "CLIP.encode_image": (clip_encode_image, (16, 16, 3)),
    "ImageAdapter": (lambda x: ImageAdapter((8, 8, 3), num_bands=2)(x), (8, 8, 3)),
    "VideoAdapter": (lambda x: VideoAdapter((2, 8, 8, 3), spatial_downsample=4,
                                            num_bands=2)(x), (2, 8, 8, 3)),
}
INTEGER_DTYPES = ["uint8", "int32", "int64"]


@pytest.mark.parametrize("dtype", INTEGER_DTYPES)
@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_integer_images_are_refused_with_the_fix(entry, dtype):
    call, shape = ENTRY_POINTS[entry]
    pictures = np.random.default_rng(0).integers(0, 256, (2, *shape)).astype(dtype)
    with pytest.raises(ValueError, match=rf"must be a float batch\..*{PREPROCESSOR}.*"
                       r"uint8 0-255.*Received: .* with dtype u?int\d+"):  # JAX: int64 -> int32
        call(pictures)


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_float_images_pass(entry):
    call, shape = ENTRY_POINTS[entry]
    call(np.random.default_rng(0).normal(size=(2, *shape)).astype("float32"))


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_wrong_rank_and_channels_are_refused(entry):
    call, shape = ENTRY_POINTS[entry]
    with pytest.raises(ValueError, match=r"must have shape \(batch, .*Received: .* with "
                       r"shape \(2, " + ", ".join(map(str, shape[:-1])) + r"\)"):
        call(np.zeros((2, *shape[:-1]), "float32"))  # Channels dropped.
    with pytest.raises(ValueError, match=r"must have shape .*, 3\) for"):
        call(np.zeros((2, *shape[:-1], 1), "float32"))  # Grey images.


@pytest.mark.parametrize("model", [vit, resnet])
def test_symbolic_integer_images_are_refused(model):
    model = model()
    size = model.image_size
    with pytest.raises(ValueError, match=PREPROCESSOR):
        model(keras.Input((size, size, 3), dtype="uint8"))


def test_a_generic_clip_tower_gets_the_check_too():
    """CLIP checks images for any vision tower, not only kerasmm's."""
    images = keras.Input((16, 16, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(images))
    model = CLIP(keras.Model(images, pooled), TextTransformer(**TEXT))
    with pytest.raises(ValueError, match=PREPROCESSOR):
        model.encode_image(np.zeros((2, 16, 16, 3), "uint8"))
    with pytest.raises(ValueError, match=r"\(batch, 16, 16, 3\) for the input shape of "
                       r"vision_encoder"):
        model.encode_image(np.zeros((2, 16, 16), "float32"))
