"""Three small Perceiver IO jobs that train with `compile` / `fit` on a CPU.

Each function builds a `kerasmm.models.PerceiverIO`, trains it on one of the
embedded synthetic datasets and returns a dict of measured numbers
(accuracies, losses, wall and CPU seconds), so notebooks, tests and the
README quote the same runs.

- `train_image_classifier`: the kind of shape (5 classes: circle, square,
  triangle, diamond, cross) in single-shape images of the shapes dataset,
  trained on the "train" split and scored on the held-out "validation"
  split (chance 0.2). Colour is not part of the label: it is read from a
  single pixel, while telling a circle from a diamond at 32x32 needs the
  model to look at the shape. The adapter uses the conv stem of the
  conv-Perceiver ("conv" preprocessing): on a CPU budget it learns several
  times faster than raw 4x4 patches (patches: 0.79 after 8 epochs; conv
  stem: 0.93 after 2).
- `train_masked_bytes`: masked byte modelling of the shapes captions
  (`masked_bytes_dataset`), loss over masked bytes only.
- `train_multimodal_autoencoder`: DeepMind's multimodal autoencoder in
  miniature on `av_dataset`: video, audio and a label go in (the label
  masked out, as in the paper), all three are reconstructed.

`small=True` shrinks data and steps for tests and notebooks in small mode.
"""

import resource
import time

import keras
import numpy as np
import tensorflow as tf

from kerasmm.datasets import SHAPES
from kerasmm.datasets import av_dataset
from kerasmm.datasets import generate_av
from kerasmm.datasets import generate_shapes
from kerasmm.datasets import masked_bytes_dataset
from kerasmm.layers import AudioAdapter
from kerasmm.layers import BasicDecoder
from kerasmm.layers import ClassificationDecoder
from kerasmm.layers import ImageAdapter
from kerasmm.layers import LabelAdapter
from kerasmm.layers import MaskedLMDecoder
from kerasmm.layers import MultimodalAdapter
from kerasmm.layers import MultimodalDecoder
from kerasmm.layers import TextAdapter
from kerasmm.layers import VideoAdapter
from kerasmm.models import PerceiverIO


class _Clock:
    """Wall and CPU (user + system, this process) seconds of a block."""

    def __enter__(self):
        self._wall = time.perf_counter()
        self._cpu = resource.getrusage(resource.RUSAGE_SELF)
        return self

    def __exit__(self, *exc):
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        self.wall_seconds = time.perf_counter() - self._wall
        self.user_cpu_seconds = cpu.ru_utime - self._cpu.ru_utime
        self.system_cpu_seconds = cpu.ru_stime - self._cpu.ru_stime


def _timings(clock):
    return {"train_seconds": clock.wall_seconds,
            "user_cpu_seconds": clock.user_cpu_seconds,
            "system_cpu_seconds": clock.system_cpu_seconds}


# === Image classification ===

def single_shape_images(split, num_examples, image_size=32, seed=0):
    """Single-shape images of a shapes split and their shape-kind labels.

    Draws `num_examples` scenes of `split` (about half hold one shape) and
    keeps the single-shape ones.

    Returns:
        `(images, labels)`: float32 `(n, S, S, 3)` in [0, 1] and int32 shape
        indices into `kerasmm.datasets.SHAPES`.
    """
    data = generate_shapes(split, num_examples, image_size=image_size, seed=seed)
    keep = data["num_shapes"] == 1
    return (data["images"][keep].astype("float32") / 255.0,
            data["shapes"][keep, 0].astype("int32"))


def build_image_classifier(image_size=32, num_classes=len(SHAPES), num_latents=32,
                           latent_dim=64, num_self_attends_per_block=2,
                           preprocessing="conv", patch_size=4, out_channels=32,
                           num_bands=8):
    """A small `PerceiverIO(ImageAdapter, ClassificationDecoder)`.

    `preprocessing="conv"` (the conv-stem Perceiver: 7x7 stride-2 conv and
    max-pool, a 7x7 grid for 32x32 images) or `"patches"` (`patch_size`
    blocks of raw pixels).
    """
    adapter = ImageAdapter((image_size, image_size, 3), preprocessing=preprocessing,
                           spatial_downsample=patch_size if preprocessing == "patches" else 1,
                           out_channels=out_channels, num_bands=num_bands)
    return PerceiverIO(
        adapter, ClassificationDecoder(num_classes), num_latents=num_latents,
        latent_dim=latent_dim, num_blocks=1,
        num_self_attends_per_block=num_self_attends_per_block,
        num_cross_attention_heads=1, num_self_attention_heads=4)


