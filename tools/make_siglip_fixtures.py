"""Writes the offline parity fixtures of kerasmm's SigLIP converter.

    /work/torchvenv/bin/python tools/make_siglip_fixtures.py

A development tool, never a runtime or CI dependency: it needs torch,
transformers and sentencepiece, which kerasmm does not. It learns two tiny
SentencePiece models, builds two tiny Hugging Face `SiglipModel`s with
every parameter drawn anew, runs them, and writes under `tests/fixtures/`:

- `hf_siglip/`: SigLIP (a T5-style unigram `spiece.model` with NFKC
  normalisation, `SiglipTokenizer`: lowercased, punctuation removed, `</s>`
  appended and used as padding), a non-4x MLP, the checkpoint stored as
  float16 (the weights are rounded first, so the float32 reference holds),
  and `preprocessor_config.json`.
- `hf_siglip2/`: SigLIP 2 at a fixed resolution, which Hugging Face stores
  as `model_type: siglip` too: a Gemma-style byte-fallback BPE
  `tokenizer.model` (no dummy prefix, identity normalisation), tokenized as
  big_vision's SigLIP 2 demo does (`lower|tok(bos="no", eos="sticky")`:
  `Siglip2Tokenizer(add_bos_token=False, add_eos_token=True)`, padded with
  `<pad>`), odd sizes (patch 7, width 24 with 3 heads), float32.

Each has `config.json`, `model.safetensors`, the tokenizer file,
`strings.json` (the tokenizer cases) and `reference.npz`: the inputs
(`NUM_IMAGES` channels-last float16 images; `token_ids` and `padding_mask`
of the strings, as the Hugging Face tokenizer gives them, padded to
`max_position_embeddings`) and the outputs: L2-normalised
`image_embeddings` and `text_embeddings`, `masked_text_embeddings` (with
the padding mask as `attention_mask`), `logits` (`logits_per_image`),
`logit_scale`, `logit_bias`, and the token sequences `image_tokens` /
`text_tokens` (`last_hidden_state`; the first `NUM_IMAGES` texts).
Deterministic: rerunning rewrites the same numbers.
"""

import io
import json
import math
import os
import shutil

import numpy as np
import sentencepiece
import torch
import transformers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
NUM_IMAGES = 3

# Tokenizer cases: case, punctuation, apostrophes, digits, unicode (NFKC
# forms, final sigma, dotted I), whitespace of every kind, empty, and texts
# longer than the context.
STRINGS = [
    "a photo of a cat",
    "A PHOTO OF A DOG!!!",
    "Hello, world... it's a test; isn't it?",
    "tag-user_rock/roll (x2) #tag @user {braces} [brackets] ~tilde~",
    "numbers: 3.14159 and 2024 and 1,000,000",
    "café naïve Zürich straße",
    "ＦＵＬＬ width ½ ﬁ ligature",
    "İstanbul ǅ ΣΑΣ",
    "中文 日本語 한국어",
    "emoji 🙂🐱 and symbols © ™ → ±",
    "   multiple    spaces\tand\nnewlines  ",
    "\u00a0non-breaking\u2003em\u3000ideographic\x1cfile-separator",
    "",
    "!!!",
    "un gato, ein Vogel",
    "the quick brown fox jumps over the lazy dog " * 4,
]
# Words the SentencePiece models learn from (lowercase: both tokenizers
# lowercase first).
CORPUS = (
    "a photo of the cat dog red blue green small large circle square triangle left "
    "right above below quick brown fox jumps over lazy hello world test numbers and "
    "it is this that there they we you he she rock roll stop tag user multiple "
    "spaces newlines photograph symbols emoji cafe café naïve zürich straße full "
    "width ligature un gato ein vogel istanbul 0 1 2 3 4 5 6 7 8 9"
).split()


def sentences():
    return [" ".join(CORPUS[i:i + 7]) for i in range(0, len(CORPUS), 3)] * 3


def train_sentencepiece(**options):
    buffer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences()), model_writer=buffer, num_threads=1,
        character_coverage=1.0, hard_vocab_limit=False, minloglevel=2, **options)
    return buffer.getvalue()


def siglip_spiece():
    """T5 / SigLIP layout: pad 0, `</s>` 1, `<unk>` 2, no bos; NFKC."""
    return train_sentencepiece(model_type="unigram", vocab_size=160, pad_id=0, eos_id=1,
                               unk_id=2, bos_id=-1, pad_piece="<pad>", eos_piece="</s>",
                               unk_piece="<unk>")


def gemma_spiece():
    """Gemma layout: pad 0, eos 1, bos 2, unk 3; BPE with byte fallback, no
    dummy prefix, no normalisation, digits split."""
    return train_sentencepiece(
        model_type="bpe", vocab_size=400, pad_id=0, eos_id=1, bos_id=2, unk_id=3,
        pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>", unk_piece="<unk>",
        byte_fallback=True, add_dummy_prefix=False, normalization_rule_name="identity",
        remove_extra_whitespaces=False, split_digits=True,
        allow_whitespace_only_pieces=True)


