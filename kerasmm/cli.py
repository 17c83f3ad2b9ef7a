"""The `kerasmm` command (also `python -m kerasmm`).

    kerasmm [--verbose] COMMAND ...   (`--verbose` may also follow the command)

    kerasmm demo [clip] [--epochs N] [--steps-per-epoch N] [--batch-size N]
                 [--seed N] [--output-dir DIR] [--overwrite] [--small] [--json]

`demo` trains a small CLIP on the embedded shapes dataset with `fit`, prints
zero-shot accuracy and retrieval recall, saves the model as `.keras` and a
PNG of text queries with their top images. Its values come from
`kerasmm.recipes.ClipDemoConfig` (`kerasmm demo --help` lists them). A
non-empty output folder is refused before training unless `--overwrite`.
With `--json` the last line of stdout is one JSON object with the results.

    kerasmm eval zero-shot [--preset NAME|DIR] [--model FILE.keras]
                           [--dataset shapes|DIR|tfds:NAME] [--split S] ...
    kerasmm eval retrieval [--preset NAME|DIR] [--model FILE.keras]
                           [--dataset shapes|FILE.json|tfds:coco_captions] ...

`eval` measures a preset (or a saved `.keras` model with the preset's
preprocessor) with CLIP_benchmark's metrics and prints them; `--output`
writes the results JSON, `--json` ends stdout with it. Its values come from
`kerasmm.recipes.evaluation.ZeroShotEvalConfig` / `RetrievalEvalConfig`.

`kerasmm --help` and each command's `--help` import no TensorFlow (under a
second): the parsers read only the recipes' config dataclasses, and in the
command's process `import kerasmm` loads sub-packages on first use (see
`kerasmm/__init__.py`). A command imports its recipe (and TensorFlow) when it
runs, inside `kerasmm.utils.quiet.quiet_backend_logs`, which keeps TensorFlow's,
XLA's and JAX's start-up logs off stderr unless `--verbose` is given.
"""

import argparse
import dataclasses
import functools
import importlib
import json
import sys
import textwrap

from kerasmm.app.arguments import non_negative_int
from kerasmm.app.arguments import positive_int
from kerasmm.utils.quiet import quiet_backend_logs

# Commands defined in other modules. Each has `add_parser(commands)`, which adds
# its sub-parser to `commands` (argparse's sub-parsers action) and sets
# `handler=`, a function of the parsed arguments returning the exit status.
# Nothing heavy at their top level: TensorFlow is imported inside the handlers.
COMMAND_MODULES = ("kerasmm.app.search_command", "kerasmm.app.shards_command",
                   "kerasmm.app.caption_command", "kerasmm.app.generate_command")

# `kerasmm demo NAME`: "module:function" of each demo but clip (below). The
# function takes the parsed `demo` arguments (an option left out is None: the
# demo's own default) and returns the exit status.
DEMOS = {"caption": "kerasmm.recipes.caption_demo:run_caption_demo_command",
         "video-caption": "kerasmm.recipes.video_caption_demo:run_video_caption_demo_command",
         "generate": "kerasmm.recipes.generate_demo:run_generate_demo_command",
         "vqa": "kerasmm.recipes.vqa_demo:run_vqa_demo_command",
         "chart-qa": "kerasmm.recipes.vqa_demo:run_chart_qa_demo_command",
         "sentiment": "kerasmm.recipes.vqa_demo:run_sentiment_demo_command"}

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
# Options that override a `ClipDemoConfig` field of the same name.
DEMO_OVERRIDES = ("epochs", "steps_per_epoch", "batch_size", "seed", "output_dir")


def _demo_epilog(full, small):
    from kerasmm.recipes.config_format import format_config

    changed = ", ".join(f"{f.name}={getattr(small, f.name)!r}"
                        for f in dataclasses.fields(full)
                        if getattr(small, f.name) != getattr(full, f.name))
    intro = (f"The recipe's values (kerasmm.recipes.{type(full).__name__}); the options "
             f"above change some of them, --small sets {changed}:")
    return f"{textwrap.fill(intro, 79)}\n{format_config(full)}"


