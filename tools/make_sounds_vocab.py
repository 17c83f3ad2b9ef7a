"""Writes the CLIP BPE vocabulary and merges of the embedded sounds dataset.

    python tools/make_sounds_vocab.py          # rewrite the two files
    python tools/make_sounds_vocab.py --check  # exit 1 if they are stale

The same layout and BPE as `tools/make_shapes_vocab.py` (whose `build`
and `render` this reuses), learned on `kerasmm.datasets.sounds.SOUNDS_WORDS`:
every caption and prompt word is one token. Run it after changing the
sounds caption templates.
"""

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tools"))

from make_shapes_vocab import build  # noqa: E402
from make_shapes_vocab import render  # noqa: E402

from kerasmm.datasets.sounds import SOUNDS_WORDS  # noqa: E402

PATHS = [os.path.join(ROOT, "kerasmm", "datasets", name)
         for name in ("sounds_vocab.json", "sounds_merges.txt")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if files are stale")
    args = parser.parse_args()
    texts = render(*build(SOUNDS_WORDS))
    for path, text in zip(PATHS, texts):
        if args.check:
            with open(path, encoding="utf-8") as f:
                if f.read() != text:
                    sys.exit(f"{path} is stale: rerun tools/make_sounds_vocab.py")
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
