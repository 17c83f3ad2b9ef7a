"""The `kerasmm demo generate` recipe: a small text-to-image diffusion model on shapes.

`run_generate_demo(config)` checks the output folder, builds a
`TextToImageDiffusion` (`build_generator`), trains it with `fit` on the
single-shape scenes of the shapes train split (`generator_train_data`; the
`HELD_OUT_COMBOS` are not there), samples every "a {colour} {shape}"
prompt and single-shape test captions, scores the samples with the shapes
reader and the shipped `shapes_clip_tiny` CLIP (`evaluate_generator`),
writes a PNG of samples and returns the results. Every value it uses comes
from one `GenerateDemoConfig`.
"""

import os
import time

import keras
import numpy as np

from kerasmm.datasets import shapes_tokenizer
from kerasmm.datasets.shapes import generate_shapes
from kerasmm.models import CLIP
from kerasmm.models import CLIPPreprocessor
from kerasmm.models import TextToImageDiffusion
from kerasmm.models import TextToImagePreprocessor
from kerasmm.plotting import save_retrieval_png
from kerasmm.recipes.demo_command import demo_config
from kerasmm.recipes.demo_command import run_demo_command
from kerasmm.recipes.generate_demo_config import GenerateDemoConfig
from kerasmm.recipes.output_dir import prepare_output_dir
from kerasmm.recipes.shapes_reader import load_shapes_reader
from kerasmm.recipes.shapes_reader import read_shapes
from kerasmm.recipes.shapes_scoring import GROUPS
from kerasmm.recipes.shapes_scoring import combo_prompts
from kerasmm.recipes.shapes_scoring import real_diversity
from kerasmm.recipes.shapes_scoring import score_samples
from kerasmm.recipes.shapes_scoring import to_uint8

# What `--json` prints and `format_generate_results` shows.
SCORE_KEYS = tuple(f"{reader}_{what}_{group}" for reader in ("reader", "clip")
                   for what in ("accuracy", "color_accuracy", "shape_accuracy")
                   for group in GROUPS) + tuple(f"clip_score_{g}" for g in GROUPS)
JSON_KEYS = SCORE_KEYS + tuple(f"test_{k}" for k in SCORE_KEYS) + (
    "diversity", "real_diversity", "train_seconds", "final_loss", "png_path",
    "epochs", "steps_per_epoch", "batch_size", "seed", "backend")
OVERRIDES = ("epochs", "steps_per_epoch", "batch_size", "seed", "output_dir")
SHOWN_SAMPLES = 6  # samples per prompt in the PNG


def generator_train_data(config, preprocessor):
    """The single-shape scenes of the first `config.num_train_scenes` train scenes.

    Returns:
        dict of numpy: `images` float32 in [-1, 1], `token_ids` of the
        scenes' captions, `colors` and `shapes` (ids).
    """
    data = generate_shapes("train", config.num_train_scenes, image_size=config.image_size)
    keep = data["num_shapes"] == 1
    captions = [str(c) for c in data["captions"][keep]]
    return {"images": data["images"][keep].astype("float32") / 127.5 - 1.0,
            "token_ids": np.asarray(preprocessor(captions)),
            "colors": data["colors"][keep, 0], "shapes": data["shapes"][keep, 0]}


class SceneBatches(keras.utils.PyDataset):
    """`steps` random batches of `{"images", "token_ids"}` per epoch, drawn
    with replacement, deterministic by `(seed, epoch, step)`."""

    def __init__(self, data, batch_size, steps, seed):
        super().__init__()
        self.data, self.batch_size, self.steps, self.seed = data, batch_size, steps, seed
        self.epoch = 0

    def __len__(self):
        return self.steps

    def __getitem__(self, step):
        rng = np.random.default_rng([self.seed, self.epoch, step])
        index = rng.integers(len(self.data["images"]), size=self.batch_size)
        return {"images": self.data["images"][index], "token_ids": self.data["token_ids"][index]}

    def on_epoch_end(self):
        self.epoch += 1


