"""Adversarial modality alignment: a modality discriminator behind gradient reversal.

Features of two modalities (say, the outputs of two frozen towers) share a
label but sit apart: a modality gap (an offset per modality) and a
modality-specific distortion. A shared encoder maps both into one embedding
space, a shared head classifies the embeddings, and a modality
discriminator tries to tell which modality an embedding came from. The
discriminator sits behind `kerasmm.layers.GradientReversal`, so one
optimiser step trains it to tell the modalities apart and pushes the
encoder to make that impossible (Ganin & Lempitsky's domain-adversarial
training, with modalities as domains). Success is a discriminator at
chance (0.5) with the task still learnt; with `lambda_=0` (no reversal) the
same discriminator tells the modalities apart.

What makes the game settle rather than circle (measured on this job):
the discriminator learns `discriminator_lr_multiplier` times faster than
the encoder (two time scales, via `kerasmm.optim.scale_learning_rates`:
a near-optimal discriminator hands the encoder the gradient of a
divergence instead of a moving target), plain SGD with cosine decay, and
Ganin's ramp of `lambda` from 0. With equal rates, Adam, or one encoder
per modality, the discriminator is fooled while a fresh classifier still
separates the modalities.
"""

import dataclasses

import keras
import numpy as np

from kerasmm.layers import GradientReversal
from kerasmm.optim import WarmupCosineDecay
from kerasmm.optim import scale_learning_rates
from kerasmm.recipes.clock import Clock
from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int

MODALITIES = ("modality_a", "modality_b")


@dataclasses.dataclass(frozen=True)
class AdversarialAlignmentConfig:
    """The adversarial alignment job (a few seconds on a CPU).

    Example:

    >>> AdversarialAlignmentConfig(lambda_=0.0).lambda_
    0.0
    """

    # === Data: two views of `num_classes` latent clusters ===
    num_classes: int = 4
    latent_dim: int = 4
    feature_dim: int = 8
    modality_gap: float = 1.0  # scale of each modality's offset
    distortion: float = 0.3  # how far modality b's map is from modality a's
    latent_noise: float = 0.3
    feature_noise: float = 1.0
    num_train: int = 2048
    num_test: int = 1024

    # === Model ===
    embedding_dim: int = 8
    hidden_dim: int = 32
    lambda_: float = 1.0  # final gradient reversal scale; 0 trains no alignment

    # === Training: SGD on task + modality cross-entropy ===
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 0.03  # cosine-decayed to 0
    discriminator_lr_multiplier: float = 30.0
    seed: int = 0  # Keras and the data

    def __post_init__(self):
        for name in ("num_classes", "latent_dim", "feature_dim", "num_train", "num_test",
                     "embedding_dim", "hidden_dim", "epochs", "batch_size"):
            check_positive_int(name, getattr(self, name))
        for name in ("modality_gap", "distortion", "latent_noise", "feature_noise",
                     "lambda_"):
            check_number(name, getattr(self, name), minimum=0)
        for name in ("learning_rate", "discriminator_lr_multiplier"):
            check_number(name, getattr(self, name), minimum=0, exclusive_minimum=True)
        check_int("seed", self.seed, minimum=0)


def two_modality_data(config, num_examples, seed):
    """Paired synthetic features of both modalities and their class labels.

    A class picks a latent centre; modality a sees `latent @ W + gap_a`,
    modality b `latent @ W @ (I + distortion * R) + gap_b`, each with its
    own latent and feature noise. Centres, `W`, `R` and the gaps depend on
    `config.seed` only (one task for every split); the examples drawn
    depend on `seed`.

    Returns:
        dict: float32 `"modality_a"`, `"modality_b"` `(n, feature_dim)` and
        int32 `"labels"` `(n,)`.
    """
    task = np.random.default_rng(config.seed)
    centres = 2.0 * task.normal(size=(config.num_classes, config.latent_dim))
    shared_map = task.normal(size=(config.latent_dim, config.feature_dim))
    distortion = np.eye(config.feature_dim) + config.distortion * task.normal(
        size=(config.feature_dim, config.feature_dim)) / np.sqrt(config.feature_dim)
    maps = {"modality_a": shared_map, "modality_b": shared_map @ distortion}
    rng = np.random.default_rng([config.seed, seed])
    labels = rng.integers(0, config.num_classes, size=num_examples)
    data = {"labels": labels.astype("int32")}
    for name in MODALITIES:
        gap = config.modality_gap * task.normal(size=(config.feature_dim,))
        latent = centres[labels] + config.latent_noise * rng.normal(
            size=(num_examples, config.latent_dim))
        noise = config.feature_noise * rng.normal(size=(num_examples, config.feature_dim))
        data[name] = (latent @ maps[name] + gap + noise).astype("float32")
    return data


