"""ViLT: shapes, the pixel mask and resized positions against a numpy
reference, the heads (fit, config and `.keras` round trip), and errors."""

import keras
import numpy as np
import pytest

from kerasmm.models import ViLT
from kerasmm.models.vilt import ViLTImageEmbedding
from kerasmm.tasks import MultimodalClassifier
from kerasmm.tasks import ViLTMaskedLM
from kerasmm.tasks import ViLTRetrievalScorer
from kerasmm.tasks import VQAClassifier
from tests.test_case import TestCase

CONFIG = dict(vocabulary_size=30, image_size=16, patch_size=4, hidden_dim=8, num_layers=1,
              num_heads=2, max_sequence_length=6, intermediate_dim=12)


def backbone(**kwargs):
    return ViLT(**{**CONFIG, **kwargs})


def inputs(rng, batch=2, height=16, width=16, num_images=None):
    shape = (batch, height, width, 3) if num_images is None else (
        batch, num_images, height, width, 3)
    return {"images": rng.normal(size=shape).astype("float32"),
            "token_ids": rng.integers(1, 30, (batch, 5)).astype("int32"),
            "padding_mask": np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]][:batch] * 1, bool)}


def resize_reference(table, rows, cols):
    """torch's `interpolate(bilinear, align_corners=True)`, written as loops."""
    grid = table.shape[0]

    def sample(size, index):
        c = 0.0 if size == 1 else index * (grid - 1) / (size - 1)
        low = int(np.floor(c))
        return low, min(low + 1, grid - 1), c - low

    out = np.zeros((rows, cols, table.shape[-1]))
    for i in range(rows):
        i0, i1, fi = sample(rows, i)
        for j in range(cols):
            j0, j1, fj = sample(cols, j)
            out[i, j] = ((1 - fi) * ((1 - fj) * table[i0, j0] + fj * table[i0, j1])
                         + fi * ((1 - fj) * table[i1, j0] + fj * table[i1, j1]))
    return out


def test_positions_resized_per_image_and_padding_masked():
    layer = ViLTImageEmbedding(image_size=16, patch_size=4, hidden_dim=8)
    layer.build(None)
    rng = np.random.default_rng(0)
    layer.position_embedding.assign(rng.normal(size=(17, 8)).astype("float32"))
    images = np.zeros((2, 12, 24, 3), "float32")  # Patches are zero: tokens = positions.
    layer.patch_embedding.projection.bias.assign(np.zeros(8, "float32"))
    pixel_mask = np.zeros((2, 12, 24), "int32")
    pixel_mask[0] = 1
    pixel_mask[1, :8, :20] = 1  # A 2x5 patch area of the 3x6 grid.
    tokens, mask = (np.asarray(t) for t in layer(images, pixel_mask))
    assert tokens.shape == (2, 19, 8) and mask.shape == (2, 19)
    grid = np.asarray(layer.position_embedding)[1:].reshape(4, 4, 8)
    np.testing.assert_allclose(tokens[0, 1:].reshape(3, 6, 8), resize_reference(grid, 3, 6),
                               atol=1e-5)
    np.testing.assert_allclose(tokens[1, 1:].reshape(3, 6, 8)[:2, :5],
                               resize_reference(grid, 2, 5), atol=1e-5)
    expected_mask = np.zeros((3, 6), bool)
    expected_mask[:2, :5] = True
    np.testing.assert_array_equal(mask[1, 1:].reshape(3, 6), expected_mask)
    assert mask[:, 0].all() and mask[0].all()
    # At the training size the table is used as is.
    square, _ = layer(np.zeros((1, 16, 16, 3), "float32"))
    np.testing.assert_allclose(np.asarray(square)[0, 1:], grid.reshape(16, 8), atol=1e-6)


