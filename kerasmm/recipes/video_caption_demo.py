"""`kerasmm demo video-caption`: a small CoCa learns to caption moving-shapes clips.

A video captioner is the image captioner's `CoCa` with a
`kerasmm.models.VideoEncoder` as its vision encoder: the frame encoder (the
captioning demo's convolutional token encoder, its tokens flattened into
one vector per frame, so that the vector says where the shape is) runs on
`num_frames` frames sampled uniformly from each clip, and a small temporal
transformer over the frame vectors (with learned frame positions: frame
order tells "left" from "right") gives the tokens the CoCa decoder reads.
It trains with `fit` and `CoCaLoss` on the embedded moving-shapes set
(`kerasmm.datasets.moving_shapes_dataset`) and captions held-out test
clips greedily and with beam search: BLEU-4, CIDEr-D, exact match (seen
and held-out colour x shape combinations apart). Training and scoring are
the captioning demo's (`train_caption_model`, `evaluate_captioner`).
"""

import dataclasses
import os

import keras
import numpy as np

from kerasmm import datasets
from kerasmm.datasets.moving_shapes import MOVING_SHAPES_SPLIT_SIZES
from kerasmm.models import CoCa
from kerasmm.models import VideoEncoder
from kerasmm.preprocessing import CLIPImagePreprocessor
from kerasmm.recipes.caption_demo import caption_demo_config
from kerasmm.recipes.caption_demo import summarize_caption_run
from kerasmm.recipes.caption_demo_config import CaptionDemoConfig
from kerasmm.recipes.caption_evaluation import evaluate_captioner
from kerasmm.recipes.caption_evaluation import format_caption_results
from kerasmm.recipes.caption_training import build_token_encoder
from kerasmm.recipes.caption_training import train_caption_model
from kerasmm.recipes.demo_command import run_demo_command
from kerasmm.recipes.output_dir import prepare_output_dir
from kerasmm.utils.checks import check_positive_int

# `--json` keys: greedy scores, beam CIDEr and exact match, and the run.
JSON_KEYS = ("bleu_4", "cider_d", "exact_match", "exact_match_seen", "exact_match_held_out",
             "beam_bleu_4", "beam_cider_d", "beam_exact_match", "train_seconds", "final_loss",
             "model_path", "epochs", "steps_per_epoch", "batch_size", "seed", "backend")
GROUP_ROWS = (("  seen colour x shape", "exact_match_seen"),
              ("  held-out colour x shape", "exact_match_held_out"))


@dataclasses.dataclass(frozen=True)
class VideoCaptionConfig(CaptionDemoConfig):
    """The video-captioning demo's values: `CaptionDemoConfig`'s, and the clips'.

    The model fields (`image_size`, `conv_widths`, `hidden_dim`, ...) size
    the frame encoder and the CoCa as in the image demo; `num_frames` of
    each clip's `clip_frames` are encoded (`build_frame_encoder`);
    `num_temporal_layers` transformer
    blocks mix them; `num_train` training clips (at most 4000) repeat over
    the epochs. `VideoCaptionConfig.small()` runs in seconds (its numbers
    mean nothing).

    Example:

    >>> config = VideoCaptionConfig.small()
    >>> config.num_frames, config.clip_frames, config.num_train
    (2, 4, 32)
    """

    clip_frames: int = 8
    num_frames: int = 4
    num_temporal_layers: int = 1
    position_width: int = 8  # per image token, in the frame vector
    num_train: int = 2000
    epochs: int = 6
    steps_per_epoch: int = 125
    batch_size: int = 32
    num_test: int = 500
    eval_batch_size: int = 100
    output_dir: str = "kerasmm_video_caption_demo"
    model_filename: str = "moving_shapes_coca.keras"

    def __post_init__(self):
        super().__post_init__()
        for name in ("clip_frames", "num_frames", "num_temporal_layers", "position_width",
                     "num_train"):
            check_positive_int(name, getattr(self, name))
        limit = MOVING_SHAPES_SPLIT_SIZES
        if self.num_train > limit["train"] or self.num_test > limit["test"]:
            raise ValueError(f"num_train and num_test must be at most {limit['train']} and "
                             f"{limit['test']}. Received: num_train={self.num_train}, "
                             f"num_test={self.num_test}")

    @classmethod
    def small(cls, **overrides):
        """The demo in seconds: 3 steps of 8 two-frame clips, 16 test clips."""
        values = {"epochs": 1, "steps_per_epoch": 3, "batch_size": 8, "num_train": 32,
                  "num_test": 16, "eval_batch_size": 16, "num_shown": 2, "max_length": 6,
                  "num_beams": 2, "clip_frames": 4, "num_frames": 2, "hidden_dim": 16,
                  "num_heads": 2, "output_dim": 16, "conv_widths": (8, 16, 16),
                  "color_width": 4, "position_width": 2, "num_multimodal_layers": 1,
                  "num_caption_queries": 4}
        return cls(**{**values, **overrides})


