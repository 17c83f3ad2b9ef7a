"""Writes the offline parity fixture of kerasmm's open_clip CoCa converter.

    git --git-dir=<open_clip mirror> archive HEAD src | tar -x -C /tmp/open_clip
    OPEN_CLIP_SRC=/tmp/open_clip/src /work/torchvenv/bin/python tools/make_coca_fixtures.py

A development tool, never a runtime or CI dependency: it needs torch,
transformers (open_clip's `model.py` imports it) and open_clip's source
(github.com/mlfoundations/open_clip, `src/`, found through `OPEN_CLIP_SRC`;
the fixture was last written from commit 89fb801), none of which kerasmm
needs. Only `open_clip.coca_model`, `open_clip.tokenizer` and what they
import are loaded, not the package's `__init__` (which pulls in its image
transforms). open_clip's `utils.py` imports
`torchvision.ops.misc.FrozenBatchNorm2d`, and torchvision is not installed
in the reference venv (installing it breaks transformers there): this
script puts stub `torchvision` modules in `sys.modules` before the import
(after importing transformers, which probes for torchvision). Nothing CoCa
runs uses them (FrozenBatchNorm2d is only for ResNet towers).

It builds a tiny open_clip `CoCa` from `MODEL_CFG` (a 32x32 ViT with 8x8
patches, 24 wide, 3 heads, whose tokens go through open_clip's
`AttentionalPooler` of 1 + 8 queries with 2 heads into the 32-wide text
towers: 2 unimodal and 2 multimodal blocks, 4 heads, context 12), every
parameter drawn anew (wide, so that greedy decoding has no near ties), and
a tiny CLIP BPE of its 528-token vocabulary (the 512 byte tokens, the 14
`MERGES`, `<start_of_text>` 526 and `<end_of_text>` 527: open_clip's
`SimpleTokenizer` on a merges file of `MERGES`), and writes under
`tests/fixtures/coca_open_clip/`:

- `open_clip_config.json`: `{"model_cfg": MODEL_CFG, "preprocess_cfg": ...}`,
  as open_clip's Hub exports write it.
- `open_clip_model.safetensors`: the state dict.
- `vocab.json` and `merges.txt`: the tokenizer, as laion's Hub repos hold
  it (Hugging Face's names `<|startoftext|>` / `<|endoftext|>` for the
  special tokens).
- `reference.npz`: the inputs (channels-last `images`; `token_ids`, start
  `START`, words, end `END`, pad 0) and open_clip's outputs:
  `image_embeddings` (`encode_image`, normalised), `text_embeddings`
  (`encode_text`), `logits` (`model(image, text)["logits"]`, teacher-forced,
  `(B, L, V)`), `logit_scale` (the stored log) and `generated`: greedy
  decoding exactly as open_clip's `CoCa.generate` does it with
  `use_cache=False` (see `greedy`: open_clip's own `generate` did not run
  on the transformers 5 release first used), `GENERATE_LENGTH` ids with the start
  token first and pad 0 after the end token; `min_margin` is the smallest
  gap between the best and the second-best logit over the greedy steps.
  Then `texts` and `text_ids` (open_clip's tokenizer on them, context 12);
  `photos` (uint8 32x32 pictures, which open_clip's transform only scales
  and normalises at image size 32), `photo_generated` (greedy ids of their
  pixels) and `photo_captions` (those ids decoded as open_clip's README
  does: `decode(ids).split("<end_of_text>")[0].replace("<start_of_text>",
  "")`, stripped); `forced_generated`: greedy decoding after the prompt
  `FORCED`, which holds pad ids before any end token (open_clip's text mask
  hides the position after each from every later one).

The decoder's last LayerNorm bias is nudged along the end token's output
column until greedy decoding ends some, not all, rows early, so that the
fixture covers the end token; those rows never emit the pad id 0 before
their end (`forced_generated` covers that). Deterministic.

`--beam` writes `beam_reference.npz` beside them, from the committed weights
(the other files are left as they are): open_clip's own `CoCa.generate` on
`reference.npz`'s images with its defaults (`generation_type="beam_search"`,
`num_beams=6`, `num_beam_groups=3`, which transformers 5 lacks, so open_clip
falls back to plain 6-beam search and says so; `min_seq_len=5`, counting the
start token) and `seq_len=GENERATE_LENGTH`: `beam_generated`, ids with the
start token first (no row ends early: the end-token bookkeeping of beam
search is checked on BLIP against Hugging Face's). Last written with
transformers 5.24.0 and torch 2.13.0.

`--full-size DIR` writes instead a random-weight open_clip `coca_ViT-B-32`
(the released architecture, 1 GB) and its reference outputs to `DIR`
(see `full_size`), checked in kerasmm's venv with

    coca = kerasmm.models.CoCa.from_preset(DIR)
    ref = np.load(DIR + "/reference.npz")
    coca.encode_image(ref["images"]) - ref["image_embeddings"]      # and text
    coca({"images": ref["images"], "token_ids": np.pad(ref["token_ids"],
          ((0, 0), (0, 1)))})["caption_logits"] - ref["logits"]
    coca.generate(ref["images"], max_length=6) == ref["generated"][:, 1:]
"""

