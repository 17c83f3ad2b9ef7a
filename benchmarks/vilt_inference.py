"""ViLT-B/32 VQA inference: kerasmm's `VQAClassifier` beside Hugging Face's.

    python benchmarks/vilt_inference.py [--quick] [--batch-size 8] [--rounds 5]
        [--hf-python /work/torchvenv/bin/python]

The model has `dandelin/vilt-b32-finetuned-vqa`'s shapes (BERT vocabulary
30522, 40 text positions, width 768, 12 layers, 12 heads, MLP 3072, 32 px
patches on a 384 px grid, 3129 answers) and random weights. The Hugging
Face side runs in its own process, started with the Python given by
`--hf-python` (a virtual environment with torch and transformers; kerasmm's
own has no torch) as a `_common.LineWorker`: it builds
`transformers.ViltForQuestionAnswering` with a fixed seed, saves it with
`save_pretrained` to a temporary directory, and answers one timed call per
request. kerasmm converts that directory with its own converter
(`VQAClassifier.from_preset`), so both sides hold the same weights, and
checks that its logits equal Hugging Face's on the benchmark batch
(384x384 images, questions of 8 to 20 tokens padded to 40, no pixel
mask) before anything is timed.

Timed, after one warm-up call each, in interleaved rounds (kerasmm and
Hugging Face alternate call by call, so that other load on the machine
slows both alike; the order flips every round):

- kerasmm XLA: `predict_on_batch` of a model compiled with
  `jit_compile=True` (on JAX every `predict` is `jax.jit`-compiled);
- kerasmm graph (TensorFlow only): the same on a second copy compiled with
  Keras' default, which on a CPU-only machine is a `tf.function` without
  XLA;
- Hugging Face: `model(...)` under `torch.inference_mode()` (torch's
  default threads: one per core).

Prints images/s (the median call of each), the ratios to Hugging Face (the
median of the per-round ratios, and the ratio of the medians) and the load
average. Public tools only; `--quick` runs a tiny model.
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

# transformers.ViltConfig fields (the rest are ViltConfig's defaults).
VILT_B32 = {"vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12,
            "num_attention_heads": 12, "intermediate_size": 3072, "image_size": 384,
            "patch_size": 32, "max_position_embeddings": 40, "num_labels": 3129}
TINY = {"vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 4, "intermediate_size": 64, "image_size": 64,
        "patch_size": 16, "max_position_embeddings": 16, "num_labels": 10}
# Random weights give logits of about +-1: both sides agree to float32 rounding.
LOGITS_ATOL = 1e-4


def make_inputs(shape, batch_size, seed=0):
    """Images (channels last) in [-1, 1], token ids and their padding mask."""
    rng = np.random.default_rng(seed)
    size, length = shape["image_size"], shape["max_position_embeddings"]
    images = rng.uniform(-1, 1, (batch_size, size, size, 3)).astype("float32")
    lengths = rng.integers(min(8, length), min(21, length) + 1, batch_size)
    padding_mask = np.arange(length)[None, :] < lengths[:, None]
    token_ids = rng.integers(1, shape["vocab_size"], (batch_size, length))
    token_ids = np.where(padding_mask, token_ids, 0).astype("int32")
    return {"images": images, "token_ids": token_ids, "padding_mask": padding_mask}


def timed(function):
    """Wall seconds of `function()`."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


# === Hugging Face (runs in the torch virtual environment) ===


def hugging_face_worker(shape, batch_size):
    """Serves `setup DIR` (build, save, reference logits) and `time` requests."""
    import torch
    import transformers

    state = {}

    def setup(directory):
        torch.manual_seed(0)
        labels = {i: f"answer_{i}" for i in range(shape["num_labels"])}
        config = transformers.ViltConfig(**shape, id2label=labels,
                                         label2id={v: k for k, v in labels.items()})
        model = transformers.ViltForQuestionAnswering(config).eval()
        model.save_pretrained(directory)
        x = make_inputs(shape, batch_size)
        inputs = {"input_ids": torch.from_numpy(x["token_ids"].astype("int64")),
                  "attention_mask": torch.from_numpy(x["padding_mask"].astype("int64")),
                  "pixel_values": torch.from_numpy(
                      x["images"].transpose(0, 3, 1, 2).copy())}

        def forward():
            with torch.inference_mode():
                return model(**inputs).logits

        state["forward"] = forward
        np.save(os.path.join(directory, "hf_logits.npy"), forward().numpy())
        return {"torch": torch.__version__, "transformers": transformers.__version__,
                "threads": torch.get_num_threads()}

    _common.serve_lines({"setup": setup,
                         "time": lambda _: {"seconds": timed(state["forward"])}})


