"""Train-step time and memory of Perceiver IO vs a Transformer against input length.

Perceiver IO's reason to exist: its encoder cross-attends a fixed number of
latents to the M inputs, so a train step costs O(M) time and memory, where
a Transformer's self-attention over the inputs costs O(M^2). Both models
here read the same inputs, `(batch, M, channels)` per-position features
with 1-D Fourier positions (`kerasmm.layers.AudioAdapter` with one sample
per patch), and classify them into `--num-classes` classes:

- Perceiver IO: `kerasmm.models.PerceiverIO` with 128 latents of width 128,
  one cross-attention, `--depth - 1` latent self-attention layers and a
  `ClassificationDecoder`;
- Transformer: a Dense to width 128, `--depth` `kerasmm.layers.SelfAttention`
  blocks over all M positions (same heads and MLP widening as the
  Perceiver's latent blocks), mean pooling and a Dense classifier.

Each (model, length) runs in a fresh subprocess, which times
`train_on_batch` (forward, cross-entropy, backward, Adam; XLA
`jit_compile=True`) after one compiling call and reports its peak RSS and
the step's memory (peak RSS during the timed steps minus the RSS before
them). The script prints the log-log slope (numpy polyfit) of time and
step memory against M over lengths >= `--fit-from` (4096).

A Transformer configuration is skipped as OOM-predicted when its attention
matrices alone are predicted to exceed `--max-attention-gib`:
`batch * heads * M^2 * 4 bytes * (depth + 2)` (the float32 softmax weights
of every layer are kept for the backward pass, plus the logits and their
gradient of the layer being differentiated).

Usage:
    python benchmarks/perceiver_scaling.py            # M = 1k ... 64k
    python benchmarks/perceiver_scaling.py --quick    # smoke test, one subprocess
    python benchmarks/perceiver_scaling.py --backend jax --lengths 4096 65536
"""

import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
import _quick_workers  # noqa: E402

MODELS = ("perceiver_io", "transformer")


# === Models ===


def make_adapter(c):
    import kerasmm

    return kerasmm.layers.AudioAdapter(samples_per_patch=1, num_bands=c["num_bands"])


def build_perceiver_io(c):
    import kerasmm

    return kerasmm.models.PerceiverIO(
        make_adapter(c), kerasmm.layers.ClassificationDecoder(c["num_classes"]),
        num_latents=c["num_latents"], latent_dim=c["width"], num_blocks=1,
        num_self_attends_per_block=c["depth"] - 1, num_cross_attention_heads=1,
        num_self_attention_heads=c["heads"])


def build_transformer(c):
    import keras

    import kerasmm

    class TransformerClassifier(keras.Model):
        """Adapter -> Dense -> `depth` SelfAttention blocks -> mean -> Dense."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.adapter = make_adapter(c)
            self.input_projection = keras.layers.Dense(c["width"])
            self.blocks = [kerasmm.layers.SelfAttention(c["heads"], widening_factor=1)
                           for _ in range(c["depth"])]
            self.norm = keras.layers.LayerNormalization(epsilon=1e-5)
            self.classifier = keras.layers.Dense(c["num_classes"])

        def call(self, inputs, training=None):
            x = self.input_projection(self.adapter(inputs)["features"])
            for block in self.blocks:
                x = block(x, training=training)
            return self.classifier(keras.ops.mean(self.norm(x), axis=1))

    return TransformerClassifier()


def predicted_attention_bytes(c, length):
    """The Transformer's attention matrices, float32 (see module docstring)."""
    return c["batch_size"] * c["heads"] * length ** 2 * 4 * (c["depth"] + 2)


# === Worker: one (model, length) in a fresh process ===


def worker(config):
    import keras

    keras.utils.set_random_seed(0)
    build = {"perceiver_io": build_perceiver_io, "transformer": build_transformer}
    model = build[config["model"]](config)
    model.compile(optimizer=keras.optimizers.Adam(1e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=True)
    rng = np.random.default_rng(0)
    shape = (config["batch_size"], config["length"], config["channels"])
    x = keras.ops.convert_to_tensor(rng.standard_normal(shape).astype("float32"))
    y = keras.ops.convert_to_tensor(
        rng.integers(0, config["num_classes"], config["batch_size"]).astype("int32"))

    start = time.perf_counter()
    model.train_on_batch(x, y)  # builds and compiles
    first = time.perf_counter() - start
    times = []
    with _common.StepMemory() as memory:
        for _ in range(config["repeats"]):
            start = time.perf_counter()
            loss = model.train_on_batch(x, y)
            times.append(time.perf_counter() - start)
    return {"seconds": float(np.median(times)), "first_seconds": first,
            "loss": float(loss), "parameters": model.count_params(),
            **_common.memory_result(memory)}


# === Parent ===


def parse_args(argv=None):
    parser = _common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--lengths", nargs="+", type=int, default=None,
                        help="input lengths M (default 1024 ... 65536)")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--channels", type=int, default=31,
                        help="input channels per position (plus 33 Fourier features)")
    parser.add_argument("--num-latents", type=int, default=128)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--depth", type=int, default=3,
                        help="attention layers: Perceiver 1 cross + depth-1 self; "
                             "Transformer depth self")
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--num-classes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed steps per configuration (default 3; quick 1)")
    parser.add_argument("--fit-from", type=int, default=None,
                        help="fit slopes over lengths >= this (default 4096)")
    parser.add_argument("--max-attention-gib", type=float, default=8.0)
    args = parser.parse_args(argv)
    if args.quick:
        args.lengths = args.lengths or [256, 512]
        args.num_latents, args.width, args.depth = 16, 32, 2
        args.fit_from = args.fit_from or 256
        # Small enough that the skip path runs for the longer input.
        args.max_attention_gib = min(args.max_attention_gib, 8 / 1024)
    args.lengths = args.lengths or [2 ** k for k in range(10, 17)]
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.fit_from = args.fit_from or 4096
    return args


