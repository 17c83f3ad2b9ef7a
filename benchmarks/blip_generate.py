"""Greedy BLIP captioning speed: kerasmm's compiled `generate` vs Hugging Face's.

    python benchmarks/blip_generate.py [--quick] [--rounds 5] [--eager-repeats 1]
        [--hf-python /work/torchvenv/bin/python] [--dtype float32|bfloat16]

The model has `blip_captioning_base`'s shapes (ViT-B/16 at 384x384, a
12-layer BERT-base decoder with cross-attention, 30524 tokens) and random
weights; a batch of 8 images is captioned greedily with exactly
`--new-tokens` (20) new tokens (the end token is forbidden until then:
`min_length` here, `min_new_tokens` in Hugging Face).

- kerasmm compiled: `ImageCaptioner.generate`: the image tokens and the
  decoder's cross-attention keys and values (`generation_context`; on
  TensorFlow a graph without XLA, as BLIP sets `jit_compile_context =
  False`), then one XLA-compiled decoding loop (`jax.jit` on JAX) with the
  decoder's key/value cache.
- kerasmm eager: the same cached steps (`generation_context`,
  `init_cache`, `decode_step`) in a Python loop, uncompiled.
- Hugging Face: `BlipForConditionalGeneration.generate` (torch, CPU, its
  default threads) in a `_common.LineWorker` process started with the
  Python given by `--hf-python` (a venv with torch and transformers;
  kerasmm's own has no torch; `--hf` is that worker's mode). When that
  Python or its torch is missing, the Hugging Face rows are skipped with
  the reason printed.

After one warm-up call each, kerasmm and Hugging Face alternate call by
call for `--rounds` rounds (the order flips every round), so that other load
on the machine slows both alike: `generate`, then the vision encoder alone
(kerasmm: compiled as `generate` compiles its context; Hugging Face:
`model.vision_model`). "The rest" is `generate` less the encoder: the
cross-attention keys and values and the 20 decoding steps. Each call's wall
seconds and its process's CPU seconds (`time.process_time`, every thread:
robust when other jobs share the cores) are recorded; the medians, their
ratios and the load average are printed, with each part's FLOPs and
GFLOP per CPU second against a float32 matmul's measured in this process
(the machine's practical peak per core), and torch's wall GFLOP/s on the same
product. `--quick` uses a tiny model.

`--dtype bfloat16` runs both sides in bfloat16 (kerasmm: the Keras dtype
policy `"bfloat16"`, weights included; Hugging Face: `model.to(bfloat16)`
and bfloat16 pixels), the matmul peak too: on a CPU with AMX or
AVX512-BF16, oneDNN's bfloat16 matrix products are several times faster
than float32 on both sides. Greedy ids then differ between the two.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

BASE = {"image_size": 384, "patch_size": 16, "vision_width": 768, "vision_layers": 12,
        "vision_heads": 12, "vision_mlp": 3072, "vocab": 30524, "width": 768,
        "layers": 12, "heads": 12, "mlp": 3072, "positions": 512}
QUICK = {"image_size": 32, "patch_size": 8, "vision_width": 32, "vision_layers": 2,
         "vision_heads": 4, "vision_mlp": 64, "vocab": 100, "width": 32, "layers": 2,
         "heads": 4, "mlp": 64, "positions": 64}
START, END, PAD = 30522 % 100, 3, 0  # [DEC] (in the quick vocabulary too), [SEP], [PAD].


def images(shape, batch_size):
    rng = np.random.default_rng(0)
    return rng.normal(size=(batch_size, shape["image_size"], shape["image_size"], 3)).astype(
        "float32")


def timed(function):
    """`{"seconds", "cpu_seconds"}` of one call of `function()` (it blocks)."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return {"seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}


