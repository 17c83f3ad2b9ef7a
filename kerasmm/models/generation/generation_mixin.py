"""`GenerationMixin`: compiled, cached, batched text generation for decoders."""

import collections

import keras
import numpy as np
from keras import ops

from kerasmm.models.generation import search
from kerasmm.models.generation.compiled import as_seed
from kerasmm.models.generation.compiled import compile_function
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.tensor_checks import check_token_ids

STRATEGIES = ("greedy", "beam", "sample")

# Everything that changes the traced program; one compiled function each.
DecodingOptions = collections.namedtuple("DecodingOptions", [
    "strategy", "max_length", "num_beams", "top_k", "top_p", "temperature",
    "min_length", "repetition_penalty", "length_penalty", "start_token_id",
    "end_token_id", "pad_token_id",
])


def _check_options(strategy, max_length, num_beams, top_k, top_p, temperature,
                   min_length, repetition_penalty, seed):
    check_choice("strategy", strategy, STRATEGIES)
    check_positive_int("max_length", max_length)
    check_positive_int("num_beams", num_beams)
    check_positive_int("top_k", top_k, allow_none=True)
    top_p = check_number("top_p", top_p, minimum=0.0, exclusive_minimum=True, allow_none=True)
    if top_p is not None and top_p > 1.0:
        raise ValueError(f"top_p must be in (0, 1]. Received: top_p={top_p}")
    check_number("temperature", temperature, minimum=0.0, exclusive_minimum=True)
    check_int("min_length", min_length, minimum=0)
    check_number("repetition_penalty", repetition_penalty, minimum=0.0, exclusive_minimum=True)
    check_int("seed", seed, allow_none=True)
    if strategy != "sample":
        for name, value, default in (("top_k", top_k, None), ("top_p", top_p, None),
                                     ("temperature", temperature, 1.0)):
            if value != default:
                raise ValueError(
                    f"{name} applies only to strategy='sample'. Received: "
                    f"{name}={value!r} with strategy={strategy!r}")


def _trim(tokens, end_token_id, prompt_length=0):
    """Drop the columns after the longest row's end token (Hugging Face's
    length); the first `prompt_length` columns (a prompt) are kept."""
    ended = tokens[:, prompt_length:] == end_token_id
    lengths = np.where(ended.any(axis=1), ended.argmax(axis=1) + 1,
                       tokens.shape[1] - prompt_length)
    return tokens[:, :prompt_length + max(int(lengths.max()), 1)]


def prompt_tensor(prompt_token_ids, batch_size, start_token_id, vocabulary_size):
    """int32 `(B, 1 + P)`: the start token, then the prompt's ids (`(P,)`
    shared by every row, or `(B, P)`; None or empty: no prompt)."""
    start = np.full((batch_size, 1), start_token_id, "int32")
    if prompt_token_ids is None:
        return start
    prompt = np.asarray(keras.ops.convert_to_numpy(prompt_token_ids))
    if prompt.ndim == 1:
        prompt = np.broadcast_to(prompt, (batch_size, prompt.shape[0]))
    if prompt.ndim != 2 or prompt.shape[0] != batch_size:
        raise ValueError(
            f"prompt_token_ids must be (P,) or (batch_size, P) = ({batch_size}, P). "
            f"Received: prompt_token_ids with shape {prompt.shape}")
    if prompt.size:
        check_token_ids("prompt_token_ids", prompt, vocabulary_size)
    return np.concatenate([start, prompt.astype("int32")], axis=1)


