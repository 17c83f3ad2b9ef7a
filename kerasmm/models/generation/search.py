"""The decoding loops: greedy / sampling and beam search, as `keras.ops`.

Each loop is one `keras.ops.while_loop` over static-shaped state, so it
traces once and compiles whole under XLA or `jax.jit`. `decode(token_ids,
index, cache)` is the model's step: int32 `(B, 1)` tokens at position
`index` -> float32 logits `(B, V)` for position `index + 1` and the updated
cache. `prompt` is int32 `(B, P)`: the start token, then `P - 1` given
tokens (`P = 1`: no prompt), which `prefill` feeds through the cache before
a loop starts at position `P - 1`. Token buffers hold the prompt and are
`P + max_length` long; callers drop column 0.
"""

import keras
from keras import ops

from kerasmm.models.generation import sampling

# Hugging Face's "minus infinity" for beam bookkeeping: finite, so sums stay finite.
_BEAM_NEG = -1.0e9


def _token_buffer(prompt, max_length, pad_token_id):
    tokens = ops.full((prompt.shape[0], prompt.shape[1] + max_length), pad_token_id,
                      dtype="int32")
    return ops.slice_update(tokens, (0, 0), ops.cast(prompt, "int32"))


def _column(tokens, index):
    return ops.slice(tokens, (0, index), (ops.shape(tokens)[0], 1))


def prefill(decode, prompt, cache):
    """The cache after the prompt's tokens but its last, `(B, P)` int32,
    one compiled step each (their logits are not needed)."""
    steps = prompt.shape[1] - 1
    if steps == 0:
        return cache

    def body(index, cache):
        index = ops.cast(index, "int32")
        return decode(_column(prompt, index), index, cache)[1]

    return ops.fori_loop(0, steps, body, cache)


def _step_scores(logits, new_index, presence, options):
    """`new_index`: how many tokens were generated before this step."""
    suppress = None
    if options.min_length > 0:
        suppress = new_index < options.min_length
    return sampling.process_scores(
        ops.cast(logits, "float32"), presence, options.repetition_penalty,
        options.end_token_id, suppress, options.temperature, options.top_k,
        options.top_p,
    )


def greedy_or_sample(decode, cache, prompt, options, seed=None, vocabulary_size=None):
    """Greedy decoding, or sampling when `seed` (int32 scalar) is given.

    `cache` is `prefill`ed with `prompt` `(B, P)`. Finished rows (that
    produced the end token) continue with the pad token, as in Hugging
    Face; the loop stops early once every row has finished. Returns int32
    `(B, P + max_length)`.
    """
    batch_size, offset = prompt.shape[0], prompt.shape[1] - 1
    end = offset + options.max_length
    tokens = _token_buffer(prompt, options.max_length, options.pad_token_id)
    done = ops.zeros((batch_size,), dtype="bool")
    use_presence = options.repetition_penalty != 1.0
    presence = (sampling.presence_of(ops.cast(prompt, "int32"), vocabulary_size)
                if use_presence else ops.zeros((batch_size, 1), dtype="bool"))

    def condition(index, tokens, cache, done, presence):
        return ops.logical_and(index < end, ops.logical_not(ops.all(done)))

    def body(index, tokens, cache, done, presence):
        logits, cache = decode(_column(tokens, index), index, cache)
        scores = _step_scores(logits, index - offset, presence, options)
        if seed is None:
            next_tokens = sampling.greedy_select(scores)
        else:
            uniform = sampling.stateless_uniform(ops.shape(scores), seed, index)
            next_tokens = sampling.gumbel_select(scores, uniform)
        next_tokens = ops.where(done, options.pad_token_id, next_tokens)
        tokens = ops.slice_update(tokens, (0, index + 1), next_tokens[:, None])
        done = ops.logical_or(done, next_tokens == options.end_token_id)
        if use_presence:
            presence = ops.logical_or(
                presence, sampling.presence_of(next_tokens[:, None], vocabulary_size))
        return index + 1, tokens, cache, done, presence

    state = (ops.convert_to_tensor(offset, dtype="int32"), tokens, cache, done, presence)
    return ops.while_loop(condition, body, state, maximum_iterations=options.max_length)[1]


def _gather_beams(x, indices):
    """`x[b, indices[b, j], ...]`: x `(B, K, ...)`, indices int `(B, K')`."""
    indices = ops.reshape(indices, tuple(indices.shape) + (1,) * (len(x.shape) - 2))
    shape = tuple(indices.shape[:2]) + tuple(x.shape[2:])
    return ops.take_along_axis(x, ops.broadcast_to(indices, shape), axis=1)


def _reorder(tree, source_beams, num_beams):
    """Rows of a flat `(B * K, ...)` structure taken from `source_beams` (B, K)."""
    batch = source_beams.shape[0]
    offsets = ops.arange(batch, dtype="int32")[:, None] * num_beams
    flat = ops.reshape(source_beams + offsets, (-1,))
    return keras.tree.map_structure(lambda x: ops.take(x, flat, axis=0), tree)


