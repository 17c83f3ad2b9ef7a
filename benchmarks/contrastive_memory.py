"""Peak memory and time of CLIP / SigLIP loss + gradient against global batch.

For each loss (`kerasmm.losses.CLIPLoss`, `SigLIPLoss`), each global batch
size B and each `chunk_size` (None = the full logit matrix), one fresh
subprocess computes the loss and its gradient with respect to both
embedding matrices (and `logit_scale` / `logit_bias`) in one XLA-compiled
function (`tf.function(jit_compile=True)` or `jax.jit`), single device, and
reports:

- time: median of the repeated calls (or the first call, compilation
  included, where the configuration runs only once: marked `*`);
- peak RSS: the subprocess's whole high-water mark (`getrusage`: imports,
  inputs, compiled code and the step);
- step memory: peak RSS during the step minus the RSS before it, i.e. the
  temporaries of loss + gradient (see `_common.StepMemory`);
- on JAX, XLA's own count of temporary buffers of the compiled function
  (`memory_analysis().temp_size_in_bytes`), also for unchunked
  configurations that are too large to run (compiled, not run); on an
  accelerator, the device's peak memory.

The unchunked loss needs at least the `B x B` float32 logits (`4 B^2`
bytes) and as much again for their gradient; configurations whose logits
alone exceed `--max-logit-gib` are skipped as OOM-predicted instead of
exhausting the machine. Where both run, the chunked loss value and
gradients are compared with the unchunked ones (max abs difference).

Usage:
    python benchmarks/contrastive_memory.py            # B = 1k, 4k, 16k, 65,536
    python benchmarks/contrastive_memory.py --quick    # smoke test, one subprocess
    python benchmarks/contrastive_memory.py --backend jax --losses clip \
        --batch-sizes 1024 65536
"""

import math
import os
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
import _quick_workers  # noqa: E402

LOSSES = ("clip", "siglip")


# === Worker: one configuration in a fresh process ===