def flops(shape, batch_size, new_tokens):
    """Multiply-add FLOPs (2 per MAC) of each part, from the shapes alone."""
    tokens = (shape["image_size"] // shape["patch_size"]) ** 2 + 1
    v, d, b = shape["vision_width"], shape["width"], batch_size
    per_token = 4 * v * v + 2 * v * shape["vision_mlp"]  # q, k, v, o; MLP.
    encoder = shape["vision_layers"] * (tokens * per_token + 2 * tokens * tokens * v)
    encoder += (tokens - 1) * shape["patch_size"] ** 2 * 3 * v
    cross_keys = shape["layers"] * tokens * 2 * v * d
    # Per step: self q, k, v, o; cross q, o; MLP; cross-attention over the
    # image tokens; the head's Dense and the tied vocabulary projection.
    step = shape["layers"] * (6 * d * d + 2 * d * shape["mlp"] + 2 * tokens * d)
    step += d * d + d * shape["vocab"]
    return {"encoder": 2 * b * encoder, "cross_keys": 2 * b * cross_keys,
            "decoding": 2 * b * step * new_tokens}


# === Hugging Face (runs in the torch virtual environment) ===


def hugging_face_worker(shape, args):
    """Builds the model, then serves `setup` (warm-up) and `generate` and
    `encode` (one timed call each); prints only `skipped` without torch."""
    try:
        import torch
        import transformers
    except ImportError as error:
        _common.emit_result({"skipped": f"torch or transformers is missing: {error}"})
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = transformers.BlipConfig(
        vision_config=dict(hidden_size=shape["vision_width"], image_size=shape["image_size"],
                           patch_size=shape["patch_size"],
                           num_hidden_layers=shape["vision_layers"],
                           num_attention_heads=shape["vision_heads"],
                           intermediate_size=shape["vision_mlp"]),
        text_config=dict(vocab_size=shape["vocab"], hidden_size=shape["width"],
                         num_hidden_layers=shape["layers"], num_attention_heads=shape["heads"],
                         intermediate_size=shape["mlp"],
                         max_position_embeddings=shape["positions"], bos_token_id=START,
                         sep_token_id=END, pad_token_id=PAD))
    model = transformers.BlipForConditionalGeneration(config).eval()
    pixels = torch.from_numpy(images(shape, args.batch_size).transpose(0, 3, 1, 2).copy())
    if args.dtype == "bfloat16":
        model, pixels = model.to(torch.bfloat16), pixels.to(torch.bfloat16)

    def generate():
        with torch.inference_mode():
            return model.generate(pixel_values=pixels, max_new_tokens=args.new_tokens,
                                  min_new_tokens=args.new_tokens, do_sample=False,
                                  num_beams=1)

    def encode():
        with torch.inference_mode():
            return model.vision_model(pixel_values=pixels).last_hidden_state

    def matmul_peak(repeats=5):  # GFLOP/s of the product `matmul_peak` times on our side.
        generator = torch.Generator().manual_seed(0)
        a = torch.randn(4096, 768, generator=generator).to(pixels.dtype)
        b = torch.randn(768, 3072, generator=generator).to(pixels.dtype)
        seconds = [timed(lambda: a @ b)["seconds"] for _ in range(repeats + 1)][1:]
        return 2 * 4096 * 768 * 3072 / min(seconds) / 1e9

    def setup(_):  # Warm-up, both.
        tokens = generate()
        encode()
        return {"new_tokens": int(tokens.shape[1]) - 1, "torch": torch.__version__,
                "threads": torch.get_num_threads(), "peak": matmul_peak()}

    _common.serve_lines({"setup": setup, "generate": lambda _: timed(generate),
                         "encode": lambda _: timed(encode)})


# === kerasmm ===


def kerasmm_calls(shape, args):
    """`{name: blocking call}` for `generate`, the encoder and eager decoding."""
    import keras
    from keras import ops

    from kerasmm.models import BLIPTextDecoder, BLIPVisionEncoder
    from kerasmm.models.generation.compiled import compile_function
    from kerasmm.tasks import ImageCaptioner

    if args.threads and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy(args.dtype)
    captioner = ImageCaptioner(
        BLIPVisionEncoder(shape["image_size"], shape["patch_size"], shape["vision_width"],
                          shape["vision_layers"], shape["vision_heads"], shape["vision_mlp"]),
        BLIPTextDecoder(shape["vocab"], shape["width"], shape["layers"], shape["heads"],
                        shape["mlp"], shape["positions"],
                        cross_attention_dim=shape["vision_width"]),
        start_token_id=START, end_token_id=END, pad_token_id=PAD)
    pixels = ops.convert_to_tensor(images(shape, args.batch_size))
    new_tokens = args.new_tokens

    def compiled():
        return captioner.generate(pixels, max_length=new_tokens, min_length=new_tokens)

    def eager():  # The same cached steps, uncompiled (greedy; end token forbidden).
        context = captioner.generation_context(pixels)
        cache = captioner.init_cache(context, args.batch_size, new_tokens)
        tokens = ops.full((args.batch_size, 1), START, dtype="int32")
        outputs = []
        for index in range(new_tokens):
            logits, cache = captioner.decode_step(tokens, index, cache, context)
            logits = ops.where(ops.arange(shape["vocab"]) == END, -1e9, logits)
            tokens = ops.cast(ops.argmax(logits, axis=-1), "int32")[:, None]
            outputs.append(tokens)
        return ops.convert_to_numpy(ops.concatenate(outputs, axis=1))

    encoder = captioner.vision_encoder
    encode = compile_function(lambda x: encoder(x), encoder.variables,
                              jit_compile=captioner.jit_compile_context)
    # The two paths agree (warm-up too); in bfloat16 their roundings part them.
    if args.dtype == "float32":
        np.testing.assert_array_equal(compiled(), eager())
    else:
        compiled(), eager()
    return captioner, {"generate": compiled, "eager": eager,
                       "encode": lambda: _common.block(encode(pixels))}


def matmul_peak(dtype="float32", repeats=5):
    """`(GFLOP/s, GFLOP per CPU second)`: the best of `repeats` `dtype`
    (4096 x 768) @ (768 x 3072) products (the ViT MLP's shape), computed
    as the backend computes the encoder (TF: without XLA)."""
    from keras import ops

    from kerasmm.models.generation.compiled import compile_function

    rng = np.random.default_rng(0)
    a = ops.cast(rng.standard_normal((4096, 768)).astype("float32"), dtype)
    b = ops.cast(rng.standard_normal((768, 3072)).astype("float32"), dtype)
    matmul = compile_function(lambda x, y: ops.matmul(x, y), [], jit_compile=False)
    work = 2 * 4096 * 768 * 3072
    times = [timed(lambda: _common.block(matmul(a, b))) for _ in range(repeats + 1)][1:]
    return (work / min(t["seconds"] for t in times) / 1e9,
            work / min(t["cpu_seconds"] for t in times) / 1e9)


def run(args):
    shape = QUICK if args.quick else BASE
    rounds = args.rounds
    print(f"greedy captioning, batch {args.batch_size}, {args.new_tokens} new tokens, "
          f"{'tiny' if args.quick else 'blip_captioning_base'}-shaped random weights, "
          f"{args.dtype}")
    captioner, calls = kerasmm_calls(shape, args)
    hf, info = None, {"skipped": f"no Python with torch at --hf-python={args.hf_python!r}"}
    if args.hf_python and os.path.exists(args.hf_python):
        command = [args.hf_python, os.path.abspath(__file__), "--hf", "--batch-size",
                   str(args.batch_size), "--new-tokens", str(args.new_tokens),
                   "--threads", str(args.threads or 0), "--dtype", args.dtype]
        hf = _common.LineWorker(command + (["--quick"] if args.quick else []))
        try:
            info = hf.request("setup")  # Or the `skipped` line it printed first.
        except RuntimeError as error:
            info = {"skipped": f"the Hugging Face run failed: {error}"}
        if "skipped" in info:
            hf.close()
            hf = None
    calls["generate"]()
    calls["encode"]()
    times = {key: [] for key in ("generate", "encode", "hf generate", "hf encode")}
    for r in range(rounds):
        for part in ("generate", "encode"):
            sides = [("", lambda p=part: timed(calls[p]))]
            if hf is not None:
                sides.append(("hf ", lambda p=part: hf.request(p)))
            for prefix, call in sides if r % 2 == 0 else sides[::-1]:
                times[prefix + part].append(call())
        print(f"round {r + 1}/{rounds} done, load {os.getloadavg()[0]:.1f}", file=sys.stderr,
              flush=True)
    eager = [timed(calls["eager"]) for _ in range(args.eager_repeats)]
    if hf is not None:
        hf.close()
    report(args, shape, captioner, times, eager, info)


def _median(records, key):
    return float(np.median([r[key] for r in records])) if records else float("nan")


def report(args, shape, captioner, times, eager, info):
    generate, eager_seconds = _median(times["generate"], "seconds"), _median(eager, "seconds")
    cpu, eager_cpu = _median(times["generate"], "cpu_seconds"), _median(eager, "cpu_seconds")
    print(f"kerasmm compiled  {generate:.3f} s, {cpu:.2f} CPU s   "
          f"(traces: {captioner.generate_trace_count})")
    print(f"kerasmm eager     {eager_seconds:.3f} s, {eager_cpu:.2f} CPU s")
    print(f"compiled vs eager speed-up: {eager_seconds / generate:.2f}x "
          f"({eager_cpu / max(cpu, 1e-9):.2f}x in CPU seconds)")
    if "skipped" in info:
        print(f"Hugging Face      skipped: {info['skipped']}")
        return
    work = flops(shape, args.batch_size, args.new_tokens)
    work = {"generate": sum(work.values()), "encode": work["encoder"],
            "rest": work["cross_keys"] + work["decoding"]}
    peak, peak_cpu = matmul_peak(args.dtype)
    rows = []
    for part, name in (("generate", "total (generate)"), ("encode", "vision encoder"),
                       ("rest", "the rest")):
        values = {}
        for side in ("", "hf "):
            for key in ("seconds", "cpu_seconds"):
                if part == "rest":
                    values[side + key] = (_median(times[side + "generate"], key)
                                          - _median(times[side + "encode"], key))
                else:
                    values[side + key] = _median(times[side + part], key)
        rows.append([name, f"{values['seconds']:.3f}", f"{values['hf seconds']:.3f}",
                     _common.format_ratio(values["hf seconds"] / values["seconds"]),
                     f"{values['cpu_seconds']:.2f}", f"{values['hf cpu_seconds']:.2f}",
                     _common.format_ratio(values["hf cpu_seconds"] / values["cpu_seconds"]),
                     f"{work[part] / 1e9:.0f}",
                     f"{work[part] / 1e9 / values['cpu_seconds'] / peak_cpu:.0%}",
                     f"{work[part] / 1e9 / values['hf cpu_seconds'] / peak_cpu:.0%}"])
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    _common.print_table(
        ["part", "kerasmm s", "HF s", "speed-up", "kerasmm CPU s", "HF CPU s",
         "CPU speed-up", "GFLOP", "kerasmm MFU/CPU", "HF MFU/CPU"], rows,
        title=f"medians of {args.rounds} interleaved rounds, {args.threads or 'default'} "
              f"threads per side; Hugging Face: torch "
              f"{info['torch']}, {info['threads']} threads, {info['new_tokens']} new "
              f"tokens; load average now ({load})")
    print(f"{args.dtype} matmul peak here: {peak:.0f} GFLOP/s wall, {peak_cpu:.0f} GFLOP per CPU "
          f"second (MFU/CPU: a part's GFLOP per CPU second over the latter); torch's: "
          f"{info['peak']:.0f} GFLOP/s wall")
    print(f"kerasmm compiled vs Hugging Face speed-up: "
          f"{_median(times['hf generate'], 'seconds') / generate:.2f}x")
    bound = work["generate"] / 1e9 / peak_cpu
    print(f"all {work['generate'] / 1e9:.0f} GFLOP at the matmul peak: {bound:.2f} CPU s, "
          f"at most {_median(times['hf generate'], 'cpu_seconds') / bound:.2f}x fewer than "
          f"Hugging Face's")


def parse_args(argv=None):
    parser = _common.base_parser(__doc__.splitlines()[0], subprocesses=False)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=20)
    parser.add_argument("--rounds", "--repeats", type=int, default=3,
                        help="interleaved timed rounds (default 3)")
    parser.add_argument("--eager-repeats", type=int, default=1,
                        help="timed eager calls, after the rounds (default 1)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads per side (TensorFlow's intra- and inter-op pools, "
                             "torch's); default: each library's own (one per core). "
                             "--threads 1 on a busy machine: CPU seconds without "
                             "thread-pool waits, the fairest comparison there")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32",
                        help="both sides' weights and compute (default float32)")
    parser.add_argument("--hf", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--hf-python", default=os.environ.get(
        "KERASMM_TORCH_PYTHON", "/work/torchvenv/bin/python"),
        help="a Python with torch and transformers, for the Hugging Face rows")
    return parser.parse_args(argv)


def main():
    args = parse_args()
    if args.backend == "jax" and args.threads:
        raise SystemExit("--threads is for the TensorFlow backend (and torch)")
    if args.hf:
        hugging_face_worker(QUICK if args.quick else BASE, args)
        return
    _common.select_backend(args.backend)
    print(_common.describe_run(args))
    run(args)


if __name__ == "__main__":
    main()
