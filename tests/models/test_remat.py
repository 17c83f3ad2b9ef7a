"""`remat=True` on the transformer stacks: same numbers, recomputed blocks.

The reference for every gradient is the same model built with
`remat=False` and the same weights: rematerialisation must not change a
single number beyond float rounding, only when activations are computed.
"""

import keras
import numpy as np
import pytest
from keras import ops

from kerasmm.layers import ClassificationDecoder
from kerasmm.layers import ImageAdapter
from kerasmm.models import Perceiver
from kerasmm.models import PerceiverIO
from kerasmm.models import TextTransformer
from kerasmm.models import VisionTransformer
from tests.test_case import assert_trees_close
from tests.test_case import to_numpy

RNG = np.random.default_rng(0)
NUM_LAYERS = 2


def vit(remat=False):
    return VisionTransformer(image_size=16, patch_size=8, hidden_dim=16,
                             num_layers=NUM_LAYERS, num_heads=2, output_dim=8,
                             remat=remat)


def text(remat=False):
    return TextTransformer(vocabulary_size=20, context_length=8, hidden_dim=16,
                           num_layers=NUM_LAYERS, num_heads=2, output_dim=8,
                           remat=remat)


def perceiver_io(remat=False):
    return PerceiverIO(ImageAdapter((4, 4, 3), num_bands=2), ClassificationDecoder(8),
                       num_latents=4, latent_dim=8, num_blocks=1,
                       num_self_attends_per_block=NUM_LAYERS,
                       num_cross_attention_heads=1, num_self_attention_heads=2,
                       remat=remat)


def perceiver(remat=False):
    # NUM_LAYERS blocks through one shared latent transformer of one layer.
    return Perceiver(ImageAdapter((4, 4, 3), num_bands=2), num_latents=4, latent_dim=8,
                     num_classes=8, num_blocks=NUM_LAYERS, num_self_attends_per_block=1,
                     num_self_attention_heads=2, remat=remat)


def inputs_for(name):
    if name == "vit":
        return RNG.normal(size=(3, 16, 16, 3)).astype("float32")
    if name == "text":
        token_ids = RNG.integers(0, 19, size=(3, 8)).astype("int32")
        token_ids[:, 5] = 19  # the EOT token, then padding
        padding_mask = np.arange(8)[None, :] <= np.array([[5], [6], [7]])
        return {"token_ids": token_ids, "padding_mask": padding_mask}
    return RNG.normal(size=(3, 4, 4, 3)).astype("float32")


MODELS = {"vit": vit, "text": text, "perceiver_io": perceiver_io, "perceiver": perceiver}


def twin_models(name):
    """A plain model and a remat model with the same weights (both built)."""
    plain, remat = MODELS[name](), MODELS[name](remat=True)
    x = inputs_for(name)
    for model in (plain, remat):
        if not model.built:  # the CLIP towers build on construction
            model.build(x.shape)
    remat.set_weights(plain.get_weights())
    return plain, remat, x


def loss_fn(outputs):
    return ops.mean(ops.square(outputs)) + ops.mean(outputs)


def gradients(model, x):
    """Loss and gradients w.r.t. every trainable weight.

    TF: eager (`tf.recompute_grad`'s eager path; the XLA path is what `fit`
    with `jit_compile=True` runs, tested below). JAX: `jax.jit` (eager JAX
    traces the same program, only slower).
    """
    if keras.backend.backend() == "jax":
        import jax

        non_trainable = [v.value for v in model.non_trainable_variables]

        def value(trainable):
            outputs, _ = model.stateless_call(trainable, non_trainable, x, training=True)
            return loss_fn(outputs)

        fn = jax.jit(jax.value_and_grad(value))
        return to_numpy(fn([v.value for v in model.trainable_variables]))
    import tensorflow as tf

    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(model(x, training=True))
        return loss, tape.gradient(loss, model.trainable_variables)

    return to_numpy(step())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_gradients_equal_plain_run(name):
    plain, remat, x = twin_models(name)
    expected_loss, expected = gradients(plain, x)
    loss, actual = gradients(remat, x)
    assert len(actual) == len(plain.trainable_variables) > 0
    assert all(np.any(g != 0) for g in expected)  # every weight gets a gradient
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-6)
    assert_trees_close(actual, expected, atol=1e-5, rtol=1e-5)


