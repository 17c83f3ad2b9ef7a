"""The demo CLIP's model, data and `fit` (`kerasmm.recipes.clip_training`)."""

import dataclasses

import keras
import numpy as np
import pytest

from kerasmm import datasets
from kerasmm.recipes import ClipDemoConfig
from kerasmm.recipes import build_demo_clip
from kerasmm.recipes import demo_train_dataset


def test_build_demo_clip_reads_the_config_and_seed():
    config = ClipDemoConfig(seed=3)
    clip = build_demo_clip(config)
    assert clip.output_dim == config.embedding_dim
    assert clip.vision_encoder.input_shape[1:] == (config.image_size, config.image_size, 3)
    assert clip.vision_encoder.get_layer("color_conv").filters == config.color_width
    assert clip.text_encoder.vocabulary_size == datasets.shapes_tokenizer().vocabulary_size()
    assert clip.text_encoder.context_length == datasets.SHAPES_SEQUENCE_LENGTH
    np.testing.assert_allclose(float(keras.ops.convert_to_numpy(clip.logit_scale)),
                               config.logit_scale_init,
                               rtol=1e-6)
    same = build_demo_clip(config)
    other = build_demo_clip(dataclasses.replace(config, seed=4))
    for a, b in zip(clip.get_weights(), same.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in
               zip(clip.get_weights(), other.get_weights()))


def test_build_demo_clip_other_sizes():
    config = ClipDemoConfig(image_size=16, conv_widths=(4, 8), embedding_dim=12,
                            text_hidden_dim=8, text_num_layers=1, text_num_heads=2)
    clip = build_demo_clip(config)
    images = np.zeros((2, 16, 16, 3), "float32")
    assert tuple(clip.encode_image(images).shape) == (2, 12)


def test_demo_train_dataset_epochs():
    config = ClipDemoConfig(batch_size=8, steps_per_epoch=5)
    dataset, steps = demo_train_dataset(config)
    assert steps is None and int(dataset.cardinality()) == 5
    batch = next(iter(dataset))
    assert tuple(batch["images"].shape) == (8, config.image_size, config.image_size, 3)
    assert tuple(batch["token_ids"].shape) == (8, datasets.SHAPES_SEQUENCE_LENGTH)
    # More batches than the train split holds: the split repeats.
    _, steps = demo_train_dataset(ClipDemoConfig(batch_size=4096, steps_per_epoch=6))
    assert steps == 6


@pytest.mark.slow
def test_train_clip_lowers_the_loss_of_its_batches(trained):
    assert len(trained["history"].history["loss"]) == 6 and trained["seconds"] > 0
    # 16 pairs: chance is log(16) = 2.77; 12 steps on the same 32 examples
    # must bring the loss well below it.
    before, after = trained["before"], trained["after"]
    assert before > 2.0 and after < before - 1.0, (before, after)