def train_image_classifier(small=False, image_size=32, epochs=None, batch_size=64,
                           learning_rate=2e-3, seed=0, verbose=0, **model_kwargs):
    """Trains a Perceiver IO to name the shape in single-shape images.

    Args:
        small: about 1500 training images, batches of 32, 2 epochs (a smoke
            run); otherwise about 5000 training images for `epochs` epochs.
        image_size: image side (>= 16; shapes are hard to tell apart below 32).
        epochs: epochs of `fit`; defaults to 2 (small) or 6.
        batch_size, learning_rate: Adam on `sparse_categorical_crossentropy`
            (`batch_size` is 32 in small mode).
        seed: seeds Keras and the data.
        verbose: passed to `fit`.

    Returns:
        dict: `val_accuracy` (held-out "validation" split, chance 0.2),
        `train_accuracy` (last epoch), `num_train`, `num_val`, `epochs`,
        `train_seconds` (wall, `fit` only), `user_cpu_seconds`,
        `system_cpu_seconds`, `history` (per-epoch logs) and `model`.
    """
    keras.utils.set_random_seed(seed)
    epochs = epochs or (2 if small else 6)
    x_train, y_train = single_shape_images(
        "train", 3000 if small else 10000, image_size, seed)
    x_val, y_val = single_shape_images("validation", 400 if small else 2000, image_size, seed)
    batch_size = 32 if small else batch_size
    model = build_image_classifier(image_size, **model_kwargs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    with _Clock() as clock:
        history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs,
                            validation_data=(x_val, y_val), verbose=verbose)
    return {"val_accuracy": history.history["val_accuracy"][-1],
            "train_accuracy": history.history["accuracy"][-1],
            "num_train": len(x_train), "num_val": len(x_val), "epochs": epochs,
            **_timings(clock), "history": history.history, "model": model}


# === Masked byte modelling ===

def build_masked_byte_model(sequence_length=64, embedding_dim=64, num_latents=32,
                            latent_dim=64, num_self_attends_per_block=2):
    """A small `PerceiverIO(TextAdapter, MaskedLMDecoder)` with tied embeddings."""
    return PerceiverIO(
        TextAdapter(max_sequence_length=sequence_length, embedding_dim=embedding_dim),
        MaskedLMDecoder(max_sequence_length=sequence_length, num_heads=4),
        num_latents=num_latents, latent_dim=latent_dim, num_blocks=1,
        num_self_attends_per_block=num_self_attends_per_block,
        num_cross_attention_heads=4, num_self_attention_heads=4)


def train_masked_bytes(small=False, steps=None, sequence_length=64, batch_size=32,
                       learning_rate=1e-3, seed=0, verbose=0):
    """Masked byte modelling of the shapes captions for `steps` steps.

    The loss is the cross-entropy over masked bytes only (the dataset's
    sample weights), with Keras's default reduction: summed over masked
    bytes and divided by all `batch_size * sequence_length` positions (so
    it is several times smaller than the per-masked-byte cross-entropy).
    `masked_accuracy` is the fraction of masked bytes predicted exactly
    (chance about 1/262).

    Args:
        small: 30 steps on 32-byte texts; otherwise `steps` (default 100)
            on `sequence_length`-byte texts.
        steps: training steps (a multiple of 10).
        sequence_length, batch_size, learning_rate: the run.
        seed: seeds Keras, the corpus and the masking.
        verbose: passed to `fit`.

    Returns:
        dict: `losses` (mean training loss of each block of 10 steps),
        `first_loss` / `last_loss` (first and last of them),
        `masked_accuracy` (last 10 steps), `heldout_loss_before` /
        `heldout_loss_after` and `heldout_masked_accuracy` (on captions and
        masks drawn with another seed), `steps`, timings and `model`.
    """
    keras.utils.set_random_seed(seed)
    steps = steps or (30 if small else 100)
    if steps % 10:
        raise ValueError(f"steps must be a multiple of 10. Received: steps={steps}")
    length = 32 if small else sequence_length
    ds = masked_bytes_dataset(batch_size=batch_size, sequence_length=length,
                              num_examples=512 if small else 2048, seed=seed)
    heldout = masked_bytes_dataset(batch_size=batch_size, sequence_length=length,
                                   num_examples=4 * batch_size, shuffle=False,
                                   seed=seed + 1)
    model = build_masked_byte_model(length)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(
                      name="masked_accuracy")])
    before = model.evaluate(heldout, verbose=0, return_dict=True)
    with _Clock() as clock:
        history = model.fit(ds.repeat(), steps_per_epoch=10, epochs=steps // 10,
                            verbose=verbose)
    after = model.evaluate(heldout, verbose=0, return_dict=True)
    losses = history.history["loss"]
    return {"losses": losses, "first_loss": losses[0], "last_loss": losses[-1],
            "masked_accuracy": history.history["masked_accuracy"][-1],
            "heldout_loss_before": before["loss"], "heldout_loss_after": after["loss"],
            "heldout_masked_accuracy": after["masked_accuracy"], "steps": steps,
            **_timings(clock), "model": model}


