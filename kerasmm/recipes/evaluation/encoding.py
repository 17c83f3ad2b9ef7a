"""Embedding a whole evaluation set in batches, with a Keras progress bar."""

import keras
import numpy as np
from keras import tree

from kerasmm.tasks import ZeroShotClassifier
from kerasmm.tasks.task_utils import encode_in_batches
from kerasmm.tasks.task_utils import text_batches


def _with_progress(batches, progbar):
    """`batches` unchanged; the bar advances once each batch is encoded
    (when the next one is asked for)."""
    for batch in batches:
        yield batch
        progbar.add(len(tree.flatten(batch)[0]))


def _width(model):
    return getattr(model, "output_dim", 0)


def encode_images(model, batches, batch_size, total=None, verbose=1):
    """`(embeddings, extras)` of `(images, extra)` batches.

    Args:
        model: a contrastive model (`encode_image`).
        batches: iterable of `(preprocessed images, extra)`; the extras
            (labels, captions) are returned, one entry per batch.
        batch_size: the batches' size (a short last batch is padded to it,
            so the model sees one shape).
        total: number of images, for the bar and the padding; None if unknown.
        verbose: 0 silent, 1 a live bar, 2 one line at the end.

    Returns:
        float32 numpy `(num_images, dim)` and the list of extras.
    """
    extras = []

    def images():
        for batch, extra in batches:
            extras.append(extra)
            yield np.asarray(batch)

    bar = keras.utils.Progbar(total, verbose=verbose, unit_name="image")
    embeddings = encode_in_batches(model.encode_image, _with_progress(images(), bar),
                                   batch_size, _width(model), total)
    return embeddings, extras


def encode_texts(model, texts, tokenize, batch_size, verbose=1):
    """float32 numpy `(len(texts), dim)`: `texts` tokenized by `tokenize` and
    encoded in batches, with a progress bar."""
    bar = keras.utils.Progbar(len(texts), verbose=verbose, unit_name="text")
    batches = _with_progress(text_batches(list(texts), tokenize, batch_size), bar)
    return encode_in_batches(model.encode_text, batches, batch_size, _width(model),
                             len(texts))


def class_embeddings(model, tokenize, class_names, templates, batch_size, verbose=1):
    """The zero-shot classifier's class embeddings `(num_classes, dim)`.

    Those of `kerasmm.tasks.ZeroShotClassifier` (each class name in every
    template, encoded, averaged, L2-normalised), with a progress bar over
    the prompts.
    """
    bar = keras.utils.Progbar(len(class_names) * len(templates), verbose=verbose,
                              unit_name="prompt")

    def counted(prompts):
        bar.add(len(prompts))
        return tokenize(prompts)

    classifier = ZeroShotClassifier(model, counted, list(class_names), list(templates),
                                    activation=None, batch_size=batch_size)
    return np.asarray(keras.ops.convert_to_numpy(classifier.class_embeddings))


def prompt_tokenizer(preprocessor):
    """The function tokenizing a list of strings with a family preprocessor."""
    return lambda texts: preprocessor({"prompts": list(texts)})