def randomize_batch_norms(model, rng):
    """Moving statistics and affine terms away from identity, so that padding
    leaking through a convolutional stem (or a reload that loses the moving
    statistics) would change the outputs; returns how many layers it moved."""
    layers = [layer for layer in model._flatten_layers()
              if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in layers:
        for weight in layer.weights:
            weight.assign(rng.uniform(0.5, 1.5, weight.shape).astype("float32")
                          * rng.choice([-1.0, 1.0], weight.shape).astype("float32")
                          if "variance" not in weight.path else
                          rng.uniform(0.5, 2.0, weight.shape).astype("float32"))
    return len(layers)


@pytest.mark.parametrize("patch_stem", ["linear", "conv"])
def test_padded_image_with_mask_equals_the_unpadded_image(patch_stem):
    model = backbone(patch_stem=patch_stem)
    rng = np.random.default_rng(1)
    randomize_batch_norms(model, rng)
    data = inputs(rng, height=8, width=12)
    padded = np.zeros((2, 16, 20, 3), "float32")
    padded[:, :8, :12] = data["images"]
    pixel_mask = np.zeros((2, 16, 20), "int32")
    pixel_mask[:, :8, :12] = 1
    small = model(data)
    big = model({**data, "images": padded, "pixel_mask": pixel_mask})
    np.testing.assert_allclose(big["pooled_output"], small["pooled_output"], atol=1e-5)
    np.testing.assert_allclose(big["sequence_output"][:, :5], small["sequence_output"][:, :5],
                               atol=1e-5)
    unmasked = model({**data, "images": padded})
    assert np.abs(np.asarray(unmasked["pooled_output"])
                  - np.asarray(small["pooled_output"])).max() > 1e-3


def test_backbone_outputs_symbolic_and_errors():
    model = backbone()
    outputs = model(inputs(np.random.default_rng(2), height=16, width=8))
    assert outputs["sequence_output"].shape == (2, 5 + 1 + 8, 8)
    assert outputs["pooled_output"].shape == (2, 8)
    symbolic = model({"images": keras.KerasTensor((None, 16, 16, 3)),
                      "token_ids": keras.KerasTensor((None, 5), dtype="int32")})
    assert tuple(symbolic["sequence_output"].shape) == (None, 22, 8)
    data = inputs(np.random.default_rng(3))
    with pytest.raises(ValueError, match="image_token_type"):
        model(data, image_token_type=2)
    with pytest.raises(ValueError, match="max_sequence_length"):
        model({**data, "token_ids": np.ones((2, 7), "int32")})
    with pytest.raises(ValueError, match="float"):
        model({**data, "images": data["images"].astype("uint8")})
    with pytest.raises(ValueError, match="'images' and 'token_ids'"):
        model({"images": data["images"]})
    with pytest.raises(ValueError, match="patch_size"):
        ViLT(**{**CONFIG, "image_size": 18})
    with pytest.raises(ValueError, match="num_heads"):
        ViLT(**{**CONFIG, "num_heads": 3})
    with pytest.raises(TypeError, match="backbone"):
        VQAClassifier(keras.layers.Dense(3), num_answers=2)


class TestHeads(TestCase):
    def test_vqa_classifier(self):
        model = VQAClassifier(backbone(), num_answers=5)
        self.run_model_test(model, inputs(np.random.default_rng(4)),
                            expected_output_shape=(2, 5),
                            frozen_weights=("token_type_embedding",))
        assert model.get_config()["num_answers"] == 5

    def test_nlvr2_classifier_uses_one_modality_type_per_image(self):
        model = MultimodalClassifier(backbone(modality_type_vocabulary_size=3), num_classes=2,
                                     num_images=2)
        data = inputs(np.random.default_rng(5), num_images=2)
        logits = self.run_model_test(model, data, expected_output_shape=(2, 2),
                                     frozen_weights=("token_type_embedding",))
        swapped = {**data, "images": data["images"][:, ::-1]}
        assert np.abs(np.asarray(model(swapped)) - np.asarray(logits)).max() > 1e-4
        with pytest.raises(ValueError, match="num_images=2"):
            model({**data, "images": data["images"][:, 0]})

    def test_masked_lm_tied_and_untied(self):
        data = inputs(np.random.default_rng(6))
        tied = ViLTMaskedLM(backbone())
        # The pooler does not reach word logits.
        self.run_model_test(tied, data, expected_output_shape=(2, 5, 30),
                            frozen_weights=("token_type_embedding", "pooler"))
        untied = ViLTMaskedLM(backbone(), tie_weights=False)
        assert len(untied.weights) == len(tied.weights) + 1
        restored = self.check_keras_round_trip(untied, data)
        assert restored.tie_weights is False

    def test_retrieval_scorer(self):
        model = ViLTRetrievalScorer(backbone())
        self.run_model_test(model, inputs(np.random.default_rng(7)),
                            expected_output_shape=(2, 1),
                            frozen_weights=("token_type_embedding",))


def test_sincos_position_initializer():
    from kerasmm.layers import sincos_2d_positions

    model = backbone(position_initializer="sincos", patch_stem="conv")
    table = np.asarray(model.image_embedding.position_embedding)
    np.testing.assert_array_equal(table[0], np.zeros(8))
    np.testing.assert_allclose(table[1:], sincos_2d_positions(4, 8), atol=1e-7)
    assert model.image_embedding.position_embedding.trainable
    # The default keeps ViLT's small normal table.
    assert np.abs(np.asarray(backbone().image_embedding.position_embedding)).max() < 0.2
    again = ViLT.from_config(model.get_config())
    assert again.position_initializer == "sincos"
    np.testing.assert_allclose(np.asarray(again.image_embedding.position_embedding), table)
    with pytest.raises(ValueError, match="position_initializer must be one of.*'fourier'"):
        backbone(position_initializer="fourier")
    with pytest.raises(ValueError, match="hidden_dim must be a multiple of 4.*hidden_dim=6"):
        backbone(position_initializer="sincos", hidden_dim=6, num_heads=2)