def build_adversarial_alignment_model(config):
    """A shared encoder, a shared task head and a reversed modality discriminator.

    Returns:
        A functional `keras.Model` from `{"modality_a", "modality_b"}` to
        `"task_a"`, `"task_b"` (class logits), `"modality_a"`,
        `"modality_b"` (discriminator logits, modality b positive) and
        `"embedding_a"`, `"embedding_b"`. The encoder's first layer is a
        `keras.layers.Normalization` to adapt on both modalities.
    """
    inputs = {name: keras.Input((config.feature_dim,), name=name) for name in MODALITIES}
    encoder = keras.Sequential([
        keras.layers.Normalization(),
        keras.layers.Dense(config.hidden_dim, activation="relu"),
        keras.layers.Dense(config.embedding_dim),
    ], name="encoder")
    head = keras.layers.Dense(config.num_classes, name="task_head")
    discriminator = keras.Sequential([
        GradientReversal(config.lambda_, name="gradient_reversal"),
        keras.layers.Dense(config.hidden_dim, activation="relu"),
        keras.layers.Dense(1),
    ], name="modality_discriminator")
    outputs = {}
    for side in ("a", "b"):
        embedding = encoder(inputs[f"modality_{side}"])
        outputs[f"embedding_{side}"] = embedding
        outputs[f"task_{side}"] = head(embedding)
        outputs[f"modality_{side}"] = discriminator(embedding)
    return keras.Model(inputs, outputs, name="adversarial_alignment")


def held_out_accuracies(model, data):
    """`(task accuracy over both modalities, discriminator accuracy)`."""
    # A direct call: `predict` would build a dataset each epoch.
    outputs = model({name: data[name] for name in MODALITIES}, training=False)
    outputs = {key: keras.ops.convert_to_numpy(value) for key, value in outputs.items()}
    task = np.mean([np.argmax(outputs[f"task_{side}"], axis=1) == data["labels"]
                    for side in ("a", "b")])
    discriminator = np.mean(np.concatenate([outputs["modality_a"][:, 0] < 0,
                                            outputs["modality_b"][:, 0] > 0]))
    return float(task), float(discriminator)


class _Schedule(keras.callbacks.Callback):
    """Ganin's `lambda` ramp at each epoch's start; held-out scores at its end."""

    def __init__(self, config, test):
        super().__init__()
        self.config, self.test = config, test
        self.task, self.discriminator = [], []

    def on_epoch_begin(self, epoch, logs=None):
        progress = epoch / self.config.epochs
        ramp = 2.0 / (1.0 + np.exp(-10.0 * progress)) - 1.0
        reversal = self.model.get_layer("modality_discriminator").get_layer(
            "gradient_reversal")
        reversal.current_lambda.assign(self.config.lambda_ * ramp)

    def on_epoch_end(self, epoch, logs=None):
        task, discriminator = held_out_accuracies(self.model, self.test)
        self.task.append(task)
        self.discriminator.append(discriminator)


def train_adversarial_alignment(config=None, verbose=0):
    """Trains the encoder, the task head and the discriminator together.

    Args:
        config: an `AdversarialAlignmentConfig` (default: the job above).
        verbose: passed to `fit`.

    Returns:
        dict: held-out `task_accuracy` (both modalities, chance
        `1 / num_classes`) and `discriminator_accuracy` (chance 0.5) after
        training, their per-epoch `task_accuracy_history` and
        `discriminator_accuracy_history`, `test` (the held-out data),
        `train_seconds`, `user_cpu_seconds`, `system_cpu_seconds` and
        `model`.
    """
    config = config or AdversarialAlignmentConfig()
    keras.utils.set_random_seed(config.seed)
    train = two_modality_data(config, config.num_train, seed=1)
    test = two_modality_data(config, config.num_test, seed=2)
    model = build_adversarial_alignment_model(config)
    model.get_layer("encoder").layers[0].adapt(
        np.concatenate([train[name] for name in MODALITIES]))
    steps = config.epochs * -(-config.num_train // config.batch_size)
    optimizer = keras.optimizers.SGD(WarmupCosineDecay(config.learning_rate, 0, steps))
    discriminator = model.get_layer("modality_discriminator")
    scale_learning_rates(optimizer, {v.path: config.discriminator_lr_multiplier
                                     for v in discriminator.trainable_variables})
    classes = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    modality = keras.losses.BinaryCrossentropy(from_logits=True)
    model.compile(optimizer=optimizer,
                  loss={"task_a": classes, "task_b": classes,
                        "modality_a": modality, "modality_b": modality,
                        "embedding_a": None, "embedding_b": None})
    y = {"task_a": train["labels"], "task_b": train["labels"],
         "modality_a": np.zeros((config.num_train, 1), "float32"),
         "modality_b": np.ones((config.num_train, 1), "float32")}
    schedule = _Schedule(config, test)
    with Clock() as clock:
        model.fit({name: train[name] for name in MODALITIES}, y,
                  batch_size=config.batch_size, epochs=config.epochs,
                  callbacks=[schedule], verbose=verbose)
    return {"task_accuracy": schedule.task[-1],
            "discriminator_accuracy": schedule.discriminator[-1],
            "task_accuracy_history": schedule.task,
            "discriminator_accuracy_history": schedule.discriminator,
            "test": test, **clock.timings(), "model": model}
