import numpy as np
import pytest

from kerasmm.layers import AudioAdapter
from kerasmm.layers import ImageAdapter
from kerasmm.layers import LabelAdapter
from kerasmm.layers import MultimodalAdapter
from kerasmm.layers import TextAdapter
from tests.models.perceiver.perceiver_reference import weights
from tests.test_case import TestCase
from tests.test_case import to_numpy

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.normal(size=shape).astype("float32")


def make_adapter(**kwargs):
    return MultimodalAdapter({
        "label": LabelAdapter(3),
        "audio": AudioAdapter(samples_per_patch=4, num_bands=2),  # 4 + 5 = 9 channels
        "image": ImageAdapter((2, 2, 1), position_encoding=None),  # 1 channel
    }, **kwargs)


def inputs(batch=2):
    return {"audio": rand(batch, 8, 1), "image": rand(batch, 2, 2, 1),
            "label": np.eye(3, dtype="float32")[:batch]}


class TestMultimodalAdapter(TestCase):
    def test_common_checks(self):
        self.run_layer_test(MultimodalAdapter, {"adapters": {
            "audio": AudioAdapter(samples_per_patch=4, num_bands=2),
            "label": LabelAdapter(3)}, "min_padding_size": 3},
            {"audio": rand(2, 8, 1), "label": rand(2, 3)},
            expected_output_shape={"features": (2, 3, 12)})

    def test_sorted_order_padding_and_starts(self):
        adapter = make_adapter()
        x = inputs()
        out = to_numpy(adapter(x)["features"])
        assert out.shape == (2, 2 + 4 + 1, 9 + 2)
        assert adapter.modality_starts == {"audio": 0, "image": 2, "label": 6}
        assert adapter.modality_sizes == {"audio": 2, "image": 4, "label": 1}
        w = weights(adapter)
        assert {k: v.shape for k, v in w.items()} == {
            "padding_audio": (1, 2), "padding_image": (1, 10), "padding_label": (1, 8)}
        audio = to_numpy(adapter.adapters["audio"](x["audio"])["features"])
        np.testing.assert_array_equal(out[:, :2, :9], audio)
        np.testing.assert_array_equal(out[:, 2:6, :1], x["image"].reshape(2, 4, 1))
        np.testing.assert_array_equal(out[:, 6:, :3], x["label"][:, None])
        for name, rows, width in (("audio", slice(0, 2), 9), ("image", slice(2, 6), 1),
                                  ("label", slice(6, 7), 3)):
            np.testing.assert_array_equal(
                out[:, rows, width:],
                np.broadcast_to(w[f"padding_{name}"], out[:, rows, width:].shape))
        assert "padding_mask" not in adapter(x)
        parts = adapter.split(out)
        np.testing.assert_array_equal(parts["image"], out[:, 2:6])

    def test_mask_prob_one_replaces_the_modality(self):
        adapter = make_adapter(mask_probs={"label": 1.0})
        out = to_numpy(adapter(inputs())["features"])
        token = weights(adapter)["mask_label"]
        np.testing.assert_array_equal(out[:, 6:], np.broadcast_to(token, (2, 1, 11)))

    def test_random_masking_probability(self):
        adapter = MultimodalAdapter({"audio": AudioAdapter(1, position_encoding=None)},
                                    mask_probs={"audio": 0.25}, seed=1)
        out = to_numpy(adapter({"audio": rand(4, 500, 1)})["features"])
        token = weights(adapter)["mask_audio"][0]
        masked = np.all(out == token, axis=-1)
        assert 0.18 < masked.mean() < 0.32

    def test_text_padding_mask_is_concatenated(self):
        adapter = MultimodalAdapter({"text": TextAdapter(10, 4, 3), "label": LabelAdapter(2)})
        mask = np.array([[True, True, False], [True, False, False]])
        out = adapter({"text": {"token_ids": np.ones((2, 3), "int32"), "padding_mask": mask},
                       "label": rand(2, 2)})
        np.testing.assert_array_equal(
            to_numpy(out["padding_mask"]),
            np.concatenate([np.ones((2, 1), bool), mask], axis=1))
        assert adapter.compute_output_shape(
            {"text": {"token_ids": (2, 3), "padding_mask": (2, 3)}, "label": (2, 2)}) \
            == {"features": (2, 4, 5), "padding_mask": (2, 4)}

    def test_missing_and_unknown_modality(self):
        adapter = make_adapter()
        x = inputs()
        del x["image"]
        with pytest.raises(ValueError, match="missing modality 'image'"):
            adapter(x)
        with pytest.raises(ValueError, match="unknown modality 'depth'"):
            adapter({**inputs(), "depth": rand(2, 3)})

    @pytest.mark.parametrize("kwargs, message", [
        ({"adapters": {}}, "adapters must be a non-empty dict"),
        ({"adapters": {"a": "image"}}, "adapters must be a non-empty dict"),
        ({"adapters": {"a": LabelAdapter(2)}, "min_padding_size": 0}, "min_padding_size=0"),
        ({"adapters": {"a": LabelAdapter(2)}, "mask_probs": {"b": 0.5}}, "mask_probs="),
        ({"adapters": {"a": LabelAdapter(2)}, "mask_probs": {"a": 1.5}}, "mask_probs="),
    ])
    def test_bad_config(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            MultimodalAdapter(**kwargs)
