"""A toy cached decoder for GenerationMixin and NumPy reference decoders.

The toy model's next-token logits at position i are
`bigram[t_i] + skip[t_{max(i-1, 0)}] + features @ bias`: the `skip` term
reads the previous token from the cache, so a cache written at the wrong
index, or not reordered with the beams, changes the results.
"""

import itertools

import keras
import numpy as np
from keras import ops

from kerasmm.models.generation import GenerationMixin

START, END, PAD = 0, 1, 2


class ToyDecoder(GenerationMixin, keras.Model):
    def __init__(self, vocabulary_size=6, feature_dim=3, seed=0, scale=2.0, tables=None,
                 **kwargs):
        super().__init__(**kwargs)
        rng = np.random.default_rng(seed)
        self.start_token_id, self.end_token_id, self.pad_token_id = START, END, PAD
        self.tables = tables or {
            name: rng.normal(scale=scale, size=shape).astype("float32")
            for name, shape in (("bigram", (vocabulary_size,) * 2),
                                ("skip", (vocabulary_size,) * 2),
                                ("bias", (feature_dim, vocabulary_size)))}
        vocabulary_size = self.vocabulary_size = self.tables["bigram"].shape[0]
        feature_dim = self.tables["bias"].shape[0]
        self.bigram = self.add_weight(shape=(vocabulary_size,) * 2, name="bigram",
                                      initializer=keras.initializers.Constant(self.tables["bigram"]))
        self.skip = self.add_weight(shape=(vocabulary_size,) * 2, name="skip",
                                    initializer=keras.initializers.Constant(self.tables["skip"]))
        self.bias = self.add_weight(shape=(feature_dim, vocabulary_size), name="bias",
                                    initializer=keras.initializers.Constant(self.tables["bias"]))

    def generation_context(self, inputs):
        return {"bias": ops.matmul(inputs, self.bias)}

    def init_cache(self, context, batch_size, max_length):
        return {"tokens": ops.zeros((batch_size, max_length), dtype="int32")}

    def decode_step(self, token_ids, index, cache, context):
        tokens = ops.slice_update(cache["tokens"], (0, index), token_ids)
        previous = ops.slice(tokens, (0, ops.maximum(index - 1, 0)), (ops.shape(tokens)[0], 1))
        logits = (ops.take(self.bigram, token_ids[:, 0], axis=0)
                  + ops.take(self.skip, previous[:, 0], axis=0) + context["bias"])
        return logits, {"tokens": tokens}


# === NumPy references ===

def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def toy_logits(model, prefix, features):
    """Logits after `prefix` (start token first) for one row, from scratch."""
    t = model.tables
    previous = prefix[max(len(prefix) - 2, 0)]
    return (t["bigram"][prefix[-1]] + t["skip"][previous] + features @ t["bias"]).astype("float32")


def process(scores, prefix, step, min_length=0, penalty=1.0):
    """Hugging Face's repetition penalty then min-length rule, one row."""
    scores = scores.copy()
    for token in set(prefix):
        scores[token] = scores[token] * penalty if scores[token] < 0 else scores[token] / penalty
    if step < min_length:
        scores[END] = -np.inf
    return scores


def greedy(model, features, max_length, min_length=0, penalty=1.0, prompts=None):
    """`prompts`: optional list of per-row token lists that the rows continue."""
    rows = []
    for i, x in enumerate(features):
        prompt = list(prompts[i]) if prompts is not None else []
        prefix = [START] + prompt
        while len(prefix) - len(prompt) <= max_length and (prefix[-1] != END or
                                                          len(prefix) == len(prompt) + 1):
            scores = process(toy_logits(model, prefix, x), prefix,
                             len(prefix) - 1 - len(prompt), min_length, penalty)
            prefix.append(int(np.argmax(scores)))
        rows.append(prefix[1:])
    return pad_rows(rows)


def pad_rows(rows):
    width = max(len(r) for r in rows)
    return np.array([r + [PAD] * (width - len(r)) for r in rows], "int32")


def beam(model, features, max_length, num_beams, min_length=0, penalty=1.0, prompts=None):
    """transformers 5 `_beam_search` (length_penalty 1, early_stopping False), row by row.

    Finished slots start empty at -1e9 like Hugging Face's, so a row's set
    counts as full only once `num_beams` real hypotheses finished.
    """
    rows = []
    for i, x in enumerate(features):
        start = [START] + (list(prompts[i]) if prompts is not None else [])
        running = [(start, 0.0)] + [(start, -1e9)] * (num_beams - 1)
        finished = [(-1e9, None, False)] * num_beams  # (score, tokens, finished)
        improvable = True
        for step in range(max_length):
            candidates = []
            for prefix, total in running:
                scores = process(log_softmax(toy_logits(model, prefix, x)), prefix, step,
                                 min_length, penalty)
                candidates += [(np.float32(total + s), prefix + [v]) for v, s in enumerate(scores)]
            top = sorted(candidates, key=lambda c: -c[0])[:2 * num_beams]
            hits = [p[-1] == END or step + 1 == max_length for _, p in top]
            running = sorted([(p, s - 1e9 * h) for (s, p), h in zip(top, hits)],
                             key=lambda r: -r[1])[:num_beams]
            for rank, ((s, p), h) in enumerate(zip(top, hits)):
                joins = h and rank < num_beams
                score = s / (step + 1) - 1e9 * (not improvable) - 1e9 * (not joins)
                finished.append((score, p, joins))
            finished = sorted(finished, key=lambda f: -f[0])[:num_beams]
            worst = min(f[0] for f in finished)
            best_possible = running[0][1] / (step + 1)
            improvable = improvable and any(best_possible > (worst if f[2] else -1e9)
                                            for f in finished)
            if all(hits) or not improvable:
                break
        rows.append(finished[0][1][1:])
    return pad_rows(rows)


def exhaustive(model, x, max_length, min_length=0, penalty=1.0):
    """The best `sum(log p) / length` over every finished sequence."""
    vocabulary = model.vocabulary_size
    best = (-np.inf, None)
    for length in range(1, max_length + 1):
        for body in itertools.product(range(vocabulary), repeat=length):
            if END in body[:-1] or (length < max_length and body[-1] != END):
                continue
            prefix, total = [START], 0.0
            for step, token in enumerate(body):
                scores = process(log_softmax(toy_logits(model, prefix, x)), prefix, step,
                                 min_length, penalty)
                total += scores[token]
                prefix.append(token)
            if total / length > best[0]:
                best = (total / length, list(body))
    return best[1]
