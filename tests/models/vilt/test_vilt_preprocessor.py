"""ViLT's preprocessor: Hugging Face's token ids exactly, its resize sizes and
pixel mask exactly and its pixels closely (PIL's bicubic differs a little),
presets, `tf.data` and errors. Fixtures: `tools/make_vilt_fixtures.py`."""

import numpy as np
import pytest
import tensorflow as tf

from kerasmm.models import ViLTPreprocessor
from kerasmm.models.vilt import ViLTImagePreprocessor
from kerasmm.models.vilt.vilt_image_preprocessor import resized_size
from kerasmm.models.vilt.vilt_image_preprocessor import resized_size_tensor
from kerasmm.tasks import VQAClassifier
from tests.convert.parity import fixture, reference

PROMPTS = ["what color is the cat?", "How many dogs are playing on the table?",
           "Is there a big RED circle, left of the square?"]


def test_token_ids_match_transformers():
    ref = reference("hf_vilt_vqa")
    preprocessor = ViLTPreprocessor.from_preset(fixture("hf_vilt_vqa"), sequence_length=12)
    outputs = preprocessor({"prompts": PROMPTS})
    np.testing.assert_array_equal(outputs["token_ids"], ref["prompt_ids"])
    np.testing.assert_array_equal(outputs["padding_mask"], ref["prompt_mask"])
    dataset = tf.data.Dataset.from_tensor_slices({"prompts": PROMPTS}).batch(3)
    batch = next(iter(dataset.map(preprocessor)))
    np.testing.assert_array_equal(batch["token_ids"], ref["prompt_ids"])


def test_images_match_transformers():
    ref = reference("vilt_image_processor")
    preprocessor = ViLTImagePreprocessor(shortest_edge=32, size_divisor=8)
    outputs = preprocessor([ref[f"picture_{i}"] for i in range(3)])
    assert outputs["images"].shape == ref["pixel_values"].shape
    np.testing.assert_array_equal(outputs["pixel_mask"], ref["pixel_mask"])
    difference = np.abs(outputs["images"].numpy() - ref["pixel_values"])
    assert difference.max() < 0.1 and difference.mean() < 0.005  # Pixels span [-1, 1].
    assert ref["pixel_mask"].min() == 0  # Some picture is padded.


def test_resized_size_follows_vilt():
    assert resized_size(480, 640, 384, 640, 32) == (384, 512)
    assert resized_size(300, 1200, 384, 640, 32) == (160, 640)  # Longer side capped.
    assert resized_size(640, 480, 384, 640, 32) == (512, 384)


def hf_resized_size(height, width, shortest, longest, divisor):
    """Hugging Face's `ViltImageProcessor` size arithmetic, in Python."""
    if height < width:
        new_height, new_width = shortest, width * (shortest / height)
    else:
        new_height, new_width = height * (shortest / width), shortest
    if max(new_height, new_width) > longest:
        scale = longest / max(new_height, new_width)
        new_height, new_width = new_height * scale, new_width * scale
    new_height, new_width = int(new_height + 0.5), int(new_width + 0.5)
    return new_height // divisor * divisor, new_width // divisor * divisor


def test_resized_size_tensor_equals_the_python_arithmetic():
    heights, widths = np.meshgrid(np.arange(1, 1500, 7), np.arange(1, 1500, 11))
    heights, widths = heights.ravel(), widths.ravel()
    for edges in ((384, 640, 32), (32, 53, 8)):
        got = np.stack(resized_size_tensor(heights, widths, *edges), axis=1)
        want = [hf_resized_size(int(h), int(w), *edges) for h, w in zip(heights, widths)]
        np.testing.assert_array_equal(got, want)


@pytest.mark.tf_only
def test_images_in_tf_data_equal_eager():
    preprocessor = ViLTImagePreprocessor(shortest_edge=32, size_divisor=8)
    rng = np.random.default_rng(0)
    pictures = [rng.integers(0, 256, (h, w, 3), dtype="uint8")
                for h, w in ((40, 80), (60, 40), (33, 33), (24, 50))]
    spec = tf.TensorSpec((None, None, 3), tf.uint8)
    ragged = tf.data.Dataset.from_generator(lambda: iter(pictures), output_signature=spec)
    batches = list(ragged.ragged_batch(2).map(preprocessor))  # Traced: graph mode.
    assert len(batches) == 2 and batches[0]["pixel_mask"].numpy().min() == 0
    for i, batch in enumerate(batches):
        eager = preprocessor(pictures[2 * i:2 * i + 2])
        for key in ("images", "pixel_mask"):
            np.testing.assert_array_equal(batch[key], eager[key])
    same_size = np.stack([pictures[1], pictures[1][::-1]])
    dense = tf.data.Dataset.from_tensor_slices(same_size).batch(2).map(preprocessor)
    batch, eager = next(iter(dense)), preprocessor(list(same_size))
    assert batch["images"].shape == (2, 48, 32, 3)
    for key in ("images", "pixel_mask"):
        np.testing.assert_array_equal(batch[key], eager[key])
    whole = ViLTPreprocessor.from_preset(fixture("hf_vilt_vqa"), sequence_length=10,
                                         image_preprocessor=preprocessor)
    texts = tf.data.Dataset.from_tensor_slices(PROMPTS[:2])
    pairs = tf.data.Dataset.zip(texts, ragged.take(2)).ragged_batch(2)
    batch = next(iter(pairs.map(lambda t, x: whole({"prompts": t, "images": x}))))
    eager = whole({"prompts": PROMPTS[:2], "images": pictures[:2]})
    for key in eager:
        np.testing.assert_array_equal(batch[key], eager[key])


def test_presets_and_the_whole_path(tmp_path):
    preprocessor = ViLTPreprocessor.from_preset(fixture("hf_vilt_vqa"), sequence_length=10)
    pictures = [np.full((40, 56, 3), 200, "uint8"), np.zeros((32, 32, 3), "uint8")]
    inputs = preprocessor({"prompts": PROMPTS[:2], "images": pictures})
    assert inputs["images"].shape == (2, 32, 40, 3)
    logits = VQAClassifier.from_preset(fixture("hf_vilt_vqa"))(inputs)
    assert logits.shape == (2, 7) and np.all(np.isfinite(logits))
    directory = str(tmp_path / "preprocessor")
    preprocessor.save_to_preset(directory)
    restored = ViLTPreprocessor.from_preset(directory)
    for key in ("vocabulary", "sequence_length", "lowercase"):
        assert getattr(restored, key) == getattr(preprocessor, key)
    image_config = restored.image_preprocessor.get_config()
    assert {k: v for k, v in image_config.items() if k != "name"} == {
        k: v for k, v in preprocessor.image_preprocessor.get_config().items() if k != "name"}
    again = restored({"prompts": PROMPTS[:2], "images": pictures})
    for key in inputs:
        np.testing.assert_array_equal(again[key], inputs[key])


def test_errors():
    with pytest.raises(ValueError, match="special tokens"):
        ViLTPreprocessor(["a", "b"])
    with pytest.raises(ValueError, match="no vocabulary"):
        ViLTPreprocessor()({"prompts": ["a"]})
    with pytest.raises(ValueError, match="no image_preprocessor"):
        ViLTPreprocessor()({"images": np.zeros((1, 8, 8, 3), "uint8")})
    with pytest.raises(ValueError, match="'images' and/or 'prompts'"):
        ViLTPreprocessor()({"text": ["a"]})
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ViLTImagePreprocessor(shortest_edge=32)([np.full((8, 8, 3), 3.0, "float32")])
