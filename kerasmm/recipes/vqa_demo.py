"""The `kerasmm demo vqa` recipe: a small ViLT answers questions about generated scenes.

`run_vqa_demo(config)` trains a `kerasmm.models.ViLT` with a
`VQAClassifier` (a `MultimodalClassifier` for the sentiment set) on one of
the embedded question sets with `fit`, scores it on the test split per
question type, and, for the ablations in `config.runs`, trains and
scores the same model with the image blanked (text-only) and with the text
blanked (image-only): what each modality alone can answer. The fusion
model is saved as `.keras`. Every value comes from one `VQADemoConfig`.
"""

import dataclasses
import os
import time

import keras
import numpy as np

from kerasmm.datasets import chart_qa
from kerasmm.datasets import multimodal_sentiment
from kerasmm.datasets import shapes_vqa
from kerasmm.datasets.qa_pipeline import qa_batches
from kerasmm.models import ViLT
from kerasmm.recipes.demo_command import demo_config
from kerasmm.recipes.demo_command import run_demo_command
from kerasmm.recipes.output_dir import prepare_output_dir
from kerasmm.recipes.vqa_demo_config import VQADemoConfig
from kerasmm.tasks import MultimodalClassifier
from kerasmm.tasks import VQAClassifier

# Per dataset: generator, tokenizer, answer names, text key, label key.
DATASETS = {
    "shapes_vqa": (shapes_vqa.generate_shapes_vqa, shapes_vqa.shapes_vqa_tokenizer,
                   shapes_vqa.SHAPES_VQA_ANSWERS, "questions", "answer_ids"),
    "chart_qa": (chart_qa.generate_chart_qa, chart_qa.chart_qa_tokenizer,
                 chart_qa.CHART_QA_ANSWERS, "questions", "answer_ids"),
    "sentiment": (multimodal_sentiment.generate_sentiment,
                  multimodal_sentiment.sentiment_tokenizer,
                  multimodal_sentiment.SENTIMENT_LABELS, "sentences", "labels"),
}
# Each run's name and the modality it blanks.
RUNS = {"fusion": None, "text_only": "image", "image_only": "text"}
OVERRIDES = ("epochs", "steps_per_epoch", "batch_size", "seed", "output_dir")
JSON_KEYS = ("dataset", "accuracy", "text_only_accuracy", "image_only_accuracy",
             "by_group", "train_seconds", "warmup_cycles", "model_path", "epochs",
             "steps_per_epoch", "batch_size", "seed", "backend")


def question_groups(dataset, data):
    """Named boolean masks over the test examples: one per question type and
    the dataset's other splits (held-out combinations, chart kinds, ...)."""
    n = len(data[DATASETS[dataset][3]])
    groups = {}
    if dataset == "sentiment":
        groups.update(wish=~data["dread"], dread=data["dread"], present=data["present"],
                      absent=~data["present"])
    else:
        types = np.array(data["question_types"])
        groups.update({t: types == t for t in dict.fromkeys(types.tolist())})
    if dataset == "chart_qa":
        kinds = np.array(data["chart_kinds"])
        groups.update({f"{k}_chart": kinds == k for k in chart_qa.CHART_KINDS})
    if "held_out" in data:
        groups.update(seen_combos=~data["held_out"], held_out_combos=data["held_out"])
    return {"all": np.ones(n, dtype=bool), **groups}


def training_data(config):
    """The generated training split of `config`: for shapes-VQA with the
    recipe's question mix (`pair_type_weights`, `single_position_fraction`,
    `swapped_positions`; the test split always keeps the dataset's own
    questions)."""
    generate = DATASETS[config.dataset][0]
    if config.dataset != "shapes_vqa":
        return generate("train", config.num_train, config.image_size)
    train = generate("train", config.num_train, config.image_size,
                     pair_type_weights=config.pair_type_weights)
    if config.single_position_fraction:
        shapes_vqa.add_single_shape_positions(train, config.single_position_fraction,
                                              config.seed)
    if config.swapped_positions:
        train = shapes_vqa.add_swapped_positions(train)
    return train


def warmup_stage_data(config):
    """The training scenes of `config` asked only the question types of the
    warm-up stage (`warmup_stage_epochs`): two-shape scenes drawn with
    `warmup_stage_weights`, lone shapes' sides and twins as configured, and
    only the examples of a type whose weight is above zero kept."""
    weights = config.warmup_stage_weights
    data = training_data(dataclasses.replace(config, pair_type_weights=weights))
    types = {t for t, w in zip(shapes_vqa.SHAPES_VQA_QUESTION_TYPES, weights) if w > 0}
    index = np.flatnonzero([t in types for t in data["question_types"]])
    return {k: v[index] if isinstance(v, np.ndarray) else [v[i] for i in index]
            for k, v in data.items()}


