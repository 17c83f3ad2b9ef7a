"""Pure functions on next-token logits, as Hugging Face's logits processors.

Each takes float32 scores `(B, V)` and returns processed scores of the same
shape; removed tokens get `-inf` (Hugging Face's `filter_value`). They are
backend-agnostic `keras.ops` and trace into the compiled decoding loop, and
they work on their own too:

>>> import numpy as np
>>> scores = np.log(np.array([[0.5, 0.3, 0.2]], "float32"))
>>> keras.ops.convert_to_numpy(top_p_filter(scores, 0.7))
array([[-0.6931472, -1.2039728,       -inf]], dtype=float32)
"""

import keras
from keras import ops

NEG_INF = float("-inf")


def repetition_penalty(scores, presence, penalty):
    """Hugging Face's `RepetitionPenaltyLogitsProcessor` (CTRL's rule).

    Scores of tokens already present in the sequence (the start token
    included) are divided by `penalty` when positive and multiplied by it when
    negative, so `penalty > 1` always makes a repeat less likely.

    Args:
        scores: float `(B, V)`.
        presence: bool `(B, V)`, True where the token occurs in the sequence.
        penalty: Python float > 0; 1.0 leaves the scores unchanged.
    """
    penalised = ops.where(scores < 0, scores * penalty, scores / penalty)
    return ops.where(presence, penalised, scores)


def suppress_end_token(scores, end_token_id, suppress):
    """Hugging Face's min-length rule: the end token's score becomes `-inf`.

    Args:
        scores: float `(B, V)`.
        end_token_id: Python int.
        suppress: bool scalar tensor (or Python bool): whether to apply it,
            i.e. whether fewer than `min_length` new tokens exist yet.
    """
    vocabulary = ops.arange(ops.shape(scores)[-1])
    mask = ops.logical_and(vocabulary == end_token_id, suppress)
    return ops.where(mask[None, :], NEG_INF, scores)


def temperature_scale(scores, temperature):
    """Hugging Face's `TemperatureLogitsWarper`: `scores / temperature`."""
    return scores / temperature


def top_k_filter(scores, top_k):
    """Hugging Face's `TopKLogitsWarper`: keep scores >= the k-th largest.

    Ties with the k-th score are kept, as in Hugging Face (`scores <
    topk(scores, k)[-1]` are removed). `top_k` larger than the vocabulary
    keeps everything.
    """
    top_k = min(int(top_k), scores.shape[-1])
    kth = ops.top_k(scores, top_k, sorted=True)[0][:, -1:]
    return ops.where(scores < kth, NEG_INF, scores)


def top_p_filter(scores, top_p):
    """Hugging Face's `TopPLogitsWarper` (nucleus filtering, min 1 token kept).

    Sort ascending, take cumulative softmax probabilities `c`, remove the
    tokens with `c <= 1 - top_p`, never the most likely one.
    """
    order = ops.argsort(scores, axis=-1)
    sorted_scores = ops.take_along_axis(scores, order, axis=-1)
    cumulative = ops.cumsum(ops.softmax(sorted_scores, axis=-1), axis=-1)
    remove_sorted = cumulative <= (1.0 - top_p)
    vocabulary = scores.shape[-1]
    keep_last = ops.arange(vocabulary) == vocabulary - 1
    remove_sorted = ops.logical_and(remove_sorted, ops.logical_not(keep_last)[None, :])
    # The inverse permutation scatters the sorted mask back to token order.
    inverse = ops.argsort(order, axis=-1)
    remove = ops.take_along_axis(remove_sorted, inverse, axis=-1)
    return ops.where(remove, NEG_INF, scores)


def greedy_select(scores):
    """The highest-scoring token per row, int32 `(B,)`."""
    return ops.cast(ops.argmax(scores, axis=-1), "int32")


def gumbel_select(scores, uniform):
    """A token sampled from `softmax(scores)` by the Gumbel-max trick.

    `argmax(scores + g)` with `g = -log(-log(u))` draws exactly from the
    categorical distribution; `-inf` scores are never drawn.

    Args:
        scores: float `(B, V)`.
        uniform: float `(B, V)` in (0, 1), e.g. from `stateless_uniform`.
    """
    gumbel = -ops.log(-ops.log(uniform))
    return greedy_select(scores + gumbel)


def process_scores(scores, presence=None, penalty=1.0, end_token_id=None,
                   suppress_end=None, temperature=1.0, top_k=None, top_p=None):
    """Hugging Face's processor order: repetition penalty, min length, then
    (sampling only) temperature, top-k, top-p. Unset steps are skipped."""
    if penalty != 1.0:
        scores = repetition_penalty(scores, presence, penalty)
    if suppress_end is not None:
        scores = suppress_end_token(scores, end_token_id, suppress_end)
    if temperature != 1.0:
        scores = temperature_scale(scores, temperature)
    if top_k is not None:
        scores = top_k_filter(scores, top_k)
    if top_p is not None and top_p < 1.0:
        scores = top_p_filter(scores, top_p)
    return scores


def presence_of(token_ids, vocabulary_size):
    """bool `(B, V)`: which tokens occur in int `(B, L)` `token_ids`."""
    one_hot = ops.one_hot(token_ids, vocabulary_size, dtype="int32")
    return ops.max(one_hot, axis=1) > 0


def stateless_uniform(shape, seed, step):
    """Uniform floats in (0, 1), a pure function of `(seed, step)`.

    `seed` and `step` are int32 scalar tensors, so a compiled loop draws fresh
    numbers each step without state and the same seed reproduces a run.
    TensorFlow and JAX use their own stateless generators (the two backends
    draw different numbers for the same seed).
    """
    tiny = 1.1754944e-38  # float32's smallest normal: log(u) stays finite
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        pair = tf.stack([tf.cast(seed, "int32"), tf.cast(step, "int32")])
        return tf.random.stateless_uniform(shape, pair, minval=tiny, maxval=1.0)
    if backend == "jax":
        import jax

        key = jax.random.fold_in(jax.random.key(seed), step)
        return jax.random.uniform(key, shape, minval=tiny, maxval=1.0)
    raise NotImplementedError(
        "Sampling needs the TensorFlow or JAX backend. "
        f"Received: backend={backend!r}"
    )