def build_generator(config):
    """The `TextToImageDiffusion` of `config` and its prompt preprocessor
    (the shapes tokenizer)."""
    tokenizer = shapes_tokenizer()
    preprocessor = TextToImagePreprocessor(tokenizer)
    model = TextToImageDiffusion(
        image_shape=(config.image_size, config.image_size, 3),
        vocabulary_size=tokenizer.vocabulary_size(), context_length=tokenizer.sequence_length,
        hidden_dim=config.hidden_dim, channel_multipliers=config.channel_multipliers,
        attention_levels=config.attention_levels,
        num_heads=config.num_heads, num_groups=config.num_groups,
        text_hidden_dim=config.text_hidden_dim, text_num_layers=config.text_num_layers,
        prompt_dropout=config.prompt_dropout, pooled_text=config.pooled_text,
        prediction_type=config.prediction_type, loss_weighting=config.loss_weighting,
        seed=config.seed)
    return model, preprocessor


def train_generator(model, data, config, verbose=2, callbacks=None):
    """`fit` of `config.epochs` x `config.steps_per_epoch` batches (AdamW with
    EMA weights; linear warmup, then cosine decay; eager steps with
    `config.run_eagerly`); returns `(history, seconds)`."""
    keras.utils.set_random_seed(config.seed)
    steps = config.epochs * config.steps_per_epoch
    warmup = int(config.warmup_fraction * steps)
    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate / 10, steps - warmup, alpha=0.05,
        warmup_target=config.learning_rate if warmup else None, warmup_steps=warmup)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4, use_ema=True,
                                                   ema_momentum=config.ema_momentum),
                  run_eagerly=config.run_eagerly)
    batches = SceneBatches(data, config.batch_size, config.steps_per_epoch, config.seed)
    start = time.perf_counter()
    history = model.fit(batches, epochs=config.epochs, verbose=verbose, callbacks=callbacks)
    return history, time.perf_counter() - start


def sample(model, preprocessor, prompts, config, batch_size=120):
    """uint8 samples, one per prompt, in batches of `batch_size` (the last one
    padded, so that one compiled sampler serves every call; seed
    `config.seed + batch`)."""
    prompts = [str(p) for p in prompts]
    out = []
    for b, start in enumerate(range(0, len(prompts), batch_size)):
        batch = prompts[start:start + batch_size]
        token_ids = preprocessor(batch + batch[-1:] * (batch_size - len(batch)))
        out.append(to_uint8(model.generate(
            token_ids, num_steps=config.num_steps, guidance_scale=config.guidance_scale,
            sampler=config.sampler, seed=config.seed + b))[:len(batch)])
    return np.concatenate(out)


def evaluate_generator(model, preprocessor, config, reader=None, clip=None, clip_preprocessor=None):
    """Samples and scores: `config.num_samples` images of each of the 30
    combination prompts, and one of each of the first `config.num_test`
    single-shape test captions (keys `test_...`; the test split holds the
    held-out combinations).

    Returns:
        dict: `score_samples`' keys, `test_` ones, `real_diversity`, and
        `samples` (uint8, `(30, num_samples, H, W, 3)`).
    """
    reader = reader or load_shapes_reader()
    if clip is None:
        clip = CLIP.from_preset("shapes_clip_tiny")
        clip_preprocessor = CLIPPreprocessor.from_preset("shapes_clip_tiny")
    prompts, colors, shapes = combo_prompts()
    n = config.num_samples
    images = sample(model, preprocessor, np.repeat(prompts, n), config)
    results = score_samples(images, np.repeat(colors, n), np.repeat(shapes, n), reader,
                            clip, clip_preprocessor)
    results["real_diversity"] = real_diversity(max(n, 2), config.image_size)
    results["samples"] = images.reshape((len(prompts), n) + images.shape[1:])
    if config.num_test:
        test = generate_shapes("test", 4 * config.num_test, image_size=config.image_size)
        keep = np.nonzero(test["num_shapes"] == 1)[0][:config.num_test]
        test_images = sample(model, preprocessor, test["captions"][keep], config)
        test_scores = score_samples(test_images, test["colors"][keep, 0],
                                    test["shapes"][keep, 0], reader, clip, clip_preprocessor)
        results.update({f"test_{k}": v for k, v in test_scores.items()
                        if k not in ("per_prompt", "diversity")})
    return results