def build_vqa_model(config, tokenizer, num_answers):
    """The demo's ViLT for `tokenizer`'s ids, with its head
    (`MultimodalClassifier` for sentiment)."""
    keras.utils.set_random_seed(config.seed)
    backbone = ViLT(vocabulary_size=tokenizer.vocabulary_size, image_size=config.image_size,
                    patch_size=config.patch_size, hidden_dim=config.hidden_dim,
                    num_layers=config.num_layers, num_heads=config.num_heads,
                    max_sequence_length=tokenizer.sequence_length,
                    intermediate_dim=config.intermediate_dim, dropout=config.dropout,
                    patch_stem=config.patch_stem,
                    position_initializer=config.position_initializer)
    if config.dataset == "sentiment":
        return MultimodalClassifier(backbone, num_classes=num_answers)
    return VQAClassifier(backbone, num_answers=num_answers)


def train_vqa_model(model, train, tokenizer, config, blank=None, verbose="auto"):
    """`compile` (AdamW, warmup then cosine decay, sparse cross-entropy) and
    `fit` on the generated `train` dict; returns `(history, seconds)`."""
    _, _, _, text_key, label_key = DATASETS[config.dataset]
    ds = qa_batches(train["images"], train[text_key], train[label_key], tokenizer,
                    config.batch_size, shuffle=True, seed=config.seed, blank=blank)
    total = config.epochs * config.steps_per_epoch
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, total, alpha=0.05, warmup_target=config.learning_rate,
        warmup_steps=max(1, int(config.warmup_fraction * total)))
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"], jit_compile=config.jit_compile)
    start = time.perf_counter()
    history = model.fit(ds.repeat(), epochs=config.epochs,
                        steps_per_epoch=config.steps_per_epoch, verbose=verbose)
    return history, time.perf_counter() - start


def evaluate_vqa_model(model, test, tokenizer, config, blank=None):
    """Test accuracy of `model` on each of `question_groups` (with `blank` applied)."""
    _, _, _, text_key, label_key = DATASETS[config.dataset]
    ds = qa_batches(test["images"], test[text_key], test[label_key], tokenizer,
                    config.eval_batch_size, shuffle=False, drop_remainder=False, blank=blank)
    correct = np.argmax(model.predict(ds, verbose=0), axis=-1) == test[label_key]
    return {name: float(correct[mask].mean()) if mask.any() else float("nan")
            for name, mask in question_groups(config.dataset, test).items()}


def run_warmup_stage(model, data, tokenizer, config, blank, verbose, log, run, cycles=None):
    """Fits `model` on the warm-up stage's `data` for `warmup_stage_epochs`,
    again (a fresh optimizer and schedule) while the last epoch's training
    accuracy is below `warmup_stage_min_accuracy`, at most
    `warmup_stage_max_cycles` times in all, or exactly `cycles` times if
    given; returns `(cycles, seconds)`."""
    stage = dataclasses.replace(config, epochs=config.warmup_stage_epochs)
    seconds = 0.0
    for cycle in range(1, (cycles or config.warmup_stage_max_cycles) + 1):
        history, spent = train_vqa_model(model, data, tokenizer, stage, blank, verbose)
        seconds += spent
        if cycles:
            continue
        accuracy = history.history["accuracy"][-1]
        if accuracy >= config.warmup_stage_min_accuracy:
            break
        log(f"[{run}] warm-up cycle {cycle} ended at training accuracy {accuracy:.3f}, "
            f"below {config.warmup_stage_min_accuracy}"
            + (": running it again" if cycle < config.warmup_stage_max_cycles
               else f": going on to the mix after {cycle} cycles"))
    return cycle, seconds


def format_vqa_results(by_group, counts):
    """A table: one row per group, one column per run."""
    runs = list(by_group)
    lines = [f"{'':18s} {'n':>5s} " + " ".join(f"{run:>10s}" for run in runs)]
    for group in by_group[runs[0]]:
        cells = " ".join(f"{by_group[run][group]:10.3f}" for run in runs)
        lines.append(f"{group:18s} {counts[group]:5d} {cells}")
    return "\n".join(lines)


