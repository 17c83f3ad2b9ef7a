"""The CLIP demo's model, data and training (`fit` with `CLIPLoss`).

Why a CNN: on 32x32 images of coloured shapes a small CNN learns colour and
form in about 600 steps, a few minutes on two CPU cores (the target of
`kerasmm demo`). Any Keras image model can be CLIP's vision tower; this one
is `kerasmm.models.build_conv_encoder`, standard Keras layers only.
"""

import time

import keras

from kerasmm import datasets
from kerasmm.losses import CLIPLoss
from kerasmm.models import CLIP
from kerasmm.models import TextTransformer
from kerasmm.models import build_conv_encoder


def build_demo_clip(config):
    """The demo's CLIP: `build_conv_encoder` and a tiny `TextTransformer`.

    `keras.utils.set_random_seed(config.seed)` runs first, so the initial
    weights are reproducible. The text tower reads `shapes_tokenizer()` ids
    (context `SHAPES_SEQUENCE_LENGTH`); both towers end at
    `config.embedding_dim`.

    Args:
        config: a `ClipDemoConfig`.
    """
    keras.utils.set_random_seed(config.seed)
    vision = build_conv_encoder(config.image_size, config.conv_widths, config.embedding_dim,
                                config.color_width)
    text = TextTransformer(
        vocabulary_size=datasets.shapes_tokenizer().vocabulary_size(),
        context_length=datasets.SHAPES_SEQUENCE_LENGTH, hidden_dim=config.text_hidden_dim,
        num_layers=config.text_num_layers, num_heads=config.text_num_heads,
        output_dim=config.embedding_dim, name="text_encoder")
    return CLIP(vision, text, logit_scale_init=config.logit_scale_init, name="shapes_clip")


def demo_train_dataset(config):
    """Shuffled `{"images", "token_ids"}` batches of the shapes train split.

    An epoch is one pass over the first `config.steps_per_epoch *
    config.batch_size` examples (all 20k at most; beyond that the split
    repeats). Shuffling is seeded by `config.seed`.

    Returns:
        `(dataset, steps)`: pass both to `fit` (`steps` is `None` when an
        epoch is exactly one pass over the dataset).
    """
    needed = config.steps_per_epoch * config.batch_size
    num_examples = min(needed, datasets.SPLIT_SIZES["train"])
    dataset = datasets.shapes_dataset("train", batch_size=config.batch_size,
                                      image_size=config.image_size, seed=config.seed,
                                      num_examples=num_examples)
    if needed <= num_examples:
        return dataset, None
    return dataset.repeat(), config.steps_per_epoch


def train_clip(clip, dataset, config, steps_per_epoch=None, verbose="auto"):
    """`compile` with `CLIPLoss` and Adam (linear warmup, cosine decay), `fit`.

    The learning rate warms up from `config.learning_rate / 10` to
    `config.learning_rate` over `config.warmup_fraction` of the steps, then
    decays along a cosine to 5% of the peak.

    Args:
        clip: a `kerasmm.models.CLIP`.
        dataset: `tf.data.Dataset` of `{"images", "token_ids"}` batches.
        config: a `ClipDemoConfig` (`epochs`, `learning_rate`,
            `warmup_fraction`).
        steps_per_epoch: int, or `None` for one pass of `dataset` per epoch.
        verbose: `fit`'s verbosity (the Keras progress bar by default).

    Returns:
        `(history, seconds)`: the Keras `History` and the wall time of `fit`.
    """
    steps = steps_per_epoch or int(dataset.cardinality())
    total = max(config.epochs * steps, 1)
    warmup = int(config.warmup_fraction * total)
    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate / 10, decay_steps=max(total - warmup, 1), alpha=0.05,
        warmup_target=config.learning_rate, warmup_steps=warmup)
    clip.compile(optimizer=keras.optimizers.Adam(schedule), loss=CLIPLoss())
    start = time.perf_counter()
    # shuffle=False: the dataset shuffles itself (fit would only warn).
    history = clip.fit(dataset, epochs=config.epochs, steps_per_epoch=steps_per_epoch,
                       shuffle=False, verbose=verbose)
    return history, time.perf_counter() - start
