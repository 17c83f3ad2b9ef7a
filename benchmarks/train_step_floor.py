"""The floor under a contrastive train step, and the best kerasmm / keras-hub ratio it allows.

`clip_throughput.py` measures kerasmm's train step against keras-hub's. This
script asks how far kerasmm's step could still fall on this machine and
backend, whatever the implementation: it times, in the same process and
round by round,

- both models' train steps (`train_on_batch`: forward, loss, backward, Adam;
  the models, losses, batch and compilation of `clip_throughput.py`);
- every matrix product that kerasmm's train step executes, each alone and
  compiled (the same backend's matmul, at the product's own shape): for each
  forward product `(M, K) @ (K, N)`, the backward's two, `(M, N) @ (N, K)`
  (the gradient of the input; not for the patch convolution, whose input is
  the images) and `(K, M) @ (M, N)` (the gradient of the weight or of the
  other activation). A product too small to time well is repeated along a
  batch axis and its time divided. The list is checked against the analytic
  flop count: 3x the forward, less the patch convolution's input gradient;
- Adam alone on a copy of kerasmm's trainable variables (`optimizer.apply`
  with fixed gradients, compiled): the weight update, which reads and writes
  every weight and both moments and is bound by memory bandwidth.

The floor is the products' sum plus Adam: a step that spent no time on
anything else (normalisations, softmax, activations, the embedding gather,
the loss, the launch) would take this long. keras-hub's step over that floor
is the highest ratio any kerasmm could reach here with these kernels; the
script prints it beside the target and how much time the rest of kerasmm's
step may take for the target to be met, against what it takes today.

Usage:
    python benchmarks/train_step_floor.py                  # CLIP ViT-B/32, batch 8
    python benchmarks/train_step_floor.py --family siglip  # SigLIP B/16 at 224 px
    python benchmarks/train_step_floor.py --quick          # tiny config, seconds
"""

import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
import clip_throughput  # noqa: E402

# A product of fewer flops than this is repeated along a batch axis until it
# has about this many, so that the launch of a compiled call does not count;
# the repeats' operands stay under MAX_REPEAT_ELEMENTS floats.
MIN_TIMED_FLOPS = 2e9
MAX_REPEAT_ELEMENTS = 2 ** 24


# === The products of kerasmm's train step ===


def block_products(batch, tokens, width, heads, layers, pooled_last_layer=False):
    """`[(name, count, b, M, K, N)]`: the forward products of pre-LN blocks.

    `b` is a batch axis (attention: one product per example and head). With
    `pooled_last_layer`, the last block computes one token, as kerasmm's
    towers do: keys and values on every token, the rest on that token alone.
    """
    d, rows = width // heads, batch * tokens
    full = layers - int(pooled_last_layer)
    products = [
        ("qkv", full, 1, rows, width, 3 * width),
        ("attention out", full, 1, rows, width, width),
        ("mlp in", full, 1, rows, width, 4 * width),
        ("mlp out", full, 1, rows, 4 * width, width),
        ("q k^T", full, batch * heads, tokens, d, tokens),
        ("weights v", full, batch * heads, tokens, tokens, d),
    ]
    if pooled_last_layer:
        products += [
            ("pooled kv", 1, 1, rows, width, 2 * width),
            ("pooled q", 1, 1, batch, width, width),
            ("pooled q k^T", 1, batch * heads, 1, d, tokens),
            ("pooled weights v", 1, batch * heads, 1, tokens, d),
            ("pooled attention out", 1, 1, batch, width, width),
            ("pooled mlp in", 1, 1, batch, width, 4 * width),
            ("pooled mlp out", 1, 1, batch, 4 * width, width),
        ]
    return [p for p in products if p[1] > 0]


