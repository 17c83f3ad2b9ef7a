"""CLIP text encoding with and without the padding after the last end-of-text token.

CLIP pads every prompt to 77 tokens, but its text tower is causal and read
at the end-of-text (EOT) token, so the columns after a batch's last EOT
token cannot change the embeddings. `kerasmm.models.CLIP.encode_text` drops
them (`TextTransformer.trim_padding`, rounded up to a multiple of 8) when it
is called with concrete ids, as the zero-shot and retrieval harnesses call
it. This script times OpenAI's ViT-B/32 text tower (random weights,
vocabulary 49,408, width 512, 12 layers, 8 heads) on one batch of prompts
whose longest row ends at token L (a start token, words, the EOT token,
then zeros up to 77), both ways:

- `77 columns`: the tower on the whole rows (what it costs without the
  trim, and what keras-hub's `CLIPTextEncoder` computes);
- `trimmed`: the tower on `trim_padding`'s columns;

interleaved call by call, and prints the median seconds per batch, the
speed-up and the largest difference between the two outputs (the
embeddings must agree to float rounding). OpenAI's 80 ImageNet templates
filled with the 1,000 class names count 9 words and punctuation marks with
the start and end tokens (median; 17 at most; BPE splits some names
further), so a zero-shot ImageNet run (80,000 prompts) sits in the
L = 16-24 rows.

Usage:
    python benchmarks/text_padding.py            # ViT-B/32 text tower, batch 256
    python benchmarks/text_padding.py --quick    # tiny tower, seconds
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

VIT_B32_TEXT = dict(vocabulary_size=49408, context_length=77, hidden_dim=512,
                    num_layers=12, num_heads=8, output_dim=512)
TINY_TEXT = dict(vocabulary_size=64, context_length=77, hidden_dim=16, num_layers=2,
                 num_heads=2, output_dim=8)


def prompts(batch_size, longest, vocabulary_size, seed=0):
    """Rows `start, words, EOT, 0...` of 77 ids; the longest ends at `longest - 1`."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((batch_size, 77), "int32")
    ends = rng.integers(max(2, longest // 2), longest, batch_size)
    ends[0] = longest - 1
    eot = vocabulary_size - 1
    for row, end in enumerate(ends):
        ids[row, 0] = eot - 1
        ids[row, 1:end] = rng.integers(1, eot - 1, end - 1)
        ids[row, end] = eot
    return ids


def parse_args(argv):
    parser = _common.base_parser(__doc__.splitlines()[0], subprocesses=False)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lengths", type=int, nargs="+", default=[8, 16, 24, 32, 77],
                        help="where the longest prompt of the batch ends (tokens)")
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    _common.select_backend(args.backend)
    import keras

    import kerasmm

    print(_common.describe_run(args))
    config = TINY_TEXT if args.quick else VIT_B32_TEXT
    batch = 8 if args.quick else args.batch_size
    tower = kerasmm.models.TextTransformer(**config)
    rows = []
    for length in args.lengths:
        ids = prompts(batch, length, config["vocabulary_size"])
        columns = tower.trim_padding(ids).shape[1]
        outputs = {}  # each call's last output, compared below
        calls = {"full": lambda: outputs.update(full=_common.block(tower(ids))),
                 "trimmed": lambda: outputs.update(
                     trimmed=_common.block(tower(tower.trim_padding(ids))))}
        for call in calls.values():
            call()  # first calls: per-shape set-up
        times = {name: [] for name in calls}
        for r in range(args.rounds):
            for name in (list(calls) if r % 2 == 0 else list(calls)[::-1]):
                times[name].append(_common.time_call(calls[name], warmup=0,
                                                     repeats=1)["median"])
        full, short = (float(np.median(times[name])) for name in ("full", "trimmed"))
        diff = float(np.max(np.abs(keras.ops.convert_to_numpy(outputs["full"])
                                   - keras.ops.convert_to_numpy(outputs["trimmed"]))))
        rows.append([str(length), str(columns), _common.format_seconds(full),
                     _common.format_seconds(short), _common.format_ratio(full / short),
                     f"{diff:.1e}"])
    _common.print_table(["longest prompt", "columns kept", "77 columns", "trimmed",
                         "speed-up", "max abs diff"], rows,
                        title=f"Text tower, batch {batch}, median of {args.rounds} "
                              "interleaved rounds")


if __name__ == "__main__":
    main()
