import numpy as np

from tests.models.clip.test_clip_model import make_batch, make_clip
from tests.test_case import TestCase, to_numpy


class TestCLIPPredict(TestCase):
    def test_predict_over_several_batches(self):
        # 7 examples in batches of 3: two full batches and a partial one. With
        # a bias, both scalars (logit_scale, logit_bias) are covered.
        model = make_clip(logit_bias_init=-10.0)
        model.logit_scale.assign(1.5)
        data = make_batch(batch=7)
        outputs = model.predict(data, batch_size=3, verbose=0)
        assert sorted(outputs) == ["image_embeddings", "logit_bias", "logit_scale",
                                   "text_embeddings"]
        # Per-example rows equal a single eager call over the whole input.
        expected = model(data)
        for key in ("image_embeddings", "text_embeddings"):
            assert outputs[key].shape == (7, 16)
            np.testing.assert_allclose(outputs[key], to_numpy(expected[key]), atol=1e-5)
        # Scalars come back once per example.
        np.testing.assert_array_equal(outputs["logit_scale"], np.full(7, 1.5, "float32"))
        np.testing.assert_array_equal(outputs["logit_bias"], np.full(7, -10.0, "float32"))

    def test_predict_on_batch(self):
        model = make_clip()
        outputs = model.predict_on_batch(make_batch(batch=4))
        assert outputs["image_embeddings"].shape == (4, 16)
        np.testing.assert_allclose(outputs["logit_scale"], np.full(4, np.log(1 / 0.07)),
                                   rtol=1e-6)