import json
import os
import shutil
import sys
import tempfile
import types

import numpy as np
import transformers  # noqa: F401  Before the stubs: it probes for torchvision.
import transformers.generation  # noqa: F401

sys.path.insert(0, os.environ.get("OPEN_CLIP_SRC", "/tmp/open_clip/src"))

import torch  # noqa: E402


def _stub_torchvision():
    """`torchvision.ops.misc.FrozenBatchNorm2d`, the one name open_clip's
    `utils.py` imports from torchvision (not installed here)."""
    modules = {name: types.ModuleType(name)
               for name in ("torchvision", "torchvision.ops", "torchvision.ops.misc")}
    modules["torchvision"].__path__ = []
    modules["torchvision.ops"].__path__ = []
    modules["torchvision.ops.misc"].FrozenBatchNorm2d = type("FrozenBatchNorm2d", (), {})
    for name, module in modules.items():
        sys.modules.setdefault(name, module)


def _open_clip_coca():
    """open_clip's `CoCa` class without running `open_clip/__init__.py`."""
    source = os.path.join(sys.path[0], "open_clip")
    if not os.path.isfile(os.path.join(source, "coca_model.py")):
        raise SystemExit(f"open_clip's source is not at {source}: set OPEN_CLIP_SRC")
    package = types.ModuleType("open_clip")
    package.__path__ = [source]
    sys.modules["open_clip"] = package
    _stub_torchvision()
    from open_clip.coca_model import CoCa

    return CoCa


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIRECTORY = os.path.join(ROOT, "tests", "fixtures", "coca_open_clip")
# A tiny CLIP BPE: the 512 byte tokens, these merges, then the two specials.
MERGES = ["o n</w>", "o f</w>", "c a", "ca t</w>", "d o", "do g</w>", "r e", "re d</w>",
          "t h", "th e</w>", "p h", "o t", "ph ot", "phot o</w>"]
VOCABULARY_SIZE = 512 + len(MERGES) + 2
START, END, PAD = VOCABULARY_SIZE - 2, VOCABULARY_SIZE - 1, 0  # CLIP's BPE convention.
TEXTS = ["a photo of a cat", "A red dog on the  mat!", "the cat's photo, 2 dogs.",
         "caf\u00e9 au lait", "a photo of the red cat on the dog " * 2, ""]
FORCED = [5, PAD, 70, PAD, PAD]  # A prompt with pads before any end token.
CONTEXT_LENGTH = 12
GENERATE_LENGTH = 11  # open_clip counts the start token: 10 new tokens.
NUM_IMAGES = 4
SEED = 0
MODEL_CFG = {
    "embed_dim": 32,
    "quick_gelu": False,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 24, "head_width": 8,
                   "patch_size": 8, "attentional_pool": True, "attn_pooler_queries": 9,
                   "attn_pooler_heads": 2, "output_tokens": True},
    "text_cfg": {"context_length": CONTEXT_LENGTH, "vocab_size": VOCABULARY_SIZE,
                 "width": 32, "heads": 4, "layers": 2, "embed_cls": True,
                 "output_tokens": True},
    "multimodal_cfg": {"context_length": CONTEXT_LENGTH, "vocab_size": VOCABULARY_SIZE,
                       "width": 32, "heads": 4, "layers": 2, "attn_pooler_heads": 2},
    "custom_text": True,
}
PREPROCESS_CFG = {"mean": [0.48145466, 0.4578275, 0.40821073],
                  "std": [0.26862954, 0.26130258, 0.27577711],
                  "interpolation": "bicubic", "resize_mode": "shortest"}


