"""ViT-B/32 CLIP throughput: kerasmm beside keras-hub's `CLIPBackbone`.

Builds the same CLIP twice with random weights, OpenAI's ViT-B/32 config
(vision: 224 px, patch 32, width 768, 12 layers, 12 heads; text: vocabulary
49408, 77 tokens, width 512, 12 layers, 8 heads; joint embedding 512):

- kerasmm: `kerasmm.models.CLIP(VisionTransformer(...), TextTransformer(...))`
  trained with `kerasmm.losses.CLIPLoss()`;
- keras-hub: `keras_hub.models.CLIPBackbone(CLIPVisionEncoder(...),
  CLIPTextEncoder(...), projection_dim=512)`, whose outputs are the logits
  `{"vision_logits", "text_logits"}`; its loss is the same symmetric CLIP
  loss written on them: sparse categorical cross-entropy against
  `arange(batch)` on each, weighted 1/2.

It checks that both have the same number of parameters, then times, in the
same process and alternating the two models call by call (so that a busy
machine slows both alike), inference (`predict_on_batch`) and a train step
(`train_on_batch`: forward + loss + backward + Adam update), both compiled
with XLA (`jit_compile=True`; `--jit-compile auto` gives both Keras' default
instead, which on a TensorFlow machine without an accelerator is a graph
without XLA, oneDNN kernels). It prints samples/s, the kerasmm / keras-hub
ratios (the median of the per-round ratios, each round timing both models
back to back), and the model FLOP utilisation (MFU): model FLOP/s over the
GEMM peak measured here (the best call of a large float32 matmul, same
backend, timed in every round beside the models). It also prints the
per-round ratios and each model's process CPU seconds per step (all
threads): on a machine shared with other jobs the wall times swing with
their load, the CPU seconds (the work done) much less.

Model FLOPs are counted analytically (`clip_forward_flops`): every matmul
costs 2 flops per multiply-add; per transformer layer and token
`24 * width^2` (q, k, v and output projections `4 w^2`, MLP `8 w^2`, times
2), plus attention `4 * tokens^2 * width` per layer (q k^T and weights @ v;
the causal text mask is computed in full), plus the patch convolution and
the projections. A train step costs 3x the forward (backward = 2x).
Embedding lookups, LayerNorms, softmax and activations are not counted.
kerasmm's towers skip the unread tokens of their last block (see
`clip_forward_flops`), 6.7% of the flops at ViT-B/32: its MFU is computed
from the flops it executes, keras-hub's from the full count.
On JAX the script also prints XLA's own flop count of the kerasmm forward.

`--family siglip` does the same for SigLIP B/16 at 224 px (vision: patch
16, width 768, 12 layers, 12 heads, MAP head; text: vocabulary 32000, 64
tokens, width 768, 12 layers, 12 heads): `kerasmm.models.SigLIP` with its
default `SigLIPLoss` beside `keras_hub.models.SigLIPBackbone` with its own
default loss (`SigLIPLoss` on its logits, `compile(loss="auto")`); same
Adam, same batch, XLA on both. SigLIP's vision tower is pooled by the MAP
head, which reads every token, so only its text tower skips work (the
last block computes the last position alone).

Usage:
    python benchmarks/clip_throughput.py                # ViT-B/32, batch 8
    python benchmarks/clip_throughput.py --family siglip --batch-size 4
    python benchmarks/clip_throughput.py --quick        # tiny config, seconds
    python benchmarks/clip_throughput.py --backend jax --batch-size 32
"""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

