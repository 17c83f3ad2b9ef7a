"""Contrastive losses on degenerate batches: warn once, or refuse.

Failed before the fix (HEAD 9d51597): `CLIPLoss` / `InfoNCE` on a batch of 1
returned 0 (no negatives, nothing learned) without a word; an empty batch
returned a shape-(0,) loss (every reduction) for `CLIPLoss`, `InfoNCE` and
`SigLIPLoss`; `NCELoss` on a batch of 1 inside `tf.function` (batch size
unknown while tracing) failed with TensorFlow's `Need minval < maxval, got
1 >= 1`, and on an empty batch named "at least 2", not the empty batch.
"""

import warnings

import keras
import numpy as np
import pytest

from kerasmm.losses import CLIPLoss
from kerasmm.losses import ContrastiveLossMixin
from kerasmm.losses import InfoNCE
from kerasmm.losses import NCELoss
from kerasmm.losses import SigLIPLoss


def outputs(batch, dim=4, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "image_embeddings": rng.normal(size=(batch, dim)).astype("float32"),
        "text_embeddings": rng.normal(size=(batch, dim)).astype("float32"),
        "logit_scale": np.float32(2.0),
        "logit_bias": np.float32(-10.0),
    }


def calls_warning(fn, times):
    """The batch-of-1 warnings raised by `times` calls of `fn`."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(times):
            fn()
    return [w for w in caught if "batch of 1" in str(w.message)]


@pytest.mark.parametrize("make", [CLIPLoss, InfoNCE, lambda: InfoNCE(symmetric=True)],
                         ids=["clip", "info_nce", "info_nce_symmetric"])
def test_batch_of_one_warns_once_per_loss(make):
    loss = make()
    caught = calls_warning(lambda: loss(None, outputs(1)), times=3)
    assert len(caught) == 1
    assert issubclass(caught[0].category, UserWarning)
    assert "nothing is learned" in str(caught[0].message)
    assert float(loss(None, outputs(1))) == pytest.approx(0.0, abs=1e-6)
    # Another instance warns again; a real batch never warns.
    assert len(calls_warning(lambda: make()(None, outputs(1)), times=1)) == 1
    assert not calls_warning(lambda: make()(None, outputs(2)), times=1)


def test_batch_of_one_warns_once_in_fit():
    class TwoTowers(ContrastiveLossMixin, keras.Model):
        def __init__(self):
            super().__init__()
            self.image_tower = keras.layers.Dense(4)
            self.text_tower = keras.layers.Dense(4)

        def call(self, inputs):
            return {"image_embeddings": self.image_tower(inputs["images"]),
                    "text_embeddings": self.text_tower(inputs["texts"]),
                    "logit_scale": keras.ops.convert_to_tensor(2.0)}

    model = TwoTowers()
    model.compile(optimizer="sgd", loss=CLIPLoss())
    data = {"images": np.ones((4, 3), "float32"), "texts": np.ones((4, 5), "float32")}
    caught = calls_warning(lambda: model.fit(data, batch_size=1, epochs=2, verbose=0),
                           times=1)
    assert len(caught) == 1


@pytest.mark.parametrize("make", [CLIPLoss, InfoNCE, SigLIPLoss, lambda: NCELoss(2),
                                  lambda: CLIPLoss(reduction=None),
                                  lambda: InfoNCE(chunk_size=2)],
                         ids=["clip", "info_nce", "siglip", "nce", "clip_none",
                              "info_nce_chunked"])
def test_empty_batch_raises(make):
    loss = make()
    with pytest.raises(ValueError, match="empty batch"):
        loss(None, outputs(0))


@pytest.mark.tf_only
def test_nce_checks_its_batch_inside_tf_function():
    import tensorflow as tf

    loss = NCELoss(num_noise_samples=2)
    call = tf.function(lambda pairs: loss(None, pairs),
                       input_signature=[tf.TensorSpec([None, 2, 4], tf.float32)])
    pairs = np.random.default_rng(0).normal(size=(3, 2, 4)).astype("float32")
    assert np.isfinite(float(call(pairs)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least 2"):
        call(pairs[:1])
    with pytest.raises(ValueError, match="at least 2"):
        loss(None, pairs[:1])
