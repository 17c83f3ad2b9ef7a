"""Shared checks that every kerasmm layer and model test runs.

`TestCase.run_layer_test` builds a layer from its constructor arguments and
checks: eager call, symbolic call on `keras.Input`, `compute_output_shape`
against the real output, one `fit` step changes every trainable weight,
`get_config` / `from_config` round trip, `.keras` save/load with outputs equal
to 1e-6, and mixed precision (`mixed_float16`, `mixed_bfloat16`: variables stay
float32, outputs in the compute dtype, no NaN).

`TestCase.run_model_test` runs the same checks on a built model.
"""

import os

import keras
import numpy as np
from keras import ops


def as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def to_numpy(tree):
    return keras.tree.map_structure(lambda t: np.asarray(ops.convert_to_numpy(t)), tree)


def assert_trees_close(actual, expected, atol=1e-6, rtol=0.0):
    actual, expected = to_numpy(actual), to_numpy(expected)
    keras.tree.assert_same_structure(actual, expected)
    for a, e in zip(keras.tree.flatten(actual), keras.tree.flatten(expected)):
        np.testing.assert_allclose(a.astype("float64"), e.astype("float64"),
                                   atol=atol, rtol=rtol)


def _inputs_for(data):
    """keras.Input placeholders mirroring `data` (array, list or dict)."""
    def make(x, name=None):
        x = np.asarray(x)
        return keras.Input(shape=x.shape[1:], name=name,
                           dtype=str(x.dtype) if x.dtype.kind in "iub" else "float32")
    if isinstance(data, dict):
        return {key: make(value, name=key) for key, value in data.items()}
    return keras.tree.map_structure(make, data)


def _call(layer, inputs, call_kwargs):
    if isinstance(inputs, dict):
        return layer(inputs, **call_kwargs)
    return layer(*as_list(inputs), **call_kwargs)


def _shapes(tree):
    return keras.tree.map_structure(lambda t: tuple(t.shape), tree)


def _is_shape(x):
    return isinstance(x, (tuple, list)) and all(
        d is None or isinstance(d, int) for d in x)


def _as_shapes(expected):
    """A shape or a (list/dict) tree of shapes, with each shape as a tuple."""
    if _is_shape(expected):
        return tuple(expected)
    if isinstance(expected, dict):
        return {k: _as_shapes(v) for k, v in expected.items()}
    return [_as_shapes(v) for v in expected]


def _output_shapes(tree):
    shapes = _shapes(tree)
    return list(shapes) if isinstance(shapes, tuple) and not _is_shape(shapes) else shapes


def fit_steps(model, steps, x, y=None, sample_weight=None):
    """The per-step losses of `steps` full-batch training steps: what
    `model.fit(x, y, batch_size=len(x), epochs=steps).history["loss"]` records,
    through the same compiled train function (`train_on_batch`) without fit's
    per-epoch set-up (a new data iterator and callbacks each epoch)."""
    return [float(model.train_on_batch(x, y, sample_weight=sample_weight,
                                       return_dict=True)["loss"]) for _ in range(steps)]


