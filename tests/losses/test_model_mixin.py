import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from kerasmm.losses import CLIPLoss
from kerasmm.losses import ContrastiveLossMixin
from kerasmm.losses import InfoNCE
from kerasmm.losses import SigLIPLoss
from kerasmm.metrics import RecallAtK


class TwoTowers(ContrastiveLossMixin, keras.Model):
    """Test-only contrastive model: two Dense towers and a logit scale."""

    def __init__(self, with_bias=False, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.with_bias = with_bias
        regularizer = keras.regularizers.L2(l2) if l2 else None
        self.image_tower = keras.layers.Dense(4, kernel_regularizer=regularizer)
        self.text_tower = keras.layers.Dense(4)
        scale = np.log(10.0) if with_bias else np.log(1 / 0.07)
        self.logit_scale = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(scale),
            name="logit_scale")
        if with_bias:
            self.logit_bias = self.add_weight(
                shape=(), initializer=keras.initializers.Constant(-10.0),
                name="logit_bias")

    def call(self, inputs):
        outputs = {
            "image_embeddings": ops.normalize(
                self.image_tower(inputs["images"]), axis=-1),
            "text_embeddings": ops.normalize(
                self.text_tower(inputs["texts"]), axis=-1),
            "logit_scale": ops.convert_to_tensor(self.logit_scale),
        }
        if self.with_bias:
            outputs["logit_bias"] = ops.convert_to_tensor(self.logit_bias)
        return outputs


def features(num=64, seed=0):
    """Paired features (texts are a noisy linear map of images), no labels."""
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(num, 6)).astype("float32")
    mixing = rng.normal(size=(6, 5)).astype("float32")
    texts = images @ mixing + 0.1 * rng.normal(size=(num, 5))
    return {"images": images, "texts": texts.astype("float32")}


def dataset(batch_size=16):
    return tf.data.Dataset.from_tensor_slices(features()).batch(
        batch_size, drop_remainder=True)


def clip_reference(images, texts, logit_scale):
    scale = np.exp(min(logit_scale, np.log(100.0)))
    logits = np.float64(scale * images @ texts.T)
    diagonal = np.arange(len(images))

    def cross_entropy(z):
        lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
        return np.mean(lse - z[diagonal, diagonal])

    return (cross_entropy(logits) + cross_entropy(logits.T)) / 2


def test_fit_clip_loss_with_recall_metrics():
    model = TwoTowers()
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss=CLIPLoss(),
        metrics=[RecallAtK(k=1), RecallAtK(k=1, direction="text_to_image")],
    )
    history = model.fit(dataset(), epochs=6, verbose=0).history
    assert history["loss"][-1] < 0.7 * history["loss"][0]
    assert history["i2t_recall@1"][-1] > history["i2t_recall@1"][0]
    assert "t2i_recall@1" in history
    # Metrics are reset each epoch: the last epoch saw 64 queries, not 384.
    assert float(model.metrics[-2].count) == 64

    results = model.evaluate(dataset(), verbose=0, return_dict=True)
    # The towers act row by row: embed all 64 rows at once, split by batch.
    out = {k: ops.convert_to_numpy(v) for k, v in model(features()).items()}
    per_batch = [
        clip_reference(out["image_embeddings"][start:start + 16],
                       out["text_embeddings"][start:start + 16],
                       float(out["logit_scale"]))
        for start in range(0, 64, 16)
    ]
    np.testing.assert_allclose(results["loss"], np.mean(per_batch), rtol=1e-5)
    assert set(results) == {"loss", "i2t_recall@1", "t2i_recall@1"}


def test_fit_siglip_loss_chunked():
    model = TwoTowers(with_bias=True)
    # jit_compile=True: the chunk loop and its custom gradient compile with
    # XLA on TensorFlow too (JAX always compiles).
    model.compile(optimizer=keras.optimizers.Adam(0.05),
                  loss=SigLIPLoss(chunk_size=5), jit_compile=True)
    history = model.fit(dataset(), epochs=4, verbose=0).history
    assert history["loss"][-1] < 0.7 * history["loss"][0]
    assert float(model.logit_bias) != -10.0  # the bias is learned


def test_fit_under_mixed_float16():
    keras.config.set_dtype_policy("mixed_float16")  # reset by conftest
    model = TwoTowers()
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=CLIPLoss())
    batch = next(iter(dataset()))
    assert keras.backend.standardize_dtype(
        model(batch)["image_embeddings"].dtype) == "float16"
    loss = model.compute_loss(x=batch, y_pred=model(batch))
    assert keras.backend.standardize_dtype(loss.dtype) == "float32"
    history = model.fit(dataset(), epochs=3, verbose=0).history
    assert np.all(np.isfinite(history["loss"]))
    assert history["loss"][-1] < history["loss"][0]


def test_fit_info_nce_on_functional_model():
    view_a = keras.Input((6,), name="images")
    view_b = keras.Input((5,), name="texts")
    pairs = ops.stack([keras.layers.Dense(4)(view_a),
                       keras.layers.Dense(4)(view_b)], axis=1)
    model = keras.Model({"images": view_a, "texts": view_b}, pairs)
    model.compile(optimizer=keras.optimizers.Adam(0.05),
                  loss=InfoNCE(temperature=0.2))
    history = model.fit(dataset(), epochs=4, verbose=0).history
    assert history["loss"][-1] < 0.7 * history["loss"][0]


def test_regularisation_losses_are_added():
    model = TwoTowers(l2=0.5)
    model.compile(optimizer="sgd", loss=CLIPLoss())
    batch = next(iter(dataset()))
    y_pred = model(batch)
    total = model.compute_loss(x=batch, y=None, y_pred=y_pred)
    kernel = ops.convert_to_numpy(model.image_tower.kernel)
    expected = clip_reference(
        ops.convert_to_numpy(y_pred["image_embeddings"]),
        ops.convert_to_numpy(y_pred["text_embeddings"]),
        float(y_pred["logit_scale"]),
    ) + 0.5 * np.sum(kernel ** 2)
    np.testing.assert_allclose(float(total), expected, rtol=1e-5)


def test_loss_weights_scale_the_loss():
    model = TwoTowers()
    model.compile(optimizer="sgd", loss=CLIPLoss(), loss_weights=0.25)
    batch = next(iter(dataset()))
    y_pred = model(batch)
    np.testing.assert_allclose(
        float(model.compute_loss(x=batch, y_pred=y_pred)),
        0.25 * float(CLIPLoss()(None, y_pred)), rtol=1e-6)
    with pytest.raises(ValueError, match="loss_weights"):
        model.compile(loss=CLIPLoss(), loss_weights={"a": 1.0})


def test_other_losses_and_metrics_go_to_keras():
    class Regressor(ContrastiveLossMixin, keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]], "float32")
    model = Regressor()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse",
                  metrics=["mae"])
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    assert "mae" in history


def test_compile_config_round_trip():
    model = TwoTowers()
    model.compile(optimizer="adam", loss=CLIPLoss(chunk_size=4),
                  metrics=[RecallAtK(k=2)])
    config = model.get_compile_config()
    restored = TwoTowers()
    restored(next(iter(dataset())))
    restored.compile_from_config(config)
    assert isinstance(restored.loss, CLIPLoss)
    assert restored.loss.chunk_size == 4
    assert [m.name for m in restored.metrics if isinstance(m, RecallAtK)] == [
        "i2t_recall@2"]
