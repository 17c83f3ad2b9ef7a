"""Text-to-image sampling speed: DDIM 50 steps, compiled loop vs eager loop.

    python benchmarks/diffusion_sampling.py [--quick] [--backend tensorflow|jax]
                                            [--both-backends] [--batch-size 8]

`TextToImageDiffusion` with its default denoiser size (hidden_dim 32,
channel_multipliers (1, 2, 2), attention at the two lower levels, a 2-layer
text encoder; random weights) samples a batch of prompts with DDIM
(eta 0, guidance 3.0, so each step runs the U-Net on 2 x batch images) at
32x32x3 and 64x64x3, each size in a fresh subprocess:

- compiled: `model.generate`, the whole loop in one XLA function
  (TensorFlow `jit_compile=True`) or `jax.jit`; timed after a first call
  that traces and compiles (printed as "first call").
- eager: the same steps in a Python loop of eager calls (`encode_text`,
  the U-Net, `samplers.ddim_step`), from the same initial noise; the two
  results are compared (max abs difference printed).

Prints images/s and the compiled-over-eager speed-up. `--both-backends`
runs TensorFlow and JAX (each worker sets `KERAS_BACKEND`). `--quick`:
16x16x1, 5 steps, batch 2, a tiny model.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

FULL = {"sizes": [32, 64], "channels": 3, "steps": 50, "model": {}}
QUICK = {"sizes": [16], "channels": 1, "steps": 5,
         "model": {"hidden_dim": 8, "channel_multipliers": [1, 2], "num_heads": 2,
                   "num_groups": 4, "text_hidden_dim": 8, "text_num_layers": 1}}
GUIDANCE = 3.0


def parse_args(argv):
    parser = _common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--both-backends", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help="image sizes (default 32 64; --quick: 16)")
    return parser.parse_args(argv)


def worker(config):
    import keras
    import numpy as np
    from keras import ops

    from kerasmm.models import TextToImageDiffusion
    from kerasmm.models.diffusion import samplers
    from kerasmm.models.diffusion.schedules import sampling_timesteps
    from kerasmm.models.generation.compiled import compile_function

    keras.utils.set_random_seed(0)
    size, batch, steps = config["size"], config["batch_size"], config["steps"]
    shape = (size, size, config["channels"])
    model = TextToImageDiffusion(shape, vocabulary_size=617, context_length=16,
                                 **config["model"])
    # The output conv starts at zero (every prediction 0); small random weights
    # make the compiled / eager comparison meaningful.
    kernel = model.unet.get_layer("conv_out").kernel
    kernel.assign(np.random.default_rng(0).normal(0, 0.02, kernel.shape).astype("float32"))
    rng = np.random.default_rng(1)
    token_ids = np.zeros((batch, 16), "int32")
    token_ids[:, :5] = rng.integers(1, 617, (batch, 5))
    seed = 3

    def compiled():
        return model.generate(token_ids, num_steps=steps, guidance_scale=GUIDANCE, seed=seed)

    draw = compile_function(lambda inputs, s: samplers.stateless_normal(
        (batch,) + shape, s, inputs), [])
    initial = draw(ops.convert_to_tensor(np.int32(0)), ops.convert_to_tensor(np.int32(seed)))
    timesteps, previous = sampling_timesteps(model.num_train_timesteps, steps)
    alphas = ops.convert_to_tensor(model.alphas_cumprod)

    def eager():
        tokens, mask = model.encode_text(
            np.concatenate([np.zeros_like(token_ids), token_ids], axis=0))
        x = initial
        for t, prev in zip(timesteps, previous):
            noise = model.unet([ops.concatenate([x, x], axis=0),
                                ops.full((2 * batch,), float(t)), tokens, mask])
            noise = samplers.guided_noise(noise[:batch], noise[batch:], GUIDANCE)
            x = samplers.ddim_step(x, noise, samplers.alpha_at(alphas, int(t)),
                                   samplers.alpha_at(alphas, int(prev)),
                                   use_clipped_model_output=True)  # As `generate`.
        return ops.convert_to_numpy(ops.clip(x, -1.0, 1.0))

    start = time.perf_counter()
    first_images = compiled()  # Traces and compiles.
    first = time.perf_counter() - start
    # The comparison also warms up both paths, so the timed calls below need no warm-up.
    difference = float(np.abs(first_images - eager()).max())
    fast = _common.time_call(compiled, warmup=0, repeats=config["repeats"])
    slow = _common.time_call(eager, warmup=0, repeats=1)
    return {"compiled": fast["median"], "first": first, "eager": slow["median"],
            "difference": difference, "traces": model.generate_trace_count}


def run(args):
    setup = QUICK if args.quick else FULL
    backends = _common.BACKENDS if args.both_backends else (args.backend,)
    rows = []
    for backend in backends:
        for size in args.sizes or setup["sizes"]:
            config = {"size": size, "channels": setup["channels"], "steps": setup["steps"],
                      "batch_size": args.batch_size if not args.quick else 2,
                      "repeats": args.repeats, "model": setup["model"]}
            result = _common.run_worker(os.path.abspath(__file__), config, backend,
                                        timeout=args.timeout)
            label = f"{size}x{size}x{setup['channels']}"
            if "error" in result:
                rows.append([backend, label, "error: " + result["error"], "", "", "", ""])
                print("done:", " ".join(rows[-1]), flush=True)
                continue
            batch = config["batch_size"]
            rows.append([backend, label, f"{batch / result['compiled']:.2f}",
                         f"{batch / result['eager']:.2f}",
                         _common.format_ratio(result["eager"] / result["compiled"]),
                         _common.format_seconds(result["first"]),
                         f"{result['difference']:.1e}"])
            print("done:", " ".join(rows[-1]), flush=True)
    _common.print_table(
        ["backend", "images", "compiled img/s", "eager img/s", "speed-up", "first call (compiles)",
         "max |compiled - eager|"], rows,
        title=f"DDIM {setup['steps']} steps, guidance {GUIDANCE}, batch "
              f"{args.batch_size if not args.quick else 2}")


if __name__ == "__main__":
    _common.main(sys.argv[1:], parse_args, worker, run)
