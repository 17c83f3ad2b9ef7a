"""DeepMind's multimodal autoencoder in miniature, on `av_dataset`.

Video, audio and a label go in (the label masked out, as in the paper), all
three are reconstructed.
"""

import dataclasses

import keras
import numpy as np

from kerasmm.datasets import av_dataset
from kerasmm.datasets import generate_av
from kerasmm.layers import AudioAdapter
from kerasmm.layers import BasicDecoder
from kerasmm.layers import ClassificationDecoder
from kerasmm.layers import LabelAdapter
from kerasmm.layers import MultimodalAdapter
from kerasmm.layers import MultimodalDecoder
from kerasmm.layers import VideoAdapter
from kerasmm.models import PerceiverIO
from kerasmm.recipes.clock import Clock
from kerasmm.utils.checks import check_divisible
from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int


@dataclasses.dataclass(frozen=True)
class PerceiverAutoencoderConfig:
    """The multimodal autoencoding job; `small()` is a smoke run of it.

    Example:

    >>> PerceiverAutoencoderConfig.small().num_examples
    64
    """

    # === Data (`generate_av`) ===
    num_frames: int = 4
    image_size: int = 16
    audio_samples: int = 256
    num_classes: int = 6
    num_examples: int = 512  # training clips
    num_heldout: int = 64  # clips drawn with seed + 1

    # === Model ===
    samples_per_patch: int = 16
    num_latents: int = 32
    latent_dim: int = 64
    num_self_attends_per_block: int = 2

    # === Training: video and audio MSE plus the weighted label cross-entropy ===
    epochs: int = 6
    batch_size: int = 16
    learning_rate: float = 2e-3
    label_loss_weight: float = 0.1
    seed: int = 0  # Keras and the data

    def __post_init__(self):
        for name in ("num_frames", "image_size", "audio_samples", "num_classes",
                     "num_examples", "num_heldout", "samples_per_patch", "num_latents",
                     "latent_dim", "num_self_attends_per_block", "epochs", "batch_size"):
            check_positive_int(name, getattr(self, name))
        # 4x4 space patches of the video, `samples_per_patch` patches of audio.
        check_divisible("image_size", self.image_size, "the video patch size", 4)
        check_divisible("audio_samples", self.audio_samples, "samples_per_patch",
                        self.samples_per_patch)
        check_number("learning_rate", self.learning_rate, minimum=0, exclusive_minimum=True)
        check_number("label_loss_weight", self.label_loss_weight, minimum=0)
        check_int("seed", self.seed, minimum=0)

    @classmethod
    def small(cls, **overrides):
        """64 clips, 2 epochs."""
        values = {"num_examples": 64, "epochs": 2}
        return cls(**{**values, **overrides})


def build_multimodal_autoencoder(config):
    """A miniature of DeepMind's multimodal autoencoder.

    Video (4x4 space patches), audio (`samples_per_patch` patches) and the
    one-hot label go in; the label is replaced by a trainable mask token
    (`mask_probs={"label": 1.0}`, as the paper, so the label must be
    inferred from video and audio). A `MultimodalDecoder` decodes every
    pixel, every audio patch and the label logits.
    """
    frames, size, samples = config.num_frames, config.image_size, config.audio_samples
    adapter = MultimodalAdapter({
        "video": VideoAdapter((frames, size, size, 3), spatial_downsample=4, num_bands=4),
        "audio": AudioAdapter(samples_per_patch=config.samples_per_patch, num_bands=8),
        "label": LabelAdapter(config.num_classes)}, mask_probs={"label": 1.0})
    decoder = MultimodalDecoder({
        "video": BasicDecoder(3, output_index_dims=(frames, size, size),
                              position_encoding="fourier", num_bands=4),
        "audio": BasicDecoder(config.samples_per_patch,
                              output_index_dims=samples // config.samples_per_patch,
                              position_encoding="fourier", num_bands=8,
                              output_shape=(samples, 1)),
        "label": ClassificationDecoder(config.num_classes, query_dim=16)},
        output_num_channels=64, num_heads=1)
    return PerceiverIO(adapter, decoder, num_latents=config.num_latents,
                       latent_dim=config.latent_dim, num_blocks=1,
                       num_self_attends_per_block=config.num_self_attends_per_block,
                       num_cross_attention_heads=1, num_self_attention_heads=4)


def _data_shape(config):
    return {name: getattr(config, name)
            for name in ("num_frames", "image_size", "audio_samples", "num_classes")}


def heldout_clips(config):
    """`config.num_heldout` clips drawn with `seed + 1`, labels one-hot (numpy)."""
    heldout = generate_av(config.num_heldout, seed=config.seed + 1, **_data_shape(config))
    heldout["label"] = np.eye(config.num_classes, dtype="float32")[heldout["label"]]
    return heldout


def train_multimodal_autoencoder(config=None, verbose=0):
    """Trains the multimodal autoencoder on `av_dataset` (one-hot labels).

    Loss: mean squared error of video and of audio, plus the label's
    cross-entropy weighted `config.label_loss_weight`. Reported
    reconstruction losses are evaluated on `heldout_clips(config)` before
    and after training.

    Args:
        config: a `PerceiverAutoencoderConfig` (default: the full job).
        verbose: passed to `fit`.

    Returns:
        dict: `video_mse_before`/`_after`, `audio_mse_before`/`_after`,
        `label_accuracy` (held out, chance 1/num_classes), `losses`
        (training loss per epoch), `epochs`, timings, `model` and `heldout`
        (the numpy held-out inputs, for plots).
    """
    config = config or PerceiverAutoencoderConfig()
    keras.utils.set_random_seed(config.seed)
    ds = av_dataset(config.batch_size, config.num_examples, one_hot=True, seed=config.seed,
                    **_data_shape(config))
    ds = ds.map(lambda x: (x, x))  # autoencoding: the inputs are the targets
    heldout = heldout_clips(config)
    model = build_multimodal_autoencoder(config)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss={"video": "mse", "audio": "mse",
              "label": keras.losses.CategoricalCrossentropy(from_logits=True)},
        loss_weights={"video": 1.0, "audio": 1.0, "label": config.label_loss_weight},
        metrics={"label": ["accuracy"]})

    def evaluate():
        out = model.predict(heldout, batch_size=config.batch_size, verbose=0)
        return {"video_mse": float(np.mean((out["video"] - heldout["video"]) ** 2)),
                "audio_mse": float(np.mean((out["audio"] - heldout["audio"]) ** 2)),
                "label_accuracy": float(np.mean(
                    out["label"].argmax(-1) == heldout["label"].argmax(-1)))}

    before = evaluate()
    with Clock() as clock:
        history = model.fit(ds, epochs=config.epochs, verbose=verbose,
                            shuffle=False)  # the dataset shuffles itself
    after = evaluate()
    return {"video_mse_before": before["video_mse"], "video_mse_after": after["video_mse"],
            "audio_mse_before": before["audio_mse"], "audio_mse_after": after["audio_mse"],
            "label_accuracy": after["label_accuracy"], "losses": history.history["loss"],
            "epochs": config.epochs, **clock.timings(), "model": model, "heldout": heldout}