def _count_block_calls(blocks, counter):
    for block in blocks:
        original = block.call

        def counted(*args, _original=original, **kwargs):
            counter[0] += 1
            return _original(*args, **kwargs)

        block.call = counted


def _recomputations(model, blocks, x):
    """How many times the blocks' forward pass is recomputed for a gradient.

    TF (eager `tf.recompute_grad`): the blocks' Python `call` runs again in
    the backward pass, so the calls beyond the forward ones are counted.
    JAX: `jax.checkpoint` traces once; the differentiated program holds one
    rematerialisation (`remat`/`checkpoint` equation) per recomputed block.
    """
    if keras.backend.backend() == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]

        def value(trainable):
            outputs, _ = model.stateless_call(trainable, non_trainable, x, training=True)
            return loss_fn(outputs)

        jaxpr = jax.make_jaxpr(jax.grad(value))(trainable)
        return sum(e.primitive.name.startswith(("remat", "checkpoint"))
                   for e in jaxpr.jaxpr.eqns)
    import tensorflow as tf

    counter = [0]
    _count_block_calls(blocks, counter)
    with tf.GradientTape() as tape:
        loss = loss_fn(model(x, training=True))
    forward_calls = counter[0]
    tape.gradient(loss, model.trainable_variables)
    return counter[0] - forward_calls


@pytest.mark.parametrize("name", ["vit", "text", "perceiver_io"])
def test_blocks_are_recomputed_only_with_remat(name):
    plain, remat, x = twin_models(name)
    for model, expected in ((plain, 0), (remat, NUM_LAYERS)):
        blocks = getattr(model, "blocks", None) or model.self_attention_layers
        assert _recomputations(model, blocks, x) == expected, model.remat


def test_perceiver_recomputes_each_pass_through_shared_layers():
    _, model, x = twin_models("perceiver")
    # One shared layer, applied NUM_LAYERS times: each application recomputed.
    assert _recomputations(model, model.latent_transformers[0], x) == NUM_LAYERS


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vit", "text", "perceiver_io"])
def test_xla_fit_step_gradients_equal_plain_fit(name):
    plain, remat, x = twin_models(name)
    y = RNG.normal(size=(3, 8)).astype("float32")
    before = to_numpy(plain.get_weights())
    for model in (plain, remat):
        # Plain SGD with learning rate 1: each weight moves by minus its gradient.
        model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse", jit_compile=True)
        history = model.fit(x, y, batch_size=3, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
    expected = [w - b for w, b in zip(to_numpy(plain.get_weights()), before)]
    actual = [w - b for w, b in zip(to_numpy(remat.get_weights()), before)]
    assert sum(np.any(g != 0) for g in actual) == len(plain.trainable_variables)
    assert_trees_close(actual, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_config_round_trip_keeps_remat(name):
    model = MODELS[name](remat=True)
    config = model.get_config()
    assert config["remat"] is True
    assert type(model).from_config(config).remat is True
    assert MODELS[name]().get_config()["remat"] is False
    # Configs saved before the option existed still load, without remat.
    del config["remat"]
    assert type(model).from_config(config).remat is False


def test_keras_round_trip_keeps_remat_and_outputs(tmp_path):
    model = vit(remat=True)
    x = inputs_for("vit")
    path = str(tmp_path / "vit.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.remat is True
    assert_trees_close(loaded(x), model(x), atol=1e-6)


@pytest.mark.parametrize("remat", ["yes", 1, None])
def test_bad_remat_raises(remat):
    with pytest.raises(ValueError, match="remat must be a bool"):
        vit(remat=remat)


@pytest.mark.parametrize("cls", [Perceiver, PerceiverIO])
def test_remat_with_dropout_raises(cls):
    args = [ImageAdapter((4, 4, 3), num_bands=2)]
    if cls is PerceiverIO:
        args.append(ClassificationDecoder(8))
    with pytest.raises(ValueError, match="remat=True needs dropout=0"):
        cls(*args, num_latents=4, latent_dim=8, num_self_attention_heads=2,
            dropout=0.1, remat=True)
