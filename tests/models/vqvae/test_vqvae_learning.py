"""Learning checks on the shapes set (slow): VQ-VAE reconstruction, text-to-image samples.

tools/train_t2i_vqvae_shapes.py runs the full-size version (32x32 images,
captions as prompts) and writes docs/t2i_vqvae_samples.png.
"""

import keras
import numpy as np
import pytest

from kerasmm.datasets.pipelines import shapes_tokenizer
from kerasmm.datasets.shapes import SHAPES
from kerasmm.datasets.shapes import generate_shapes
from kerasmm.models import TextToImageTransformer
from kerasmm.models import VQVAE
from kerasmm.recipes.shapes_reader import load_shapes_reader
from kerasmm.recipes.shapes_scoring import combo_prompts
from kerasmm.recipes.shapes_scoring import is_held_out
from kerasmm.recipes.shapes_scoring import score_samples


EPOCHS = 4


def single_shapes(split, num_examples, image_size):
    data = generate_shapes(split, num_examples=num_examples, image_size=image_size)
    keep = data["num_shapes"] == 1
    images = data["images"][keep].astype("float32") / 127.5 - 1.0
    return images, data["colors"][keep, 0], data["shapes"][keep, 0]


def psnr(images, reconstructions):
    return 10.0 * np.log10(4.0 / np.mean((images - reconstructions) ** 2))


@pytest.fixture(scope="module")
def shapes_32px():
    images, colors, shapes = single_shapes("train", 8000, 32)
    keras.utils.set_random_seed(0)
    vqvae = VQVAE(image_shape=(32, 32, 3), num_embeddings=64, embedding_dim=16,
                  hidden_dims=(32, 64))
    vqvae.compile(optimizer=keras.optimizers.Adam(2e-3))
    vqvae.fit({"images": images}, batch_size=64, epochs=5, verbose=0)
    return vqvae, images, colors, shapes


@pytest.mark.slow
def test_vqvae_reconstructs_shapes_32px(shapes_32px):
    vqvae, images, _, _ = shapes_32px
    val_images, _, _ = single_shapes("validation", 400, 32)
    reconstructions = np.asarray(vqvae.decode(vqvae.encode(val_images)))
    # Baseline: the mean training image, the best constant guess.
    baseline = psnr(val_images, images.mean(axis=0, keepdims=True))
    measured = psnr(val_images, reconstructions)
    print(f"VQ-VAE 32px PSNR {measured:.2f} dB (mean-image baseline {baseline:.2f} dB)")
    # Measured 23.9 dB; the baseline (mostly background) is 16.6 dB.
    assert measured > 20.5 and measured > baseline + 4.0


@pytest.mark.slow
def test_text_to_image_samples_are_read_as_the_prompt(shapes_32px):
    # Prompts "a {colour} {shape}" and a small transformer: enough to learn
    # in a test (the tool trains on the captions).
    vqvae, images, colors, shapes = shapes_32px
    prompts, prompt_colors, prompt_shapes = combo_prompts()
    tokenizer = shapes_tokenizer(sequence_length=5)
    prompt_ids = np.asarray(tokenizer(prompts)).astype("int32")
    token_ids = prompt_ids[colors * len(SHAPES) + shapes]
    model = TextToImageTransformer(vqvae, vocabulary_size=tokenizer.vocabulary_size(),
                                   context_length=5, hidden_dim=64, num_layers=2, num_heads=4)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    codes = np.asarray(vqvae.encode(images))
    model.fit({"token_ids": token_ids, "image_codes": codes}, batch_size=64, epochs=EPOCHS,
              verbose=0)
    repeats = 4
    samples = model.generate_images(np.repeat(prompt_ids, repeats, axis=0), seed=0)
    sample_colors = np.repeat(prompt_colors, repeats)
    sample_shapes = np.repeat(prompt_shapes, repeats)
    assert is_held_out(sample_colors, sample_shapes).sum() == 5 * repeats
    scores = score_samples(samples, sample_colors, sample_shapes, load_shapes_reader())
    print({k: v for k, v in scores.items() if k != "per_prompt"})
    # Measured 0.16 (colour 0.63); chance is 1/30 for colour and shape
    # together, 1/6 for colour.
    assert scores["reader_accuracy_seen"] > 0.1
    assert scores["reader_color_accuracy_all"] > 0.4
