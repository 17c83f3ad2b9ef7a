"""Writes the offline parity fixtures for kerasmm's CLIP converters.

    /work/torchvenv/bin/python tools/make_parity_fixtures.py
    /work/torchvenv/bin/python tools/make_parity_fixtures.py --perceiver
    /work/torchvenv/bin/python tools/make_parity_fixtures.py --perceiver-image-processor
    /work/torchvenv/bin/python tools/make_parity_fixtures.py --perceiver-multimodal
    python tools/make_parity_fixtures.py --mlp-ratios   # only the four below

(open_clip imports torchvision; PyPI's torchvision does not import beside
torch 2.13, so the open_clip fixtures come from a venv with
`torch==2.14.1 torchvision==0.29.1 transformers safetensors open_clip_torch`.)

A development tool, never a runtime or CI dependency: it needs torch,
transformers and open_clip_torch, which kerasmm does not. It builds tiny
reference models with random weights, runs them, and writes under
`tests/fixtures/`:

- `hf_clip_eos/`, `hf_clip_argmax/`: Hugging Face `CLIPModel` checkpoints
  (`config.json` + `model.safetensors`). The first has a new-style config
  (`eos_token_id` is the end token: HF pools at its first position), quick
  GELU, and the tokenizer fixture's `vocab.json` / `merges.txt`; the second
  an old-style one (`eos_token_id == 2`: HF pools at the argmax of the ids)
  and exact GELU (LAION's HF exports).
- `open_clip_vit/`, `open_clip_rn/`: open_clip checkpoints
  (`open_clip_config.json` + `open_clip_model.safetensors`, float16 as some
  hub files are): a LAION-style ViT (GELU) and an OpenAI-style
  ModifiedResNet (QuickGELU).
- `hf_clip_mlp2x/`, `hf_clip_mlp4_9231x/`, `open_clip_mlp2x/`,
  `open_clip_mlp4_9231x/` (`--mlp-ratios`): MLPs 2x and 4.9231x as wide as
  the towers (LAION's ViT-bigG-14 / ViT-g-14 ratio: `int(width * 4.9231)`),
  the first with LayerNorm epsilon 1e-6, the open_clip 2x one with a text
  projection bias (`proj_bias`); the open_clip ones also hold the token
  sequences of `output_tokens` (`image_tokens`, `text_tokens`).
- `clip_tokenizer/`: a small BPE vocabulary and merges learned here, and
  Hugging Face `CLIPTokenizer` ids for a varied set of strings.
- `clip_image_processor/`: random images and `CLIPImageProcessor` outputs
  (torchvision and PIL backends).

Each model fixture has `reference.npz`: the inputs (channels-last images,
token ids) and the reference outputs (L2-normalised image and text
embeddings, `logit_scale`). Every parameter (LayerNorm and BatchNorm
scales, biases and running statistics included) is perturbed away from its
initial value, so a swapped or untransposed tensor cannot go unnoticed.
Deterministic: rerunning rewrites the same numbers.
"""

import collections
import json
import math
import os
import shutil
import sys

import numpy as np
import open_clip
import safetensors.torch
import torch
import transformers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")

# Strings for the tokenizer parity: punctuation, numbers, case, apostrophes,
# unicode, whitespace, and strings longer than the context.
TOKENIZER_STRINGS = [
    "a photo of a cat",
    "A PHOTO OF A DOG!!!",
    "Hello, world... it's a test; isn't it?",
    "numbers: 3.14159 and 2024 and 1,000,000",
    "they're we've I'm you'll he'd she's",
    "O'Neil's rock'n'roll don't-stop (x2) #tag @user",
    "café naïve résumé über straße",
    "e\u0301 combining accent and ǅ title case",
    "中文 日本語 한국어",
    "emoji 🙂🐱 and symbols © ™ → ± ½",
    "   multiple    spaces\tand\nnewlines  ",
    "",
    "the quick brown fox jumps over the lazy dog " * 4,
    "a red circle left of a blue square, a small green triangle above it",
]
TOKENIZER_CONTEXT = 24
# Words the small BPE vocabulary is learned from.
CORPUS = (
    "a photo of the cat dog red blue green small large circle square "
    "triangle left right above below quick brown fox jumps over lazy "
    "hello world test numbers and it is this that there they we you he "
    "she rock roll stop tag user multiple spaces newlines photograph "
    "combining accent symbols emoji cafe resume"
).split()