def forward_products(family, c, batch):
    """`[(tower, name, count, b, M, K, N, input_gradient)]` of kerasmm's forward."""
    patches = (c["image_size"] // c["patch_size"]) ** 2
    vision_width, text_width = c["vision_width"], c["text_width"]
    out = [("vision", "patch embedding", 1, 1, batch * patches,
            3 * c["patch_size"] ** 2, vision_width, False)]
    if family == "clip":
        vision = block_products(batch, patches + 1, vision_width, c["vision_heads"],
                                c["vision_layers"], pooled_last_layer=True)
        head = [("projection", 1, 1, batch, vision_width, c["embed_dim"])]
    else:  # SigLIP: every block on every patch, then the MAP head (one probe).
        vision = block_products(batch, patches, vision_width, c["vision_heads"],
                                c["vision_layers"])
        head = [(name.replace("pooled", "MAP"), *rest) for name, *rest in block_products(
            batch, patches, vision_width, c["vision_heads"], 1, pooled_last_layer=True)]
    out += [("vision", *p, True) for p in vision + head]
    text = block_products(batch, c["context_length"], text_width, c["text_heads"],
                          c["text_layers"], pooled_last_layer=True)
    text.append(("projection", 1, 1, batch, text_width, c["embed_dim"]))
    out += [("text", *p, True) for p in text]
    out.append(("loss", "logits", 1, 1, batch, c["embed_dim"], batch, True))
    return out


def train_products(family, c, batch):
    """`[(label, count, b, M, K, N)]`: forward products and their two backward ones."""
    out = []
    for tower, name, count, b, m, k, n, input_gradient in forward_products(family, c, batch):
        label = f"{tower} {name}"
        out.append((label, count, b, m, k, n))
        if input_gradient:
            out.append((label + " (grad in)", count, b, m, n, k))
        out.append((label + " (grad weight)", count, b, k, m, n))
    return out


def product_flops(products):
    return sum(2 * count * b * m * k * n for _, count, b, m, k, n in products)


def analytic_train_flops(family, c, batch):
    """3x clip_throughput's forward count for kerasmm, less the patch input gradient."""
    flops = clip_throughput.FAMILIES[family]["flops"](c, pooled_last_layer=True)
    patches, conv = clip_throughput.patch_flops(c)
    logits = 2 * c["embed_dim"] * batch  # per sample; not in the forward count
    return batch * (3 * (flops + logits) - conv)


# === Compiled calls ===


def compiled(fn):
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(fn)
    import tensorflow as tf

    # One function per product shape: TensorFlow's warning about frequent
    # tracing would be noise here.
    tf.get_logger().setLevel("ERROR")
    return tf.function(fn, jit_compile=True)


def product_call(b, m, k, n, rng):
    """`(call, repeats)`: a compiled product of these shapes, repeated to be timeable."""
    import keras

    elements = b * (m * k + k * n + m * n)
    repeats = max(1, min(math.ceil(MIN_TIMED_FLOPS / (2 * b * m * k * n)),
                         MAX_REPEAT_ELEMENTS // elements))
    lhs = keras.ops.convert_to_tensor(rng.standard_normal((repeats * b, m, k)), "float32")
    rhs = keras.ops.convert_to_tensor(rng.standard_normal((repeats * b, k, n)), "float32")
    if repeats * b == 1:
        lhs, rhs = lhs[0], rhs[0]
    matmul = compiled(lambda x, y: keras.ops.matmul(x, y))
    return (lambda: _common.block(matmul(lhs, rhs))), repeats


def adam_call(variables):
    """A compiled Adam update of copies of `variables` with fixed gradients."""
    import keras

    weights = [keras.Variable(keras.ops.zeros(v.shape), name=f"w{i}")
               for i, v in enumerate(variables)]
    grads = [keras.ops.full(v.shape, 1e-3) for v in variables]
    optimizer = keras.optimizers.Adam(1e-5)
    optimizer.build(weights)
    if keras.backend.backend() == "jax":
        import jax

        state = {"opt": [v.value for v in optimizer.variables],
                 "weights": [v.value for v in weights]}
        apply = jax.jit(optimizer.stateless_apply, donate_argnums=(0, 2))

        def call():
            state["weights"], state["opt"] = apply(state["opt"], grads, state["weights"])
            return _common.block(state["weights"])

        return call
    apply = compiled(lambda: optimizer.apply(grads, weights))
    return lambda: (apply(), _common.block(weights[-1].value))


# === Benchmark ===


def parse_args(argv=None):
    parser = _common.base_parser(__doc__.splitlines()[0], subprocesses=False)
    parser.add_argument("--family", choices=sorted(clip_throughput.FAMILIES), default="clip",
                        help="clip: ViT-B/32 CLIP; siglip: SigLIP B/16 at 224 px")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="samples per step (default 8; quick 2)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="timed rounds (default 5; quick 2)")
    args = parser.parse_args(argv)
    args.config = clip_throughput.FAMILIES[args.family]["configs"][int(args.quick)]
    args.batch_size = args.batch_size or (2 if args.quick else 8)
    args.rounds = args.rounds or (2 if args.quick else 5)
    return args


def run(args):
    import keras

    c, batch, family = args.config, args.batch_size, clip_throughput.FAMILIES[args.family]
    keras.utils.set_random_seed(0)
    models = {name: family[name](c) for name in ("kerasmm", "keras-hub")}
    clip_throughput.compile_kerasmm(models["kerasmm"], args.family)
    clip_throughput.compile_keras_hub(models["keras-hub"], args.family)
    x, y = clip_throughput.make_batch(c, batch)
    steps = {
        "kerasmm": lambda: models["kerasmm"].train_on_batch(x),
        "keras-hub": lambda: models["keras-hub"].train_on_batch(
            x, None if args.family == "siglip" else y),
    }

    products = train_products(args.family, c, batch)
    listed, analytic = product_flops(products), analytic_train_flops(args.family, c, batch)
    print(f"products of kerasmm's train step: {len(products)} shapes, {listed / 1e9:.3f} "
          f"GFLOP; analytic count {analytic / 1e9:.3f} GFLOP (relative difference "
          f"{abs(listed - analytic) / analytic:.1e})")
    rng = np.random.default_rng(0)
    shapes = sorted({p[2:] for p in products})
    product_calls = {shape: product_call(*shape, rng) for shape in shapes}
    adam = adam_call(models["kerasmm"].trainable_variables)

    for call in [*steps.values(), adam] + [call for call, _ in product_calls.values()]:
        call()  # compiles
    per_shape = {shape: [] for shape in shapes}

    def time_products():
        for shape, (call, repeats) in product_calls.items():
            start = time.perf_counter()
            call()
            per_shape[shape].append((time.perf_counter() - start) / repeats)

    # Round by round, alternating who goes first; CPU seconds for the steps.
    cpu = {}
    times = clip_throughput.interleaved(
        {**steps, "adam": adam, "products": time_products}, args.rounds, cpu)
    times["products"] = [  # The step's products, each at its own time.
        sum(count * per_shape[(b, m, k, n)][r] for _, count, b, m, k, n in products)
        for r in range(args.rounds)]

    median = {name: float(np.median(t)) for name, t in times.items()}
    floor = np.array(times["products"]) + np.array(times["adam"])
    best_ratio = np.array(times["keras-hub"]) / floor
    measured = np.array(times["keras-hub"]) / np.array(times["kerasmm"])
    print(f"products: {listed / median['products'] / 1e9:.1f} GFLOP/s (median round)")

    by_group = {}
    for label, count, b, m, k, n in products:
        group = label.split(" (")[0]
        by_group[group] = by_group.get(group, 0.0) + count * float(
            np.median(per_shape[(b, m, k, n)]))
    _common.print_table(
        ["product (forward + backward)", "seconds per step"],
        [[group, f"{seconds:.4f}"] for group, seconds in
         sorted(by_group.items(), key=lambda item: -item[1])],
        title="kerasmm's train-step products, each timed alone (median over rounds)")

    target = float(family["targets"]["train"].split()[-1].rstrip("x"))
    allowed = median["keras-hub"] / target - float(np.median(floor))
    rest = median["kerasmm"] - float(np.median(floor))
    _common.print_table(
        ["part", "median seconds"],
        [["kerasmm train step", f"{median['kerasmm']:.3f}"],
         ["keras-hub train step", f"{median['keras-hub']:.3f}"],
         ["kerasmm's products alone", f"{median['products']:.3f}"],
         ["Adam alone (kerasmm's weights)", f"{median['adam']:.3f}"],
         ["floor: products + Adam", f"{float(np.median(floor)):.3f}"],
         ["kerasmm's step beyond the floor", f"{rest:.3f}"]],
        title=f"{args.family}, batch {batch}, {args.rounds} rounds")
    print(f"process CPU seconds per step: kerasmm {np.median(cpu['kerasmm']):.2f}, "
          f"keras-hub {np.median(cpu['keras-hub']):.2f}")
    print(f"measured ratio keras-hub / kerasmm step: {np.median(measured):.2f}x "
          f"(per round: {' '.join(f'{r:.2f}' for r in measured)})")
    print(f"highest ratio at the floor (keras-hub step / floor): {np.median(best_ratio):.2f}x "
          f"(per round: {' '.join(f'{r:.2f}' for r in best_ratio)})")
    print(f"target {family['targets']['train']}: kerasmm's step beyond the floor may take "
          f"{allowed:.3f} s (today {rest:.3f} s, {rest / median['kerasmm']:.0%} of its step)")


def main(argv=None):
    _common.main_in_process(argv, parse_args, run)


if __name__ == "__main__":
    main()
