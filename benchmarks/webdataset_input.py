"""WebDataset input throughput against the CLIP train step it feeds.

Generates JPEG images (224 x 224: smooth random colour fields with noise,
JPEG quality 95, about the size of real photos at that resolution) with
captions, writes them into WebDataset shards (`write_webdataset`), then
times `webdataset_dataset` with CLIP's preprocessing (resize and center
crop to 224, OpenAI mean and std; BPE tokenization to 77 ids) in batches:

- serial: one shard at a time, read and preprocessed in the consumer's
  thread (`cycle_length=1, num_parallel_calls=None`);
- parallel: the defaults (`cycle_length` up to 8 shards, `AUTOTUNE`).

Both read the same shards in full, seeded, after an untimed warm-up epoch
(tracing, file cache), and report images/s of delivered batches. It then
times `train_on_batch` of a ViT-B/32 CLIP (`clip_throughput.py`'s model,
random weights, XLA) on a batch of the same size and prints the input
rate over the train step's rate: above 1, the input keeps the model fed on
this machine. The tokenizer is the shipped shapes vocabulary with CLIP's
BPE and context length 77 (OpenAI's vocabulary needs a download); its cost
per caption is of the same order.

Usage:
    python benchmarks/webdataset_input.py              # 1,024 images, batch 32
    python benchmarks/webdataset_input.py --quick      # tiny, seconds
    python benchmarks/webdataset_input.py --backend jax --batch-size 64
"""

import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402


def parse_args(argv=None):
    parser = _common.base_parser(__doc__.splitlines()[0], subprocesses=False)
    parser.add_argument("--num-images", type=int, default=None,
                        help="images written to shards (default 1024; quick 64)")
    parser.add_argument("--samples-per-shard", type=int, default=None,
                        help="samples per shard (default 64; quick 16)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="batch of the input and of the train step (default 32; "
                             "quick 8)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="timed passes over the shards per setting (default 2; "
                             "quick 1)")
    parser.add_argument("--steps", type=int, default=None,
                        help="timed train steps (default 5; quick 2)")
    args = parser.parse_args(argv)
    args.image_size = 32 if args.quick else 224
    args.num_images = args.num_images or (64 if args.quick else 1024)
    args.samples_per_shard = args.samples_per_shard or (16 if args.quick else 64)
    args.batch_size = args.batch_size or (8 if args.quick else 32)
    args.epochs = args.epochs or (1 if args.quick else 2)
    args.steps = args.steps or (2 if args.quick else 5)
    return args


def make_images(count, size, seed=0):
    """uint8 images: bilinear-upsampled 8 x 8 colour fields plus noise."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (count, 8, 8, 3)).astype("float32")
    smooth = tf.image.resize(coarse, (size, size), method="bilinear").numpy()
    noise = rng.normal(0, 12, smooth.shape)
    return np.clip(smooth + noise, 0, 255).astype("uint8")


def write_shards(args, folder):
    import tensorflow as tf

    from kerasmm.datasets import write_webdataset

    words = ["red", "green", "blue", "small", "large", "circle", "square", "on", "a",
             "the", "left", "right", "of", "triangle"]
    rng = np.random.default_rng(1)
    captions = [" ".join(rng.choice(words, rng.integers(4, 12)))
                for _ in range(args.num_images)]
    dataset = tf.data.Dataset.from_tensor_slices(
        {"image": make_images(args.num_images, args.image_size), "caption": captions})
    return write_webdataset(dataset, os.path.join(folder, "bench-%06d.tar"),
                            samples_per_shard=args.samples_per_shard, image_format="jpg")


def clip_preprocessor(image_size):
    from kerasmm.datasets import shapes_tokenizer
    from kerasmm.models import CLIPPreprocessor
    from kerasmm.preprocessing import CLIPImagePreprocessor

    return CLIPPreprocessor(tokenizer=shapes_tokenizer(sequence_length=77),
                            image_preprocessor=CLIPImagePreprocessor(image_size))


def input_rate(pattern, preprocessor, args, **settings):
    """Images/s of full seeded passes over the shards, after a warm-up pass."""
    from kerasmm.datasets import SkippedSamples
    from kerasmm.datasets import webdataset_dataset

    skipped = SkippedSamples()
    dataset = webdataset_dataset(pattern, preprocessor=preprocessor, seed=0,
                                 batch_size=args.batch_size, skipped=skipped, **settings)
    for _ in dataset:  # warm-up: tracing, the file cache
        pass
    images, start = 0, time.perf_counter()
    for _ in range(args.epochs):
        for batch in dataset:
            images += int(batch["images"].shape[0])
    seconds = time.perf_counter() - start
    if skipped.count:
        raise RuntimeError(f"the benchmark's own shards had skipped samples: {skipped}")
    return images / seconds, images, seconds


def train_rate(args):
    """Samples/s of a compiled ViT-B/32 (quick: tiny) CLIP train step."""
    import keras
    from clip_throughput import TINY
    from clip_throughput import VIT_B32
    from clip_throughput import build_kerasmm
    from clip_throughput import compile_kerasmm
    from clip_throughput import make_batch

    config = TINY if args.quick else VIT_B32
    keras.utils.set_random_seed(0)
    model = build_kerasmm(config)
    compile_kerasmm(model)
    x, _ = make_batch(config, args.batch_size)
    timing = _common.time_call(lambda: _common.block(model.train_on_batch(x)),
                               warmup=1, repeats=args.steps)
    return args.batch_size / timing["median"], timing, config


def run(args):
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        written = write_shards(args, folder)
        size = sum(os.path.getsize(p) for p in written["paths"])
        print(f"wrote {written['num_samples']} {args.image_size}x{args.image_size} JPEGs "
              f"into {len(written['paths'])} shards ({size / 2 ** 20:.1f} MiB, "
              f"{size / written['num_samples'] / 1024:.1f} KiB per sample) in "
              f"{time.perf_counter() - start:.1f} s")
        preprocessor = clip_preprocessor(args.image_size)
        rates = {}
        for name, settings in (("serial", {"cycle_length": 1, "num_parallel_calls": None}),
                               ("parallel", {})):
            rates[name] = input_rate(written["pattern"], preprocessor, args, **settings)
    step_rate, timing, config = train_rate(args)
    model = "ViT-B/32" if config["image_size"] == 224 else "tiny"
    rows = [[f"input, {name}", f"{rate:.1f}", f"{images} images in {seconds:.2f} s"]
            for name, (rate, images, seconds) in rates.items()]
    rows.append([f"train step, {model} CLIP", f"{step_rate:.2f}",
                 f"median of {args.steps} steps {_common.format_seconds(timing['median'])}"
                 f" (first {_common.format_seconds(timing['first'])})"])
    _common.print_table(["stage", "images/s", "measured"], rows,
                        title=f"Throughput, batch {args.batch_size}")
    parallel = rates["parallel"][0]
    ratio_rows = [
        ["input/train", _common.format_ratio(parallel / step_rate),
         "input keeps up" if parallel >= step_rate else "input-bound"],
        ["parallel/serial", _common.format_ratio(parallel / rates["serial"][0]),
         f"{os.cpu_count()} cpus"],
    ]
    _common.print_table(["ratio", "value", "meaning"], ratio_rows,
                        title="Ratios (parallel input images/s over train samples/s, "
                              "and over serial input)")


def main(argv=None):
    _common.main_in_process(argv, parse_args, run)


if __name__ == "__main__":
    main()