class TestCase:
    """Mixin for pytest test classes; also usable as plain functions via an instance."""

    tmp_dir = None

    def _tmp_path(self, name):
        import tempfile
        return os.path.join(tempfile.mkdtemp(prefix="kerasmm_test_"), name)

    # ------------------------------------------------------------------ layers
    def run_layer_test(self, layer_cls, init_kwargs, input_data,
                       expected_output_shape=None, call_kwargs=None,
                       check_fit=True, check_saving=True, check_mixed_precision=True,
                       expected_num_trainable_weights=None,
                       frozen_weights=(), mixed_precision_output_dtype=None):
        """Runs the common checks on `layer_cls(**init_kwargs)`.

        Args:
            input_data: one array, a list of arrays (positional inputs), or a
                dict (passed as one argument).
            expected_output_shape: shape tuple (or tree of them) of the eager
                output for `input_data`.
            call_kwargs: extra non-tensor call arguments.
            frozen_weights: names (substrings) of trainable weights a fit step
                may leave unchanged, e.g. weights that only see masked inputs.
            mixed_precision_output_dtype: expected output dtype under mixed
                policies when the layer deliberately returns float32.
        """
        call_kwargs = call_kwargs or {}
        layer = layer_cls(**init_kwargs)
        output = _call(layer, input_data, call_kwargs)
        if expected_output_shape is not None:
            assert _output_shapes(output) == _as_shapes(expected_output_shape), (
                _shapes(output), expected_output_shape)
        for x in keras.tree.flatten(to_numpy(output)):
            assert np.all(np.isfinite(x)) if x.dtype.kind == "f" else True
        if expected_num_trainable_weights is not None:
            assert len(layer.trainable_weights) == expected_num_trainable_weights

        # compute_output_shape agrees with the real output.
        if type(layer).compute_output_shape is not keras.layers.Layer.compute_output_shape:
            if isinstance(input_data, dict):
                predicted = layer.compute_output_shape(
                    {k: tuple(np.shape(v)) for k, v in input_data.items()})
            else:
                predicted = layer.compute_output_shape(
                    *[tuple(np.shape(x)) for x in as_list(input_data)])
            assert _as_shapes(predicted) == _output_shapes(output), (
                predicted, _shapes(output))

        # Symbolic call on keras.Input, wrapped as a functional model.
        model = self._functional(layer_cls, init_kwargs, input_data, call_kwargs)
        symbolic = keras.tree.flatten(model.outputs)
        for sym, real in zip(symbolic, keras.tree.flatten(output)):
            assert tuple(sym.shape)[1:] == tuple(real.shape)[1:]

        # Config round trip.
        config = layer.get_config()
        clone = layer_cls.from_config(config)
        assert clone.get_config() == config

        if check_fit:
            self.check_fit_changes_weights(model, input_data, frozen_weights)
        if check_saving:
            self.check_keras_round_trip(model, input_data)
        if check_mixed_precision:
            for policy in ("mixed_float16", "mixed_bfloat16"):
                self.check_mixed_precision(layer_cls, init_kwargs, input_data,
                                           call_kwargs, policy,
                                           mixed_precision_output_dtype)
        return layer, output

    def _functional(self, layer_cls, init_kwargs, input_data, call_kwargs):
        inputs = _inputs_for(input_data)
        layer = layer_cls(**init_kwargs)
        outputs = _call(layer, inputs, call_kwargs)
        return keras.Model(inputs, outputs)

    # ------------------------------------------------------------------ models
    def run_model_test(self, model, input_data, loss=None, y=None,
                       check_fit=True, check_saving=True, frozen_weights=(),
                       expected_output_shape=None):
        """Eager call, fit step, config and `.keras` round trip of a model."""
        output = model(input_data)
        if expected_output_shape is not None:
            assert _output_shapes(output) == _as_shapes(expected_output_shape), (
                _shapes(output), expected_output_shape)
        for x in keras.tree.flatten(to_numpy(output)):
            if x.dtype.kind == "f":
                assert np.all(np.isfinite(x))
        config = model.get_config()
        clone = type(model).from_config(config)
        assert len(clone.weights) == 0 or clone.built is False or len(clone.weights) == len(model.weights)
        if check_fit:
            self.check_fit_changes_weights(model, input_data, frozen_weights, loss=loss, y=y)
        if check_saving:
            self.check_keras_round_trip(model, input_data)
        return output

    # ------------------------------------------------------------------ checks
    def check_fit_changes_weights(self, model, input_data, frozen_weights=(),
                                  loss=None, y=None):
        if loss is None:
            # Regress every output onto fixed random targets.
            outputs = to_numpy(model(input_data))
            rng = np.random.default_rng(0)
            y = keras.tree.map_structure(
                lambda o: rng.normal(size=o.shape).astype("float32"), outputs)
            loss = (keras.tree.map_structure(lambda _: "mse", outputs)
                    if keras.tree.is_nested(outputs) else "mse")
        before = [np.array(ops.convert_to_numpy(w)) for w in model.trainable_weights]
        assert before, "model has no trainable weights"
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
        batch = len(keras.tree.flatten(input_data)[0])
        model.fit(input_data, y, batch_size=batch, epochs=1, verbose=0)
        unchanged = [
            w.path for w, b in zip(model.trainable_weights, before)
            if np.array_equal(b, ops.convert_to_numpy(w))
            and not any(f in w.path for f in frozen_weights)
        ]
        assert not unchanged, f"fit left these weights unchanged: {unchanged}"

    def check_keras_round_trip(self, model, input_data, atol=1e-6):
        path = self._tmp_path("model.keras")
        expected = model(input_data, training=False)
        model.save(path)
        restored = keras.saving.load_model(path)
        assert_trees_close(restored(input_data, training=False), expected, atol=atol)
        return restored

    def check_mixed_precision(self, layer_cls, init_kwargs, input_data, call_kwargs,
                              policy, output_dtype=None):
        layer = layer_cls(**{**init_kwargs, "dtype": policy})
        output = _call(layer, input_data, call_kwargs)
        compute = keras.DTypePolicy(policy).compute_dtype
        for w in layer.weights:
            if w.trainable:
                assert w.dtype == "float32", (w.path, w.dtype)
        for x in keras.tree.flatten(output):
            dtype = keras.backend.standardize_dtype(x.dtype)
            if dtype.startswith("float") or dtype == "bfloat16":
                assert dtype == (output_dtype or compute), (policy, dtype)
                assert not np.any(np.isnan(ops.convert_to_numpy(ops.cast(x, "float32"))))
