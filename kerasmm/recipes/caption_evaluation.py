"""The captioning demo's evaluation: BLEU-4, CIDEr-D and exact match, greedy and beam."""

import numpy as np

from kerasmm import datasets
from kerasmm import metrics
from kerasmm.preprocessing import CLIPImagePreprocessor

STRATEGIES = ("greedy", "beam")


def load_caption_test_split(config):
    """The first `config.num_test` scenes of the shapes test split, captioned.

    Returns:
        dict: `generate_shapes_captions`' arrays plus `inputs`, the images
        preprocessed as in training.
    """
    data = datasets.generate_shapes_captions("test", config.num_test, config.image_size)
    data["inputs"] = np.asarray(CLIPImagePreprocessor(config.image_size)(data["images"]))
    return data


def generate_captions(coca, images, tokenizer, config, strategy="greedy"):
    """Captions of `images` by `coca.generate`, in batches of `config.eval_batch_size`.

    The last batch is padded to the full size, so that every batch runs the
    one compiled decoding loop.

    Returns:
        list of str.
    """
    size = config.eval_batch_size
    captions = []
    for start in range(0, len(images), size):
        batch = images[start:start + size]
        padded = np.concatenate([batch, np.repeat(batch[-1:], size - len(batch), axis=0)])
        token_ids = coca.generate(padded, max_length=config.max_length, strategy=strategy,
                                  num_beams=config.num_beams)
        captions.extend(tokenizer.detokenize(token_ids)[:len(batch)])
    return captions


def scene_groups(data):
    """The shapes scenes' groups: single-shape (seen and held-out colour x
    shape combinations apart) and two-shape scenes, as bool masks."""
    single = data["num_shapes"] == 1
    return {"single": single, "single_seen": single & ~data["held_out"],
            "single_held_out": single & data["held_out"], "two_shapes": ~single}


def score_captions(predictions, data, groups=None):
    """BLEU-4 and CIDEr-D against all references, exact match against the
    canonical caption, overall and on each of `groups` (name -> bool mask
    over the examples; default `scene_groups(data)`) as
    `exact_match_<name>`."""
    canonical = [[c] for c in data["captions"]]
    results = metrics.caption_metrics(data["references"], predictions)
    results["exact_match"] = metrics.exact_match(canonical, predictions)
    groups = scene_groups(data) if groups is None else groups
    for name, keep in groups.items():
        (index,) = np.nonzero(keep)
        results[f"exact_match_{name}"] = (
            metrics.exact_match([canonical[i] for i in index], [predictions[i] for i in index])
            if len(index) else float("nan"))
    return results


def evaluate_captioner(coca, config, tokenizer=None, test_data=None, groups=None):
    """Greedy and beam-search captions of the test scenes, scored.

    Args:
        coca: a trained shapes `kerasmm.models.CoCa`.
        config: a `CaptionDemoConfig`.
        tokenizer: defaults to `caption_tokenizer()`.
        test_data: `load_caption_test_split(config)`, if already loaded
            (any dict with `inputs`, `captions`, `references` and
            `held_out`, e.g. video clips).
        groups: `score_captions`' groups (default: the shapes scenes').

    Returns:
        dict: `"greedy"` and `"beam"` results of `score_captions`, and
        `"examples"`: the first `config.num_shown` scenes' reference and
        both captions.
    """
    tokenizer = tokenizer or datasets.caption_tokenizer()
    data = test_data or load_caption_test_split(config)
    results, predictions = {}, {}
    for strategy in STRATEGIES:
        predictions[strategy] = generate_captions(coca, data["inputs"], tokenizer, config,
                                                  strategy)
        results[strategy] = score_captions(predictions[strategy], data, groups)
    results["examples"] = [
        {"reference": str(data["captions"][i]), "held_out": bool(data["held_out"][i]),
         **{strategy: predictions[strategy][i] for strategy in STRATEGIES}}
        for i in range(min(config.num_shown, len(data["captions"])))
    ]
    return results


SCENE_ROWS = (("exact match, single shape", "exact_match_single"),
              ("  seen colour x shape", "exact_match_single_seen"),
              ("  held-out colour x shape", "exact_match_single_held_out"),
              ("exact match, two shapes", "exact_match_two_shapes"))


def format_caption_results(results, group_rows=SCENE_ROWS):
    """The results of `evaluate_captioner` as a text table and examples
    (`group_rows`: `(label, key)` of the group scores shown)."""
    rows = [("BLEU-4", "bleu_4"), ("CIDEr-D", "cider_d"), ("exact match, all", "exact_match"),
            *group_rows]
    lines = [f"{'':32s}{'greedy':>9s}{'beam':>9s}"]
    for label, key in rows:
        lines.append(f"{label:32s}{results['greedy'][key]:9.3f}{results['beam'][key]:9.3f}")
    lines.append("Examples (reference | greedy | beam):")
    for example in results["examples"]:
        mark = " (held-out combination)" if example["held_out"] else ""
        lines.append(f"  {example['reference']} | {example['greedy']} | "
                     f"{example['beam']}{mark}")
    return "\n".join(lines)
