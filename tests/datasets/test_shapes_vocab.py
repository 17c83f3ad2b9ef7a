import importlib.util
import json
import os

import numpy as np
import pytest

from kerasmm.datasets import (
    SHAPES_SEQUENCE_LENGTH,
    ZERO_SHOT_CLASSES,
    ZERO_SHOT_TEMPLATES,
    shapes,
    shapes_tokenizer,
)
from kerasmm.datasets.pipelines import SHAPES_MERGES_PATH, SHAPES_VOCABULARY_PATH
from tests.preprocessing.openai_bpe import OpenAIBPE, base_vocabulary

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def reference():
    with open(SHAPES_VOCABULARY_PATH, encoding="utf-8") as f:
        vocabulary = json.load(f)
    with open(SHAPES_MERGES_PATH, encoding="utf-8") as f:
        merges = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    return OpenAIBPE(vocabulary, merges)


@pytest.fixture(scope="module")
def tokenizer():
    return shapes_tokenizer()


def test_shipped_files_are_what_the_tool_writes():
    spec = importlib.util.spec_from_file_location(
        "make_shapes_vocab", os.path.join(ROOT, "tools", "make_shapes_vocab.py")
    )
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    vocab_text, merges_text = tool.render(*tool.build())
    with open(SHAPES_VOCABULARY_PATH, encoding="utf-8") as f:
        assert f.read() == vocab_text, "rerun tools/make_shapes_vocab.py"
    with open(SHAPES_MERGES_PATH, encoding="utf-8") as f:
        assert f.read() == merges_text, "rerun tools/make_shapes_vocab.py"


def test_vocabulary_layout_is_openai_like(reference):
    tokens = sorted(reference.encoder, key=reference.encoder.get)
    assert tokens[:512] == base_vocabulary()
    assert tokens[-2:] == ["<|startoftext|>", "<|endoftext|>"]
    assert sorted(reference.encoder.values()) == list(range(len(tokens)))


def test_every_word_is_one_token(reference, tokenizer):
    for word in shapes.SHAPES_WORDS:
        assert len(reference.encode(word)) == 1, word
        assert np.asarray(tokenizer(word)).tolist()[:3] == reference.tokenize(word, 3)


def test_captions_and_prompts_fit_and_match_reference(reference, tokenizer):
    texts = shapes.shapes_captions("train", 1500) + shapes.shapes_captions("test", 300)
    texts += [t.format(c) for t in ZERO_SHOT_TEMPLATES for c in ZERO_SHOT_CLASSES]
    longest = max(len(reference.encode(t)) + 2 for t in texts)
    assert longest <= SHAPES_SEQUENCE_LENGTH  # Nothing truncated.
    texts += ["zebra quokka 42, Émile!", "a RED Circle"]  # Outside the word list.
    expected = [reference.tokenize(t, SHAPES_SEQUENCE_LENGTH) for t in texts]
    np.testing.assert_array_equal(np.asarray(tokenizer(texts)), expected)
    assert tokenizer.vocabulary_size() == len(reference.encoder)
