"""Peak memory of one CLIP / SigLIP train step against `accumulation_steps`.

`model.compile(..., accumulation_steps=k)` (GradCache,
`kerasmm.losses.grad_cache`) splits the contrastive batch into `k`
micro-batches for the towers while the loss still sees the whole batch.
This script measures what that buys: for each family (`kerasmm.models.CLIP`
with `CLIPLoss`, `kerasmm.models.SigLIP` with `SigLIPLoss`) and each `k` in
`--steps` (default 1, 4, 8), one fresh subprocess builds the model (same
seed, hence the same weights), compiles it with plain SGD and
`accumulation_steps=k`, and runs `model.train_on_batch` (the step `fit`
runs) on the same contrastive batch. It reports:

- XLA temp (JAX): the temporary buffers of the compiled train step, from
  XLA's buffer assignment of `jax.jit(model.train_step)` (the function
  `fit` jits) via `compiled.memory_analysis().temp_size_in_bytes`: the
  step's peak working memory without weights, optimizer state and inputs,
  known before running and independent of the machine's load;
- 1st step: peak RSS during the first step (with its tracing or XLA
  compilation) minus the RSS before it (`_common.StepMemory`; host
  memory). On TensorFlow this is the number to read: its CPU allocator
  keeps what the first step took, so later steps add little;
- step mem: the same over the repeated steps after the first;
- peak RSS of the whole subprocess, and on an accelerator the device's
  peak memory;
- time: median seconds per step after the compiling one;
- max |dW - dW(k=1)|: the weight update of the first step compared with
  `k=1`'s (GradCache must change the memory, not the update), beside
  max |dW(k=1)| for scale.

Ratios are `k=1 / k` for memory (above 1: the step needs less) and
`k / k=1` for time (the extra forward pass).

Usage:
    python benchmarks/accumulation_memory.py                  # B=128, 64 px
    python benchmarks/accumulation_memory.py --quick          # smoke test, one subprocess
    python benchmarks/accumulation_memory.py --backend jax --families siglip
    python benchmarks/accumulation_memory.py --batch-size 256 --steps 1 2 4 8 16
"""

import os
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
import _quick_workers  # noqa: E402

FAMILIES = ("clip", "siglip")
STEPS = (1, 4, 8)
# Full mode: activations (attention, MLP hidden, for 128 examples x 64 image
# tokens / 32 text tokens) dominate the ~4 M weights, as in real fine-tuning.
FULL = {"image_size": 64, "patch_size": 8, "hidden_dim": 192, "num_layers": 4,
        "num_heads": 3, "vocabulary_size": 1000, "context_length": 32,
        "batch_size": 128}
# Quick mode (smoke test): one block per tower (compiles grow with depth).
QUICK = {"image_size": 32, "patch_size": 8, "hidden_dim": 32, "num_layers": 1,
         "num_heads": 2, "vocabulary_size": 64, "context_length": 8,
         "batch_size": 16}
LEARNING_RATE = 0.1


# === Worker: one family, one accumulation_steps ===


def make_model(family, size):
    """The family's model (seeded weights) with its loss, and the loss."""
    import keras

    from kerasmm import losses
    from kerasmm import models

    keras.utils.set_random_seed(0)
    image = {"image_size": size["image_size"], "patch_size": size["patch_size"]}
    common = {"hidden_dim": size["hidden_dim"], "num_layers": size["num_layers"],
              "num_heads": size["num_heads"]}
    text = {"vocabulary_size": size["vocabulary_size"],
            "context_length": size["context_length"], **common}
    if family == "clip":
        width = size["hidden_dim"] // 2
        model = models.CLIP(models.VisionTransformer(**image, **common, output_dim=width),
                            models.TextTransformer(**text, output_dim=width))
        return model, losses.CLIPLoss()
    model = models.SigLIP(models.SigLIPVisionEncoder(**image, **common),
                          models.SigLIPTextEncoder(**text))
    return model, losses.SigLIPLoss()


def make_batch(size):
    """The contrastive batch: `{"images", "token_ids"}`, fixed by a seed."""
    rng = np.random.default_rng(1)
    batch, side = size["batch_size"], size["image_size"]
    return {
        "images": rng.standard_normal((batch, side, side, 3)).astype("float32"),
        "token_ids": rng.integers(1, size["vocabulary_size"],
                                  (batch, size["context_length"])).astype("int32"),
    }


def jax_step_stats(model, batch):
    """XLA's memory figures of the train step `fit` jits (JAX)."""
    import jax

    state = tuple([v.value for v in variables] for variables in (
        model.trainable_variables, model.non_trainable_variables,
        model.optimizer.variables, model.metrics_variables))
    compiled = jax.jit(model.train_step).lower(state, batch).compile()
    stats = {"xla_temp_bytes": None}
    try:
        stats["xla_temp_bytes"] = compiled.memory_analysis().temp_size_in_bytes
    except Exception:  # noqa: BLE001 - not every platform reports it
        pass
    return stats