def randomize(model, seed):
    """Every parameter drawn anew: norms' scales near 1, the rest wide."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            is_scale = (".ln_" in name or name.startswith("ln_") or "ln_final" in name
                        or "ln_post" in name or "ln_pre" in name) and name.endswith("weight")
            if name == "logit_scale":
                parameter.copy_(torch.tensor(2.5))
            elif is_scale:
                parameter.copy_(1 + 0.1 * noise)
            else:
                parameter.copy_(0.3 * noise)


def token_ids(rng):
    """Start, 2-10 words, end, pad 0; one row fills the whole context."""
    lengths = [3, 6, CONTEXT_LENGTH - 2, 8]
    rows = np.full((NUM_IMAGES, CONTEXT_LENGTH), PAD, "int32")
    for row, length in zip(rows, lengths):
        row[0] = START
        row[1:length + 1] = rng.integers(1, START, size=length)
        row[length + 1] = END
    return rows


def greedy(model, pixels, length=GENERATE_LENGTH, start=START, end=END, pad=PAD,
           prompt=()):
    """Greedy decoding as open_clip's `generate` runs it (`use_cache=False`:
    each step reruns the text tower and the decoder, `model(image, ids)`,
    on the whole prefix and takes the last position's argmax; finished rows
    get the pad id), written out here because `MultimodalGenerationWrapper`
    did not run on the transformers 5 release this fixture was first written
    with (it lacked `get_experts_implementation`; 5.24.0 runs it, see `--beam`). Returns `(ids (B, <= length), start
    first; the smallest best-minus-second logit gap of the live rows)`.
    `prompt` (ids every row starts with after the start token) is fed as
    given, as open_clip's `generate(text=...)`.
    """
    ids = torch.tensor([[start, *prompt]] * pixels.shape[0], dtype=torch.long)
    finished = torch.zeros(pixels.shape[0], dtype=torch.bool)
    margin = np.inf
    with torch.no_grad():
        while ids.shape[1] < length and not finished.all():
            logits = model(pixels, ids)["logits"][:, -1]
            top = torch.topk(logits, 2, dim=-1).values
            margin = min(margin, float((top[:, 0] - top[:, 1])[~finished].min()))
            token = torch.where(finished, pad, logits.argmax(dim=-1))
            ids = torch.cat([ids, token[:, None]], dim=1)
            finished |= token == end
    return ids.numpy().astype("int32"), margin


def end_some(model, pixels):
    """Nudges the decoder's last LayerNorm bias along the end token's column
    until greedy decoding ends some, not all, rows early; no row may emit
    the pad id before its end."""
    column = model.text_decoder.text_projection[:, END].detach()
    direction = column / column.dot(column)
    for _ in range(400):
        ids, _ = greedy(model, pixels)
        body = ids[:, 1:]
        ended = (body[:, :-1] == END).any(axis=1)
        before_end = np.cumsum(body == END, axis=1) == 0
        if (body[before_end] == PAD).any():
            raise RuntimeError("a row emits the pad id before its end: try another SEED")
        if 0 < ended.sum() < NUM_IMAGES:
            return
        with torch.no_grad():
            model.text_decoder.ln_final.bias += (0.05 if ended.sum() == 0 else -0.02) * direction
    raise RuntimeError("no nudge ends some but not all rows")


def open_clip_tokenizer(directory):
    """open_clip's `SimpleTokenizer` on `MERGES` (its gzip file written to
    `directory`), with the fixture's context length, as `get_tokenizer` makes
    it for a CoCa (`text_cfg.context_length`)."""
    import gzip

    from open_clip.tokenizer import SimpleTokenizer

    path = os.path.join(directory, "bpe.txt.gz")
    with gzip.open(path, "wt", encoding="utf-8") as f:  # A header line first, as OpenAI's.
        f.write("\n".join(["#version: 0.2", *MERGES]))
    tokenizer = SimpleTokenizer(bpe_path=path, context_length=CONTEXT_LENGTH)
    assert tokenizer.vocab_size == VOCABULARY_SIZE, tokenizer.vocab_size
    assert (tokenizer.sot_token_id, tokenizer.eot_token_id) == (START, END)
    return tokenizer


def tokenizer_files(tokenizer):
    """`{name: text}` of `vocab.json` and `merges.txt` (Hugging Face's
    names for the special tokens, as in laion's Hub repos)."""
    names = {"<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"}
    vocabulary = {names.get(token, token): i for token, i in tokenizer.encoder.items()}
    return {"vocab.json": json.dumps(vocabulary, ensure_ascii=False),
            "merges.txt": "\n".join(["#version: 0.2", *MERGES]) + "\n"}


def open_clip_caption(tokenizer, ids):
    """A caption as open_clip's README decodes `generate`'s ids, stripped."""
    text = tokenizer.decode([int(i) for i in ids])
    return text.split("<end_of_text>")[0].replace("<start_of_text>", "").strip()


def photo_pixels(photos):
    """open_clip's transform of 32x32 uint8 photos at image size 32: the
    bicubic resize and the center crop keep them, then `ToTensor` and
    `Normalize` (CHW float32)."""
    x = torch.from_numpy(photos).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(PREPROCESS_CFG["mean"])[None, :, None, None]
    std = torch.tensor(PREPROCESS_CFG["std"])[None, :, None, None]
    return (x - mean) / std


def save(directory, model, model_cfg, arrays, files=None):
    from safetensors.torch import save_file

    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    for name, text in (files or {}).items():
        with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
            f.write(text)
    with open(os.path.join(directory, "open_clip_config.json"), "w") as f:
        json.dump({"model_cfg": model_cfg, "preprocess_cfg": PREPROCESS_CFG}, f, indent=1)
    state = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, os.path.join(directory, "open_clip_model.safetensors"))
    np.savez(os.path.join(directory, "reference.npz"), **arrays)


