"""TFDS examples -> the families' input conventions, inside `tf.data`.

Raw examples keep one modality under its model input name (`"images"` uint8
`(H, W, 3)`, `"audio"` float32 `(samples,)`, `"videos"` uint8
`(T, H, W, 3)`) and their texts (`"captions"`, a string vector, or
`"questions"` / `"answers"`). A family preprocessor (`CLIPPreprocessor`
...) called on `{modality: x, "prompts": texts}` turns them into model
inputs.
"""

import tensorflow as tf

from kerasmm.metrics.vqa_accuracy import ARTICLES
from kerasmm.metrics.vqa_accuracy import CONTRACTIONS
from kerasmm.metrics.vqa_accuracy import NUMBER_WORDS
from kerasmm.metrics.vqa_accuracy import PUNCTUATION
from kerasmm.metrics.vqa_accuracy import normalize_vqa_answer

# Entries with one row per caption.
PER_CAPTION_KEYS = ("captions", "boxes")
# VQA's soft score: an answer given by 3 or more of the 10 annotators scores 1.
VQA_FULL_SCORE_COUNT = 3


def rgb(image):
    """A decoded image as 3 channels: grey repeated, alpha dropped."""
    channels = image.shape[-1]
    if channels == 1:
        return tf.image.grayscale_to_rgb(image)
    return image[..., :3] if channels == 4 else image


def normalize_answer(answer):
    """The form answers are counted in: `normalize_vqa_answer`, the VQA
    evaluation's normalisation, on a Python string or, inside `tf.data`, on
    a `tf.string` tensor of any shape (ASCII white space and digits)."""
    if isinstance(answer, str):
        return normalize_vqa_answer(answer)
    answer = tf.convert_to_tensor(answer, tf.string)
    text = tf.strings.strip(tf.strings.regex_replace(tf.reshape(answer, [-1]), "[\n\t]", " "))
    delete_all = tf.strings.regex_full_match(text, r"(?s).*[0-9],[0-9].*")
    out = text
    for mark in PUNCTUATION:
        pattern = "\\" + mark  # RE2: a backslash before punctuation means itself
        touches_space = tf.strings.regex_full_match(text, f"(?s).*( {pattern}|{pattern} ).*")
        out = tf.where(touches_space | delete_all, tf.strings.regex_replace(out, pattern, ""),
                       tf.strings.regex_replace(out, pattern, " "))
    # Periods go unless a digit follows: keep those through a placeholder.
    out = tf.strings.regex_replace(out, r"\.([0-9])", "\x01\\1")
    out = tf.strings.regex_replace(tf.strings.regex_replace(out, r"\.", ""), "\x01", ".")
    words = tf.strings.split(tf.strings.lower(out, encoding="utf-8"))
    words = words.with_flat_values(_replace_words(words.flat_values, NUMBER_WORDS))
    words = tf.ragged.boolean_mask(
        words, tf.logical_not(_in_words(words, ARTICLES)))
    words = words.with_flat_values(_replace_words(words.flat_values, CONTRACTIONS))
    joined = tf.strings.reduce_join(words, axis=-1, separator=" ")
    return tf.reshape(joined, tf.shape(answer))


def _replace_words(words, table):
    lookup = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(list(table)),
                                            tf.constant(list(table.values()))),
        default_value="")
    found = lookup.lookup(words)
    return tf.where(tf.strings.length(found) > 0, found, words)


def _in_words(words, choices):
    flat = words.flat_values
    hits = tf.reduce_any(flat[:, None] == tf.constant(choices)[None, :], axis=-1)
    return words.with_flat_values(hits)


def answer_vocabulary(answer_counts, num_answers):
    """The `num_answers` most frequent answers of `answer_counts` (a list of
    `[answer, count]`, most frequent first, as the VQA builder stores it)."""
    return [answer for answer, _ in answer_counts[:num_answers]]


def vqa_targets(vocabulary):
    """The function mapping a question's human answers (string vector) to
    its soft-score target over `vocabulary`: `min(1, count / 3)` for each
    answer given `count` times, answers outside the vocabulary dropped."""
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(vocabulary, tf.string), tf.range(len(vocabulary), dtype=tf.int64)),
        default_value=-1)

    def targets(answers):
        ids = table.lookup(normalize_answer(answers))
        counts = tf.reduce_sum(tf.one_hot(ids, len(vocabulary)), axis=0)
        return tf.minimum(1.0, counts / VQA_FULL_SCORE_COUNT)

    return targets


def pick_captions(ds, caption, seed):
    """Examples with a `"captions"` vector keeping all, one random (a new
    draw each epoch, reproducible given `seed`) or the first caption; the
    latter two as a scalar string (and the caption's row of `"boxes"`)."""
    if caption == "all":
        return ds

    def pick(ex, index):
        return {key: value[index] if key in PER_CAPTION_KEYS else value
                for key, value in ex.items()}

    if caption == "first":
        return ds.map(lambda ex: pick(ex, 0))
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def one(ex, draw):
        return pick(ex, draw % tf.shape(ex["captions"], out_type=tf.int64)[0])

    return tf.data.Dataset.zip((ds, draws)).map(one)


def preprocess_pairs(ds, preprocessor, modality):
    """`preprocessor` applied to raw examples of `modality` and captions.

    A scalar caption gives one example; a caption vector gives one example
    per caption (every output but `modality` is sliced along its first
    axis), the modality's input repeated (preprocessed once)."""
    per_image = ds.element_spec["captions"].shape.rank == 0

    def apply(ex):
        return preprocessor({modality: ex[modality], "prompts": ex["captions"]})

    ds = ds.map(apply, num_parallel_calls=tf.data.AUTOTUNE)
    if not isinstance(ds.element_spec, dict) or set(ds.element_spec) == {modality}:
        raise ValueError(f"preprocessor must return a dict with {modality!r} and the text "
                         f"inputs of the 'prompts' it is given. Returned: {ds.element_spec}")
    if per_image:
        return ds

    def per_caption(inputs):
        texts = {key: value for key, value in inputs.items() if key != modality}
        count = tf.shape(next(iter(texts.values())))[0]
        repeated = tf.repeat(inputs[modality][None], count, axis=0)
        return tf.data.Dataset.from_tensor_slices({modality: repeated, **texts})

    return ds.flat_map(per_caption)


def preprocess_questions(ds, preprocessor, label_key):
    """`(preprocessor({"images", "prompts": question}), ex[label_key])` pairs,
    for `fit`."""

    def apply(ex):
        inputs = preprocessor({"images": ex["images"], "prompts": ex["questions"]})
        return inputs, ex[label_key]

    return ds.map(apply, num_parallel_calls=tf.data.AUTOTUNE)
