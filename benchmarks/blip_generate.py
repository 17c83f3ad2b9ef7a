"""Greedy BLIP captioning speed: kerasmm's compiled `generate` vs Hugging Face's.

    python benchmarks/blip_generate.py [--quick] [--hf-python /work/torchvenv/bin/python]

The model has `blip_captioning_base`'s shapes (ViT-B/16 at 384x384, a
12-layer BERT-base decoder with cross-attention, 30524 tokens) and random
weights; a batch of 8 images is captioned greedily with exactly
`--new-tokens` (20) new tokens (the end token is forbidden until then:
`min_length` here, `min_new_tokens` in Hugging Face), timed after one
warm-up call, best of `--repeats`:

- kerasmm compiled: `ImageCaptioner.generate` (one XLA-compiled loop on
  TensorFlow, `jax.jit` on JAX, with the decoder's key/value cache).
- kerasmm eager: the same cached steps (`generation_context`,
  `init_cache`, `decode_step`) in a Python loop, uncompiled.
- Hugging Face: `BlipForConditionalGeneration.generate` (torch, CPU), run
  in a separate process by the Python given with `--hf-python` (a venv
  with torch and transformers; kerasmm's own has no torch), which this
  script starts with `--hf` and reads one `RESULT {json}` line from. When
  that Python or its torch is missing, the Hugging Face row is skipped
  with the reason printed.

Prints the three times and the ratios, and where the time goes: the
vision encoder alone (kerasmm: compiled the same way; Hugging Face:
`model.vision_model`) and the rest (`generate` less the encoder: the
cross-attention keys and values, the decoding steps). `--quick` uses a
tiny model.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import RESULT_PREFIX, base_parser, describe_run, select_backend  # noqa: E402

BASE = {"image_size": 384, "patch_size": 16, "vision_width": 768, "vision_layers": 12,
        "vision_heads": 12, "vision_mlp": 3072, "vocab": 30524, "width": 768,
        "layers": 12, "heads": 12, "mlp": 3072, "positions": 512}
QUICK = {"image_size": 32, "patch_size": 8, "vision_width": 32, "vision_layers": 2,
         "vision_heads": 4, "vision_mlp": 64, "vocab": 100, "width": 32, "layers": 2,
         "heads": 4, "mlp": 64, "positions": 64}
START, END, PAD = 30522 % 100, 3, 0  # [DEC] (in the quick vocabulary too), [SEP], [PAD].


def best_time(function, repeats):
    function()  # Warm-up: compilation, caches.
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def images(shape, batch_size):
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.normal(size=(batch_size, shape["image_size"], shape["image_size"], 3)).astype(
        "float32")


def hugging_face(shape, args):
    import torch
    import transformers

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

    def run():
        with torch.no_grad():
            return model.generate(pixel_values=pixels, max_new_tokens=args.new_tokens,
                                  min_new_tokens=args.new_tokens, do_sample=False,
                                  num_beams=1)

    def encode():
        with torch.no_grad():
            return model.vision_model(pixel_values=pixels).last_hidden_state

    tokens = run()
    return {"seconds": best_time(run, args.repeats), "new_tokens": tokens.shape[1] - 1,
            "encoder": best_time(encode, args.repeats),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads()}


def kerasmm_times(shape, args):
    import keras
    import numpy as np
    from keras import ops

    from kerasmm.models import BLIPTextDecoder, BLIPVisionEncoder
    from kerasmm.models.generation.compiled import compile_function
    from kerasmm.tasks import ImageCaptioner

    keras.utils.set_random_seed(0)
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
    encode_compiled = compile_function(lambda x: encoder(x), encoder.variables)

    np.testing.assert_array_equal(compiled(), eager())  # The two paths agree.
    return {"compiled": best_time(compiled, args.repeats),
            "eager": best_time(eager, args.repeats),
            "encoder": best_time(lambda: ops.convert_to_numpy(encode_compiled(pixels)),
                                 args.repeats),
            "traces": captioner.generate_trace_count}


def hugging_face_subprocess(args):
    """The `--hf` run's result, or `{"skipped": reason}`."""
    python = args.hf_python
    if not python or not os.path.exists(python):
        return {"skipped": f"no Python with torch at --hf-python={python!r}"}
    command = [python, os.path.abspath(__file__), "--hf", "--batch-size", str(args.batch_size),
               "--new-tokens", str(args.new_tokens), "--repeats", str(args.repeats)]
    done = subprocess.run(command + (["--quick"] if args.quick else []), capture_output=True,
                          text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode or not lines:
        return {"skipped": "the Hugging Face run failed: "
                           + (done.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1][len(RESULT_PREFIX):])


def main():
    parser = base_parser(__doc__.splitlines()[0], subprocesses=False)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hf", action="store_true", help="run the Hugging Face side only")
    parser.add_argument("--hf-python", default=os.environ.get(
        "KERASMM_TORCH_PYTHON", "/work/torchvenv/bin/python"),
        help="a Python with torch and transformers, for the Hugging Face row")
    args = parser.parse_args()
    shape = QUICK if args.quick else BASE
    if args.hf:
        try:
            result = hugging_face(shape, args)
        except ImportError as error:
            result = {"skipped": f"torch or transformers is missing: {error}"}
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return
    select_backend(args.backend)
    print(describe_run(args))
    print(f"greedy captioning, batch {args.batch_size}, {args.new_tokens} new tokens, "
          f"{'tiny' if args.quick else 'blip_captioning_base'}-shaped random weights")
    ours = kerasmm_times(shape, args)
    hf = hugging_face_subprocess(args)
    print(f"kerasmm compiled  {ours['compiled']:.3f} s   (traces: {ours['traces']})")
    print(f"kerasmm eager     {ours['eager']:.3f} s")
    print(f"compiled vs eager speed-up: {ours['eager'] / ours['compiled']:.2f}x")
    if "skipped" in hf:
        print(f"Hugging Face      skipped: {hf['skipped']}")
        return
    print(f"Hugging Face      {hf['seconds']:.3f} s   (torch {hf['torch']}, "
          f"{hf['torch_threads']} threads, {hf['new_tokens']} new tokens)")
    print(f"kerasmm compiled vs Hugging Face speed-up: {hf['seconds'] / ours['compiled']:.2f}x")
    print(f"vision encoder    kerasmm {ours['encoder']:.3f} s, Hugging Face "
          f"{hf['encoder']:.3f} s ({hf['encoder'] / ours['encoder']:.2f}x)")
    rest, hf_rest = ours["compiled"] - ours["encoder"], hf["seconds"] - hf["encoder"]
    print(f"the rest          kerasmm {rest:.3f} s, Hugging Face {hf_rest:.3f} s "
          f"({hf_rest / max(rest, 1e-9):.2f}x)")


if __name__ == "__main__":
    main()