def bytes_to_unicode():
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    byte_values, code_points = printable[:], printable[:]
    offset = 0
    for b in range(256):
        if b not in printable:
            byte_values.append(b)
            code_points.append(256 + offset)
            offset += 1
    return dict(zip(byte_values, map(chr, code_points)))


def learn_bpe(words, num_merges):
    """OpenAI-layout vocabulary and the first `num_merges` BPE merges."""
    byte_encoder = bytes_to_unicode()
    pieces = collections.Counter()
    for word in words:
        symbols = [byte_encoder[b] for b in word.encode("utf-8")]
        symbols[-1] += "</w>"
        pieces[tuple(symbols)] += 1
    merges = []
    while len(merges) < num_merges:
        counts = collections.Counter()
        for symbols, n in pieces.items():
            for pair in zip(symbols, symbols[1:]):
                counts[pair] += n
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        merges.append(best)
        merged_pieces = collections.Counter()
        for symbols, n in pieces.items():
            merged, j = [], 0
            while j < len(symbols):
                if tuple(symbols[j:j + 2]) == best:
                    merged.append(symbols[j] + symbols[j + 1])
                    j += 2
                else:
                    merged.append(symbols[j])
                    j += 1
            merged_pieces[tuple(merged)] += n
        pieces = merged_pieces
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(tokens)}, [f"{a} {b}" for a, b in merges]


def write_tokenizer_files(directory, vocab, merges):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(directory, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")


def perturb_(module, generator):
    """Moves every parameter and buffer away from its initial value."""
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if not tensor.is_floating_point():
                continue
            noise = torch.randn(tensor.shape, generator=generator)
            leaf = name.rsplit(".", 1)[-1]
            if name == "logit_scale":
                tensor.copy_(torch.tensor(2.0) + torch.rand((), generator=generator))
            elif leaf == "running_var":
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=generator))
            elif "ln" in name or "norm" in name or "layrnorm" in name or ".bn" in name \
                    or name.startswith("visual.bn") or "downsample.1" in name:
                # LayerNorm / BatchNorm scale (weight) and shift (bias, mean).
                base = 1.0 if leaf == "weight" else 0.0
                tensor.copy_(base + 0.2 * noise)
            else:
                scale = float(tensor.std()) if tensor.numel() > 1 and tensor.std() > 0 else 0.05
                tensor.add_(0.5 * scale * noise)


def round_to_float16_(module):
    with torch.no_grad():
        for tensor in module.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())


def save_npz(path, **arrays):
    np.savez_compressed(path, **{k: np.asarray(v) for k, v in arrays.items()})


def token_ids(generator, batch, length, vocab_size, eot_id, pad_id):
    """Rows `[start?, tokens..., eot, pad...]` of varied lengths; the EOT is
    the largest id of each row (ids drawn below it), one row is full."""
    ids = np.full((batch, length), pad_id, dtype=np.int64)
    lengths = [length] + [int(n) for n in torch.randint(2, length, (batch - 1,),
                                                        generator=generator)]
    for row, n in enumerate(lengths):
        body = torch.randint(1, eot_id, (n - 1,), generator=generator).numpy()
        ids[row, :n - 1] = body
        ids[row, n - 1] = eot_id
    return ids


def images(generator, batch, size):
    return torch.randn((batch, size, size, 3), generator=generator).numpy()


def normalized(x):
    return x / x.norm(dim=-1, keepdim=True)


# === Tokenizer and image processor ===