def make_inputs(batch_size, dim, seed=0):
    """Random unit-norm embeddings; every worker draws the same ones."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(2):
        x = rng.standard_normal((batch_size, dim)).astype("float32")
        pairs.append(x / np.linalg.norm(x, axis=1, keepdims=True))
    return pairs


def loss_and_grad_fn(loss_name, chunk_size):
    """A compiled `f(images, texts, scale, bias) -> (loss, grads)`."""
    import keras

    import kerasmm

    cls = {"clip": kerasmm.losses.CLIPLoss, "siglip": kerasmm.losses.SigLIPLoss}
    loss_object = cls[loss_name](chunk_size=chunk_size)
    num_grads = 4 if loss_name == "siglip" else 3

    def loss_fn(images, texts, scale, bias):
        y_pred = {"image_embeddings": images, "text_embeddings": texts,
                  "logit_scale": scale}
        if loss_name == "siglip":
            y_pred["logit_bias"] = bias
        return loss_object(None, y_pred)

    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(jax.value_and_grad(loss_fn, argnums=tuple(range(num_grads))))
    import tensorflow as tf

    @tf.function(jit_compile=True)
    def step(images, texts, scale, bias):
        variables = [images, texts, scale, bias][:num_grads]
        with tf.GradientTape() as tape:
            tape.watch(variables)
            loss = loss_fn(images, texts, scale, bias)
        return loss, tape.gradient(loss, variables)

    return step


def worker(config):
    import keras

    images, texts = make_inputs(config["batch_size"], config["dim"])
    # SigLIP's initial temperature and bias; CLIP's 1 / 0.07.
    scale = math.log(10.0) if config["loss"] == "siglip" else math.log(1 / 0.07)
    args = [keras.ops.convert_to_tensor(a) for a in
            (images, texts, np.float32(scale), np.float32(-10.0))]
    del images, texts
    step = loss_and_grad_fn(config["loss"], config["chunk_size"])
    result = {}
    if keras.backend.backend() == "jax":
        result.update(_common.jax_compiled_stats(step, *args))
    if config.get("compile_only"):
        return result

    def call():
        return _common.block(step(*args))

    # First call (XLA compilation included), then the timed repeats.
    with _common.StepMemory() as first_memory:
        start = time.perf_counter()
        loss, grads = call()
        first = time.perf_counter() - start
    result["loss"] = float(keras.ops.convert_to_numpy(loss))
    if config.get("save_grads"):
        np.savez(config["save_grads"],
                 *[keras.ops.convert_to_numpy(g) for g in grads])
    del loss, grads
    times, memory = [], first_memory
    if config["repeats"]:
        with _common.StepMemory() as memory:
            for _ in range(config["repeats"]):
                start = time.perf_counter()
                call()
                times.append(time.perf_counter() - start)
    result.update({
        "seconds": float(np.median(times)) if times else first,
        "includes_compile": not times,
        "first_seconds": first,
        **_common.memory_result(memory),
    })
    return result


# === Parent: configurations, table, checks ===


def parse_args(argv=None):
    parser = _common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--losses", nargs="+", choices=LOSSES, default=list(LOSSES))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=None,
                        help="global batch sizes (default 1024 4096 16384 65536)")
    parser.add_argument("--dim", type=int, default=None,
                        help="embedding width (default 512)")
    parser.add_argument("--chunk-size", type=int, default=None,
                        help="columns per chunk for the chunked loss (default 1024)")
    parser.add_argument("--max-logit-gib", type=float, default=None,
                        help="skip the unchunked loss when its B x B float32 "
                             "logits alone exceed this (default 8)")
    args = parser.parse_args(argv)
    quick = args.quick
    args.batch_sizes = args.batch_sizes or ([256, 1024] if quick else
                                            [1024, 4096, 16384, 65536])
    args.dim = args.dim or (32 if quick else 512)
    args.chunk_size = args.chunk_size or (128 if quick else 1024)
    if args.max_logit_gib is None:
        # Quick mode sets the threshold so that the skip path runs too.
        args.max_logit_gib = 2.0 / 1024 if quick else 8.0
    return args


def repeats_for(batch_size, quick):
    if quick:
        return 1
    # The largest sizes run once: their first call is minutes, compile seconds.
    return 2 if batch_size <= 4096 else (1 if batch_size <= 16384 else 0)


def run(args):
    script = os.path.abspath(__file__)
    print("contrastive loss + gradient w.r.t. embeddings, one device, "
          f"dim={args.dim}, chunk_size={args.chunk_size}")
    print(f"unchunked runs only while its B x B float32 logits (4 B^2 bytes) "
          f"<= {args.max_logit_gib:g} GiB; its gradient needs as much again")
    rows, checks = [], []
    tmp = tempfile.mkdtemp(prefix="kerasmm_bench_")
    configs = [_config(loss, batch, chunk, args, tmp) for loss in args.losses
               for batch in args.batch_sizes for chunk in (None, args.chunk_size)]
    done = _quick_workers.run_workers(script, [
        c for c in configs if not c.get("compile_only") or args.backend == "jax"], args)
    for loss in args.losses:
        for batch in args.batch_sizes:
            logit_bytes = 4 * batch ** 2
            results = {}
            for chunk in (None, args.chunk_size):
                skipped = bool(configs.pop(0).get("compile_only"))
                if skipped and args.backend != "jax":
                    results[chunk] = {"skipped": True}
                    rows.append(_row(loss, batch, chunk, logit_bytes,
                                     results[chunk], args))
                    continue
                result = next(done)
                result["skipped"] = skipped
                results[chunk] = result
                rows.append(_row(loss, batch, chunk, logit_bytes, result, args))
                print(f"  done: {loss} B={batch} chunk={chunk}: {_status(result)}, "
                      f"{_common.format_seconds(result.get('seconds'))}, step mem "
                      f"{_common.format_bytes(result.get('step_bytes'))}", flush=True)
            checks.append(_check(loss, batch, results, args, tmp))
    shutil.rmtree(tmp, ignore_errors=True)
    _common.print_table(
        ["loss", "batch", "chunk", "logits 4B^2", "time", "peak RSS",
         "step mem", "XLA temp", "device peak", "status"],
        rows, title="Loss + gradient (one fresh subprocess per row)")
    if args.quick:
        print(_quick_workers.SHARED_PROCESS_NOTE)
    print("  time: median of repeated calls; '*' = single call incl. XLA compile."
          "\n  peak RSS: whole subprocess (imports, inputs, compile, step)."
          "\n  step mem: peak RSS during the step minus RSS before it."
          "\n  XLA temp: XLA's temporary buffers of the compiled function (JAX)."
          "\n  OOM-predicted/skipped: the unchunked logits alone exceed "
          f"{args.max_logit_gib:g} GiB (compiled only on JAX, never run).")
    _common.print_table(
        ["loss", "batch", "loss unchunked", "loss chunked", "max |diff| loss",
         "max |diff| grads", "time ratio", "step mem ratio"],
        checks, title="Chunked vs unchunked (ratios: unchunked / chunked)")


def _config(loss, batch, chunk, args, tmp):
    config = {"loss": loss, "batch_size": batch, "dim": args.dim, "chunk_size": chunk,
              "repeats": repeats_for(batch, args.quick)}
    too_big = 4 * batch ** 2 > args.max_logit_gib * _common.GIB
    if not too_big:  # gradients kept for the comparison
        config["save_grads"] = _grads_path(tmp, loss, batch, chunk)
    if chunk is None and too_big:
        config["compile_only"] = True  # OOM-predicted: compiled on JAX, never run
    return config


def _status(result):
    if result.get("skipped"):
        return "OOM-predicted/skipped"
    return result.get("error", "ok")


def _row(loss, batch, chunk, logit_bytes, result, args):
    seconds = result.get("seconds")
    time_cell = _common.format_seconds(seconds)
    if seconds is not None and result.get("includes_compile"):
        time_cell += "*"
    return [loss, batch, chunk or "none", _common.format_bytes(logit_bytes),
            time_cell, _common.format_bytes(result.get("peak_rss_bytes")),
            _common.format_bytes(result.get("step_bytes")),
            _common.format_bytes(result.get("xla_temp_bytes")),
            _common.format_bytes(result.get("device_peak_bytes")),
            _status(result)]


def _check(loss, batch, results, args, tmp):
    full, chunked = results.get(None, {}), results.get(args.chunk_size, {})
    row = [loss, batch, _fmt(full.get("loss")), _fmt(chunked.get("loss"))]
    if "loss" not in full or "loss" not in chunked:
        return row + ["-", "-", "-", "-"]
    paths = [_grads_path(tmp, loss, batch, c) for c in (None, args.chunk_size)]
    grads_diff = _common.max_abs_diff(*paths)
    return row + [
        f"{abs(full['loss'] - chunked['loss']):.2e}", f"{grads_diff:.2e}",
        _common.format_ratio(full["seconds"] / chunked["seconds"]),
        _common.format_ratio(full["step_bytes"] / max(chunked["step_bytes"], 1)),
    ]


def _grads_path(tmp, loss, batch, chunk):
    return os.path.join(tmp, f"{loss}_{batch}_{chunk}.npz")


def _fmt(value):
    return "-" if value is None else f"{value:.6f}"


def main(argv=None):
    _common.main(argv, parse_args, _quick_workers.batchable(worker), run)


if __name__ == "__main__":
    main()