def _add_demo_parser(commands):
    from kerasmm.recipes.clip_demo_config import ClipDemoConfig

    full, small = ClipDemoConfig(), ClipDemoConfig.small()
    demo = commands.add_parser(
        "demo", help="train a small CLIP on the embedded shapes dataset",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Train a small CLIP on the embedded shapes dataset with model.fit,\n"
            "print zero-shot accuracy and retrieval recall, save the model as\n"
            ".keras and a PNG of text queries with their top images."),
        epilog=_demo_epilog(full, small))
    demo.set_defaults(handler=run_demo_command)
    demo.add_argument("name", nargs="?", choices=("clip", *DEMOS), default="clip",
                      help="which demo (default clip)")
    demo.add_argument("--epochs", type=positive_int, default=None,
                      help=f"training epochs (default {full.epochs}; "
                           f"{small.epochs} with --small)")
    demo.add_argument("--steps-per-epoch", type=positive_int, default=None,
                      help=f"batches per epoch (default {full.steps_per_epoch}; "
                           f"{small.steps_per_epoch} with --small)")
    demo.add_argument("--batch-size", type=positive_int, default=None,
                      help=f"examples per batch (default {full.batch_size}; "
                           f"{small.batch_size} with --small)")
    demo.add_argument("--seed", type=non_negative_int, default=None,
                      help=f"seed of the initial weights and the shuffling "
                           f"(default {full.seed})")
    demo.add_argument("--output-dir", default=None,
                      help=f"where {full.model_filename} and {full.png_filename} go "
                           f"(default ./{full.output_dir}); a folder that is not empty "
                           "is refused before training unless --overwrite")
    demo.add_argument("--overwrite", action="store_true",
                      help=f"write into a non-empty --output-dir, replacing "
                           f"{full.model_filename} and {full.png_filename} there "
                           "(other files are left alone)")
    demo.add_argument("--small", action="store_true",
                      help="a seconds-long run for tests; its numbers mean nothing")
    demo.add_argument("--json", action="store_true",
                      help="end stdout with one JSON line holding the results")


# `kerasmm eval` options, by the config field each sets (errors name them).
EVAL_OPTIONS = {
    "preset": "--preset", "model_path": "--model", "dataset": "--dataset",
    "image_root": "--image-root", "split": "--split", "data_dir": "--data-dir",
    "download": "--download", "num_examples": "--num-examples",
    "num_per_class": "--num-per-class", "recall_k": "--recall-k",
    "batch_size": "--batch-size", "output_path": "--output",
}
EVAL_TASKS = {
    "zero-shot": ("ZeroShotEvalConfig", "zero-shot classification accuracy",
                  "'shapes', an image folder (one subfolder of images per class) or "
                  "tfds:NAME (imagenet_v2, imagenette, caltech101, oxford_iiit_pet, "
                  "cifar10, ...)"),
    "retrieval": ("RetrievalEvalConfig", "image-text retrieval recall@k",
                  "'shapes', a Karpathy-format JSON file (COCO, Flickr30K) or "
                  "tfds:coco_captions"),
}


def _eval_option(parser, fields, name, **kwargs):
    if name in fields:
        parser.add_argument(EVAL_OPTIONS[name], dest=name, **kwargs)


def _add_eval_parser(commands):
    from kerasmm.recipes import evaluation
    from kerasmm.recipes.config_format import format_config

    tasks = commands.add_parser(
        "eval", help="zero-shot classification or retrieval metrics of a preset",
        description="Measure a preset (or a saved .keras model) with CLIP_benchmark's "
                    "metrics.").add_subparsers(dest="task", metavar="task")
    tasks.required = True
    for task, (class_name, what, datasets) in EVAL_TASKS.items():
        config_class = getattr(evaluation, class_name)
        d = config_class()
        fields = {field.name for field in dataclasses.fields(config_class)}
        parser = tasks.add_parser(
            task, help=what, formatter_class=argparse.RawDescriptionHelpFormatter,
            description=textwrap.fill(
                f"The {what} of a preset (or of a saved .keras model, with the preset's "
                "preprocessor), printed with CLIP_benchmark's metric keys.", 79),
            epilog=f"The recipe's values (kerasmm.recipes.evaluation.{class_name}); the "
                   f"options above change them:\n{format_config(d)}")
        add = functools.partial(_eval_option, parser, fields, default=None)
        add("preset", help="a preset name, a preset directory or hf://org/repo: the "
                           "model, or with --model only its preprocessor "
                           f"(default {d.preset})")
        add("model_path", help="a .keras file written by model.save (default: the "
                               "preset's model)")
        add("dataset", help=f"{datasets} (default {d.dataset})")
        add("image_root", help="the folder a Karpathy JSON's images are under "
                               "(default: the JSON's folder)")
        add("split", help="the split to evaluate (default "
                          f"{d.split or 'test, or validation without one'})")
        add("data_dir", help="the TFDS data directory (default: TFDS' own)")
        add("download", action="store_const", const=True,
            help="let TFDS download and prepare a dataset missing from --data-dir")
        add("num_examples", type=positive_int,
            help="evaluate only the first N images (default: all)")
        add("num_per_class", type=positive_int,
            help=f"shapes: images per class (default {getattr(d, 'num_per_class', None)})")
        add("recall_k", type=positive_int, nargs="+",
            help=f"the ks of recall@k (default {' '.join(map(str, getattr(d, 'recall_k', ())))})")
        add("batch_size", type=positive_int,
            help=f"images or texts per batch (default {d.batch_size})")
        add("output_path", help="write the results JSON there")
        parser.add_argument("--json", action="store_true",
                            help="end stdout with one JSON line holding the results")
        parser.set_defaults(handler=run_eval_command)