def format_generate_results(results):
    """The scores of `evaluate_generator` as a text table."""
    rows = [f"{'':46}{'all':>8}{'seen':>8}{'held-out':>10}"]
    for prefix, title in (("", "30 prompts"), ("test_", "test captions")):
        for key, name in (("reader_accuracy", "reader: colour and shape"),
                          ("reader_color_accuracy", "reader: colour"),
                          ("reader_shape_accuracy", "reader: shape"),
                          ("clip_accuracy", "CLIP read-out: colour and shape"),
                          ("clip_score", "CLIP score")):
            if f"{prefix}{key}_all" not in results:
                continue
            values = [results.get(f"{prefix}{key}_{g}") for g in GROUPS]
            cells = "".join(f"{v:>{w}.3f}" if v is not None else f"{'-':>{w}}"
                            for v, w in zip(values, (8, 8, 10)))
            rows.append(f"{title + ', ' + name:46}{cells}")
    rows.append(f"per-pixel diversity of one prompt's samples {results['diversity']:.3f} "
                f"(real images {results['real_diversity']:.3f})")
    return "\n".join(rows)


def save_samples_png(path, samples, reader, title=None):
    """A PNG of `SHOWN_SAMPLES` samples per combination prompt, framed green
    where the reader reads the prompt, red where not."""
    prompts, colors, shapes = combo_prompts()
    k = min(SHOWN_SAMPLES, samples.shape[1])
    shown = samples[:, :k].reshape((-1,) + samples.shape[2:])
    read = read_shapes(reader, shown)
    matches = ((read["color"] == np.repeat(colors, k)) &
               (read["shape"] == np.repeat(shapes, k))).reshape(len(prompts), k)
    title = title or "Generated samples per prompt (green: the shapes reader reads the prompt)"
    return save_retrieval_png(path, prompts, shown, np.arange(len(shown)).reshape(-1, k),
                              matches=matches, title=title)


def run_generate_demo(config=None, verbose="auto", log=print):
    """Builds, trains, samples, scores; writes `config.png_filename`; returns the results."""
    config = config or GenerateDemoConfig()
    output_dir = prepare_output_dir(config.output_dir, config.overwrite)
    model, preprocessor = build_generator(config)
    data = generator_train_data(config, preprocessor)
    log(f"Training a text-to-image diffusion model on {len(data['images'])} single-shape "
        f"scenes: {config.epochs} epochs x {config.steps_per_epoch} steps of "
        f"{config.batch_size} (backend: {keras.backend.backend()})")
    history, seconds = train_generator(model, data, config, verbose=verbose)
    reader = load_shapes_reader()
    results = evaluate_generator(model, preprocessor, config, reader)
    log(f"Samples ({config.sampler}, {config.num_steps} steps, guidance "
        f"{config.guidance_scale}; trained {seconds:.0f} s):")
    log(format_generate_results(results))
    png_path = save_samples_png(os.path.join(output_dir, config.png_filename),
                                results.pop("samples"), reader)
    log(f"Samples written to {png_path}")
    results.update({"train_seconds": seconds, "final_loss": float(history.history["loss"][-1]),
                    "png_path": png_path, "backend": keras.backend.backend(),
                    **{name: getattr(config, name) for name in OVERRIDES[:-1]}})
    return results, model, preprocessor


def generate_demo_config(args):
    """The `GenerateDemoConfig` of parsed `kerasmm demo generate` arguments."""
    config = GenerateDemoConfig.small() if getattr(args, "small", False) else GenerateDemoConfig()
    return demo_config(args, config, OVERRIDES)


def run_generate_demo_command(args):
    """`kerasmm demo generate`; with `--json` ends stdout with the results."""
    return run_demo_command(args, generate_demo_config(args),
                            lambda *a, **k: run_generate_demo(*a, **k)[0], JSON_KEYS)