def full_size(directory):
    """open_clip's `coca_ViT-B-32` (253.6M parameters) with random weights
    (norms' scales near 1, the rest N(0, 0.05)), for a one-off check outside
    the repo (1 GB): 2 images, 2 texts of the full 76 tokens (one padded),
    open_clip's embeddings and logits, and 6 greedy steps."""
    coca_class = _open_clip_coca()
    path = os.path.join(sys.path[0], "open_clip", "model_configs", "coca_ViT-B-32.json")
    with open(path) as f:
        model_cfg = json.load(f)
    torch.manual_seed(SEED)
    model = coca_class(embed_dim=model_cfg["embed_dim"],
                       multimodal_cfg=model_cfg["multimodal_cfg"],
                       text_cfg=model_cfg["text_cfg"], vision_cfg=model_cfg["vision_cfg"]).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if name.endswith("weight") and "ln_" in name:
                parameter.copy_(1 + 0.1 * noise)
            elif name != "logit_scale":
                parameter.copy_(0.05 * noise)
    rng = np.random.default_rng(SEED)
    images = rng.normal(size=(2, 224, 224, 3)).astype("float32")
    ids = np.zeros((2, 76), "int32")
    ids[0, :8] = [49406, 320, 1125, 539, 320, 2368, 269, 49407]
    ids[1] = rng.integers(1, 49406, size=76)
    ids[1, 0], ids[1, -1] = 49406, 49407
    pixels = torch.from_numpy(images.transpose(0, 3, 1, 2))
    with torch.no_grad():
        outputs = model(pixels, torch.from_numpy(ids).long())
    generated, _ = greedy(model, pixels, length=7, start=49406, end=49407, pad=0)
    save(directory, model, model_cfg, {
        "images": images, "token_ids": ids,
        "image_embeddings": outputs["image_features"].numpy(),
        "text_embeddings": outputs["text_features"].numpy(),
        "logits": outputs["logits"].numpy(), "generated": generated})
    print(directory, "parameters:", sum(p.numel() for p in model.parameters()))


