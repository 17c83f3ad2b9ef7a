"""`BuildBeforeTracingMixin`: on TensorFlow without a strategy, Keras 3 builds the
optimizer and the compiled metrics inside the first trace of the train step, so
`tf.function` traces it twice; the mixin builds them first (one trace), and trains
the same numbers on the same data order."""

import keras
import numpy as np
import pytest

import kerasmm
from kerasmm.distribute import BuildBeforeTracingMixin

pytestmark = pytest.mark.tf_only


class Plain(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(1)
        self.traces = 0
        self.build((None, 3))

    def build(self, input_shape):
        self.hidden.build(input_shape)
        self.out.build((None, 8))

    def call(self, x):
        return self.out(self.hidden(x))

    def train_step(self, *args, **kwargs):
        self.traces += 1  # Python: runs once per trace, not per step.
        return super().train_step(*args, **kwargs)


class Mixed(BuildBeforeTracingMixin, Plain):
    pass


def _fit(model_class, method, jit_compile):
    keras.utils.set_random_seed(0)
    model = model_class()
    model.compile(optimizer=keras.optimizers.AdamW(1e-2, use_ema=True), loss="mse",
                  metrics=["mae"], jit_compile=jit_compile)
    x = np.random.default_rng(0).standard_normal((32, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    if method == "fit":
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=True)
        model.logs = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    else:
        for _ in range(3):
            model.train_on_batch(x[:8], y[:8])
    return model


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("method", ["fit", "train_on_batch"])
def test_one_trace_and_the_same_weights_as_plain_keras(method, jit_compile):
    plain, mixed = (_fit(c, method, jit_compile) for c in (Plain, Mixed))
    # Plain Keras traces twice: a first trace that creates the optimizer's
    # variables, then one without. If upstream builds first, this fails and
    # the mixin can go.
    assert plain.traces == 2
    assert mixed.traces == 1
    assert len(mixed.optimizer.variables) == len(plain.optimizer.variables)
    for a, b in zip(plain.weights + plain.optimizer.variables,
                    mixed.weights + mixed.optimizer.variables):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
    assert int(mixed.optimizer.iterations.numpy()) == (8 if method == "fit" else 3)
    if method == "fit":  # Same data order (shuffled), same metrics.
        for name, value in plain.logs.items():
            np.testing.assert_allclose(mixed.logs[name], value, rtol=1e-6)


@pytest.mark.parametrize("name", [
    "models.CLIP", "models.SigLIP", "models.CLAP", "models.VideoCLIP", "models.CoCa",
    "models.Perceiver", "models.PerceiverIO", "models.TextToImageDiffusion", "models.VQVAE",
    "models.TextToImageTransformer", "tasks.VQAClassifier", "tasks.ImageTextMatcher",
    "tasks.ImageCaptioner", "tasks.BLIPQuestionAnswerer"])
def test_kerasmm_trainable_models_mix_it_in(name):
    package, class_name = name.split(".")
    assert issubclass(getattr(getattr(kerasmm, package), class_name), BuildBeforeTracingMixin)


def test_an_unbuilt_model_is_left_to_keras():
    class Lazy(BuildBeforeTracingMixin, keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

    lazy = Lazy()
    lazy.compile(optimizer="adam", loss="mse")
    x = np.ones((4, 3), "float32")
    lazy.fit(x, x[:, :1], epochs=1, verbose=0)  # Keras builds both inside the trace.
    assert lazy.optimizer.built and lazy.dense.built
    assert len(lazy.optimizer.variables) == 2 + 2 * 2  # iterations, learning rate, m and v
