import math

import keras
import numpy as np
import pytest

from kerasmm.losses import CLIPLoss, SigLIPLoss
from kerasmm.models import CLIP, ModifiedResNet, TextTransformer, VisionTransformer
from tests.models.clip import numpy_clip
from tests.test_case import TestCase, to_numpy

VISION = {"image_size": 32, "patch_size": 8, "hidden_dim": 16, "num_layers": 1,
          "num_heads": 2, "output_dim": 16}
TEXT = {"vocabulary_size": 64, "context_length": 16, "hidden_dim": 16, "num_layers": 1,
        "num_heads": 2, "output_dim": 16}
EOT = 63


def make_clip(vision=None, text=None, **kwargs):
    return CLIP(VisionTransformer(**{**VISION, **(vision or {})}),
                TextTransformer(**{**TEXT, **(text or {})}), **kwargs)


def make_batch(batch=8, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(batch, 32, 32, 3)).astype("float32")
    ids = np.zeros((batch, 16), "int32")
    for row in range(batch):
        end = 3 + row % 12
        ids[row, 0] = 1
        ids[row, 1:end] = rng.integers(2, EOT, end - 1)
        ids[row, end] = EOT
    return {"images": images, "token_ids": ids}


def dataset(batch=8, steps=1):
    import tensorflow as tf
    data = make_batch(batch)
    return tf.data.Dataset.from_tensor_slices(data).batch(
        batch, drop_remainder=True).repeat(steps)


def np_normalize(x):
    x = np.asarray(x, "float64")
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def np_clip_loss(image_embeddings, text_embeddings, scale):
    logits = scale * np.asarray(image_embeddings, "float64") @ np.asarray(
        text_embeddings, "float64").T

    def cross_entropy(z):
        z = z - z.max(1, keepdims=True)
        return np.mean(np.log(np.exp(z).sum(1)) - np.diag(z))
    return (cross_entropy(logits) + cross_entropy(logits.T)) / 2