VIT_B32 = {
    "image_size": 224, "patch_size": 32, "vision_width": 768, "vision_layers": 12,
    "vision_heads": 12, "vocabulary_size": 49408, "context_length": 77,
    "text_width": 512, "text_layers": 12, "text_heads": 8, "embed_dim": 512,
}
# Quick mode (smoke test): one layer per tower, as small as runs every path;
# the test suite's time goes to XLA compiling these, which grows with depth.
TINY = {
    "image_size": 16, "patch_size": 8, "vision_width": 32, "vision_layers": 1,
    "vision_heads": 2, "vocabulary_size": 100, "context_length": 8,
    "text_width": 32, "text_layers": 1, "text_heads": 2, "embed_dim": 16,
}
# SigLIP B/16 (google/siglip-base-patch16-224): no projection, embed = width.
SIGLIP_B16 = {
    "image_size": 224, "patch_size": 16, "vision_width": 768, "vision_layers": 12,
    "vision_heads": 12, "vocabulary_size": 32000, "context_length": 64,
    "text_width": 768, "text_layers": 12, "text_heads": 12, "embed_dim": 768,
}
SIGLIP_TINY = {
    "image_size": 16, "patch_size": 8, "vision_width": 32, "vision_layers": 1,
    "vision_heads": 2, "vocabulary_size": 100, "context_length": 8,
    "text_width": 32, "text_layers": 1, "text_heads": 2, "embed_dim": 32,
}


def transformer_flops(tokens, width, layers, pooled_last_layer=False):
    """Forward FLOPs of `layers` pre-LN blocks (MLP 4x) on `tokens` tokens.

    `pooled_last_layer=True`: the last block computes one token (key and
    value projections on every token; query, output projection, attention
    and MLP on that token alone).
    """
    full = 24 * tokens * width ** 2 + 4 * tokens ** 2 * width
    if not pooled_last_layer:
        return layers * full
    last = 4 * tokens * width ** 2 + 20 * width ** 2 + 4 * tokens * width
    return (layers - 1) * full + last


def patch_flops(c):
    patches = (c["image_size"] // c["patch_size"]) ** 2
    return patches, 2 * patches * c["patch_size"] ** 2 * 3 * c["vision_width"]


def clip_forward_flops(c, pooled_last_layer=False):
    """Analytic forward FLOPs of one image-text pair (see module docstring).

    `pooled_last_layer=True` counts what kerasmm executes: its towers read
    one token (class / end-of-text) of the last block.
    """
    patches, conv = patch_flops(c)
    vision = conv + transformer_flops(patches + 1, c["vision_width"],
                                      c["vision_layers"], pooled_last_layer)
    text = transformer_flops(c["context_length"], c["text_width"], c["text_layers"],
                             pooled_last_layer)
    projections = 2 * c["embed_dim"] * (c["vision_width"] + c["text_width"])
    return vision + text + projections


def siglip_forward_flops(c, pooled_last_layer=False):
    """Analytic forward FLOPs of one SigLIP image-text pair.

    Vision: patch convolution, every block on every patch (no class token),
    then the MAP head: a pooled block whose query is one learned probe
    (key / value projections on every token, the rest on one token). Text:
    the blocks (kerasmm's last one pooled at the last position with
    `pooled_last_layer`) and the linear head.
    """
    patches, conv = patch_flops(c)
    width = c["vision_width"]
    vision = conv + transformer_flops(patches, width, c["vision_layers"])
    head = transformer_flops(patches, width, 1, pooled_last_layer=True)
    text = transformer_flops(c["context_length"], c["text_width"], c["text_layers"],
                             pooled_last_layer)
    return vision + head + text + 2 * c["text_width"] * c["embed_dim"]


# === The two models ===


def build_kerasmm(c):
    import kerasmm

    vision = kerasmm.models.VisionTransformer(
        image_size=c["image_size"], patch_size=c["patch_size"],
        hidden_dim=c["vision_width"], num_layers=c["vision_layers"],
        num_heads=c["vision_heads"], output_dim=c["embed_dim"])
    text = kerasmm.models.TextTransformer(
        vocabulary_size=c["vocabulary_size"], context_length=c["context_length"],
        hidden_dim=c["text_width"], num_layers=c["text_layers"],
        num_heads=c["text_heads"], output_dim=c["embed_dim"])
    return kerasmm.models.CLIP(vision, text)


def build_keras_hub(c):
    import keras_hub

    vision = keras_hub.models.CLIPVisionEncoder(
        patch_size=c["patch_size"], hidden_dim=c["vision_width"],
        num_layers=c["vision_layers"], num_heads=c["vision_heads"],
        intermediate_dim=4 * c["vision_width"], intermediate_activation="quick_gelu",
        image_shape=(c["image_size"], c["image_size"], 3))
    text = keras_hub.models.CLIPTextEncoder(
        vocabulary_size=c["vocabulary_size"], embedding_dim=c["text_width"],
        hidden_dim=c["text_width"], num_layers=c["text_layers"],
        num_heads=c["text_heads"], intermediate_dim=4 * c["text_width"],
        intermediate_activation="quick_gelu", max_sequence_length=c["context_length"])
    return keras_hub.models.CLIPBackbone(vision, text, projection_dim=c["embed_dim"])


def build_kerasmm_siglip(c):
    import kerasmm

    vision = kerasmm.models.SigLIPVisionEncoder(
        image_size=c["image_size"], patch_size=c["patch_size"],
        hidden_dim=c["vision_width"], num_layers=c["vision_layers"],
        num_heads=c["vision_heads"])
    text = kerasmm.models.SigLIPTextEncoder(
        vocabulary_size=c["vocabulary_size"], context_length=c["context_length"],
        hidden_dim=c["text_width"], num_layers=c["text_layers"],
        num_heads=c["text_heads"], output_dim=c["embed_dim"])
    return kerasmm.models.SigLIP(vision, text)


def build_keras_hub_siglip(c):
    import keras_hub

    vision = keras_hub.models.SigLIPVisionEncoder(
        patch_size=c["patch_size"], hidden_dim=c["vision_width"],
        num_layers=c["vision_layers"], num_heads=c["vision_heads"],
        intermediate_dim=4 * c["vision_width"],
        image_shape=(c["image_size"], c["image_size"], 3))
    text = keras_hub.models.SigLIPTextEncoder(
        vocabulary_size=c["vocabulary_size"], embedding_dim=c["text_width"],
        hidden_dim=c["text_width"], num_layers=c["text_layers"],
        num_heads=c["text_heads"], intermediate_dim=4 * c["text_width"],
        max_sequence_length=c["context_length"], projection_dim=c["embed_dim"])
    return keras_hub.models.SigLIPBackbone(vision, text)


def compile_kerasmm(model, family="clip", jit_compile=True):
    import keras

    import kerasmm

    # SigLIP's default loss is SigLIPLoss.
    loss = kerasmm.losses.CLIPLoss() if family == "clip" else None
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss=loss,
                  jit_compile=jit_compile)


