import math

import keras
import numpy as np
import pytest

from kerasmm.tasks import ZeroShotClassifier
from tests.tasks.tiny_clip import make_clip, make_images, make_tokenizer
from tests.test_case import TestCase, to_numpy

CLASSES = ["red circle", "blue square", "green triangle"]
TEMPLATES = ["a photo of a {}.", "a drawing of a {}.", "{}"]


@pytest.fixture(scope="module")
def tokenizer():
    return make_tokenizer()


@pytest.fixture(scope="module")
def clip(tokenizer):
    return make_clip(tokenizer.vocabulary_size())


def np_normalize(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def np_class_embeddings(clip, tokenizer, classes, templates):
    """Each prompt encoded on its own, averaged per class, renormalised."""
    per_class = []
    for name in classes:
        prompts = [template.format(name) for template in templates]
        embeddings = [to_numpy(clip.encode_text(np.asarray(tokenizer([p]))))[0]
                      for p in prompts]
        embeddings = np_normalize(np.asarray(embeddings, "float64"))
        per_class.append(np_normalize(embeddings.mean(axis=0)))
    return np.stack(per_class)


def np_logits(clip, images, class_embeddings):
    image = np_normalize(to_numpy(clip.vision_encoder(images)).astype("float64"))
    scale = min(math.exp(float(to_numpy(clip.logit_scale))), 100.0)
    logits = scale * image @ class_embeddings.T
    if clip.logit_bias is not None:
        logits = logits + float(to_numpy(clip.logit_bias))
    return logits


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


class TestZeroShotClassifier(TestCase):
    def test_prompt_averaging(self, clip, tokenizer):
        # batch_size 4 over 9 prompts: three batches, the last one short.
        classifier = ZeroShotClassifier(clip, tokenizer, CLASSES, TEMPLATES, batch_size=4)
        assert classifier.prompts()[:4] == ["a photo of a red circle.",
                                            "a drawing of a red circle.", "red circle",
                                            "a photo of a blue square."]
        expected = np_class_embeddings(clip, tokenizer, CLASSES, TEMPLATES)
        np.testing.assert_allclose(to_numpy(classifier.class_embeddings), expected,
                                   atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(expected, axis=1), 1.0, atol=1e-6)

    def test_probabilities_logits_and_classes(self, clip, tokenizer):
        classifier = ZeroShotClassifier(clip, tokenizer, CLASSES, TEMPLATES)
        images = make_images(5)
        logits = np_logits(clip, images, np_class_embeddings(clip, tokenizer, CLASSES,
                                                             TEMPLATES))
        probabilities = classifier.predict(images, batch_size=2, verbose=0)
        np.testing.assert_allclose(probabilities, np_softmax(logits), atol=1e-5)
        np.testing.assert_allclose(to_numpy(classifier(images)), np_softmax(logits),
                                   atol=1e-5)
        assert classifier.classify(images, batch_size=3).tolist() == np.argmax(
            logits, axis=1).tolist()
        raw = ZeroShotClassifier(clip, tokenizer, CLASSES, TEMPLATES, activation=None)
        np.testing.assert_allclose(to_numpy(raw(images)), logits, rtol=1e-4, atol=1e-4)

    def test_siglip_sigmoid(self, tokenizer):
        clip = make_clip(tokenizer.vocabulary_size(), logit_scale_init=math.log(10.0),
                         logit_bias_init=-2.0)
        classifier = ZeroShotClassifier(clip, tokenizer, CLASSES, ["a {}"],
                                        activation="sigmoid")
        images = make_images(3)
        logits = np_logits(clip, images, np_class_embeddings(clip, tokenizer, CLASSES,
                                                             ["a {}"]))
        np.testing.assert_allclose(to_numpy(classifier(images)), 1 / (1 + np.exp(-logits)),
                                   atol=1e-5)

    def test_evaluate_top1_and_top5(self, clip, tokenizer):
        classes = [f"{c} {s}" for c in ("red", "blue") for s in ("circle", "square", "star",
                                                                "cross")]
        classifier = ZeroShotClassifier(clip, tokenizer, classes, ["a {}"],
                                        activation=None)
        images = make_images(12)
        labels = np.random.default_rng(3).integers(0, len(classes), 12)
        logits = np_logits(clip, images, np_class_embeddings(clip, tokenizer, classes,
                                                             ["a {}"]))
        order = np.argsort(-logits, axis=1)
        expected = {"top1_accuracy": np.mean(order[:, 0] == labels),
                    "top5_accuracy": np.mean([l in o[:5] for l, o in zip(labels, order)])}
        assert 0 < expected["top1_accuracy"] < expected["top5_accuracy"] < 1
        results = classifier.evaluate(images, labels, batch_size=5)
        assert results == pytest.approx(expected)
        import tensorflow as tf
        data = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
        assert classifier.evaluate(data) == pytest.approx(expected)
        few = ZeroShotClassifier(clip, tokenizer, CLASSES, ["a {}"])
        assert sorted(few.evaluate(images[:3], [0, 1, 2])) == ["top1_accuracy"]

    def test_update_class_embeddings(self, tokenizer):
        clip = make_clip(tokenizer.vocabulary_size(), seed=1)
        classifier = ZeroShotClassifier(clip, tokenizer, CLASSES, TEMPLATES)
        before = to_numpy(classifier.class_embeddings).copy()
        clip.text_encoder.projection.kernel.assign(
            np.random.default_rng(5).normal(size=(16, 8)).astype("float32"))
        classifier.update_class_embeddings()
        expected = np_class_embeddings(clip, tokenizer, CLASSES, TEMPLATES)
        assert not np.allclose(before, expected, atol=1e-3)
        np.testing.assert_allclose(to_numpy(classifier.class_embeddings), expected,
                                   atol=1e-5)

    def test_keras_round_trip(self, clip, tokenizer):
        classifier = ZeroShotClassifier(clip, tokenizer, CLASSES, TEMPLATES)
        restored = self.check_keras_round_trip(classifier, make_images(3), atol=1e-6)
        assert restored.class_names == CLASSES and restored.templates == TEMPLATES
        np.testing.assert_allclose(to_numpy(restored.class_embeddings),
                                   to_numpy(classifier.class_embeddings), atol=1e-7)

    @pytest.mark.parametrize("kwargs, message", [
        ({"templates": ["a photo of a cat"]}, r"templates.*'\{\}'.*'a photo of a cat'"),
        ({"templates": "a {}"}, r"templates must be a non-empty list"),
        ({"class_names": []}, r"class_names must be a non-empty list of strings\. "
                              r"Received: class_names=\[\]"),
        ({"activation": "relu"}, r"activation='relu'"),
        ({"batch_size": 0}, r"batch_size=0"),
    ])
    def test_bad_arguments(self, clip, tokenizer, kwargs, message):
        arguments = {"class_names": CLASSES, "templates": TEMPLATES, **kwargs}
        with pytest.raises(ValueError, match=message):
            ZeroShotClassifier(clip, tokenizer, **arguments)

    def test_bad_labels(self, clip, tokenizer):
        classifier = ZeroShotClassifier(clip, tokenizer, CLASSES)
        with pytest.raises(ValueError, match=r"labels must be 2 ints in \[0, 3\)"):
            classifier.evaluate(make_images(2), [0, 3])
        with pytest.raises(ValueError, match="Pass labels with an image array"):
            classifier.evaluate(make_images(2))
        with pytest.raises(TypeError, match="clip must be a kerasmm.models.CLIP"):
            ZeroShotClassifier(keras.layers.Dense(2), tokenizer, CLASSES)