class GenerationMixin:
    """`generate()` for a `keras.Model` whose decoder runs one token at a time.

    The model implements (backend-agnostic `keras.ops`, static shapes):

    - `generation_context(inputs) -> dict`: what is computed once per batch
      (e.g. image tokens).
    - `init_cache(context, batch_size, max_length) -> cache`: a nested
      structure of zero tensors with static shapes (e.g. keys and values).
    - `decode_step(token_ids, index, cache, context) -> (logits, cache)`:
      int32 `(B, 1)` tokens at position `index` (int32 scalar tensor) ->
      next-token logits `(B, V)` and the cache written at `index`.
    - `start_token_id`, `end_token_id`, `pad_token_id` attributes.

    Each decoding configuration (`strategy`, `max_length`, `num_beams`,
    sampling settings) gets one function compiling the whole loop (XLA on
    TensorFlow, `jax.jit` on JAX), cached on the model and retraced only for
    new input shapes; `generate_trace_count` counts the traces.

    A class whose context is large matrix products (a ViT at full
    resolution) may set `jit_compile_context = False`: on TensorFlow,
    `generation_context` then runs as its own graph without XLA (oneDNN's
    matrix products, faster than XLA's on CPU), once per call, and feeds
    the compiled loop; on JAX both are `jax.jit`ted.
    """

    generate_trace_count = 0
    jit_compile_context = True

    def generate(self, inputs, max_length=20, strategy="greedy", num_beams=4,
                 top_k=None, top_p=None, temperature=1.0, min_length=0,
                 repetition_penalty=1.0, seed=None, prompt_token_ids=None):
        """Generates token ids for a batch of `inputs`.

        Args:
            inputs: what `generation_context` takes (e.g. images `(B, H, W, C)`).
            max_length: most new tokens per row (Hugging Face's
                `max_new_tokens`); the start token is not counted.
            strategy: `"greedy"`, `"beam"` (Hugging Face's beam search with
                `length_penalty=1.0`, `early_stopping=False`) or `"sample"`.
            num_beams: beams for `strategy="beam"` (ignored otherwise).
            top_k, top_p, temperature: sampling warpers (`"sample"` only),
                applied in Hugging Face's order: temperature, top-k, top-p.
            min_length: the end token is forbidden among the first
                `min_length` new tokens (Hugging Face's `min_new_tokens`).
            repetition_penalty: Hugging Face's rule on every token already in
                the sequence, the start token included (> 1 discourages).
            seed: int for reproducible sampling (stateless generator: the
                same seed gives the same tokens); None draws one from NumPy's
                global generator. Greedy and beam search ignore it.
            prompt_token_ids: optional int ids the output continues (Hugging
                Face's `input_ids` of BLIP's `generate`, e.g. the ids of "a
                picture of", without the start token): `(P,)` for every row
                or `(B, P)`, one prompt per row (equal lengths, no padding).
                They go through the cache first, in the same compiled
                function; a new `P` compiles anew.

        Returns:
            int32 NumPy array `(B, P + T)`, `T <= max_length`: the prompt's
            ids (if any), then the new tokens, the end token kept,
            `pad_token_id` after it; `T` is the longest row's length. No
            start token.
        """
        _check_options(strategy, max_length, num_beams, top_k, top_p, temperature,
                       min_length, repetition_penalty, seed)
        options = DecodingOptions(
            strategy, int(max_length), int(num_beams) if strategy == "beam" else 1,
            top_k, None if top_p is None else float(top_p), float(temperature),
            int(min_length), float(repetition_penalty), 1.0, int(self.start_token_id),
            int(self.end_token_id), int(self.pad_token_id),
        )
        functions = self.__dict__.setdefault("_generate_functions", {})
        if options not in functions:
            functions[options] = compile_function(
                self._decoding_function(options), self.variables)
        inputs = keras.tree.map_structure(ops.convert_to_tensor, inputs)
        batch_size = int(keras.tree.flatten(inputs)[0].shape[0])
        prompt = prompt_tensor(prompt_token_ids, batch_size, options.start_token_id,
                               getattr(self, "vocabulary_size", None) or np.iinfo("int32").max)
        if not self.jit_compile_context:
            inputs = self.compiled_generation_context(inputs)
        tokens = functions[options](inputs, ops.convert_to_tensor(prompt),
                                    as_seed(seed if strategy == "sample" else 0))
        tokens = ops.convert_to_numpy(tokens)[:, 1:].astype("int32")
        return _trim(tokens, options.end_token_id, prompt.shape[1] - 1)

    def compiled_generation_context(self, inputs):
        """`generation_context(inputs)` as `generate` computes it apart from
        the loop (`jit_compile_context = False`): a TensorFlow graph without
        XLA, `jax.jit` on JAX; traced once per input shape."""
        if "_context_function" not in self.__dict__:  # Untracked by Keras, as below.
            self.__dict__["_context_function"] = compile_function(
                self.generation_context, self.variables, jit_compile=False)
        return self.__dict__["_context_function"](inputs)

    def _decoding_function(self, options):
        def run(inputs, prompt, seed):
            # Python runs this only while tracing: one count per compilation.
            self.generate_trace_count += 1
            context = (self.generation_context(inputs) if self.jit_compile_context
                       else inputs)
            batch_size = prompt.shape[0]
            beams = options.num_beams
            if beams > 1:
                context = keras.tree.map_structure(
                    lambda x: ops.repeat(x, beams, axis=0), context)
            cache = self.init_cache(context, batch_size * beams,
                                    prompt.shape[1] - 1 + options.max_length)

            def decode(token_ids, index, cache):
                return self.decode_step(token_ids, index, cache, context)

            cache = search.prefill(decode, ops.repeat(prompt, beams, axis=0), cache)
            vocabulary_size = None
            if options.repetition_penalty != 1.0:
                vocabulary_size = self._vocabulary_size(decode, batch_size * beams, cache)
            if options.strategy == "beam":
                return search.beam_search(decode, cache, prompt, options, vocabulary_size)
            return search.greedy_or_sample(
                decode, cache, prompt, options,
                seed if options.strategy == "sample" else None, vocabulary_size)

        return run

    def _vocabulary_size(self, decode, batch_size, cache):
        size = getattr(self, "vocabulary_size", None)
        if size is None:
            # Shape only: the compiler drops this unused call.
            start = ops.full((batch_size, 1), self.start_token_id, dtype="int32")
            size = decode(start, ops.convert_to_tensor(0, "int32"), cache)[0].shape[-1]
        return int(size)
