"""The `kerasmm` command (also `python -m kerasmm`).

    kerasmm demo [--epochs N] [--steps-per-epoch N] [--batch-size N]
                 [--seed N] [--output-dir DIR] [--small] [--json]

`demo` trains a small CLIP on the embedded shapes dataset with `fit`, prints
zero-shot accuracy and retrieval recall, saves the model as `.keras` and a
PNG of text queries with their top images. With `--json` the last line of
stdout is one JSON object with the results.
"""

import argparse
import json
import sys

JSON_KEYS = (
    "zero_shot_accuracy",
    "zero_shot_accuracy_seen",
    "zero_shot_accuracy_held_out",
    "i2t_recall@1",
    "i2t_recall@5",
    "t2i_recall@1",
    "t2i_recall@5",
    "train_seconds",
    "final_loss",
    "model_path",
    "png_path",
    "epochs",
    "steps_per_epoch",
    "batch_size",
    "seed",
    "backend",
)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, received {text!r}")
    return value


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, received {text!r}")
    return value


def build_parser():
    """The argument parser of the `kerasmm` command."""
    parser = argparse.ArgumentParser(
        prog="kerasmm", description="kerasmm: a Keras 3 multimodal model zoo.")
    commands = parser.add_subparsers(dest="command", metavar="command")
    commands.required = True
    demo = commands.add_parser(
        "demo", help="train a small CLIP on the embedded shapes dataset",
        description=(
            "Train a small CLIP on the embedded shapes dataset with model.fit, "
            "print zero-shot accuracy and retrieval recall, save the model as "
            ".keras and a PNG of text queries with their top images."))
    demo.add_argument("--epochs", type=_positive_int, default=None,
                      help="training epochs (default 4; 1 with --small)")
    demo.add_argument("--steps-per-epoch", type=_positive_int, default=None,
                      help="batches per epoch (default 156: one pass over the "
                           "20k train examples; 3 with --small)")
    demo.add_argument("--batch-size", type=_positive_int, default=None,
                      help="examples per batch (default 128; 16 with --small)")
    demo.add_argument("--seed", type=_non_negative_int, default=0,
                      help="seed of the initial weights and the shuffling (default 0)")
    demo.add_argument("--output-dir", default="kerasmm_demo",
                      help="where the .keras model and the PNG go (default ./kerasmm_demo)")
    demo.add_argument("--small", action="store_true",
                      help="a seconds-long run for tests; its numbers mean nothing")
    demo.add_argument("--json", action="store_true",
                      help="end stdout with one JSON line holding the results")
    return parser


def _json_line(results):
    out = {}
    for key in JSON_KEYS:
        value = results[key]
        out[key] = round(value, 4) if isinstance(value, float) else value
    return json.dumps(out)


def run_demo_command(args):
    from kerasmm.demo import run_demo

    results = run_demo(epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                       batch_size=args.batch_size, seed=args.seed,
                       output_dir=args.output_dir, small=args.small,
                       # The live progress bar on a terminal, a line per epoch
                       # in a pipe or a log file.
                       verbose=1 if sys.stdout.isatty() else 2,
                       log=lambda line: print(line, flush=True))
    if args.json:
        print(_json_line(results), flush=True)
    return 0


def main(argv=None):
    """Entry point of the `kerasmm` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        return run_demo_command(args)
    return 2  # unreachable: argparse requires a known command


if __name__ == "__main__":
    sys.exit(main())
