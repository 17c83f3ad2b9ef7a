"""A CLAP trained on the embedded sounds set: build, train with `fit`, measure.

`tools/train_clap_sounds.py` is its command line. The measures, on clips
the model never saw:

- retrieval, audio->text and text->audio Recall@1: galleries of
  `len(SOUND_CLASSES)` clips, one of each class (so each caption has one
  right clip), each clip with its own generated caption; averaged over
  `num_per_class` galleries. Chance is `1 / len(SOUND_CLASSES)`. The
  `_held_out` figures count only the queries whose clip is a held-out
  pitch x kind combination (never in "train"), still searching the whole
  gallery.
- zero-shot classification among the `SOUND_CLASSES` prompts
  (`SOUND_TEMPLATES` ensembled) with `kerasmm.tasks.ZeroShotClassifier`,
  overall, on seen classes and on held-out ones.
"""

import keras
import numpy as np

from kerasmm.datasets import sounds
from kerasmm.models import CLAP
from kerasmm.models import CLAPAudioEncoder
from kerasmm.models import TextTransformer
from kerasmm.tasks import Retriever
from kerasmm.tasks import ZeroShotClassifier
from kerasmm.utils.checks import check_positive_int


def build_sounds_clap(tokenizer=None, embed_dim=64, seed=0):
    """A small CLAP for the sounds set: `CLAPAudioEncoder` and a 1-layer text tower.

    Example:

    >>> clap = build_sounds_clap()
    >>> clap.output_dim
    64
    """
    tokenizer = tokenizer or sounds.sounds_tokenizer()
    keras.utils.set_random_seed(seed)
    return CLAP(
        CLAPAudioEncoder(num_mel_bins=32, conv_widths=(16, 32, 32), output_dim=embed_dim),
        TextTransformer(vocabulary_size=tokenizer.vocabulary_size(),
                        context_length=tokenizer.sequence_length, hidden_dim=64,
                        num_layers=1, num_heads=2, output_dim=embed_dim),
    )


def evaluate_sounds_clap(clap, tokenizer=None, num_per_class=10, seed=0):
    """Retrieval both ways and zero-shot accuracy on unseen clips (module docstring).

    Returns:
        dict of floats: `a2t_recall@1`, `t2a_recall@1` (and `_held_out`),
        `retrieval_chance`, `zero_shot_accuracy` (and `_seen`,
        `_held_out`), `zero_shot_chance`.
    """
    tokenizer = tokenizer or sounds.sounds_tokenizer()
    num_per_class = check_positive_int("num_per_class", num_per_class)
    data = sounds.zero_shot_sounds(num_per_class, seed=seed)
    retriever = Retriever(clap, tokenizer, batch_size=90)
    audio = retriever.encode_images(data["audio"])
    texts = retriever.encode_texts(list(data["captions"]))
    num_classes = len(sounds.SOUND_CLASSES)
    held = np.isin(np.arange(num_classes), sounds.HELD_OUT_CLASS_IDS)
    results = {"a2t_recall@1": [], "t2a_recall@1": [], "a2t_recall@1_held_out": [],
               "t2a_recall@1_held_out": []}
    for gallery in range(num_per_class):
        # Class-major data: clip `c * num_per_class + gallery` is of class c.
        index = np.arange(num_classes) * num_per_class + gallery
        scores = audio[index] @ texts[index].T
        hits = np.argmax(scores, axis=1) == np.arange(num_classes)
        reverse = np.argmax(scores, axis=0) == np.arange(num_classes)
        results["a2t_recall@1"].append(hits.mean())
        results["t2a_recall@1"].append(reverse.mean())
        results["a2t_recall@1_held_out"].append(hits[held].mean())
        results["t2a_recall@1_held_out"].append(reverse[held].mean())
    results = {key: float(np.mean(value)) for key, value in results.items()}
    results["retrieval_chance"] = 1.0 / num_classes

    classifier = ZeroShotClassifier(clap, tokenizer, sounds.SOUND_CLASSES,
                                    sounds.SOUND_TEMPLATES, batch_size=90)
    correct = classifier.classify(data["audio"]) == data["labels"]
    results["zero_shot_accuracy"] = float(correct.mean())
    results["zero_shot_accuracy_seen"] = float(correct[~data["held_out"]].mean())
    results["zero_shot_accuracy_held_out"] = float(correct[data["held_out"]].mean())
    results["zero_shot_chance"] = 1.0 / num_classes
    return results


def train_sounds_clap(epochs=20, num_train=4000, batch_size=64, learning_rate=2e-3,
                      seed=0, num_per_class=10, verbose=0):
    """Trains `build_sounds_clap()` with `fit` on "train", then evaluates it.

    Returns:
        `(clap, results)`: the trained model and `evaluate_sounds_clap`'s
        dict plus the final training `loss`.
    """
    tokenizer = sounds.sounds_tokenizer()
    clap = build_sounds_clap(tokenizer, seed=seed)
    clap.compile(optimizer=keras.optimizers.Adam(learning_rate))
    dataset = sounds.sounds_dataset("train", batch_size, tokenizer, seed=seed,
                                    num_examples=num_train)
    history = clap.fit(dataset, epochs=epochs, verbose=verbose)
    results = evaluate_sounds_clap(clap, tokenizer, num_per_class, seed=seed)
    results["loss"] = float(history.history["loss"][-1])
    return clap, results