def compile_keras_hub(model, family="clip", jit_compile=True):
    import keras

    if family == "siglip":  # Its default loss: SigLIPLoss on its logits.
        model.compile(optimizer=keras.optimizers.Adam(1e-5), jit_compile=jit_compile)
        return

    def cross_entropy():
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    # CLIP's loss on keras-hub's logits: (CE(image->text) + CE(text->image)) / 2.
    model.compile(optimizer=keras.optimizers.Adam(1e-5),
                  loss={"vision_logits": cross_entropy(), "text_logits": cross_entropy()},
                  loss_weights={"vision_logits": 0.5, "text_logits": 0.5},
                  jit_compile=jit_compile)


def make_batch(c, batch_size, seed=0):
    """Random images and token ids whose end-of-text (largest id) ends each row."""
    import keras

    rng = np.random.default_rng(seed)
    images = rng.standard_normal(
        (batch_size, c["image_size"], c["image_size"], 3)).astype("float32")
    length = c["context_length"]
    token_ids = rng.integers(1, c["vocabulary_size"] - 1, (batch_size, length))
    ends = rng.integers(length // 2, length, batch_size)
    for row, end in enumerate(ends):
        token_ids[row, end] = c["vocabulary_size"] - 1
        token_ids[row, end + 1:] = 0
    x = {"images": keras.ops.convert_to_tensor(images),
         "token_ids": keras.ops.convert_to_tensor(token_ids.astype("int32"))}
    labels = keras.ops.convert_to_tensor(np.arange(batch_size, dtype="int32"))
    return x, {"vision_logits": labels, "text_logits": labels}


def _count(weights):
    return int(sum(np.prod(w.shape) for w in weights))


def interleaved(calls, rounds, cpu_times=None):
    """Times each named call once per round, alternating who goes first.

    Returns `{name: [wall seconds per round]}`; fills `cpu_times` (a dict),
    if given, with the process CPU seconds of the same calls (all threads:
    on an oversubscribed machine, the work done rather than the wait).
    """
    names = list(calls)
    times = {name: [] for name in names}
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            start, cpu = time.perf_counter(), time.process_time()
            calls[name]()
            times[name].append(time.perf_counter() - start)
            if cpu_times is not None:
                cpu_times.setdefault(name, []).append(time.process_time() - cpu)
    return times


def xla_forward_flops(model, x):
    """XLA's flop count of the model's forward pass (JAX), or None."""
    import jax

    def forward(trainable, non_trainable, inputs):
        return model.stateless_call(trainable, non_trainable, inputs)[0]

    stats = _common.jax_compiled_stats(
        jax.jit(forward), [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables], x)
    return stats["xla_flops"]


# === Benchmark ===

# Per family: (full, quick) configs, builders, analytic forward FLOPs.
FAMILIES = {
    "clip": {"configs": (VIT_B32, TINY), "kerasmm": build_kerasmm,
             "keras-hub": build_keras_hub, "flops": clip_forward_flops,
             "targets": {"inference": ">= 1.00x", "train": ">= 1.25x"}},
    "siglip": {"configs": (SIGLIP_B16, SIGLIP_TINY), "kerasmm": build_kerasmm_siglip,
               "keras-hub": build_keras_hub_siglip, "flops": siglip_forward_flops,
               "targets": {"inference": ">= 1.00x", "train": ">= 1.10x"}},
}


def parse_args(argv=None):
    parser = _common.base_parser(__doc__.splitlines()[0], subprocesses=False)
    parser.add_argument("--family", choices=sorted(FAMILIES), default="clip",
                        help="clip: ViT-B/32 CLIP; siglip: SigLIP B/16 at 224 px")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="samples per step (default 8; quick 2)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="timed calls per model and mode (default 5; quick 2)")
    parser.add_argument("--gemm-size", type=int, default=None,
                        help="side of the matmul that measures the peak (default 2048)")
    parser.add_argument("--jit-compile", choices=("true", "auto"), default="true",
                        help="true (default): both models with XLA; auto: Keras' "
                             "default, which on a TensorFlow machine without an "
                             "accelerator is a graph without XLA (oneDNN kernels)")
    args = parser.parse_args(argv)
    args.jit_compile = True if args.jit_compile == "true" else "auto"
    args.config = FAMILIES[args.family]["configs"][int(args.quick)]
    args.batch_size = args.batch_size or (2 if args.quick else 8)
    args.rounds = args.rounds or (2 if args.quick else 5)
    args.gemm_size = args.gemm_size or (128 if args.quick else 2048)
    return args


def run(args):
    import keras

    c, batch, family = args.config, args.batch_size, FAMILIES[args.family]
    keras.utils.set_random_seed(0)
    models = {name: family[name](c) for name in ("kerasmm", "keras-hub")}
    compile_kerasmm(models["kerasmm"], args.family, args.jit_compile)
    compile_keras_hub(models["keras-hub"], args.family, args.jit_compile)
    print("jit_compile: " + ", ".join(f"{name} {m.jit_compile}" for name, m in models.items()))
    params = {name: _count(m.trainable_weights) for name, m in models.items()}
    _common.print_table(
        ["model", "trainable parameters", "non-trainable"],
        [[name, f"{params[name]:,}", f"{_count(m.non_trainable_weights):,}"]
         for name, m in models.items()],
        title=f"{args.family} config {c}")
    if params["kerasmm"] != params["keras-hub"]:
        print("WARNING: trainable parameter counts differ by "
              f"{params['kerasmm'] - params['keras-hub']:+,}")
    else:
        print("trainable parameter counts match (keras-hub also stores its "
              "position ids as non-trainable weights)")

    x, y = make_batch(c, batch)
    # What each model executes (MFU counts executed flops, so that skipping
    # work shows in samples/s, never as utilisation above 100%).
    forward_flops = {"kerasmm": family["flops"](c, pooled_last_layer=True),
                     "keras-hub": family["flops"](c)}
    for name, value in forward_flops.items():
        print(f"analytic forward FLOPs per sample, {name}: {value / 1e9:.3f} GFLOP "
              f"(train step: 3x = {3 * value / 1e9:.3f} GFLOP)")
    if keras.backend.backend() == "jax":
        xla = xla_forward_flops(models["kerasmm"], x)
        if xla:
            print(f"XLA cost analysis, kerasmm forward: {xla / batch / 1e9:.3f} "
                  "GFLOP per sample")

    gemm, gemm_flops = _common.gemm_call(args.gemm_size)
    infer = {name: (lambda m=m: m.predict_on_batch(x)) for name, m in models.items()}
    train = {
        "kerasmm": lambda: models["kerasmm"].train_on_batch(x),
        # keras-hub's SigLIPBackbone makes its own labels (`compute_loss`).
        "keras-hub": lambda: models["keras-hub"].train_on_batch(
            x, None if args.family == "siglip" else y),
    }
    compile_seconds = {}
    for mode, calls in (("inference", infer), ("train", train)):
        for name, call in calls.items():  # first calls compile
            start = time.perf_counter()
            call()
            compile_seconds[(mode, name)] = time.perf_counter() - start
    gemm()  # compiles
    # The GEMM joins every round, so that its peak is sought under the same
    # load as the models.
    cpu = {"inference": {}, "train": {}}
    results = {mode: interleaved({**calls, "gemm": gemm}, args.rounds, cpu[mode])
               for mode, calls in (("inference", infer), ("train", train))}
    gemm_times = results["inference"].pop("gemm") + results["train"].pop("gemm")
    peak = gemm_flops / min(gemm_times) / 1e9
    print(f"GEMM peak ({args.gemm_size}^3 float32 matmul, XLA, best of "
          f"{len(gemm_times)} calls interleaved with the models): {peak:.1f} GFLOP/s "
          f"(median {gemm_flops / np.median(gemm_times) / 1e9:.1f})")

    rows, ratio_rows = [], []
    for mode, times in results.items():
        for name in models:
            flops = forward_flops[name] * batch * (3 if mode == "train" else 1)
            median = float(np.median(times[name]))
            rows.append([mode, name, f"{median:.3f} s",
                         f"{np.min(times[name]):.3f} s",
                         f"{compile_seconds[(mode, name)]:.1f} s",
                         f"{batch / median:.2f}", f"{flops / median / 1e9:.1f}",
                         f"{100 * flops / median / 1e9 / peak:.1f}%"])
        # Paired by round: both models ran back to back under the same load.
        paired = np.array(times["keras-hub"]) / np.array(times["kerasmm"])
        of_medians = np.median(times["keras-hub"]) / np.median(times["kerasmm"])
        print(f"per-round ratios ({mode}), keras-hub / kerasmm step time: "
              + " ".join(f"{r:.2f}" for r in paired))
        cpu_paired = np.array(cpu[mode]["keras-hub"]) / np.array(cpu[mode]["kerasmm"])
        print(f"process CPU seconds per step ({mode}): kerasmm "
              f"{np.median(cpu[mode]['kerasmm']):.2f}, keras-hub "
              f"{np.median(cpu[mode]['keras-hub']):.2f}; per-round ratio median "
              f"{np.median(cpu_paired):.2f}x")
        ratio_rows.append([mode, _common.format_ratio(float(np.median(paired))),
                           _common.format_ratio(float(of_medians)),
                           family["targets"][mode]])
    _common.print_table(
        ["mode", "model", "median step", "best step", "first call", "samples/s",
         "GFLOP/s", "MFU"], rows,
        title=f"Throughput, batch {batch}, {args.rounds} interleaved rounds "
              "(first call = " + ("XLA compile" if args.jit_compile is True else "tracing")
              + " + one step, not timed)")
    _common.print_table(
        ["mode", "kerasmm/keras-hub", "of medians", "target"], ratio_rows,
        title="Ratios of samples/s, kerasmm / keras-hub (median of per-round "
              "ratios; and ratio of the medians)")


def main(argv=None):
    _common.main_in_process(argv, parse_args, run)


if __name__ == "__main__":
    main()