def beam():
    """`beam_reference.npz`: open_clip's own beam-search `generate` on the
    committed fixture (see the module docstring)."""
    from safetensors.torch import load_file

    coca_class = _open_clip_coca()
    model = coca_class(embed_dim=MODEL_CFG["embed_dim"],
                       multimodal_cfg=MODEL_CFG["multimodal_cfg"],
                       text_cfg=MODEL_CFG["text_cfg"], vision_cfg=MODEL_CFG["vision_cfg"],
                       quick_gelu=MODEL_CFG["quick_gelu"]).eval()
    model.load_state_dict(load_file(os.path.join(DIRECTORY, "open_clip_model.safetensors")))
    images = np.load(os.path.join(DIRECTORY, "reference.npz"))["images"]
    pixels = torch.from_numpy(images.transpose(0, 3, 1, 2))
    ids = model.generate(pixels, seq_len=GENERATE_LENGTH, sot_token_id=START,
                         eos_token_id=END, pad_token_id=PAD)
    print(ids)
    np.savez(os.path.join(DIRECTORY, "beam_reference.npz"),
             beam_generated=ids.numpy().astype("int32"))


def main():
    coca_class = _open_clip_coca()

    torch.manual_seed(SEED)
    model = coca_class(embed_dim=MODEL_CFG["embed_dim"],
                       multimodal_cfg=MODEL_CFG["multimodal_cfg"],
                       text_cfg=MODEL_CFG["text_cfg"], vision_cfg=MODEL_CFG["vision_cfg"],
                       quick_gelu=MODEL_CFG["quick_gelu"]).eval()
    randomize(model, SEED)
    rng = np.random.default_rng(SEED)
    images = rng.normal(size=(NUM_IMAGES, 32, 32, 3)).astype("float32")
    ids = token_ids(rng)
    pixels = torch.from_numpy(images.transpose(0, 3, 1, 2))
    text = torch.from_numpy(ids).long()
    photos = rng.integers(0, 256, size=(NUM_IMAGES, 32, 32, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as scratch:
        tokenizer = open_clip_tokenizer(scratch)
    texts = np.array(TEXTS)
    with torch.no_grad():
        end_some(model, pixels)
        generated, margin = greedy(model, pixels)
        photo_generated, photo_margin = greedy(model, photo_pixels(photos))
        forced, forced_margin = greedy(model, pixels, prompt=FORCED)
        outputs = model(pixels, text)
        arrays = {
            "images": images, "token_ids": ids,
            "image_embeddings": model.encode_image(pixels).numpy(),
            "text_embeddings": model.encode_text(text).numpy(),
            "logits": outputs["logits"].numpy(),
            "logit_scale": model.logit_scale.detach().numpy(),
            "generated": generated,
            "min_margin": np.float32(margin),
            "texts": texts,
            "text_ids": tokenizer(list(texts)).numpy().astype("int32"),
            "photos": photos,
            "photo_generated": photo_generated,
            "photo_min_margin": np.float32(photo_margin),
            "photo_captions": np.array([open_clip_caption(tokenizer, row)
                                        for row in photo_generated]),
            "forced_generated": forced,
            "forced_min_margin": np.float32(forced_margin),
        }
    save(DIRECTORY, model, MODEL_CFG, arrays, tokenizer_files(tokenizer))
    print({k: v.shape for k, v in arrays.items()})
    for key in ("generated", "photo_generated", "forced_generated"):
        margin = arrays[key.replace("generated", "min_margin")]
        print(key, "\n", arrays[key], "\nmin margin", margin)
    print(arrays["photo_captions"], arrays["text_ids"])


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--full-size":
        full_size(sys.argv[2])
    elif sys.argv[1:] == ["--beam"]:
        beam()
    else:
        main()
