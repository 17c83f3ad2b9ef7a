"""Writes the CLIP BPE vocabulary and merges of the embedded shapes dataset.

    python tools/make_shapes_vocab.py          # rewrite the two files
    python tools/make_shapes_vocab.py --check  # exit 1 if they are stale

The vocabulary is laid out as OpenAI's: the 256 byte symbols, the same
with `</w>`, one token per merge, then `<|startoftext|>` and
`<|endoftext|>` (the largest id, where CLIP's text tower reads its
features). Merges are learned by plain BPE on `SHAPES_WORDS` (most
frequent pair first, ties broken by the pair's text) until every word is a
single token, so every caption word costs one token, and any other text
still tokenizes through the byte symbols. Deterministic: rerunning
rewrites the same bytes. Run it after changing the caption templates.
"""

import argparse
import collections
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from kerasmm.datasets.shapes import SHAPES_WORDS  # noqa: E402
from kerasmm.preprocessing.clip_tokenizer import bytes_to_unicode  # noqa: E402

VOCAB_PATH = os.path.join(ROOT, "kerasmm", "datasets", "shapes_vocab.json")
MERGES_PATH = os.path.join(ROOT, "kerasmm", "datasets", "shapes_merges.txt")


def learn_merges(words):
    """BPE merges that make each word of `words` one token."""
    byte_encoder = bytes_to_unicode()
    pieces = []
    for word in words:
        symbols = [byte_encoder[b] for b in word.encode("utf-8")]
        symbols[-1] += "</w>"
        pieces.append(symbols)
    merges = []
    while True:
        counts = collections.Counter(
            pair for symbols in pieces for pair in zip(symbols, symbols[1:])
        )
        if not counts:
            return merges
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        merges.append(best)
        for i, symbols in enumerate(pieces):
            merged, j = [], 0
            while j < len(symbols):
                if tuple(symbols[j : j + 2]) == best:
                    merged.append(symbols[j] + symbols[j + 1])
                    j += 2
                else:
                    merged.append(symbols[j])
                    j += 1
            pieces[i] = merged


def build(words=SHAPES_WORDS):
    """Returns `(vocabulary dict, merges list of "a b" strings)`."""
    merges = learn_merges(words)
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols]
    tokens += ["".join(pair) for pair in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(tokens)}, [" ".join(pair) for pair in merges]


def render(vocabulary, merges):
    """The exact file contents: `(vocab json text, merges text)`."""
    vocab_text = json.dumps(vocabulary, ensure_ascii=False, indent=0) + "\n"
    merges_text = "#version: 0.2\n" + "".join(m + "\n" for m in merges)
    return vocab_text, merges_text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if files are stale")
    args = parser.parse_args()
    vocab_text, merges_text = render(*build())
    if args.check:
        for path, text in ((VOCAB_PATH, vocab_text), (MERGES_PATH, merges_text)):
            with open(path, encoding="utf-8") as f:
                if f.read() != text:
                    sys.exit(f"{path} is stale: rerun tools/make_shapes_vocab.py")
        return
    for path, text in ((VOCAB_PATH, vocab_text), (MERGES_PATH, merges_text)):
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