def worker(config):
    import keras

    size, steps = config["size"], config["steps"]
    model, loss = make_model(config["family"], size)
    model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE), loss=loss,
                  accumulation_steps=steps)
    batch = make_batch(size)
    before = [np.array(w) for w in model.get_weights()]
    with _common.StepMemory() as first:
        first_loss = model.train_on_batch(batch)  # Traces / compiles, then one step.
    deltas = [np.asarray(w) - b for w, b in zip(model.get_weights(), before)]
    np.savez(config["save_deltas"], *deltas)
    result = {
        "parameters": int(sum(np.prod(v.shape) for v in model.trainable_variables)),
        "loss": float(np.asarray(first_loss).reshape(-1)[0]),
        "jit_compile": bool(model.jit_compile),
        "first_step_bytes": first.delta_bytes,
    }
    if keras.backend.backend() == "jax":
        result.update(jax_step_stats(model, batch))

    def call():
        return _common.block(model.train_on_batch(batch))

    with _common.StepMemory() as memory:
        timing = _common.time_call(call, warmup=0, repeats=config["repeats"])
    result.update({"seconds": timing["median"], **_common.memory_result(memory)})
    return result


# === Parent: configurations, tables ===


def parse_args(argv=None):
    parser = _common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    parser.add_argument("--steps", nargs="+", type=int, default=list(STEPS),
                        help="accumulation_steps values; 1 is always run first "
                             "(the reference)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="contrastive batch (default 128, quick 16); every "
                             "--steps value must divide it")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed steps per configuration (default 3, quick 1)")
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.size = dict(QUICK if args.quick else FULL)
    if args.batch_size:
        args.size["batch_size"] = args.batch_size
    args.steps = sorted(set(args.steps) | {1})
    bad = [k for k in args.steps if k < 1 or args.size["batch_size"] % k]
    if bad:
        parser.error("every --steps value must be >= 1 and divide the batch size. "
                     f"Received: steps={bad}, batch size {args.size['batch_size']}")
    return args


def _ratio(a, b):
    return a / b if a and b else None


def run(args):
    script = os.path.abspath(__file__)
    size = args.size
    print(f"one train step (model.train_on_batch, SGD) of the same contrastive batch "
          f"B={size['batch_size']}; towers: {size['num_layers']} layers, width "
          f"{size['hidden_dim']}, {(size['image_size'] // size['patch_size']) ** 2} "
          f"image tokens, {size['context_length']} text tokens")
    rows, ratios = [], []
    tmp = tempfile.mkdtemp(prefix="kerasmm_bench_")
    configs = [{"family": family, "size": size, "steps": steps,
                "repeats": args.repeats,
                "save_deltas": os.path.join(tmp, f"{family}_{steps}.npz")}
               for family in args.families for steps in args.steps]
    done = _quick_workers.run_workers(script, configs, args)
    for family in args.families:
        results, paths = {}, {}
        for steps in args.steps:
            paths[steps] = os.path.join(tmp, f"{family}_{steps}.npz")
            result = results[steps] = next(done)
            print(f"  done: {family} accumulation_steps={steps}: "
                  f"{result.get('error', 'ok')}", flush=True)
            ok = "error" not in result and "error" not in results[1]
            rows.append([
                family, steps, size["batch_size"] // steps, result.get("parameters", "-"),
                _common.format_seconds(result.get("seconds")),
                _common.format_bytes(result.get("first_step_bytes")),
                _common.format_bytes(result.get("step_bytes")),
                _common.format_bytes(result.get("peak_rss_bytes")),
                _common.format_bytes(result.get("xla_temp_bytes")),
                _common.format_bytes(result.get("device_peak_bytes")),
                f"{_common.max_abs_diff(paths[1], paths[steps]):.2e}" if ok else "-",
                result.get("error", "ok")])
            if ok and steps > 1:
                reference = results[1]
                ratios.append([
                    family, steps,
                    _common.format_ratio(_ratio(reference["first_step_bytes"],
                                                result["first_step_bytes"])),
                    _common.format_ratio(_ratio(reference["step_bytes"],
                                                result["step_bytes"])),
                    _common.format_ratio(_ratio(reference.get("xla_temp_bytes"),
                                                result.get("xla_temp_bytes"))),
                    _common.format_ratio(_ratio(reference.get("device_peak_bytes"),
                                                result.get("device_peak_bytes"))),
                    _common.format_ratio(_ratio(result["seconds"], reference["seconds"]))])
        if "error" not in results[1]:
            print(f"  {family}: max |dW(k=1)| = {max_abs(paths[1]):.3g}, "
                  f"first-step loss {results[1]['loss']:.6f}, "
                  f"jit_compile={results[1]['jit_compile']}")
    shutil.rmtree(tmp, ignore_errors=True)
    _common.print_table(
        ["family", "k", "micro", "params", "time", "1st step", "step mem", "peak RSS",
         "XLA temp",
         "device peak", "max|dW-dW1|", "status"],
        rows, title="Train step by accumulation_steps k (one fresh subprocess per row)")
    if args.quick:
        print(_quick_workers.SHARED_PROCESS_NOTE)
    print("  micro: micro-batch size. 1st step: peak RSS during the first step (with its"
          "\n  tracing / compilation) minus RSS before it: TensorFlow's CPU allocator keeps"
          "\n  what that step took, so later steps add little. step mem: the same over the"
          "\n  repeated steps. XLA temp: temporary buffers of the compiled step (JAX)."
          "\n  max|dW-dW1|: first-step weight update against k=1's.")
    _common.print_table(
        ["family", "k", "1st step ratio", "step mem ratio", "XLA temp ratio",
         "device ratio", "time ratio"],
        ratios, title="Against k=1 (memory: k=1 / k, above 1 is less memory; "
                      "time: k / k=1)")


def max_abs(path):
    a = np.load(path)
    return max(float(np.max(np.abs(a[k]))) for k in a.files)


def main(argv=None):
    _common.main(argv, parse_args, _quick_workers.batchable(worker), run)


if __name__ == "__main__":
    main()
