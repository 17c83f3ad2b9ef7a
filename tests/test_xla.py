"""TPU readiness: train steps compile with XLA, on static shapes.

A TPU runs only XLA programs, so a model is TPU-ready when its whole train
step compiles with XLA (no host callbacks, no ops without an XLA kernel) on
static shapes. On TensorFlow, `compile(jit_compile=True)` makes `fit` call
its step function with `_XlaMustCompile=True`: XLA compiles it or the call
fails, there is no fallback. These tests check that flag on the very call
`fit` ran, that the step runs and learns, and that XLA produces the HLO of
that same function.
"""

import inspect

import keras
import numpy as np
import pytest

import kerasmm

def executed_step(model):
    """The jit-compiled step `fit` ran, and the call op that ran it.

    `model.train_function` (Keras 3's TF trainer) wraps a tf.function
    `one_step_on_data` (built with `jit_compile=model.jit_compile`) in a
    tf.function `multi_step_on_iterator` that calls it once per step.
    """
    import tensorflow as tf

    closure = inspect.getclosurevars(model.train_function).nonlocals
    step = closure["one_step_on_data"].__wrapped__
    assert isinstance(step, tf.types.experimental.PolymorphicFunction)
    calls = [
        op
        for function in closure["multi_step_on_iterator"]._list_all_concrete_functions()
        for op in function.graph.get_operations()
        if "one_step_on_data" in op.node_def.attr["f"].func.name
    ]
    assert len(calls) == 1, [op.name for op in calls]
    return step, calls[0]


def check_compiled_with_xla(model, dataset):
    assert model.jit_compile is True  # Keras did not turn it off
    before = [np.array(w) for w in model.trainable_weights]
    history = model.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    moved = [not np.allclose(b, keras.ops.convert_to_numpy(w))
             for b, w in zip(before, model.trainable_weights)]
    assert moved and np.mean(moved) > 0.9, moved

    step, call = executed_step(model)
    # The call fit executed must compile with XLA: no silent fallback.
    assert call.node_def.attr["_XlaMustCompile"].b is True
    # XLA lowers that same function (same traced name) to an HLO module.
    hlo = step.experimental_get_compiler_ir(next(iter(dataset)))(stage="hlo")
    traced = call.node_def.attr["f"].func.name.lstrip("_")
    assert hlo.startswith("HloModule a_" + traced), hlo[:200]
    # The gradient step is in the program: matmuls and weight updates.
    assert " dot(" in hlo and "input_output_alias" in hlo


def clip_model():
    return kerasmm.models.CLIP(
        kerasmm.models.VisionTransformer(
            image_size=16, patch_size=8, hidden_dim=16, num_layers=1,
            num_heads=2, output_dim=16),
        kerasmm.models.TextTransformer(
            vocabulary_size=617, context_length=16, hidden_dim=16,
            num_layers=1, num_heads=2, output_dim=16),
    )


@pytest.mark.tf_only
@pytest.mark.slow  # XLA compilation: ~15 s
def test_clip_train_step_compiles_with_xla():
    model = clip_model()
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=kerasmm.losses.CLIPLoss(), jit_compile=True)
    # The library's own pipeline: static shapes, as XLA wants.
    dataset = kerasmm.datasets.shapes_dataset(
        batch_size=4, image_size=16, num_examples=8, shuffle=False)
    check_compiled_with_xla(model, dataset.repeat())


@pytest.mark.tf_only
@pytest.mark.slow  # XLA compilation: ~15 s
def test_perceiver_io_train_step_compiles_with_xla():
    import tensorflow as tf

    model = kerasmm.models.PerceiverIO(
        kerasmm.layers.ImageAdapter((8, 8, 3), num_bands=2),
        kerasmm.layers.ClassificationDecoder(3),
        num_latents=4, latent_dim=8, num_self_attends_per_block=1,
        num_cross_attention_heads=1, num_self_attention_heads=2)
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=True,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    images = rng.normal(size=(8, 8, 8, 3)).astype("float32")
    model(images[:1])
    labels = rng.integers(0, 3, size=(8,)).astype("int32")
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(
        4, drop_remainder=True).repeat()
    check_compiled_with_xla(model, dataset)


def is_static(spec):
    return all(d is not None for d in spec.shape)


@pytest.mark.parametrize("name, make", [
    ("shapes_dataset", lambda: kerasmm.datasets.shapes_dataset(
        batch_size=4, image_size=16, num_examples=10)),
    ("masked_bytes_dataset", lambda: kerasmm.datasets.masked_bytes_dataset(
        batch_size=4, sequence_length=16, num_examples=10)),
    ("av_dataset", lambda: kerasmm.datasets.av_dataset(
        batch_size=4, num_examples=10)),
])
def test_library_pipelines_have_static_shapes(name, make):
    """Batches drop the remainder by default, so every dimension is known."""
    import tensorflow as tf

    specs = tf.nest.flatten(make().element_spec)
    assert specs and all(is_static(spec) for spec in specs), (name, specs)
    assert all(spec.shape[0] == 4 for spec in specs), (name, specs)