def config_for(args, model, length):
    return {"model": model, "length": length, "batch_size": args.batch_size,
            "channels": args.channels, "num_bands": 16,
            "num_latents": args.num_latents, "width": args.width, "depth": args.depth,
            "heads": args.heads, "num_classes": args.num_classes,
            "repeats": args.repeats}


def run(args):
    script = os.path.abspath(__file__)
    print(f"batch={args.batch_size}, channels={args.channels}+33 Fourier, "
          f"width={args.width}, depth={args.depth}, heads={args.heads}, "
          f"latents={args.num_latents}; Transformer skipped when its predicted "
          f"attention memory > {args.max_attention_gib:g} GiB")
    results = {model: {} for model in args.models}
    pairs = [(length, model) for length in args.lengths for model in args.models]
    predicted = {(length, model): predicted_attention_bytes(
        config_for(args, model, length), length) for length, model in pairs}
    skipped = {(length, model) for length, model in pairs if model == "transformer"
               and predicted[length, model] > args.max_attention_gib * _common.GIB}
    done = _quick_workers.run_workers(script, [
        config_for(args, model, length) for length, model in pairs
        if (length, model) not in skipped], args)
    for length, model in pairs:
        result = {"skipped": True} if (length, model) in skipped else next(done)
        result["predicted_attention_bytes"] = predicted[length, model]
        results[model][length] = result
        status = "OOM-predicted/skipped" if result.get("skipped") else \
            result.get("error", "ok")
        print(f"  done: {model} M={length}: {status}", flush=True)
    rows = []
    for length in args.lengths:
        row = [length]
        for model in args.models:
            r = results[model][length]
            if r.get("skipped"):
                cell = ["OOM-predicted/skipped", "-", "-"]
            elif "error" in r:
                cell = [r["error"][:40], "-", "-"]
            else:
                cell = [_common.format_seconds(r["seconds"]),
                        _common.format_bytes(r["step_bytes"]),
                        _common.format_bytes(r["peak_rss_bytes"])]
            row += cell
        if len(args.models) == 2:
            a, b = (results[m][length].get("seconds") for m in MODELS)
            row.append(_common.format_ratio(b / a) if a and b else "-")
        rows.append(row)
    headers = ["M"]
    for model in args.models:
        headers += [f"{model} step", "step mem", "peak RSS"]
    if len(args.models) == 2:
        headers.append("transformer/perceiver time")
    _common.print_table(headers, rows, title="Train step (median) and memory per "
                        "configuration (fresh subprocess each)")
    print("  step mem: peak RSS during the timed steps minus RSS before them; "
          "peak RSS: whole subprocess.")
    if args.quick:
        print(_quick_workers.SHARED_PROCESS_NOTE)
    slope_rows = []
    for model in args.models:
        lengths = [m for m in args.lengths if m >= args.fit_from]
        for what, key in (("time", "seconds"), ("step memory", "step_bytes")):
            values = [results[model][m].get(key) for m in lengths]
            fitted = [m for m, v in zip(lengths, values) if v]
            slope = _common.loglog_slope(lengths, values)
            all_slope = _common.loglog_slope(
                args.lengths, [results[model][m].get(key) for m in args.lengths])
            slope_rows.append([
                model, what, "-" if slope is None else f"{slope:.2f}",
                ",".join(str(m) for m in fitted) or "-",
                "-" if all_slope is None else f"{all_slope:.2f}"])
    _common.print_table(
        ["model", "quantity", f"slope (M >= {args.fit_from})", "lengths fitted",
         "slope (all run)"], slope_rows,
        title="log-log slopes (1 = linear, 2 = quadratic); target: Perceiver IO "
              "time slope <= 1.15")
    print("RESULTS_JSON " + json.dumps(results))


def main(argv=None):
    _common.main(argv, parse_args, _quick_workers.batchable(worker), run)


if __name__ == "__main__":
    main()
