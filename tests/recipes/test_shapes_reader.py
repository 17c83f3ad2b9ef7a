"""The shapes reader (shipped weights) and the text-to-image scores built on it."""

import numpy as np
import pytest

from kerasmm.datasets.shapes import SHAPES
from kerasmm.datasets.shapes import zero_shot_images
from kerasmm.models import CLIP
from kerasmm.models import CLIPPreprocessor
from kerasmm.recipes import shapes_scoring as scoring
from kerasmm.recipes.shapes_reader import build_shapes_reader
from kerasmm.recipes.shapes_reader import load_shapes_reader
from kerasmm.recipes.shapes_reader import read_shapes
from kerasmm.recipes.shapes_reader import reader_images


@pytest.fixture(scope="module")
def reader():
    return load_shapes_reader()


@pytest.fixture(scope="module")
def clip_and_preprocessor():
    return (CLIP.from_preset("shapes_clip_tiny"),
            CLIPPreprocessor.from_preset("shapes_clip_tiny"))


@pytest.mark.parametrize("size", [32, 64])
def test_reader_reads_fresh_real_images(reader, size):
    # A seed no training image was drawn with (training used 0..4).
    images, labels = zero_shot_images(6, image_size=size, seed=4242)
    read = read_shapes(reader, images)
    assert np.mean(read["color"] == labels // len(SHAPES)) >= 0.95
    assert np.mean(read["shape"] == labels % len(SHAPES)) >= 0.95
    # uint8 and the same pixels as floats in [-1, 1] read the same.
    as_float = read_shapes(reader, images.astype("float32") / 127.5 - 1)
    np.testing.assert_array_equal(as_float["shape"], read["shape"])


def test_reader_is_robust_to_blur_and_shift(reader):
    images, colors, shapes = reader_images(2, seed=99)  # augmented, 5 render sizes
    read = read_shapes(reader, images)
    assert np.mean((read["color"] == colors) & (read["shape"] == shapes)) >= 0.9


def test_read_shapes_rejects_bad_images():
    reader = build_shapes_reader(16)
    with pytest.raises(ValueError, match="images must have shape"):
        read_shapes(reader, np.zeros((2, 16, 16), "uint8"))
    with pytest.raises(ValueError, match="dtype int64"):
        read_shapes(reader, np.zeros((2, 16, 16, 3), "int64"))


def test_accuracies_and_groups_on_hand_made_cases():
    read = {"color": [0, 1, 2, 3], "shape": [0, 1, 0, 0]}
    scores = scoring.accuracies(read, [0, 1, 2, 0], [0, 1, 1, 0], "r_")
    assert scores == {"r_color_accuracy": 0.75, "r_shape_accuracy": 0.75, "r_accuracy": 0.5}
    # red triangle and blue cross are held out; red circle is not.
    assert scoring.is_held_out([0, 2, 0], [2, 4, 0]).tolist() == [True, True, False]
    prompts, colors, shapes = scoring.combo_prompts()
    assert len(prompts) == 30 and prompts[2] == "a red triangle" and prompts[5] == "a green circle"
    assert scoring.is_held_out(colors, shapes).sum() == 5


def test_pixel_diversity_on_hand_made_cases():
    same = np.full((3, 4, 4, 3), 0.3, "float32")
    assert scoring.pixel_diversity(same) == 0.0
    # Pixels 0 and 1 (in [0, 1] units): standard deviation 0.5.
    pair = np.stack([np.full((4, 4, 3), -1.0), np.full((4, 4, 3), 1.0)]).astype("float32")
    assert scoring.pixel_diversity(pair) == pytest.approx(0.5)
    assert scoring.pixel_diversity(np.array([[[[0]]], [[[255]]]], "uint8")) == pytest.approx(0.5)
    assert 0.05 < scoring.real_diversity(4) < 0.5


def test_score_samples_right_and_wrong_prompts(reader):
    images, labels = zero_shot_images(2, image_size=32, seed=4243)
    colors, shapes = labels // len(SHAPES), labels % len(SHAPES)
    right = scoring.score_samples(images, colors, shapes, reader)
    assert right["reader_accuracy_all"] >= 0.95 and right["reader_accuracy_held_out"] >= 0.9
    assert len(right["per_prompt"]) == 30 and right["per_prompt"]["a red circle"]["n"] == 2
    # Prompting every image with the next colour: every colour is wrong.
    wrong = scoring.score_samples(images, (colors + 1) % 6, shapes, reader)
    assert wrong["reader_color_accuracy_all"] <= 0.05
    assert wrong["reader_accuracy_seen"] <= 0.05
    assert wrong["reader_shape_accuracy_all"] == right["reader_shape_accuracy_all"]


class _FixedClip:
    """Embeddings chosen by hand: image i -> IMAGES[i], prompt j -> TEXTS[j]."""

    IMAGES = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]], "float32")
    TEXTS = {"a": [1.0, 0.0], "b": [0.0, -1.0], "c": [4.0, 3.0]}

    def encode_image(self, images):
        return self.IMAGES[np.asarray(images)[:, 0, 0, 0].astype(int)]

    def encode_text(self, token_ids):
        return np.array(token_ids, "float32")