def redraw_(model, generator):
    """Draws every parameter anew, at scales where each one moves the
    outputs: matrices std 1/sqrt(fan_in), biases std 0.1, norm scales
    1 +- 0.2, embeddings and the probe std 0.5, `logit_scale` log(10) +-
    0.2, `logit_bias` -10 + U(-1, 1)."""
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            noise = torch.randn(tensor.shape, generator=generator)
            leaf = name.rsplit(".", 1)[-1]
            table = name.endswith(("token_embedding.weight", "position_embedding.weight"))
            if name == "logit_scale":
                tensor.copy_(math.log(10.0) + 0.2 * noise)
            elif name == "logit_bias":
                tensor.copy_(-10.0 + 2 * torch.rand(tensor.shape, generator=generator) - 1)
            elif "norm" in name:
                tensor.copy_((1.0 if leaf == "weight" else 0.0) + 0.2 * noise)
            elif tensor.ndim >= 2 and "weight" in leaf and not table:
                tensor.copy_(noise / math.sqrt(tensor[0].numel()))
            elif "bias" in leaf:
                tensor.copy_(0.1 * noise)
            else:  # Token / position tables, the probe.
                tensor.copy_(0.5 * noise)


def round_to_float16_(model):
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())


def save_npz(path, **arrays):
    np.savez_compressed(path, **{k: np.asarray(v) for k, v in arrays.items()})


def reference(model, pixels, encoded):
    """The outputs the tests compare with (see the module docstring)."""
    ids, mask = encoded["input_ids"], encoded["attention_mask"]
    with torch.no_grad():
        out = model(input_ids=ids, pixel_values=pixels.permute(0, 3, 1, 2))
        masked = model.get_text_features(input_ids=ids, attention_mask=mask).pooler_output
    return dict(
        images=pixels.numpy().astype(np.float16), token_ids=ids.numpy().astype(np.int32),
        padding_mask=mask.numpy().astype(bool),
        image_embeddings=out.image_embeds.numpy(), text_embeddings=out.text_embeds.numpy(),
        masked_text_embeddings=(masked / masked.norm(dim=-1, keepdim=True)).numpy(),
        logits=out.logits_per_image.numpy(),
        logit_scale=model.logit_scale.detach().numpy().reshape(()),
        logit_bias=model.logit_bias.detach().numpy().reshape(()),
        image_tokens=out.vision_model_output.last_hidden_state.numpy(),
        text_tokens=out.text_model_output.last_hidden_state[:NUM_IMAGES].numpy())


def make_fixture(name, tokenizer, text_config, vision_config, seed, float16):
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    config = transformers.SiglipConfig(text_config=text_config, vision_config=vision_config)
    model = transformers.SiglipModel(config).eval()
    model.config._attn_implementation = "eager"
    redraw_(model, generator)
    if float16:
        round_to_float16_(model)
    size = vision_config["image_size"]
    # float16 values, stored as float16 (the fixture stays small).
    pixels = torch.randn((NUM_IMAGES, size, size, 3), generator=generator).half().float()
    encoded = tokenizer(STRINGS, padding="max_length", truncation=True, return_tensors="pt",
                        max_length=text_config["max_position_embeddings"])
    arrays = reference(model, pixels, encoded)
    directory = os.path.join(FIXTURES, name)
    if os.path.isdir(directory):
        shutil.rmtree(directory)
    (model.half() if float16 else model).save_pretrained(directory, safe_serialization=True)
    with open(os.path.join(directory, "strings.json"), "w", encoding="utf-8") as f:
        json.dump(STRINGS, f, ensure_ascii=False, indent=1)
    save_npz(os.path.join(directory, "reference.npz"), **arrays)
    return directory


def _tiny_tower(hidden_size, intermediate_size, num_heads, **extra):
    return dict(hidden_size=hidden_size, intermediate_size=intermediate_size,
                num_hidden_layers=2, num_attention_heads=num_heads,
                hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6, **extra)


def make_siglip_fixture(tmp):
    path = os.path.join(tmp, "spiece.model")
    with open(path, "wb") as f:
        f.write(siglip_spiece())
    tokenizer = transformers.SiglipTokenizer(path)
    directory = make_fixture(
        "hf_siglip", tokenizer, seed=31, float16=True,
        text_config=_tiny_tower(32, 48, 4, vocab_size=tokenizer.vocab_size,
                                max_position_embeddings=16),
        vision_config=_tiny_tower(32, 48, 4, image_size=32, patch_size=8))
    shutil.copy(path, directory)
    transformers.SiglipImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(
        directory)


def make_siglip2_fixture(tmp):
    with open(os.path.join(tmp, "tokenizer.model"), "wb") as f:
        f.write(gemma_spiece())
    tokenizer = transformers.Siglip2Tokenizer.from_pretrained(
        tmp, add_bos_token=False, add_eos_token=True, padding_side="right")
    directory = make_fixture(
        "hf_siglip2", tokenizer, seed=32, float16=False,
        text_config=_tiny_tower(24, 96, 3, vocab_size=len(tokenizer),
                                max_position_embeddings=12),
        vision_config=_tiny_tower(24, 96, 3, image_size=28, patch_size=7))
    shutil.copy(os.path.join(tmp, "tokenizer.model"), directory)


def main():
    import tempfile

    for make in (make_siglip_fixture, make_siglip2_fixture):
        with tempfile.TemporaryDirectory() as tmp:
            make(tmp)
    for name in ("hf_siglip", "hf_siglip2"):
        directory = os.path.join(FIXTURES, name)
        paths = [os.path.join(directory, f) for f in os.listdir(directory)]
        for path in paths:
            os.chmod(path, 0o644)  # safetensors writes 0600.
        total = sum(os.path.getsize(path) for path in paths)
        print(f"wrote {directory} ({total / 1e3:.0f} KB)")


if __name__ == "__main__":
    main()
