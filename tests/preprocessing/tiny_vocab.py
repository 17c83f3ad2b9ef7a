"""A tiny CLIP vocabulary and merges made here, independent of the shipped
shapes vocabulary, and one shared tokenizer over them.

The tokenizer is cached so that the tests that run it inside `tf.data`
trace keras-hub's TF BPE (seconds) once per process.
"""

import functools

from kerasmm.preprocessing import CLIPTokenizer
from tests.preprocessing.openai_bpe import base_vocabulary

# "l e</w>" outranks "circ l" so that merge order matters for "circle".
MERGES = [
    "r e", "re d</w>", "c i", "ci r", "l e</w>", "cir c", "circ le</w>",
    "b l", "bl u", "blu e</w>", "s q", "sq u", "a r", "ar e</w>", "squ are</w>",
    "i s</w>", "' s</w>",
]


def make_vocabulary():
    tokens = base_vocabulary() + ["".join(m.split()) for m in MERGES]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(tokens)}


@functools.lru_cache(maxsize=None)
def tiny_tokenizer():
    return CLIPTokenizer(make_vocabulary(), MERGES, sequence_length=10)