def beam_search(decode, cache, prompt, options, vocabulary_size=None):
    """Hugging Face's beam search (transformers 5 `_beam_search`, `do_sample=False`).

    `length_penalty = 1.0` and `early_stopping = False`: each step keeps the
    top `2 * num_beams` continuations of `log_softmax(logits)` (processed:
    repetition penalty on log-probabilities, min length) plus the running
    sums; candidates ending in the end token, or reaching `max_length`, that
    rank in the top `num_beams` join the finished set with score `sum /
    new_length` (new tokens, end token included); the best `num_beams`
    unfinished ones run on. A batch row stops improving once its best running
    sum divided by its current new length is no better than its worst
    finished score (Hugging Face's `early_stopping=False` heuristic); the
    loop ends when no row can improve. `prompt` `(B, P)` continues (new
    lengths do not count it); `cache` is already tiled to `(B * num_beams,
    ...)` and `prefill`ed. Returns the best finished sequence per row,
    int32 `(B, P + max_length)`.
    """
    k, max_length = options.num_beams, options.max_length
    batch_size, offset = prompt.shape[0], prompt.shape[1] - 1
    width = offset + max_length + 1
    end_id, pad_id = options.end_token_id, options.pad_token_id
    running = ops.reshape(
        _token_buffer(ops.repeat(prompt, k, axis=0), max_length, pad_id),
        (batch_size, k, width))
    first_beam = ops.arange(k) == 0
    running_scores = ops.where(first_beam[None, :], 0.0,
                               ops.full((batch_size, k), _BEAM_NEG, "float32"))
    finished = ops.zeros((batch_size, k), dtype="bool")
    use_presence = options.repetition_penalty != 1.0
    presence = (sampling.presence_of(ops.repeat(ops.cast(prompt, "int32"), k, axis=0),
                                     vocabulary_size)
                if use_presence else ops.zeros((batch_size * k, 1), dtype="bool"))
    state = {
        "index": ops.convert_to_tensor(offset, dtype="int32"),
        "running": running, "running_scores": running_scores,
        "sequences": running, "scores": ops.full((batch_size, k), _BEAM_NEG, "float32"),
        "finished": finished, "improvable": ops.ones((batch_size,), dtype="bool"),
        "continuable": ops.convert_to_tensor(True), "cache": cache,
        "presence": presence,
    }
    top_k_mask = ops.arange(2 * k) < k

    def condition(s):
        return ops.logical_and(ops.logical_and(s["index"] < offset + max_length,
                                               ops.any(s["improvable"])), s["continuable"])

    def body(s):
        index = s["index"]
        new_index = index - offset  # Tokens generated so far.
        flat_running = ops.reshape(s["running"], (batch_size * k, width))
        logits, cache = decode(_column(flat_running, index), index, s["cache"])
        log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
        log_probs = _step_scores(log_probs, new_index, s["presence"], options)
        vocabulary = log_probs.shape[-1]
        totals = ops.reshape(log_probs, (batch_size, k, vocabulary)) + s["running_scores"][:, :, None]
        top_scores, top_indices = ops.top_k(ops.reshape(totals, (batch_size, k * vocabulary)), 2 * k)
        top_indices = ops.cast(top_indices, "int32")
        source = top_indices // vocabulary
        new_tokens = top_indices % vocabulary
        candidates = ops.slice_update(_gather_beams(s["running"], source), (0, 0, index + 1),
                                      new_tokens[:, :, None])
        hits = ops.logical_or(new_tokens == end_id, new_index + 1 >= max_length)

        # Unfinished candidates run on.
        running_candidates = top_scores + ops.cast(hits, "float32") * _BEAM_NEG
        keep = ops.cast(ops.top_k(running_candidates, k)[1], "int32")
        running = _gather_beams(candidates, keep)
        running_scores = _gather_beams(running_candidates, keep)
        cache = _reorder(cache, _gather_beams(source, keep), k)

        # Top-ranked finished candidates join the finished set.
        just_finished = ops.logical_and(hits, top_k_mask[None, :])
        normalised = top_scores / ops.cast(new_index + 1, "float32") ** options.length_penalty
        normalised += ops.cast(ops.logical_not(s["improvable"]), "float32")[:, None] * _BEAM_NEG
        normalised += ops.cast(ops.logical_not(just_finished), "float32") * _BEAM_NEG
        merged_scores = ops.concatenate([s["scores"], normalised], axis=1)
        best = ops.cast(ops.top_k(merged_scores, k)[1], "int32")
        sequences = _gather_beams(ops.concatenate([s["sequences"], candidates], axis=1), best)
        scores = _gather_beams(merged_scores, best)
        finished = _gather_beams(ops.concatenate([s["finished"], just_finished], axis=1), best)

        # Hugging Face's `early_stopping=False` heuristic at the new length.
        best_possible = (running_scores[:, 0]
                         / ops.cast(new_index + 1, "float32") ** options.length_penalty)
        worst = ops.where(finished, ops.min(scores, axis=1, keepdims=True), _BEAM_NEG)
        improvable = ops.logical_and(s["improvable"], ops.any(best_possible[:, None] > worst, axis=1))

        presence = s["presence"]
        if use_presence:
            flat_source = _gather_beams(source, keep)
            presence = _reorder(presence, flat_source, k)
            newest = ops.reshape(_gather_beams(new_tokens, keep), (-1, 1))
            presence = ops.logical_or(presence, sampling.presence_of(newest, vocabulary))
        return {
            "index": index + 1, "running": running, "running_scores": running_scores,
            "sequences": sequences, "scores": scores, "finished": finished,
            "improvable": improvable, "continuable": ops.logical_not(ops.all(hits)),
            "cache": cache, "presence": presence,
        }

    final = ops.while_loop(condition, body, state, maximum_iterations=max_length)
    return final["sequences"][:, 0]