def run_vqa_demo(config=None, verbose="auto", log=print):
    """Builds, trains, evaluates (with ablations) and saves the demo ViLT.

    Args:
        config: a `VQADemoConfig` (default: `VQADemoConfig()`).
        verbose: `fit`'s verbosity.
        log: receives the human-readable lines.

    Returns:
        dict: `accuracy`, `text_only_accuracy`, `image_only_accuracy`
        (all test questions; NaN for a run not in `config.runs`),
        `by_group` (run -> group -> accuracy), `group_sizes`,
        `train_seconds` (run -> seconds), `warmup_cycles` (run -> cycles of
        the warm-up stage run, 0 without one), `model_path` (None without the
        fusion run), `dataset`,
        `epochs`, `steps_per_epoch`, `batch_size`, `seed`, `backend`.
    """
    config = config or VQADemoConfig()
    output_dir = prepare_output_dir(config.output_dir, config.overwrite)
    generate, make_tokenizer, answers, _, _ = DATASETS[config.dataset]
    tokenizer = make_tokenizer()
    train = training_data(config)
    warmup = warmup_stage_data(config) if config.warmup_stage_epochs else None
    test = generate("test", config.num_test, config.image_size)
    by_group, seconds, cycles, model_path = {}, {}, {}, None
    for run in [run for run in RUNS if run in config.runs]:  # the fusion run first
        blank = RUNS[run]
        model = build_vqa_model(config, tokenizer, len(answers))
        log(f"[{run}] training a {model.count_params():,}-parameter ViLT on "
            f"{config.dataset}: {config.epochs} epochs x {config.steps_per_epoch} steps of "
            f"{config.batch_size}" + (f" after {config.warmup_stage_epochs} of the warm-up "
                                      "stage" if config.warmup_stage_epochs else "")
            + (f", {blank} blanked" if blank else ""))
        seconds[run], cycles[run] = 0.0, 0
        if warmup is not None:
            # An ablation cannot answer all the warm-up's questions (it lacks a
            # modality): it runs as many cycles as the fusion run did, or one.
            cycles[run], seconds[run] = run_warmup_stage(
                model, warmup, tokenizer, config, blank, verbose, log, run,
                cycles=None if run == "fusion" else cycles.get("fusion", 1))
        seconds[run] += train_vqa_model(model, train, tokenizer, config, blank, verbose)[1]
        by_group[run] = evaluate_vqa_model(model, test, tokenizer, config, blank)
        log(f"[{run}] test accuracy {by_group[run]['all']:.3f} "
            f"(trained {seconds[run]:.0f} s)")
        if run == "fusion":
            model_path = os.path.join(output_dir, config.model_filename)
            model.save(model_path)
    counts = {g: int(m.sum()) for g, m in question_groups(config.dataset, test).items()}
    log(f"Test accuracy on {config.dataset} by group:")
    log(format_vqa_results(by_group, counts))
    if model_path:
        log(f"Model saved to {model_path}")
    return {
        "dataset": config.dataset,
        **{f"{'' if run == 'fusion' else run + '_'}accuracy":
           by_group.get(run, {}).get("all", float("nan")) for run in RUNS},
        "by_group": by_group, "group_sizes": counts, "train_seconds": seconds,
        "warmup_cycles": cycles,
        "model_path": model_path, "backend": keras.backend.backend(),
        **{name: getattr(config, name)
           for name in ("epochs", "steps_per_epoch", "batch_size", "seed")},
    }


def vqa_demo_config(args, dataset="shapes_vqa"):
    """The `VQADemoConfig` of parsed `kerasmm demo` arguments (None: default)."""
    small = getattr(args, "small", False)
    config = (VQADemoConfig.small(dataset=dataset) if small
              else VQADemoConfig.for_dataset(dataset))
    return demo_config(args, config, OVERRIDES)


def _run_command(args, dataset):
    return run_demo_command(args, vqa_demo_config(args, dataset), run_vqa_demo, JSON_KEYS)


def run_vqa_demo_command(args):
    """`kerasmm demo vqa`: shapes-VQA; `--json` ends stdout with the results."""
    return _run_command(args, "shapes_vqa")


def run_chart_qa_demo_command(args):
    """`kerasmm demo chart-qa`: the same recipe on chart-QA."""
    return _run_command(args, "chart_qa")


def run_sentiment_demo_command(args):
    """`kerasmm demo sentiment`: the same recipe on the multimodal sentiment set."""
    return _run_command(args, "sentiment")