def make_tokenizer_fixture():
    vocab, merges = learn_bpe(CORPUS, num_merges=160)
    directory = os.path.join(FIXTURES, "clip_tokenizer")
    write_tokenizer_files(directory, vocab, merges)
    tokenizer = transformers.CLIPTokenizer.from_pretrained(directory)
    encoded = tokenizer(TOKENIZER_STRINGS, padding="max_length", truncation=True,
                        max_length=TOKENIZER_CONTEXT)
    cases = {
        "context_length": TOKENIZER_CONTEXT,
        "pad_token_id": tokenizer.pad_token_id,
        "transformers_version": transformers.__version__,
        "cases": [{"text": t, "token_ids": ids}
                  for t, ids in zip(TOKENIZER_STRINGS, encoded["input_ids"])],
    }
    with open(os.path.join(directory, "cases.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)
    return vocab, merges, tokenizer


def _image_processor_fixture(directory_name, processor_classes, shapes, kwargs, config):
    """Noise images of `shapes` and one smooth image (noise is the worst case
    for resampling differences, a smooth image the typical one), processed
    by each `(backend name, processor class)`; writes `reference.npz` and
    `config.json` (`config` plus the counts, mean/std and versions)."""
    generator = np.random.default_rng(0)
    inputs = [generator.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in shapes]
    yy, xx = np.mgrid[0:72, 0:50]
    smooth = np.stack([yy * 3.5, xx * 5.0, (yy + xx) * 2.0], axis=-1)
    inputs.append(np.clip(smooth, 0, 255).astype(np.uint8))
    arrays = {f"image_{i}": image for i, image in enumerate(inputs)}
    for name, cls in processor_classes:
        processor = cls(**kwargs)
        for i, image in enumerate(inputs):
            pixels = processor(images=image, return_tensors="np")["pixel_values"][0]
            arrays[f"{name}_{i}"] = pixels.transpose(1, 2, 0).astype(np.float32)
    directory = os.path.join(FIXTURES, directory_name)
    os.makedirs(directory, exist_ok=True)
    save_npz(os.path.join(directory, "reference.npz"), **arrays)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump({**config, "num_images": len(inputs),
                   "smooth_image": len(inputs) - 1,
                   "mean": list(processor.image_mean), "std": list(processor.image_std),
                   "transformers_version": transformers.__version__}, f, indent=1)


def make_image_processor_fixture():
    from transformers import CLIPImageProcessor, CLIPImageProcessorPil

    _image_processor_fixture(
        "clip_image_processor",
        (("torchvision", CLIPImageProcessor), ("pil", CLIPImageProcessorPil)),
        shapes=[(40, 56), (64, 48), (33, 90), (32, 32)],
        kwargs=dict(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        config={"image_size": 32})


# === Hugging Face CLIP ===


def make_hf_clip_fixture(name, vocab_size, eos_token_id, hidden_act, seed,
                         tokenizer=None, strings=None, pad_id=0, intermediate_size=128,
                         **tower_options):
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    text_config = dict(vocab_size=vocab_size, hidden_size=32,
                       intermediate_size=intermediate_size,
                       num_hidden_layers=2, num_attention_heads=4,
                       max_position_embeddings=TOKENIZER_CONTEXT, hidden_act=hidden_act,
                       bos_token_id=vocab_size - 2, eos_token_id=eos_token_id,
                       pad_token_id=pad_id, **tower_options)
    vision_config = dict(image_size=32, patch_size=8, hidden_size=32,
                         intermediate_size=intermediate_size, num_hidden_layers=2,
                         num_attention_heads=4, hidden_act=hidden_act, **tower_options)
    config = transformers.CLIPConfig(text_config=text_config, vision_config=vision_config,
                                     projection_dim=16)
    model = transformers.CLIPModel(config).eval()
    perturb_(model, generator)
    pixels = images(generator, 3, 32)
    ids = token_ids(generator, 4, TOKENIZER_CONTEXT, vocab_size, vocab_size - 1, pad_id)
    with torch.no_grad():
        out = model(input_ids=torch.tensor(ids),
                    pixel_values=torch.tensor(pixels).permute(0, 3, 1, 2))
        arrays = dict(images=pixels, token_ids=ids.astype(np.int32),
                      image_embeddings=out.image_embeds.numpy(),
                      text_embeddings=out.text_embeds.numpy(),
                      logit_scale=model.logit_scale.numpy())
        if tokenizer is not None:
            encoded = tokenizer(strings, padding="max_length", truncation=True,
                                max_length=TOKENIZER_CONTEXT, return_tensors="pt")
            text = model.get_text_features(input_ids=encoded["input_ids"])
            text = getattr(text, "pooler_output", text)
            arrays["string_token_ids"] = encoded["input_ids"].numpy().astype(np.int32)
            arrays["string_text_embeddings"] = normalized(text).numpy()
    directory = os.path.join(FIXTURES, name)
    if os.path.isdir(directory):
        shutil.rmtree(directory)
    model.save_pretrained(directory, safe_serialization=True)
    if tokenizer is not None:
        with open(os.path.join(directory, "strings.json"), "w", encoding="utf-8") as f:
            json.dump(strings, f, ensure_ascii=False, indent=1)
    save_npz(os.path.join(directory, "reference.npz"), **arrays)
    return directory


# === open_clip ===


def make_open_clip_fixture(name, model_cfg, image_size, seed, output_tokens=False):
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = open_clip.model.CLIP(**model_cfg).eval()
    perturb_(model, generator)
    round_to_float16_(model)  # Stored as float16; the reference runs in float32.
    text_cfg = model_cfg["text_cfg"]
    pixels = images(generator, 3, image_size)
    ids = token_ids(generator, 4, text_cfg["context_length"], text_cfg["vocab_size"],
                    text_cfg["vocab_size"] - 1, 0)
    tokens = {}
    with torch.no_grad():
        image = model.encode_image(torch.tensor(pixels).permute(0, 3, 1, 2), normalize=True)
        text = model.encode_text(torch.tensor(ids), normalize=True)
        if output_tokens:
            tokens = open_clip_tokens(model, pixels, ids)
    directory = os.path.join(FIXTURES, name)
    if os.path.isdir(directory):
        shutil.rmtree(directory)
    os.makedirs(directory)
    state = {k: v.half().contiguous() for k, v in model.state_dict().items()
             if v.is_floating_point()}
    state.update({k: v.contiguous() for k, v in model.state_dict().items()
                  if not v.is_floating_point()})
    safetensors.torch.save_file(state, os.path.join(directory, "open_clip_model.safetensors"))
    preprocess_cfg = {"mean": list(open_clip.OPENAI_DATASET_MEAN),
                      "std": list(open_clip.OPENAI_DATASET_STD),
                      "interpolation": "bicubic", "resize_mode": "shortest"}
    with open(os.path.join(directory, "open_clip_config.json"), "w") as f:
        json.dump({"model_cfg": model_cfg, "preprocess_cfg": preprocess_cfg}, f, indent=1)
    save_npz(os.path.join(directory, "reference.npz"), images=pixels,
             token_ids=ids.astype(np.int32), image_embeddings=image.numpy(),
             text_embeddings=text.numpy(), logit_scale=model.logit_scale.detach().numpy(),
             **tokens)
    return directory


def open_clip_tokens(model, pixels, ids):
    """open_clip's `output_tokens`: the visual tower's patch tokens after
    `ln_post`, and every text position after `ln_final` (`encode_text`
    up to its pooling)."""
    model.visual.output_tokens = True
    _, image_tokens = model.visual(torch.tensor(pixels).permute(0, 3, 1, 2))
    model.visual.output_tokens = False
    text = torch.tensor(ids)
    x = model.token_embedding(text) + model.positional_embedding
    x = model.ln_final(model.transformer(x, attn_mask=model.attn_mask))
    return {"image_tokens": image_tokens.numpy(), "text_tokens": x.numpy()}


# === Non-4x MLP widths (run with --mlp-ratios) ===

# LAION's ViT-bigG-14 and ViT-g-14: mlp_ratio 4.9231 (int(1664 * 4.9231) = 8192).
BIGG_MLP_RATIO = 4.9231


def main_mlp_ratios():
    width = 32
    make_hf_clip_fixture("hf_clip_mlp2x", vocab_size=64, eos_token_id=63, hidden_act="gelu",
                         seed=21, intermediate_size=2 * width, layer_norm_eps=1e-6)
    make_hf_clip_fixture("hf_clip_mlp4_9231x", vocab_size=64, eos_token_id=2,
                         hidden_act="quick_gelu", seed=22,
                         intermediate_size=int(width * BIGG_MLP_RATIO))
    text_cfg = {"context_length": 16, "vocab_size": 64, "width": width, "heads": 4, "layers": 2}
    vision_cfg = {"image_size": 32, "layers": 2, "width": width, "head_width": 8,
                  "patch_size": 8}
    make_open_clip_fixture(
        "open_clip_mlp2x",
        {"embed_dim": 16, "quick_gelu": False,
         "text_cfg": {**text_cfg, "mlp_ratio": 2.0, "proj_bias": True},
         "vision_cfg": {**vision_cfg, "mlp_ratio": 2.0}},
        image_size=32, seed=23, output_tokens=True)
    make_open_clip_fixture(
        "open_clip_mlp4_9231x",
        {"embed_dim": 16, "quick_gelu": True,
         "text_cfg": {**text_cfg, "mlp_ratio": BIGG_MLP_RATIO},
         "vision_cfg": {**vision_cfg, "mlp_ratio": BIGG_MLP_RATIO}},
        image_size=32, seed=24, output_tokens=True)
    names = ("hf_clip_mlp2x", "hf_clip_mlp4_9231x", "open_clip_mlp2x", "open_clip_mlp4_9231x")
    paths = [os.path.join(FIXTURES, n, f) for n in names
             for f in os.listdir(os.path.join(FIXTURES, n))]
    for path in paths:
        os.chmod(path, 0o644)
    total = sum(os.path.getsize(path) for path in paths)
    print(f"wrote the MLP-ratio fixtures ({total / 1e6:.2f} MB)")


# === Perceiver (run with --perceiver) ===

# Strings for ByteTokenizer == PerceiverTokenizer: ASCII, punctuation,
# multi-byte UTF-8, emoji, whitespace, empty, and one longer than the length.
PERCEIVER_STRINGS = [
    "a photo of a cat",
    "Hello, world... it's a test; isn't it?",
    "café naïve résumé über straße",
    "中文 日本語 한국어",
    "emoji 🙂🐱 and symbols © ™ → ± ½",
    "   multiple    spaces\tand\nnewlines  ",
    "",
    "x",
    "numbers: 3.14159 and 2024 and 1,000,000 and a string that is far too long",
]
PERCEIVER_TOKENIZER_LENGTH = 24


def _perceiver_config(**kwargs):
    """A tiny `PerceiverConfig` (shared encoder sizes of every fixture)."""
    base = dict(num_latents=8, d_latents=32, num_blocks=2, num_self_attends_per_block=2,
                num_self_attention_heads=2, num_cross_attention_heads=1,
                qk_channels=16, v_channels=32, cross_attention_widening_factor=2,
                self_attention_widening_factor=2, hidden_act="gelu",
                attention_probs_dropout_prob=0.0)
    base.update(kwargs)
    return transformers.PerceiverConfig(**base)


def perturb_perceiver_(module, generator):
    """Draws every parameter anew, at scales where each one moves the logits.

    HF's init (std 0.02 everywhere) leaves a tiny model's outputs almost
    independent of its input (the residual paths dominate); here matrices
    get std 1/sqrt(fan_in), tables and biases std 0.5 / 0.1, norm scales
    1 +- 0.2, BatchNorm statistics away from 0 / 1.
    """
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if not tensor.is_floating_point():
                continue
            noise = torch.randn(tensor.shape, generator=generator)
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "running_var":
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=generator))
            elif "norm" in name:
                tensor.copy_((1.0 if leaf == "weight" else 0.0) + 0.2 * noise)
            elif leaf == "weight" and tensor.ndim >= 2 and "embeddings" not in name:
                tensor.copy_(noise / math.sqrt(tensor[0].numel()))
            elif leaf == "bias":
                tensor.copy_(0.1 * noise)
            else:  # Latents, position tables, token embeddings.
                tensor.copy_(0.5 * noise)


def _save_hf(model, directory):
    """`config.json` + float16 `model.safetensors` (the weights were rounded
    to float16 before the reference ran, so nothing is lost)."""
    if os.path.isdir(directory):
        shutil.rmtree(directory)
    model.half().save_pretrained(directory, safe_serialization=True)


def make_perceiver_masked_lm_fixture(seed):
    """`PerceiverForMaskedLM` (deepmind/language-perceiver's class), tiny:
    encoder q/k 16 and value 32 wide (as the real 256 / 1280 differ from
    the widths), the decoder's fixed 8 heads and q/k width 256. Inputs are
    padded to `max_position_embeddings` (HF always decodes that many)."""
    generator = torch.Generator().manual_seed(seed)
    length = 16
    config = _perceiver_config(d_model=32, max_position_embeddings=length, vocab_size=262,
                               architectures=["PerceiverForMaskedLM"])
    torch.manual_seed(seed)
    model = transformers.PerceiverForMaskedLM(config).eval()
    perturb_perceiver_(model, generator)
    round_to_float16_(model)
    tokenizer = transformers.PerceiverTokenizer()
    texts = ["Perceiver IO!", "bytes: é 🙂", "a"]
    encoded = tokenizer(texts, padding="max_length", max_length=length, truncation=True,
                        return_tensors="pt")
    ids, mask = encoded["input_ids"], encoded["attention_mask"]
    ids[0, 3] = tokenizer.mask_token_id  # A masked byte.
    with torch.no_grad():
        logits = model(inputs=ids, attention_mask=mask).logits
    directory = os.path.join(FIXTURES, "hf_perceiver_mlm")
    _save_hf(model, directory)
    save_npz(os.path.join(directory, "reference.npz"), token_ids=ids.numpy().astype(np.int32),
             padding_mask=mask.numpy().astype(bool), logits=logits.numpy())
    return directory


def make_perceiver_image_fixture(name, cls, seed, image_size, num_labels=5):
    """A tiny Perceiver image classifier of class `cls`."""
    generator = torch.Generator().manual_seed(seed)
    config = _perceiver_config(d_model=32, image_size=image_size, num_labels=num_labels,
                               architectures=[cls.__name__])
    torch.manual_seed(seed)
    model = cls(config).eval()
    perturb_perceiver_(model, generator)
    round_to_float16_(model)
    pixels = images(generator, 2, image_size)
    with torch.no_grad():
        logits = model(inputs=torch.from_numpy(pixels).permute(0, 3, 1, 2)).logits
    directory = os.path.join(FIXTURES, name)
    _save_hf(model, directory)
    save_npz(os.path.join(directory, "reference.npz"), images=pixels, logits=logits.numpy())
    return directory


def make_perceiver_multimodal_fixture(seed):
    """`PerceiverForMultimodalAutoencoding` (deepmind/multimodal-perceiver's
    class), tiny: 2 frames of 16x16 video, 32 audio samples in patches of 4,
    5 labels, a 24-wide label query. HF hard-codes 192 audio Fourier bands,
    so the decoder queries are 387 wide whatever the config (its MLP is most
    of the file). HF decodes correctly only with `subsampled_output_points`:
    the references are every point (`full_*`) and an unordered chunk
    (`chunk_*`)."""
    generator = torch.Generator().manual_seed(seed)
    config = _perceiver_config(
        d_model=32, num_frames=2, image_size=16, audio_samples_per_frame=16,
        samples_per_patch=4, output_shape=[1, 2, 16, 16], output_num_channels=16,
        num_labels=5, architectures=["PerceiverForMultimodalAutoencoding"])
    config._label_trainable_num_channels = 24
    torch.manual_seed(seed)
    model = transformers.PerceiverForMultimodalAutoencoding(config).eval()
    perturb_perceiver_(model, generator)
    round_to_float16_(model)
    # Wide inputs, so that the outputs depend visibly on them beside the
    # ~390 Fourier channels each position carries.
    video = 3.0 * torch.randn((2, 2, 16, 16, 3), generator=generator)  # channels-last
    audio = 3.0 * torch.randn((2, 32, 1), generator=generator)
    label = torch.nn.functional.one_hot(torch.tensor([1, 3]), 5).float()
    inputs = {"image": video.permute(0, 1, 4, 2, 3), "audio": audio, "label": label}
    points = {
        "full": {"audio": torch.arange(8), "image": torch.arange(2 * 16 * 16)},
        "chunk": {"audio": torch.tensor([5, 1, 6]),
                  "image": torch.randperm(2 * 16 * 16, generator=generator)[:40]},
    }
    arrays = {"audio": audio.numpy(), "image": video.numpy(), "label": label.numpy()}
    for case, subsampled in points.items():
        with torch.no_grad():
            logits = model(inputs=inputs,
                           subsampled_output_points=dict(subsampled, label=None)).logits
        for m in ("audio", "image", "label"):
            arrays[f"{case}_{m}"] = logits[m].numpy()
        if case == "chunk":
            arrays.update({f"chunk_{m}_points": subsampled[m].numpy().astype(np.int32)
                           for m in ("audio", "image")})
    directory = os.path.join(FIXTURES, "hf_perceiver_multimodal")
    _save_hf(model, directory)
    save_npz(os.path.join(directory, "reference.npz"), **arrays)
    return directory


def make_perceiver_image_processor_fixture():
    """`perceiver_image_processor/`: images of several sizes and aspect
    ratios (noise, and one smooth image) and `PerceiverImageProcessor`
    outputs (torchvision and PIL backends), at size 28 and crop_size 32 (the
    default 224 / 256 crop fraction), covering down-, up- and no resizing."""
    from transformers import PerceiverImageProcessor, PerceiverImageProcessorPil

    _image_processor_fixture(
        "perceiver_image_processor",
        (("torchvision", PerceiverImageProcessor), ("pil", PerceiverImageProcessorPil)),
        shapes=[(40, 56), (64, 48), (33, 90), (20, 24)],
        kwargs=dict(size={"height": 28, "width": 28}, crop_size={"height": 32, "width": 32}),
        config={"image_size": 28, "crop_size": 32})


def make_perceiver_tokenizer_fixture():
    tokenizer = transformers.PerceiverTokenizer()
    encoded = tokenizer(PERCEIVER_STRINGS, padding="max_length",
                        max_length=PERCEIVER_TOKENIZER_LENGTH, truncation=True)
    directory = os.path.join(FIXTURES, "hf_perceiver_tokenizer")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "strings.json"), "w", encoding="utf-8") as f:
        json.dump(PERCEIVER_STRINGS, f, ensure_ascii=False, indent=1)
    save_npz(os.path.join(directory, "reference.npz"),
             token_ids=np.asarray(encoded["input_ids"], np.int32),
             padding_mask=np.asarray(encoded["attention_mask"], bool),
             sequence_length=np.asarray(PERCEIVER_TOKENIZER_LENGTH))


