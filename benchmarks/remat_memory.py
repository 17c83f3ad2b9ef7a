"""Peak memory and time of one train step with and without rematerialisation.

For each transformer stack (`kerasmm.models.VisionTransformer`,
`TextTransformer`) and `remat` in (False, True), one fresh subprocess
builds the model (same seed, hence the same weights), and computes the
loss (mean square of the output features) and its gradient with respect
to every trainable weight in one XLA-compiled function
(`tf.function(jit_compile=True)` + `GradientTape`, or
`jax.jit(jax.value_and_grad(...))` over `stateless_call`), and reports:

- time: median of the repeated calls after a compiling call;
- step memory: peak RSS during the repeated calls minus the RSS before them,
  i.e. the activations and temporaries of the step (`_common.StepMemory`);
- peak RSS: the subprocess's whole high-water mark;
- on JAX, XLA's own count of temporary buffers of the compiled step
  (`memory_analysis().temp_size_in_bytes`); on an accelerator, the
  device's peak memory.

The gradients of both runs are saved and compared (max abs difference):
remat must change when activations are computed, not what.

Usage:
    python benchmarks/remat_memory.py            # ViT 256 tokens, text 77 tokens
    python benchmarks/remat_memory.py --quick    # smoke test, one subprocess
    python benchmarks/remat_memory.py --backend jax --stacks vit
"""

import os
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
import _quick_workers  # noqa: E402

STACKS = ("vit", "text")
# Full mode: activations (attention scores, MLP hidden) dominate the weights,
# so that storing or recomputing them shows in a single CPU step.
FULL = {
    "vit": {"batch_size": 16, "image_size": 128, "patch_size": 8, "hidden_dim": 256,
            "num_layers": 8, "num_heads": 4, "output_dim": 128},
    "text": {"batch_size": 64, "context_length": 77, "vocabulary_size": 1000,
             "hidden_dim": 256, "num_layers": 8, "num_heads": 4, "output_dim": 128},
}
# Quick mode (smoke test): one block each (remat wraps every block), tiny.
QUICK = {
    "vit": {"batch_size": 2, "image_size": 16, "patch_size": 8, "hidden_dim": 16,
            "num_layers": 1, "num_heads": 2, "output_dim": 8},
    "text": {"batch_size": 2, "context_length": 8, "vocabulary_size": 32,
             "hidden_dim": 16, "num_layers": 1, "num_heads": 2, "output_dim": 8},
}


# === Worker: one configuration in a fresh process ===


def make_model_and_inputs(stack, size, remat):
    import keras

    import kerasmm

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    size = dict(size)
    batch = size.pop("batch_size")
    if stack == "vit":
        model = kerasmm.models.VisionTransformer(**size, remat=remat)
        side = size["image_size"]
        x = rng.standard_normal((batch, side, side, 3)).astype("float32")
    else:
        model = kerasmm.models.TextTransformer(**size, remat=remat)
        x = rng.integers(0, size["vocabulary_size"],
                         (batch, size["context_length"])).astype("int32")
    return model, keras.ops.convert_to_tensor(x)


def train_step_fn(model):
    """A compiled `f(trainable, x) -> (loss, grads)` and its first argument."""
    import keras

    def loss_fn(outputs):
        return keras.ops.mean(keras.ops.square(outputs))

    trainable = [v.value for v in model.trainable_variables]
    if keras.backend.backend() == "jax":
        import jax

        non_trainable = [v.value for v in model.non_trainable_variables]

        def value(trainable, x):
            outputs, _ = model.stateless_call(trainable, non_trainable, x, training=True)
            return loss_fn(outputs)

        return jax.jit(jax.value_and_grad(value)), trainable
    import tensorflow as tf

    @tf.function(jit_compile=True)
    def step(trainable, x):  # `trainable` unused: TF reads the variables
        with tf.GradientTape() as tape:
            loss = loss_fn(model(x, training=True))
        return loss, tape.gradient(loss, model.trainable_variables)

    return step, trainable