# === kerasmm ===


def kerasmm_models(directory, jit_compile_values):
    """One converted `VQAClassifier` per `jit_compile` value."""
    from kerasmm.tasks import VQAClassifier

    models = {}
    for jit_compile in jit_compile_values:
        model = VQAClassifier.from_preset(directory)
        model.compile(jit_compile=jit_compile)
        models[jit_compile] = model
    return models


def run(args):
    import keras

    shape = TINY if args.quick else VILT_B32
    python = args.hf_python
    if not python or not os.path.exists(python):
        print(f"Hugging Face skipped: no Python with torch at --hf-python={python!r}")
        return
    command = [python, os.path.abspath(__file__), "--hf-worker",
               "--batch-size", str(args.batch_size)] + (["--quick"] if args.quick else [])
    rows = {"kerasmm XLA": "auto"}
    if keras.backend.backend() == "tensorflow":
        rows = {"kerasmm XLA": True, "kerasmm graph (Keras CPU default)": "auto"}
    with tempfile.TemporaryDirectory() as directory, _common.LineWorker(command) as hf:
        info = hf.request("setup " + json.dumps(directory))
        print(f"Hugging Face: torch {info['torch']}, transformers "
              f"{info['transformers']}, {info['threads']} threads")
        models = kerasmm_models(directory, set(rows.values()))
        reference = np.load(os.path.join(directory, "hf_logits.npy"))
        x = make_inputs(shape, args.batch_size)
        calls = {name: (lambda m=models[jit]: _common.block(m.predict_on_batch(x)))
                 for name, jit in rows.items()}
        for name, call in calls.items():
            logits = np.asarray(call())  # Also the warm-up (compiles).
            difference = float(np.max(np.abs(logits - reference)))
            print(f"{name} vs Hugging Face logits {logits.shape}: max |diff| "
                  f"{difference:.2e} (logits span {np.ptp(reference):.2f})")
            if not difference <= LOGITS_ATOL:
                raise AssertionError(f"{name}'s logits differ from Hugging Face's by "
                                     f"{difference:.2e} > {LOGITS_ATOL}")
        hf.request("time")  # Warm-up.
        # Each returns the seconds of one call.
        timers = {name: (lambda c=call: timed(c)) for name, call in calls.items()}
        timers["Hugging Face"] = lambda: hf.request("time")["seconds"]
        names = list(timers)
        times = {name: [] for name in names}
        for r in range(args.rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                times[name].append(timers[name]())
    report(args, times)


def report(args, times):
    hf = np.array(times["Hugging Face"])
    table = []
    for name, seconds in times.items():
        seconds = np.array(seconds)
        median = float(np.median(seconds))
        ratio = (_common.format_ratio(float(np.median(hf / seconds))),
                 _common.format_ratio(float(np.median(hf) / median)))
        table.append([name, f"{median:.3f} s", f"{seconds.min():.3f} s",
                      f"{args.batch_size / median:.2f}",
                      *(("-", "-") if name == "Hugging Face" else ratio)])
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    _common.print_table(
        ["model", "median call", "best call", "images/s", "vs HF", "of medians"], table,
        title=f"ViLT VQA inference, batch {args.batch_size}, {args.rounds} interleaved "
              f"rounds (ratio: median of per-round ratios; target >= 1.50x), "
              f"load average now ({load})")


def parse_args(argv=None):
    parser = _common.base_parser(__doc__.splitlines()[0], subprocesses=False)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=None,
                        help="timed calls per model (default 5; quick 2)")
    parser.add_argument("--hf-python", default=os.environ.get(
        "KERASMM_TORCH_PYTHON", "/work/torchvenv/bin/python"),
        help="a Python with torch and transformers, for the Hugging Face side")
    parser.add_argument("--hf-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (2 if args.quick else 5)
    return args


def main(argv=None):
    args = parse_args(argv)
    shape = TINY if args.quick else VILT_B32
    if args.hf_worker:
        hugging_face_worker(shape, args.batch_size)
        return
    _common.select_backend(args.backend)
    import keras  # noqa: F401  (after select_backend)

    print(_common.describe_run(args))
    run(args)


if __name__ == "__main__":
    main()