def eval_config(args):
    """The evaluation config of parsed `kerasmm eval <task>` arguments."""
    from kerasmm.recipes import evaluation

    config_class = getattr(evaluation, EVAL_TASKS[args.task][0])
    changes = {name: getattr(args, name) for name in EVAL_OPTIONS
               if getattr(args, name, None) is not None}
    return config_class(**changes)


def _eval_error(error):
    """An evaluation error, prefixed by the option it is about (argparse's style)."""
    message = str(error)
    field = next((name for name in EVAL_OPTIONS if message.startswith(name + " ")), None)
    return f"argument {EVAL_OPTIONS[field]}: {message}" if field else message


def run_eval_command(args):
    from kerasmm.recipes.evaluation import evaluate_retrieval
    from kerasmm.recipes.evaluation import evaluate_zero_shot
    from kerasmm.recipes.evaluation import format_metrics

    evaluate = evaluate_zero_shot if args.task == "zero-shot" else evaluate_retrieval
    try:
        config = eval_config(args)
        # Live bars on a terminal, one line per bar in a pipe or a log file.
        results = evaluate(config, verbose=1 if sys.stdout.isatty() else 2)
    except ValueError as error:
        print(f"kerasmm eval {args.task}: error: {_eval_error(error)}", file=sys.stderr,
              flush=True)
        return 2
    print(f"{results['task']} of {results['pretrained']} on {results['dataset']} "
          f"({results['num_examples']} images):", flush=True)
    print(format_metrics(results), flush=True)
    if config.output_path:
        print(f"results written to {config.output_path}", flush=True)
    if args.json:
        print(json.dumps(results), flush=True)
    return 0


VERBOSE_HELP = ("show the info and warning logs of TensorFlow, XLA and JAX, such as "
                "their start-up lines (hidden by default)")


def _add_verbose(parser, default):
    """`--verbose` on `parser` and on every (sub-)command parser below it, so it
    may follow the command too; sub-commands keep the value given before them."""
    if "--verbose" not in parser._option_string_actions:  # A command's own wins.
        parser.add_argument("--verbose", action="store_true", default=default,
                            help=VERBOSE_HELP)
    for action in parser._actions:  # argparse lists sub-parsers only here.
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                _add_verbose(command, argparse.SUPPRESS)


def build_parser():
    """The argument parser of the `kerasmm` command."""
    parser = argparse.ArgumentParser(
        prog="kerasmm", description="kerasmm: a Keras 3 multimodal model zoo.")
    commands = parser.add_subparsers(dest="command", metavar="command")
    commands.required = True
    _add_demo_parser(commands)
    _add_eval_parser(commands)
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_parser(commands)
    _add_verbose(parser, False)
    return parser


def demo_config(args):
    """The `ClipDemoConfig` of parsed `kerasmm demo` arguments."""
    from kerasmm.recipes.clip_demo_config import ClipDemoConfig
    from kerasmm.recipes.demo_command import demo_config as apply_options

    config = ClipDemoConfig.small() if args.small else ClipDemoConfig()
    return apply_options(args, config, DEMO_OVERRIDES)


def run_demo_command(args):
    if args.name != "clip":
        module, function = DEMOS[args.name].split(":")
        return getattr(importlib.import_module(module), function)(args)
    from kerasmm.recipes.clip_demo import run_clip_demo
    from kerasmm.recipes.demo_command import run_demo_command as run_demo

    return run_demo(args, demo_config(args), run_clip_demo, JSON_KEYS)


def main(argv=None):
    """Entry point of the `kerasmm` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.verbose:
        return _run_command(args)
    with quiet_backend_logs():
        return _run_command(args)


def _run_command(args):
    # In the command's process `import kerasmm` imported no sub-package (see
    # kerasmm/__init__.py): register every class with Keras now, as a command
    # may load any `.keras` file. The same sub-packages as `kerasmm.SUBPACKAGES`.
    from kerasmm import convert  # noqa: F401
    from kerasmm import datasets  # noqa: F401
    from kerasmm import distribute  # noqa: F401
    from kerasmm import layers  # noqa: F401
    from kerasmm import losses  # noqa: F401
    from kerasmm import metrics  # noqa: F401
    from kerasmm import models  # noqa: F401
    from kerasmm import optim  # noqa: F401
    from kerasmm import preprocessing  # noqa: F401
    from kerasmm import presets  # noqa: F401
    from kerasmm import tasks  # noqa: F401

    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