class TestCLIPOutputs(TestCase):
    def test_outputs(self):
        model = make_clip()
        outputs = model(make_batch())
        assert sorted(outputs) == ["image_embeddings", "logit_scale", "text_embeddings"]
        for key in ("image_embeddings", "text_embeddings"):
            assert tuple(outputs[key].shape) == (8, 16)
            assert keras.backend.standardize_dtype(outputs[key].dtype) == "float32"
            np.testing.assert_allclose(np.linalg.norm(to_numpy(outputs[key]), axis=1),
                                       1.0, atol=1e-5)
        assert tuple(outputs["logit_scale"].shape) == ()
        np.testing.assert_allclose(to_numpy(outputs["logit_scale"]), np.log(1 / 0.07),
                                   rtol=1e-6)

    def test_encoders_normalise_the_tower_outputs(self):
        model = make_clip()
        numpy_clip.randomize_weights(model)
        data = make_batch()
        image = to_numpy(model.encode_image(data["images"]))
        text = to_numpy(model.encode_text(data["token_ids"]))
        np.testing.assert_allclose(
            image, np_normalize(to_numpy(model.vision_encoder(data["images"]))), atol=1e-6)
        np.testing.assert_allclose(
            text, np_normalize(to_numpy(model.text_encoder(data["token_ids"]))), atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(image, axis=1), 1.0, atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(text, axis=1), 1.0, atol=1e-6)
        outputs = model(data)
        np.testing.assert_allclose(to_numpy(outputs["image_embeddings"]), image, atol=1e-6)
        # A padding mask reaches the text tower and, after EOT, changes nothing.
        mask = np.cumsum(data["token_ids"] == EOT, axis=1) - (data["token_ids"] == EOT) == 0
        masked = model.encode_text({"token_ids": data["token_ids"], "padding_mask": mask})
        np.testing.assert_allclose(to_numpy(masked), text, atol=1e-6)

    @pytest.mark.parametrize("logit_scale, scale", [(1.0, math.e), (10.0, 100.0),
                                                    (-2.0, 1.0)])
    def test_logit_scale_is_clamped_to_1_100(self, logit_scale, scale):
        """exp(clip(logit_scale, 0, ln 100)) in the model and in CLIPLoss."""
        model = make_clip()
        model.logit_scale.assign(logit_scale)
        data = make_batch()
        image = to_numpy(model.encode_image(data["images"])).astype("float64")
        text = to_numpy(model.encode_text(data["token_ids"])).astype("float64")
        np.testing.assert_allclose(to_numpy(model.logits(data["images"], data["token_ids"])),
                                   scale * image @ text.T, rtol=1e-5, atol=1e-5)
        # The stored weight is not clamped; the loss clamps it the same way.
        assert float(to_numpy(model(data)["logit_scale"])) == pytest.approx(logit_scale)
        loss = to_numpy(CLIPLoss()(None, model(data)))
        np.testing.assert_allclose(loss, np_clip_loss(image, text, scale), rtol=1e-4)

    def test_siglip_model_has_an_unclamped_scale_and_a_bias(self):
        model = make_clip(logit_scale_init=math.log(10.0), logit_bias_init=-10.0)
        outputs = model(make_batch())
        assert float(to_numpy(outputs["logit_bias"])) == -10.0
        assert float(to_numpy(outputs["logit_scale"])) == pytest.approx(math.log(10.0))
        model.logit_scale.assign(math.log(200.0))
        data = make_batch()
        image = to_numpy(model.encode_image(data["images"])).astype("float64")
        text = to_numpy(model.encode_text(data["token_ids"])).astype("float64")
        np.testing.assert_allclose(to_numpy(model.logits(data["images"], data["token_ids"])),
                                   200.0 * image @ text.T - 10.0, rtol=1e-5, atol=1e-4)

    def test_keras_round_trip(self):
        model = make_clip(logit_bias_init=-10.0)
        numpy_clip.randomize_weights(model)
        model.logit_scale.assign(3.0)
        model.logit_bias.assign(-7.0)
        restored = self.check_keras_round_trip(model, make_batch(), atol=1e-6)
        assert float(to_numpy(restored.logit_scale)) == 3.0
        assert restored.get_config() == model.get_config()

    @pytest.mark.slow  # ~2 min on the JAX backend (eager per-shape compilation)
    def test_modified_resnet_tower(self):
        vision = ModifiedResNet(block_counts=(1, 1, 1, 1), width=8, num_heads=4,
                                output_dim=16, image_size=32)
        model = CLIP(vision, TextTransformer(**TEXT))
        assert model.image_projection is None
        outputs = model(make_batch(2))
        assert tuple(outputs["image_embeddings"].shape) == (2, 16)

    def test_mixed_precision(self):
        keras.config.set_dtype_policy("mixed_bfloat16")
        model = make_clip(logit_bias_init=-10.0)
        outputs = model(make_batch())
        for key, value in outputs.items():
            assert keras.backend.standardize_dtype(value.dtype) == "float32", key
        assert not np.any(np.isnan(to_numpy(outputs["image_embeddings"])))
        assert model.logit_scale.dtype == "float32"
        assert keras.backend.standardize_dtype(
            model.vision_encoder(make_batch()["images"]).dtype) == "bfloat16"


class TestCLIPFit(TestCase):
    # SGD rather than Adam: fewer ops to trace (TF tracing dominates here).
    # SigLIP's loss sums over the batch, so its gradients are larger.
    @pytest.mark.parametrize("loss, kwargs, learning_rate", [
        (CLIPLoss, {}, 0.5),
        (SigLIPLoss, {"logit_scale_init": math.log(10.0), "logit_bias_init": -10.0}, 0.02),
    ])
    def test_fit_decreases_the_loss(self, loss, kwargs, learning_rate):
        model = make_clip(**kwargs)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss=loss())
        before = [to_numpy(w).copy() for w in model.trainable_weights]
        history = model.fit(dataset(steps=1), epochs=6, verbose=0).history["loss"]
        assert np.all(np.isfinite(history))
        assert history[-1] < history[0] - 0.05, history
        unchanged = [w.path for w, b in zip(model.trainable_weights, before)
                     if np.array_equal(b, to_numpy(w))]
        assert not unchanged, unchanged

    @pytest.mark.tf_only
    @pytest.mark.slow  # XLA compilation: ~20 s on 2 CPU cores
    def test_fit_with_jit_compile(self):
        model = make_clip()
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss=CLIPLoss(),
                      jit_compile=True)
        history = model.fit(dataset(steps=1), epochs=4, verbose=0).history["loss"]
        assert model.jit_compile
        assert np.all(np.isfinite(history)) and history[-1] < history[0], history


