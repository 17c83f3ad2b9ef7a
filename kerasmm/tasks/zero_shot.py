"""Zero-shot image classification with a CLIP model and prompt ensembles."""

import keras
import numpy as np
from keras import ops

from kerasmm.models.clip.clip_utils import l2_normalize
from kerasmm.tasks.task_utils import encode_in_batches
from kerasmm.tasks.task_utils import is_dataset
from kerasmm.tasks.task_utils import is_empty
from kerasmm.tasks.task_utils import text_batches
from kerasmm.tasks.task_utils import to_numpy
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_strings

_ACTIVATIONS = ("softmax", "sigmoid", None)


@keras.saving.register_keras_serializable(package="kerasmm")
class ZeroShotClassifier(keras.Model):
    """Classifies images among class names given as text, with a CLIP model.

    As in the CLIP paper (and open_clip's `build_zero_shot_classifier`),
    each class name is written into every template ("a photo of a {}."),
    the prompts are encoded and L2-normalised, averaged per class and
    normalised again. An image's logits are the CLIP logits between its
    embedding and these class embeddings
    (`clip.logits_from_embeddings`: `exp(logit_scale)` clamped at 100, plus
    `logit_bias` for SigLIP models); the output applies `activation`.

    The class embeddings are computed on construction and kept in the
    non-trainable weight `class_embeddings`; call
    `update_class_embeddings()` after changing the CLIP weights.

    `predict(images)` (Keras' batched loop) and `__call__` return class
    probabilities (or logits with `activation=None`), `classify` the class
    indices and `evaluate` top-1 (and top-5) accuracy.

    Args:
        clip: a `kerasmm.models.CLIP`.
        tokenizer: callable mapping a list of strings to token ids (or a
            `{"token_ids", ...}` dict), e.g.
            `kerasmm.preprocessing.CLIPTokenizer`. Saving the classifier
            needs a serializable Keras tokenizer.
        class_names: list of class names.
        templates: list of prompt templates, each with one `{}`.
        activation: `"softmax"`, `"sigmoid"` (SigLIP) or `None` (logits).
        batch_size: int, prompts per batch when encoding the classes, and
            the default batch size of `classify` / `evaluate`.

    Call arguments:
        images: float `(batch, H, W, C)`, preprocessed for `clip`.

    Returns:
        float32 `(batch, num_classes)`.

    Example:
    >>> tokenizer = kerasmm.datasets.shapes_tokenizer()
    >>> clip = kerasmm.models.CLIP(
    ...     kerasmm.models.VisionTransformer(image_size=32, patch_size=8,
    ...         hidden_dim=16, num_layers=1, num_heads=2, output_dim=8),
    ...     kerasmm.models.TextTransformer(
    ...         vocabulary_size=tokenizer.vocabulary_size(),
    ...         context_length=tokenizer.sequence_length, hidden_dim=16,
    ...         num_layers=1, num_heads=2, output_dim=8))
    >>> classifier = kerasmm.tasks.ZeroShotClassifier(
    ...     clip, tokenizer, class_names=["red circle", "blue square"],
    ...     templates=["a photo of a {}.", "a drawing of a {}."])
    >>> images = np.zeros((3, 32, 32, 3), "float32")
    >>> classifier.predict(images, verbose=0).shape
    (3, 2)
    >>> classifier.classify(images).shape
    (3,)
    >>> sorted(classifier.evaluate(images, labels=[0, 1, 0]))
    ['top1_accuracy']

    Reference:
        Radford et al., "Learning Transferable Visual Models From Natural
        Language Supervision", 2021, section 3.1.4 (prompt ensembling).
    """

    def __init__(self, clip, tokenizer, class_names,
                 templates=("a photo of a {}.",), activation="softmax",
                 batch_size=32, **kwargs):
        super().__init__(**kwargs)
        for method in ("encode_image", "encode_text", "logits_from_embeddings"):
            if not hasattr(clip, method):
                raise TypeError(
                    f"clip must be a kerasmm.models.CLIP (it has no {method}). "
                    f"Received: clip of type {type(clip).__name__}"
                )
        if not callable(tokenizer):
            raise TypeError(
                "tokenizer must be callable on a list of strings. Received: "
                f"tokenizer of type {type(tokenizer).__name__}"
            )
        check_strings("class_names", class_names)
        check_strings("templates", templates, placeholder=True)
        check_choice("activation", activation, _ACTIVATIONS)
        batch_size = check_positive_int("batch_size", batch_size)
        self.clip = clip
        self.tokenizer = tokenizer
        self.class_names = list(class_names)
        self.templates = list(templates)
        self.activation = activation
        self.batch_size = batch_size
        self.class_embeddings = self.add_weight(
            shape=(len(self.class_names), clip.output_dim), initializer="zeros",
            trainable=False, autocast=False, name="class_embeddings")
        self.built = True
        self.update_class_embeddings()

    def prompts(self):
        """All prompts, class-major: `[t.format(c) for c in classes for t in templates]`."""
        return [t.format(c) for c in self.class_names for t in self.templates]

    def update_class_embeddings(self):
        """Re-encodes the prompts (in batches) and stores the class embeddings."""
        prompts = self.prompts()
        embeddings = encode_in_batches(
            self.clip.encode_text, text_batches(prompts, self.tokenizer, self.batch_size),
            self.batch_size, self.clip.output_dim, len(prompts))
        embeddings = embeddings.reshape(len(self.class_names), len(self.templates), -1)
        # Each prompt embedding is already unit-norm; average, then renormalise.
        self.class_embeddings.assign(l2_normalize(ops.mean(embeddings, axis=1)))

    def call(self, images, training=False):
        logits = self.clip.logits_from_embeddings(
            self.clip.encode_image(images, training=False),
            ops.convert_to_tensor(self.class_embeddings))
        if self.activation == "softmax":
            return ops.softmax(logits, axis=-1)
        if self.activation == "sigmoid":
            return ops.sigmoid(logits)
        return logits

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Keras' `predict`; no images (an empty array, or a dataset known
        to be empty) give an empty `(0, num_classes)` result."""
        if is_empty(x):
            return np.zeros((0, len(self.class_names)), "float32")
        return super().predict(x, batch_size=batch_size, verbose=verbose, steps=steps,
                               callbacks=callbacks)

    def classify(self, images, batch_size=None):
        """Index of the best class for each image, int `(num_images,)`."""
        scores = self.predict(images, batch_size=batch_size or self.batch_size,
                              verbose=0)
        return np.argmax(scores, axis=-1)

    def evaluate(self, images, labels=None, batch_size=None):
        """Top-1 (and, with more than 5 classes, top-5) accuracy.

        An image counts as correct at `k` when fewer than `k` classes score
        strictly higher than its label (ties count in its favour).

        Args:
            images: float array `(N, H, W, C)` with `labels`, or a
                `tf.data.Dataset` yielding `(images, labels)` batches.
            labels: int `(N,)` class indices, or `None` for a dataset.
            batch_size: images per batch for arrays; default `batch_size`.

        Returns:
            dict `{"top1_accuracy": float[, "top5_accuracy": float]}`.
        """
        if labels is None:
            if not is_dataset(images):
                raise ValueError(
                    "Pass labels with an image array, or a tf.data.Dataset "
                    "yielding (images, labels). Received: labels=None and "
                    f"images of type {type(images).__name__}"
                )
            scores, targets = [], []
            for batch, batch_labels in images:
                scores.append(to_numpy(self.predict_on_batch(np.asarray(batch))))
                targets.append(np.asarray(batch_labels).reshape(-1))
            if not scores:
                raise ValueError("evaluate needs at least one image. Received: a "
                                 "dataset that yielded no batches")
            scores, labels = np.concatenate(scores), np.concatenate(targets)
        else:
            labels = np.asarray(labels).reshape(-1)
            scores = self.predict(images, batch_size=batch_size or self.batch_size,
                                  verbose=0)
        if not len(scores):
            raise ValueError("evaluate needs at least one image: accuracy over no "
                             "images is undefined. Received: 0 images")
        num_classes = len(self.class_names)
        if len(labels) != len(scores) or labels.dtype.kind not in "iu" or (
                len(labels) and (labels.min() < 0 or labels.max() >= num_classes)):
            raise ValueError(
                f"labels must be {len(scores)} ints in [0, {num_classes}). "
                f"Received: labels with shape {labels.shape}, dtype {labels.dtype}"
            )
        own = scores[np.arange(len(labels)), labels]
        rank = np.sum(scores > own[:, None], axis=1)
        results = {"top1_accuracy": float(np.mean(rank < 1))}
        if num_classes > 5:
            results["top5_accuracy"] = float(np.mean(rank < 5))
        return results

    def get_config(self):
        config = super().get_config()
        config.update({
            "clip": keras.saving.serialize_keras_object(self.clip),
            "tokenizer": keras.saving.serialize_keras_object(self.tokenizer),
            "class_names": list(self.class_names),
            "templates": list(self.templates),
            "activation": self.activation,
            "batch_size": self.batch_size,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("clip", "tokenizer"):
            if isinstance(config[key], dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
