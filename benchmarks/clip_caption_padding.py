"""ViT-B/32 CLIP training on caption-length text: padding to the longest caption vs to 77.

OpenAI, open_clip and keras-hub pad every caption to CLIP's 77 tokens. CLIP's
text tower is causal and read at the end-of-text (EOT) token, so the columns
after a batch's last EOT token change neither the loss nor any gradient;
`kerasmm.models.CLIPPreprocessor(padding="longest")` cuts them in the input
pipeline (`pad_to_longest`, rounded up to a multiple of 8), so `fit` trains
on narrower batches (XLA compiles once per width). This script builds the
ViT-B/32 CLIP of `clip_throughput.py` twice (kerasmm and keras-hub's
`CLIPBackbone`, random weights, same Adam, XLA) and, for batches whose
longest caption ends at token L (start token, words, EOT, zeros up to 77;
the other rows end between L/2 and L), times `train_on_batch`, interleaved
call by call:

- `kerasmm cut`: kerasmm on the batch cut by `pad_to_longest`;
- `kerasmm full` and `keras-hub full`: both models on the whole rows of 77
  (what every library's default pipeline feeds them);
- `keras-hub cut`: keras-hub on the cut batch (a control: its model
  accepts shorter rows too, so the model-to-model ratio stays the one of
  `clip_throughput.py`; the gain is the pipeline's).

It prints process CPU seconds per step (all threads: the work done, which a
busy machine inflates less than wall time), wall seconds, the ratios, and
the largest difference between kerasmm's text embeddings of the cut and the
whole rows (they must agree to float rounding).

Usage:
    python benchmarks/clip_caption_padding.py             # ViT-B/32, batch 8
    python benchmarks/clip_caption_padding.py --quick     # tiny config, seconds
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
import clip_throughput  # noqa: E402
import text_padding  # noqa: E402

VARIANTS = ("kerasmm cut", "kerasmm full", "keras-hub full", "keras-hub cut")


def parse_args(argv=None):
    parser = _common.base_parser(__doc__.splitlines()[0], subprocesses=False)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="samples per step (default 8; quick 2)")
    parser.add_argument("--lengths", type=int, nargs="+", default=[16, 24, 32, 77],
                        help="where the longest caption of the batch ends (tokens)")
    parser.add_argument("--multiple", type=int, default=8,
                        help="pad_to_multiple_of of the cut (default 8, the preprocessor's)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="timed steps per variant and length (default 3; quick 1)")
    args = parser.parse_args(argv)
    args.config = clip_throughput.TINY if args.quick else clip_throughput.VIT_B32
    args.batch_size = args.batch_size or (2 if args.quick else 8)
    args.rounds = args.rounds or (1 if args.quick else 3)
    for length in args.lengths:
        if not 2 <= length <= args.config["context_length"]:
            parser.error(f"--lengths must be in [2, {args.config['context_length']}]. "
                         f"Received: {length}")
    return args


def batch(c, batch_size, longest, seed=0):
    """Images and context-length ids whose longest row ends at `longest - 1`."""
    rng = np.random.default_rng(seed)
    images = rng.standard_normal(
        (batch_size, c["image_size"], c["image_size"], 3)).astype("float32")
    ids = text_padding.prompts(batch_size, longest, c["vocabulary_size"], seed=seed)
    return images, ids[:, :c["context_length"]]


def main(argv=None):
    args = parse_args(argv)
    _common.select_backend(args.backend)
    import keras

    from kerasmm.models.clip.clip_preprocessor import pad_to_longest

    print(_common.describe_run(args))
    c, size = args.config, args.batch_size
    keras.utils.set_random_seed(0)
    models = {"kerasmm": clip_throughput.build_kerasmm(c),
              "keras-hub": clip_throughput.build_keras_hub(c)}
    clip_throughput.compile_kerasmm(models["kerasmm"])
    clip_throughput.compile_keras_hub(models["keras-hub"])
    labels = np.arange(size, dtype="int32")
    y = {"vision_logits": labels, "text_logits": labels}
    eot = c["vocabulary_size"] - 1
    rows, ratio_rows = [], []
    for length in args.lengths:
        images, ids = batch(c, size, length)
        cut = np.asarray(pad_to_longest(ids, eot, args.multiple))
        text = models["kerasmm"].text_encoder
        diff = float(np.max(np.abs(keras.ops.convert_to_numpy(text(cut))
                                   - keras.ops.convert_to_numpy(text(ids)))))
        inputs = {"cut": {"images": images, "token_ids": cut},
                  "full": {"images": images, "token_ids": ids}}
        calls = {}
        for variant in VARIANTS:
            name, width = variant.rsplit(" ", 1)
            x = inputs[width]
            calls[variant] = ((lambda m=models[name], x=x: m.train_on_batch(x))
                              if name == "kerasmm" else
                              (lambda m=models[name], x=x: m.train_on_batch(x, y)))
        for call in calls.values():
            call()  # first calls compile (once per width)
        cpu = {}
        wall = clip_throughput.interleaved(calls, args.rounds, cpu)
        cpu = {name: float(np.median(times)) for name, times in cpu.items()}
        wall = {name: float(np.median(times)) for name, times in wall.items()}
        rows.append([str(length), str(cut.shape[1])]
                    + [f"{cpu[v]:.3f} / {wall[v]:.3f}" for v in VARIANTS] + [f"{diff:.1e}"])
        ratio_rows.append([
            str(length),
            _common.format_ratio(cpu["kerasmm full"] / cpu["kerasmm cut"]),
            _common.format_ratio(cpu["keras-hub full"] / cpu["kerasmm cut"]),
            _common.format_ratio(cpu["keras-hub cut"] / cpu["kerasmm cut"]),
        ])
    _common.print_table(
        ["longest caption", "columns kept"] + [f"{v} (CPU s / wall s)" for v in VARIANTS]
        + ["text max abs diff"], rows,
        title=f"train_on_batch, batch {size}, XLA, median of {args.rounds} interleaved rounds")
    _common.print_table(
        ["longest caption", "kerasmm full / cut (the pipeline's gain)",
         "keras-hub full / kerasmm cut (default pipelines)",
         "keras-hub cut / kerasmm cut (models alone)"], ratio_rows,
        title="Speed-ups in process CPU seconds per step")


if __name__ == "__main__":
    main()