class TestCLIPTowers(TestCase):
    @pytest.mark.slow  # building MobileNetV3 is slow on the JAX backend
    def test_keras_application_as_vision_tower(self):
        backbone = keras.applications.MobileNetV3Small(
            input_shape=(32, 32, 3), include_top=False, pooling="avg", weights=None,
            include_preprocessing=False)
        model = CLIP(backbone, TextTransformer(**TEXT))
        assert tuple(model.image_projection.kernel.shape) == (576, 16)
        assert model.image_projection.bias is None
        data = make_batch(2)
        image = to_numpy(model.encode_image(data["images"]))
        expected = to_numpy(backbone(data["images"], training=False)).astype(
            "float64") @ to_numpy(model.image_projection.kernel)
        np.testing.assert_allclose(image, np_normalize(expected), atol=1e-5)
        self.check_keras_round_trip(model, data, atol=1e-6)

    def test_generic_text_tower_gets_a_projection(self):
        ids = keras.Input((16,), dtype="int32")
        pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(64, 12)(ids))
        text = keras.Model(ids, pooled)
        model = CLIP(VisionTransformer(**VISION), text)
        assert model.output_dim == 16 and model.text_projection.kernel.shape == (12, 16)
        outputs = model(make_batch(2))
        assert tuple(outputs["text_embeddings"].shape) == (2, 16)
        # output_dim sets the joint width; the generic tower is projected to it.
        with pytest.raises(ValueError, match="vision_encoder output_dim=16, output_dim=12"):
            CLIP(VisionTransformer(**VISION), text, output_dim=12)

    def test_mismatched_tower_widths(self):
        with pytest.raises(ValueError, match=r"vision_encoder output_dim=8, output_dim=16"):
            make_clip(vision={"output_dim": 8})
        with pytest.raises(ValueError, match=r"text_encoder output_dim=16, output_dim=32"):
            CLIP(ModifiedResNet(block_counts=(1, 1, 1, 1), width=8, num_heads=4,
                                output_dim=32, image_size=32), TextTransformer(**TEXT),
                 output_dim=32)

    def test_tower_outputs_must_be_vectors(self):
        images = keras.Input((32, 32, 3))
        feature_map = keras.Model(images, keras.layers.Conv2D(4, 3)(images))
        with pytest.raises(ValueError, match=r"vision_encoder must map its inputs to "
                           r"vectors.*Received: vision_encoder output shape "
                           r"\(None, 30, 30, 4\)"):
            CLIP(feature_map, TextTransformer(**TEXT))
        with pytest.raises(TypeError, match="text_encoder must be a Keras model"):
            CLIP(VisionTransformer(**VISION), lambda ids: ids)

    def test_bad_inputs(self):
        model = make_clip()
        data = make_batch(2)
        with pytest.raises(ValueError, match=r"'images' and 'token_ids'.*Received: "
                           r"\['images', 'text'\]"):
            model({"images": data["images"], "text": data["token_ids"]})
        with pytest.raises(ValueError, match=r"context_length=16"):
            model({"images": data["images"], "token_ids": np.zeros((2, 17), "int32")})
        with pytest.raises(ValueError, match=r"image_size=32\. Received: images with "
                           r"shape \(2, 64, 64, 3\)"):
            model.encode_image(np.zeros((2, 64, 64, 3), "float32"))

    @pytest.mark.parametrize("kwargs, message", [
        ({"logit_scale_init": "big"}, "logit_scale_init='big'"),
        ({"logit_scale_init": float("inf")}, "logit_scale_init must be finite"),
        ({"logit_bias_init": True}, "logit_bias_init=True"),
        ({"logit_bias_init": float("nan")}, "logit_bias_init must be finite"),
        ({"output_dim": 0}, "output_dim=0"),
    ])
    def test_bad_config(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            make_clip(**kwargs)


@keras.saving.register_keras_serializable(package="kerasmm_tests")
class SubclassedImageEncoder(keras.Model):
    """A subclassed tower: no output_shape, no output_dim."""

    def __init__(self, width=12, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.conv = keras.layers.Conv2D(8, 3, strides=2)
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.dense = keras.layers.Dense(width)

    def call(self, images):
        return self.dense(self.pool(self.conv(images)))

    def get_config(self):
        return {**super().get_config(), "width": self.width}


@keras.saving.register_keras_serializable(package="kerasmm_tests")
class SubclassedFlatEncoder(keras.Model):
    """A subclassed tower that needs a fixed image size (Flatten)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.flatten, self.dense = keras.layers.Flatten(), keras.layers.Dense(6)

    def call(self, images):
        return self.dense(self.flatten(images))


class TestSubclassedTowers(TestCase):
    def test_width_from_a_symbolic_call(self):
        encoder = SubclassedImageEncoder()
        model = CLIP(encoder, TextTransformer(**TEXT))
        assert tuple(model.image_projection.kernel.shape) == (12, 16)
        data = make_batch(2)
        image = to_numpy(model.encode_image(data["images"]))
        expected = to_numpy(encoder(data["images"])).astype("float64") @ to_numpy(
            model.image_projection.kernel)
        np.testing.assert_allclose(image, np_normalize(expected), atol=1e-5)
        restored = self.check_keras_round_trip(model, data, atol=1e-6)
        # By name: test_clip_predict imports this module a second time.
        assert type(restored.vision_encoder).__name__ == "SubclassedImageEncoder"

    def test_subclassed_text_tower(self):
        @keras.saving.register_keras_serializable(package="kerasmm_tests")
        class BagOfWords(keras.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.embedding = keras.layers.Embedding(64, 10)

            def call(self, token_ids):
                return keras.ops.mean(self.embedding(token_ids), axis=1)

        model = CLIP(VisionTransformer(**VISION), BagOfWords())
        assert tuple(model.text_projection.kernel.shape) == (10, 16)
        assert tuple(model(make_batch(2))["text_embeddings"].shape) == (2, 16)

    def test_a_tower_that_needs_its_size_says_to_build_it(self):
        encoder = SubclassedFlatEncoder()
        with pytest.raises(ValueError, match=r"Cannot tell the output width of "
                           r"vision_encoder.*\(None, None, None, 3\).*"
                           r"vision_encoder\.build\(\(None, 224, 224, 3\)\)"):
            CLIP(encoder, TextTransformer(**TEXT))
        assert not encoder.built  # The failed trace left no half-built model.
        encoder.build((None, 32, 32, 3))
        model = CLIP(encoder, TextTransformer(**TEXT))
        assert tuple(model.image_projection.kernel.shape) == (6, 16)
        assert tuple(model.encode_image(make_batch(2)["images"]).shape) == (2, 16)
        with pytest.raises(ValueError, match=r"images must have shape \(batch, 32, 32, 3\)"):
            model.encode_image(np.zeros((2, 16, 16, 3), "float32"))

    def test_towers_built_with_output_tokens(self):
        model = make_clip(vision={"output_tokens": True}, text={"output_tokens": True})
        plain = make_clip()
        plain.set_weights(model.get_weights())
        data = make_batch(2)
        for key, value in model(data).items():
            np.testing.assert_allclose(to_numpy(value), to_numpy(plain(data)[key]), atol=1e-5)


def test_encode_text_skips_the_padding_and_equals_the_whole_rows():
    model = make_clip(text={"context_length": 32})
    numpy_clip.randomize_weights(model.text_encoder)
    ids = np.zeros((3, 32), "int32")
    for row, end in enumerate((4, 11, 6)):
        ids[row, :end] = np.arange(1, end + 1)
        ids[row, end] = EOT
    seen = []
    call = model.text_encoder.call
    model.text_encoder.call = lambda inputs, **kwargs: (seen.append(inputs.shape),
                                                         call(inputs, **kwargs))[1]
    embeddings = to_numpy(model.encode_text(ids))
    assert tuple(seen[-1]) == (3, 16)  # up to the last EOT, rounded up to 8
    expected = numpy_clip.openai_text_transformer(
        ids, numpy_clip.text_state(model.text_encoder), heads=2)
    expected /= np.linalg.norm(expected, axis=-1, keepdims=True)
    np.testing.assert_allclose(embeddings, expected, atol=1e-5)