def build_frame_encoder(config):
    """One vector per frame, `(B, S, S, 3)` -> `(B, hidden_dim)`, saying what
    the shape is and where: `build_token_encoder`'s tokens averaged (what)
    next to their narrow projections flattened in place (where), projected."""
    encoder = build_token_encoder(config)
    tokens = encoder.output
    what = keras.layers.GlobalAveragePooling1D(name="average_tokens")(tokens)
    where = keras.layers.Dense(config.position_width, name="position_features")(tokens)
    where = keras.layers.Flatten(name="flatten_positions")(where)
    x = keras.layers.Concatenate(name="what_and_where")([what, where])
    x = keras.layers.Dense(config.hidden_dim, activation="gelu", name="frame_vector")(x)
    return keras.Model(encoder.input, x, name="frame_encoder")


def build_video_coca(config, tokenizer=None):
    """A `CoCa` whose vision encoder is a `VideoEncoder` (temporal transformer
    over `build_frame_encoder` vectors) of `(B, clip_frames, S, S, 3)` clips.
    Seeds `keras.utils.set_random_seed(config.seed)` first."""
    keras.utils.set_random_seed(config.seed)
    tokenizer = tokenizer or datasets.caption_tokenizer()
    video_encoder = VideoEncoder(build_frame_encoder(config), num_frames=config.num_frames,
                                 pooling="transformer", num_layers=config.num_temporal_layers,
                                 num_heads=config.num_heads, name="video_encoder")
    video_encoder.build((None, config.clip_frames, config.image_size, config.image_size, 3))
    return CoCa(video_encoder, vocabulary_size=tokenizer.vocabulary_size(),
                context_length=tokenizer.sequence_length, hidden_dim=config.hidden_dim,
                num_unimodal_layers=config.num_unimodal_layers,
                num_multimodal_layers=config.num_multimodal_layers,
                num_heads=config.num_heads, output_dim=config.output_dim,
                start_token_id=tokenizer.start_token_id, end_token_id=tokenizer.end_token_id,
                pad_token_id=tokenizer.pad_token_id,
                num_caption_queries=config.num_caption_queries, name="video_coca")


def video_train_dataset(config):
    """`(dataset, steps)` for `fit`: `{"images": clips, "token_ids"}` batches
    of `num_train` training clips, reshuffled and repeated."""
    dataset = datasets.moving_shapes_dataset(
        "train", batch_size=config.batch_size, num_frames=config.clip_frames,
        image_size=config.image_size, seed=config.seed, num_examples=config.num_train)
    return dataset.repeat(), config.steps_per_epoch


def load_video_test_split(config):
    """The first `num_test` test clips: `generate_moving_shapes`' arrays plus
    `inputs`, every frame preprocessed as in training."""
    data = datasets.generate_moving_shapes("test", config.num_test, config.clip_frames,
                                           config.image_size)
    clips = data["videos"]
    frames = CLIPImagePreprocessor(config.image_size)(np.concatenate(list(clips)))
    data["inputs"] = np.asarray(frames).reshape(clips.shape[:2] + tuple(frames.shape[1:]))
    return data


def run_video_caption_demo(config=None, verbose="auto", log=print):
    """Builds, trains, evaluates and saves the video CoCa.

    Args:
        config: a `VideoCaptionConfig` (default: `VideoCaptionConfig()`).
        verbose: `fit`'s verbosity.
        log: receives the human-readable lines.

    Returns:
        dict: greedy scores (`bleu_4`, `cider_d`, `exact_match`,
        `exact_match_seen`, `exact_match_held_out`), the same with `beam_`,
        `examples`, `train_seconds`, `final_loss`, `model_path` and the run's
        settings.
    """
    config = config or VideoCaptionConfig()
    output_dir = prepare_output_dir(config.output_dir, config.overwrite)
    coca = build_video_coca(config)
    dataset, steps = video_train_dataset(config)
    log(f"Training a {coca.count_params():,}-parameter video CoCa ({config.num_frames} of "
        f"{config.clip_frames} frames per clip, {config.num_train} training clips): "
        f"{config.epochs} epochs x {steps} steps of {config.batch_size} "
        f"(backend: {keras.backend.backend()})")
    history, seconds = train_caption_model(coca, dataset, config, steps, verbose=verbose)
    data = load_video_test_split(config)
    groups = {"seen": ~data["held_out"], "held_out": data["held_out"]}
    evaluation = evaluate_captioner(coca, config, test_data=data, groups=groups)
    log(f"Captions of {config.num_test} test clips (trained {seconds:.0f} s):")
    log(format_caption_results(evaluation, GROUP_ROWS))
    model_path = os.path.join(output_dir, config.model_filename)
    coca.save(model_path)
    log(f"Model saved to {model_path}")
    return summarize_caption_run(evaluation, history, seconds, model_path, config)


def run_video_caption_demo_command(args):
    """`kerasmm demo video-caption`; with `--json` ends stdout with the results."""
    return run_demo_command(args, caption_demo_config(args, VideoCaptionConfig),
                            run_video_caption_demo, JSON_KEYS)