def main_perceiver():
    make_perceiver_tokenizer_fixture()
    make_perceiver_masked_lm_fixture(seed=11)
    make_perceiver_image_fixture(
        "hf_perceiver_learned", transformers.PerceiverForImageClassificationLearned,
        seed=12, image_size=8)
    make_perceiver_image_fixture(
        "hf_perceiver_fourier", transformers.PerceiverForImageClassificationFourier,
        seed=13, image_size=8)
    make_perceiver_image_fixture(
        "hf_perceiver_conv", transformers.PerceiverForImageClassificationConvProcessing,
        seed=14, image_size=16)
    make_perceiver_multimodal_fixture(seed=15)
    _report_perceiver_fixtures()


def _report_perceiver_fixtures():
    paths = [os.path.join(d, f) for d, _, files in os.walk(FIXTURES) for f in files
             if os.path.basename(d).startswith("hf_perceiver")]
    for path in paths:
        os.chmod(path, 0o644)
    total = sum(os.path.getsize(path) for path in paths)
    print(f"wrote Perceiver fixtures ({total / 1e6:.2f} MB)")


def main():
    vocab, merges, tokenizer = make_tokenizer_fixture()
    make_image_processor_fixture()
    directory = make_hf_clip_fixture(
        "hf_clip_eos", vocab_size=len(vocab), eos_token_id=vocab["<|endoftext|>"],
        hidden_act="quick_gelu", seed=1, tokenizer=tokenizer, strings=TOKENIZER_STRINGS,
        pad_id=vocab["<|endoftext|>"])
    write_tokenizer_files(directory, vocab, merges)
    make_hf_clip_fixture("hf_clip_argmax", vocab_size=64, eos_token_id=2,
                         hidden_act="gelu", seed=2)
    text_cfg = {"context_length": 16, "vocab_size": 64, "width": 32, "heads": 4, "layers": 2}
    make_open_clip_fixture(
        "open_clip_vit",
        {"embed_dim": 16, "quick_gelu": False, "text_cfg": text_cfg,
         "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 8,
                        "patch_size": 8}},
        image_size=32, seed=3)
    make_open_clip_fixture(
        "open_clip_rn",
        {"embed_dim": 16, "quick_gelu": True, "text_cfg": text_cfg,
         "vision_cfg": {"image_size": 64, "layers": [1, 1, 1, 1], "width": 4,
                        "head_width": 32}},
        image_size=64, seed=4)
    paths = [os.path.join(d, f) for d, _, files in os.walk(FIXTURES) for f in files]
    for path in paths:
        os.chmod(path, 0o644)  # safetensors writes 0600.
    total = sum(os.path.getsize(path) for path in paths)
    print(f"wrote {FIXTURES} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    if "--mlp-ratios" in sys.argv[1:]:  # Only these four, the others untouched.
        main_mlp_ratios()
        sys.exit()
    if "--perceiver-image-processor" in sys.argv[1:]:  # Only this fixture.
        make_perceiver_image_processor_fixture()
        sys.exit()
    if "--perceiver-multimodal" in sys.argv[1:]:  # Only this one, the others untouched.
        make_perceiver_multimodal_fixture(seed=15)
        _report_perceiver_fixtures()
    elif "--perceiver" in sys.argv[1:]:
        main_perceiver()
    else:
        main()