def _fixed_preprocessor(inputs):
    if "images" in inputs:  # Image i is filled with the value i.
        return {"images": inputs["images"].astype("float32")}
    return {"token_ids": [_FixedClip.TEXTS[p] for p in inputs["prompts"]]}


def test_clip_score_formula_on_hand_made_embeddings():
    images = np.arange(3, dtype="uint8")[:, None, None, None] * np.ones((1, 2, 2, 3), "uint8")
    # cosines: 1, -1 (clipped to 0), (12 + 12) / 25
    score = scoring.clip_score(_FixedClip(), _fixed_preprocessor, images, ["a", "b", "c"],
                               batch_size=2)
    assert score == pytest.approx(100 * (1 + 0 + 24 / 25) / 3, rel=1e-6)


def test_clip_score_matches_numpy_with_shipped_clip(clip_and_preprocessor):
    clip, preprocessor = clip_and_preprocessor
    images, labels = zero_shot_images(1, image_size=32, seed=7)
    prompts = [scoring.combo_prompt(c, s) for c, s in
               zip(labels // len(SHAPES), labels % len(SHAPES))]
    prompts[-5:] = ["a photo of a white cross"] * 5  # some wrong ones
    outputs = clip(preprocessor({"images": images, "prompts": prompts}))
    a = np.asarray(outputs["image_embeddings"], "float64")
    b = np.asarray(outputs["text_embeddings"], "float64")
    cos = np.sum(a * b, -1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    expected = np.mean(100 * np.maximum(cos, 0))
    score = scoring.clip_score(clip, preprocessor, images, prompts)
    assert score == pytest.approx(expected, abs=1e-3)
    # Floats in [-1, 1] are the same pixels.
    as_float = images.astype("float32") / 127.5 - 1
    assert scoring.clip_score(clip, preprocessor, as_float, prompts) == pytest.approx(
        score, abs=1e-3)


def test_clip_read_out_of_real_images(clip_and_preprocessor, reader):
    clip, preprocessor = clip_and_preprocessor
    images, labels = zero_shot_images(2, image_size=32, seed=4244)
    colors, shapes = labels // len(SHAPES), labels % len(SHAPES)
    scores = scoring.score_samples(images, colors, shapes, reader, clip, preprocessor)
    assert scores["clip_color_accuracy_all"] >= 0.8
    assert scores["clip_accuracy_all"] >= 0.6
    assert scores["clip_score_all"] > 0
    assert set(scores["per_prompt"]["a red circle"]) == {
        "n", "reader_accuracy", "clip_accuracy", "diversity"}
