"""`kerasmm shards`: write WebDataset tar shards, and check them.

    kerasmm shards write SOURCE OUTPUT_PATTERN [--samples-per-shard N]
                         [--split S] [--image-root DIR] [--data-dir DIR]
                         [--manual-dir DIR] [--image-format jpg|png]
                         [--overwrite] [--json]
    kerasmm shards check URLS [--json]

`write` turns an image-caption folder (images with same-stem .txt
captions), a Karpathy-format JSON file or a dataset (tfds:NAME: one of
`kerasmm.datasets.load`'s, such as tfds:flickr30k, or any prepared TFDS
dataset with "image" and "caption" features) into shards of N samples, named by
OUTPUT_PATTERN's printf-style number (shards/train-%06d.tar), and prints
the brace pattern that reads them back. `check` reads every sample of the
shards URLS names (a brace pattern) as training would, and prints how many
samples are readable and how many were skipped, by reason. TensorFlow is
imported inside the handlers.
"""

import json
import sys
import warnings

from kerasmm.app.arguments import positive_int


def add_parser(commands):
    """Adds `kerasmm shards` and its sub-commands `write` and `check` to `commands`."""
    shards = commands.add_parser(
        "shards", help="write WebDataset tar shards for training, or check them",
        description=__doc__.split("\n\n")[2].replace("\n", " "))
    actions = shards.add_subparsers(dest="action", metavar="action")
    actions.required = True

    write = actions.add_parser(
        "write", help="write shards from an image-caption folder, a Karpathy JSON or TFDS")
    write.add_argument("source", help="an image folder with same-stem .txt captions, a "
                                      "Karpathy-format JSON file, or tfds:NAME")
    write.add_argument("output_pattern",
                       help="shard paths with a printf-style number, e.g. "
                            "shards/train-%%06d.tar")
    write.add_argument("--samples-per-shard", type=positive_int, default=1000,
                       help="samples per shard (default 1000)")
    write.add_argument("--split", default=None,
                       help="Karpathy JSON: the split to write (default: all images); "
                            "TFDS: the split (default train)")
    write.add_argument("--image-root", default=None,
                       help="Karpathy JSON: the folder its images are under (default: "
                            "the JSON's folder)")
    write.add_argument("--data-dir", default=None,
                       help="TFDS: the data directory (default: TFDS' own); the dataset "
                            "must be prepared there, nothing is downloaded")
    write.add_argument("--manual-dir", default=None,
                       help="tfds:flickr30k and the other datasets of "
                            "kerasmm.datasets.load: the folder of the official files")
    write.add_argument("--image-format", choices=("jpg", "png"), default="jpg",
                       help="TFDS: how images are encoded (default jpg, quality 95); "
                            "image files are copied as they are")
    write.add_argument("--overwrite", action="store_true",
                       help="replace existing shards")
    write.add_argument("--json", action="store_true",
                       help="end stdout with one JSON line: paths, pattern and counts")
    write.set_defaults(handler=run_write)

    check = actions.add_parser(
        "check", help="read every sample of shards; count the readable and skipped ones")
    check.add_argument("urls", help="shard paths or a brace pattern, e.g. "
                                    "'shards/train-{000000..000009}.tar'")
    check.add_argument("--json", action="store_true",
                       help="end stdout with one JSON line: the counts")
    check.set_defaults(handler=run_check)


def _error(action, error):
    print(f"kerasmm shards {action}: error: {error}", file=sys.stderr, flush=True)
    return 2


def _tfds_source(name, split, data_dir, manual_dir):
    """A dataset of kerasmm's `load` (flickr30k, coco_captions, ...), or any
    prepared TFDS dataset with "image" and "caption" features."""
    from kerasmm.datasets import load
    from kerasmm.datasets.load import DATASETS

    if name in DATASETS:
        return load(name, split or "train", data_dir=data_dir, manual_dir=manual_dir,
                    caption="all")
    import tensorflow_datasets as tfds

    from kerasmm.datasets import shapes_builder  # noqa: F401 (registers kerasmm_shapes)

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as error:  # noqa: BLE001 - TFDS raises several kinds
        raise ValueError(f"source tfds:{name}: {str(error).splitlines()[0]}") from None
    if not builder.is_prepared():
        raise ValueError(f"source tfds:{name} is not prepared in "
                         f"{builder.data_dir_root!r}: prepare it with TFDS first "
                         "(tfds build), or give --data-dir")
    return builder.as_dataset(split=split or "train", shuffle_files=False)


def run_write(args):
    from kerasmm.datasets import write_webdataset

    try:
        source = args.source
        if source.startswith("tfds:"):
            source = _tfds_source(source[len("tfds:"):], args.split, args.data_dir,
                                  args.manual_dir)
        with warnings.catch_warnings():  # Left-out images are printed below.
            warnings.simplefilter("ignore", RuntimeWarning)
            written = write_webdataset(
                source, args.output_pattern, samples_per_shard=args.samples_per_shard,
                split=None if hasattr(source, "element_spec") else args.split,
                image_root=args.image_root, image_format=args.image_format,
                overwrite=args.overwrite)
    except ValueError as error:
        return _error("write", error)
    print(f"wrote {written['num_samples']} samples into {len(written['paths'])} shards: "
          f"{written['pattern']}", flush=True)
    for path, reason in written["skipped"][:10]:
        print(f"  left out {path}: {reason}", flush=True)
    if len(written["skipped"]) > 10:
        print(f"  ... and {len(written['skipped']) - 10} more left out", flush=True)
    if args.json:
        print(json.dumps(written), flush=True)
    return 0


def run_check(args):
    from kerasmm.datasets import SkippedSamples
    from kerasmm.datasets import webdataset_dataset

    skipped = SkippedSamples(max_warnings=0)
    try:
        dataset = webdataset_dataset(args.urls, shuffle=False, skipped=skipped)
    except ValueError as error:
        return _error("check", error)
    count = sum(1 for _ in dataset)
    print(f"{count} readable samples, {skipped.count} skipped", flush=True)
    for reason, number in sorted(skipped.reasons.items()):
        print(f"  {reason}: {number}", flush=True)
    for shard, key, reason in skipped.examples[:10]:
        print(f"  e.g. {shard} {key}: {reason}", flush=True)
    if args.json:
        print(json.dumps({"num_samples": count, "num_skipped": skipped.count,
                          "skipped": skipped.reasons}), flush=True)
    return 0
