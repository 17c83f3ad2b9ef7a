"""A fully masked modality leaves no trainable weight without a gradient."""

import warnings

import keras
import numpy as np

from kerasmm.layers import AudioAdapter
from kerasmm.layers import LabelAdapter
from kerasmm.layers import MultimodalAdapter
from tests.test_case import TestCase
from tests.test_case import to_numpy

RNG = np.random.default_rng(0)


def adapters():
    return {"audio": AudioAdapter(samples_per_patch=4, num_bands=2), "label": LabelAdapter(3)}


def inputs(batch=4):
    return {"audio": RNG.normal(size=(batch, 8, 1)).astype("float32"),
            "label": np.eye(3, dtype="float32")[np.arange(batch) % 3]}


def functional(adapter):
    x = {"audio": keras.Input((8, 1)), "label": keras.Input((3,))}
    return keras.Model(x, adapter(x)["features"])


class TestFullyMaskedModality(TestCase):
    def test_padding_is_kept_under_its_name_but_frozen(self):
        adapter = MultimodalAdapter(adapters(), mask_probs={"label": 1.0})
        adapter(inputs())
        names = lambda ws: sorted(w.name for w in ws)  # noqa: E731
        assert names(adapter.weights) == ["mask_label", "padding_audio", "padding_label"]
        assert names(adapter.trainable_weights) == ["mask_label", "padding_audio"]
        # Freezing and unfreezing the layer does not make it trainable again.
        adapter.trainable = False
        adapter.trainable = True
        assert names(adapter.trainable_weights) == ["mask_label", "padding_audio"]
        # Partly masked: the padding still reaches the output, so it trains.
        partial = MultimodalAdapter(adapters(), mask_probs={"label": 0.5})
        partial(inputs())
        assert names(partial.trainable_weights) == [
            "mask_label", "padding_audio", "padding_label"]

    def test_fit_updates_every_trainable_weight_without_warnings(self):
        adapter = MultimodalAdapter(adapters(), mask_probs={"label": 1.0})
        model = functional(adapter)
        x = inputs()
        frozen = to_numpy(adapter.paddings["label"])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # Asserts that every trainable weight changes in one SGD step.
            self.check_fit_changes_weights(model, x)
        messages = [str(w.message) for w in caught]
        assert not [m for m in messages if "Gradients do not exist" in m], messages
        np.testing.assert_array_equal(to_numpy(adapter.paddings["label"]), frozen)

    def test_keras_round_trip_keeps_the_frozen_padding(self):
        adapter = MultimodalAdapter(adapters(), mask_probs={"label": 1.0})
        model = functional(adapter)
        x = inputs()
        adapter.paddings["label"].assign(np.full((1, 8), 7.0, "float32"))
        path = self._tmp_path("adapter.keras")
        model.save(path)
        restored = keras.saving.load_model(path)
        layer = [lay for lay in restored.layers if isinstance(lay, MultimodalAdapter)][0]
        np.testing.assert_array_equal(to_numpy(layer.paddings["label"]), 7.0)
        np.testing.assert_allclose(to_numpy(restored(x)), to_numpy(model(x)), atol=1e-6)
