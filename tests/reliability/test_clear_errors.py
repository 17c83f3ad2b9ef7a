"""Empty batches, foreign adapters and mismatched modalities give clear errors
(or an empty result), never an obscure one.

Failed before the fix (HEAD 9d51597): `ZeroShotClassifier.predict` /
`classify` / `evaluate` of 0 images raised Keras' `UnboundLocalError`
(`batch_outputs`); `Retriever.evaluate` of 0 images and 0 captions returned
NaN recalls with numpy `RuntimeWarning`s; `PerceiverIO(keras.layers.Dense(4),
...)` was accepted and failed at its first call with `TypeError: tuple
indices must be integers or slices, not str`; `MultimodalAdapter` with
batches of 2 and 3 raised TensorFlow's `InvalidArgumentError` from a concat.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasmm.layers import AudioAdapter
from kerasmm.layers import ClassificationDecoder
from kerasmm.layers import ImageAdapter
from kerasmm.layers import LabelAdapter
from kerasmm.layers import MultimodalAdapter
from kerasmm.layers import TextAdapter
from kerasmm.models import Perceiver
from kerasmm.models import PerceiverIO
from kerasmm.tasks import Retriever
from kerasmm.tasks import ZeroShotClassifier
from tests.tasks.tiny_clip import make_clip
from tests.tasks.tiny_clip import make_images
from tests.tasks.tiny_clip import make_tokenizer

EMPTY = np.zeros((0, 32, 32, 3), "float32")


@pytest.fixture(scope="module")
def clip_and_tokenizer():
    tokenizer = make_tokenizer()
    return make_clip(tokenizer.vocabulary_size()), tokenizer


def test_zero_shot_classifier_on_no_images(clip_and_tokenizer):
    clip, tokenizer = clip_and_tokenizer
    classifier = ZeroShotClassifier(clip, tokenizer, class_names=["red", "blue", "star"])
    assert classifier.predict(EMPTY, verbose=0).shape == (0, 3)
    assert classifier.classify(EMPTY).shape == (0,)
    empty_dataset = tf.data.Dataset.from_tensor_slices(EMPTY).batch(4)
    assert classifier.predict(empty_dataset, verbose=0).shape == (0, 3)
    with pytest.raises(ValueError, match="at least one image"):
        classifier.evaluate(EMPTY, labels=np.zeros((0,), "int32"))
    labelled = tf.data.Dataset.from_tensor_slices((EMPTY, np.zeros((0,), "int32"))).batch(4)
    with pytest.raises(ValueError, match="at least one image"):
        classifier.evaluate(labelled)


def test_retriever_on_no_images_or_texts(clip_and_tokenizer):
    clip, tokenizer = clip_and_tokenizer
    retriever = Retriever(clip, tokenizer)
    assert retriever.encode_images(EMPTY).shape == (0, 8)
    assert retriever.encode_texts([]).shape == (0, 8)
    retriever.index_images(EMPTY)
    with pytest.raises(ValueError, match="no images are indexed"):
        retriever.search_text("red", k=1)
    retriever.index_images(make_images(3))
    indices, scores = retriever.search_text([], k=1)  # No queries: no results.
    assert indices.shape == scores.shape == (0, 1)
    with pytest.raises(ValueError, match="at least one image and one caption"):
        retriever.evaluate(EMPTY, [])


@pytest.mark.parametrize("model", [PerceiverIO, Perceiver])
@pytest.mark.parametrize("adapter", [keras.layers.Dense(4), ClassificationDecoder(3)],
                         ids=["dense", "decoder"])
def test_perceiver_refuses_a_layer_that_is_not_an_adapter(model, adapter):
    kwargs = dict(num_latents=4, latent_dim=8, num_self_attends_per_block=1,
                  num_cross_attention_heads=1, num_self_attention_heads=1)
    args = (adapter, ClassificationDecoder(3)) if model is PerceiverIO else (adapter,)
    with pytest.raises(ValueError, match="input_adapter must be a kerasmm adapter"):
        model(*args, **kwargs)


def test_multimodal_adapter_refuses_foreign_adapters_and_mismatched_batches():
    with pytest.raises(ValueError, match="must be a kerasmm adapter"):
        MultimodalAdapter({"audio": AudioAdapter(samples_per_patch=4, num_bands=2),
                           "label": keras.layers.Dense(3)})
    adapter = MultimodalAdapter({
        "audio": AudioAdapter(samples_per_patch=4, num_bands=2),
        "label": LabelAdapter(num_classes=3),
        "text": TextAdapter(vocabulary_size=16, max_sequence_length=4, embedding_dim=5),
    })
    good = {"audio": np.zeros((2, 16, 1), "float32"), "label": np.zeros((2, 3), "float32"),
            "text": {"token_ids": np.ones((2, 4), "int32"),
                     "padding_mask": np.ones((2, 4), bool)}}
    assert adapter(good)["features"].shape[0] == 2
    for modality, value in [("label", np.zeros((3, 3), "float32")),
                            ("text", {"token_ids": np.ones((3, 4), "int32"),
                                      "padding_mask": np.ones((3, 4), bool)})]:
        with pytest.raises(ValueError, match="must have the same batch size"):
            adapter({**good, modality: value})


def test_image_adapter_is_an_adapter():
    """The kerasmm adapters themselves still pass."""
    kwargs = dict(num_latents=4, latent_dim=8, num_self_attends_per_block=1,
                  num_cross_attention_heads=1, num_self_attention_heads=1)
    model = PerceiverIO(ImageAdapter((8, 8, 3), num_bands=2), ClassificationDecoder(3),
                        **kwargs)
    assert model(np.zeros((2, 8, 8, 3), "float32")).shape == (2, 3)