# === Multimodal autoencoding ===

def build_multimodal_autoencoder(num_frames=4, image_size=16, audio_samples=256,
                                 num_classes=6, samples_per_patch=16, num_latents=32,
                                 latent_dim=64, num_self_attends_per_block=2):
    """A miniature of DeepMind's multimodal autoencoder.

    Video (4x4 space patches), audio (`samples_per_patch` patches) and the
    one-hot label go in; the label is replaced by a trainable mask token
    (`mask_probs={"label": 1.0}`, as the paper, so the label must be
    inferred from video and audio). A `MultimodalDecoder` decodes every
    pixel, every audio patch and the label logits.
    """
    adapter = MultimodalAdapter({
        "video": VideoAdapter((num_frames, image_size, image_size, 3),
                              spatial_downsample=4, num_bands=4),
        "audio": AudioAdapter(samples_per_patch=samples_per_patch, num_bands=8),
        "label": LabelAdapter(num_classes)}, mask_probs={"label": 1.0})
    decoder = MultimodalDecoder({
        "video": BasicDecoder(3, output_index_dims=(num_frames, image_size, image_size),
                              position_encoding="fourier", num_bands=4),
        "audio": BasicDecoder(samples_per_patch,
                              output_index_dims=audio_samples // samples_per_patch,
                              position_encoding="fourier", num_bands=8,
                              output_shape=(audio_samples, 1)),
        "label": ClassificationDecoder(num_classes, query_dim=16)},
        output_num_channels=64, num_heads=1)
    return PerceiverIO(adapter, decoder, num_latents=num_latents, latent_dim=latent_dim,
                       num_blocks=1, num_self_attends_per_block=num_self_attends_per_block,
                       num_cross_attention_heads=1, num_self_attention_heads=4)


def _autoencoding_pairs(ds):
    return ds.map(lambda x: (x, x))


def train_multimodal_autoencoder(small=False, epochs=None, batch_size=16,
                                 learning_rate=2e-3, seed=0, verbose=0):
    """Trains the multimodal autoencoder on `av_dataset` (one-hot labels).

    Loss: mean squared error of video and of audio, plus the label's
    cross-entropy weighted 0.1. Reported reconstruction losses are
    evaluated on a held-out set (another seed) before and after training.

    Args:
        small: 64 clips, 2 epochs; otherwise 512 clips, `epochs` (default 6).
        epochs, batch_size, learning_rate: the run.
        seed: seeds Keras and the data.
        verbose: passed to `fit`.

    Returns:
        dict: `video_mse_before`/`_after`, `audio_mse_before`/`_after`,
        `label_accuracy` (held out, chance 1/6), `losses` (training loss
        per epoch), `epochs`, timings, `model` and `heldout` (a numpy batch
        of held-out inputs, for plots).
    """
    keras.utils.set_random_seed(seed)
    epochs = epochs or (2 if small else 6)
    num_examples = 64 if small else 512
    ds = _autoencoding_pairs(av_dataset(batch_size, num_examples, one_hot=True, seed=seed))
    heldout = generate_av(64, seed=seed + 1)
    heldout["label"] = np.eye(6, dtype="float32")[heldout["label"]]
    model = build_multimodal_autoencoder()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss={"video": "mse", "audio": "mse",
              "label": keras.losses.CategoricalCrossentropy(from_logits=True)},
        loss_weights={"video": 1.0, "audio": 1.0, "label": 0.1},
        metrics={"label": ["accuracy"]})

    def evaluate():
        out = model.predict(heldout, batch_size=batch_size, verbose=0)
        return {"video_mse": float(np.mean((out["video"] - heldout["video"]) ** 2)),
                "audio_mse": float(np.mean((out["audio"] - heldout["audio"]) ** 2)),
                "label_accuracy": float(np.mean(
                    out["label"].argmax(-1) == heldout["label"].argmax(-1)))}

    before = evaluate()
    with _Clock() as clock:
        history = model.fit(ds, epochs=epochs, verbose=verbose)
    after = evaluate()
    return {"video_mse_before": before["video_mse"], "video_mse_after": after["video_mse"],
            "audio_mse_before": before["audio_mse"], "audio_mse_after": after["audio_mse"],
            "label_accuracy": after["label_accuracy"], "losses": history.history["loss"],
            "epochs": epochs, **_timings(clock), "model": model, "heldout": heldout}