def worker(config):
    import keras

    model, x = make_model_and_inputs(config["stack"], config["size"], config["remat"])
    step, trainable = train_step_fn(model)
    result = {"parameters": int(sum(np.prod(v.shape) for v in model.trainable_variables))}
    if keras.backend.backend() == "jax":
        result.update(_common.jax_compiled_stats(step, trainable, x))

    def call():
        return _common.block(step(trainable, x))

    loss, grads = call()  # compiles
    result["loss"] = float(keras.ops.convert_to_numpy(loss))
    np.savez(config["save_grads"], *[keras.ops.convert_to_numpy(g) for g in grads])
    del loss, grads
    with _common.StepMemory() as memory:
        timing = _common.time_call(call, warmup=0, repeats=config["repeats"])
    result.update({
        "seconds": timing["median"],
        **_common.memory_result(memory),
    })
    return result


# === Parent: configurations, tables, checks ===


def parse_args(argv=None):
    parser = _common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--stacks", nargs="+", choices=STACKS, default=list(STACKS))
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed steps per configuration (default 3, quick 1)")
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (1 if args.quick else 3)
    return args


def max_abs(path):
    a = np.load(path)
    return max(float(np.max(np.abs(a[k]))) for k in a.files)


def _ratio(a, b):
    return a / b if a and b else None


def run(args):
    script = os.path.abspath(__file__)
    sizes = QUICK if args.quick else FULL
    print("one train step (loss + gradient w.r.t. all weights), XLA-compiled, "
          "one device")
    rows, checks = [], []
    tmp = tempfile.mkdtemp(prefix="kerasmm_bench_")
    configs = [{"stack": stack, "size": sizes[stack], "remat": remat,
                "repeats": args.repeats,
                "save_grads": os.path.join(tmp, f"{stack}_{remat}.npz")}
               for stack in args.stacks for remat in (False, True)]
    done = _quick_workers.run_workers(script, configs, args)
    for stack in args.stacks:
        print(f"  {stack}: {sizes[stack]}", flush=True)
        results, paths = {}, {}
        for remat in (False, True):
            paths[remat] = os.path.join(tmp, f"{stack}_{remat}.npz")
            result = results[remat] = next(done)
            print(f"  done: {stack} remat={remat}: {result.get('error', 'ok')}",
                  flush=True)
            rows.append([
                stack, remat, result.get("parameters", "-"),
                _common.format_seconds(result.get("seconds")),
                _common.format_bytes(result.get("step_bytes")),
                _common.format_bytes(result.get("peak_rss_bytes")),
                _common.format_bytes(result.get("xla_temp_bytes")),
                _common.format_bytes(result.get("device_peak_bytes")),
                result.get("error", "ok")])
        checks.append(_check(stack, results, paths))
    shutil.rmtree(tmp, ignore_errors=True)
    _common.print_table(
        ["stack", "remat", "params", "time", "step mem", "peak RSS", "XLA temp",
         "device peak", "status"],
        rows, title="Train step (one fresh subprocess per row)")
    if args.quick:
        print(_quick_workers.SHARED_PROCESS_NOTE)
    print("  time: median of repeated steps after the compiling one."
          "\n  step mem: peak RSS during the repeated steps minus RSS before them."
          "\n  peak RSS: whole subprocess (imports, weights, compile, steps)."
          "\n  XLA temp: XLA's temporary buffers of the compiled step (JAX).")
    _common.print_table(
        ["stack", "max |grad|", "max |diff| grads", "step mem ratio",
         "XLA temp ratio", "time ratio"],
        checks, title="Remat vs plain (memory ratios: plain / remat; "
                      "time ratio: remat / plain)")


def _check(stack, results, paths):
    plain, remat = results[False], results[True]
    if "error" in plain or "error" in remat:
        return [stack, "-", "-", "-", "-", "-"]
    return [stack, f"{max_abs(paths[False]):.3g}",
            f"{_common.max_abs_diff(paths[False], paths[True]):.2e}",
            _common.format_ratio(_ratio(plain["step_bytes"], remat["step_bytes"])),
            _common.format_ratio(_ratio(plain.get("xla_temp_bytes"),
                                        remat.get("xla_temp_bytes"))),
            _common.format_ratio(_ratio(remat["seconds"], plain["seconds"]))]


def main(argv=None):
    _common.main(argv, parse_args, _quick_workers.batchable(worker), run)


if __name__ == "__main__":
    main()
