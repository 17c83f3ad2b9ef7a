"""Writes the offline parity fixtures of kerasmm's ViLT converter.

    /work/torchvenv/bin/python tools/make_vilt_fixtures.py

A development tool, never a runtime or CI dependency: it needs torch and
transformers, which kerasmm does not. It builds four tiny Hugging Face ViLT
heads (width 32, 2 layers, 4 heads, 8x8 patches on a 32x32 training grid,
a 40-word vocabulary), every parameter drawn anew, saves each with
`save_pretrained`, runs it, and writes under `tests/fixtures/`:

- `hf_vilt_mlm/`: `ViltForMaskedLM` (decoder tied to the word embeddings).
- `hf_vilt_vqa/`: `ViltForQuestionAnswering` (7 answers).
- `hf_vilt_retrieval/`: `ViltForImageAndTextRetrieval`.
- `hf_vilt_nlvr2/`: `ViltForImagesAndTextClassification` (2 images, 2 classes).

Each has `config.json`, `model.safetensors`, a 40-word `vocab.txt` and
`reference.npz`: `PROMPTS` as Hugging Face's `BertTokenizer` gives them
(`prompt_ids`, `prompt_mask`, padded to 12), and inputs
and outputs for two batches. `wide_*`: 32x48 images (positions resized
from the 4x4 grid to 4x6) with a pixel mask whose rows pad the bottom and
right of some images, as ViLT's processor pads; `square_*`: 32x32 images
without a mask. Outputs: the head's `*_logits`, the backbone's
`*_pooled` and `*_text` (text part of the sequence output) and, for the
square batch (no padding, so Hugging Face's patch shuffle is a pure
permutation), `square_image_tokens` (the image part, in Hugging Face's
random order). `vilt_image_processor/reference.npz`: three pictures of
different sizes and Hugging Face's `pixel_values` (channels last) and
`pixel_mask` for them. Deterministic: rerunning rewrites the same numbers.
"""

import json
import os
import shutil

import numpy as np
import torch
import transformers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
BATCH, LENGTH, VOCABULARY = 3, 10, 40
WORDS = ["a", "the", "of", "on", "in", "what", "how", "many", "is", "there", "cat", "dog",
         "red", "blue", "circle", "square", "color", "shape", "?", ".", ",", "play", "##ing",
         "##s", "big", "small", "two", "yes", "no", "left", "right", "table", "person",
         "photo"]
WORD_PIECES = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
PROMPTS = ["what color is the cat?", "How many dogs are playing on the table?",
           "Is there a big RED circle, left of the square?"]
# (rows, cols) of valid pixels in each 32x48 image: full, bottom+right padded, right padded.
VALID = [(32, 48), (24, 32), (32, 40)]


def config(**kwargs):
    return transformers.ViltConfig(
        vocab_size=VOCABULARY, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=48, max_position_embeddings=12, image_size=32, patch_size=8,
        **kwargs)


def randomize(model, seed):
    """Every parameter drawn anew: LayerNorm scales near 1, the rest wide."""
    generator = torch.Generator().manual_seed(seed)
    norms = {name for name, module in model.named_modules()
             if isinstance(module, torch.nn.LayerNorm)}
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            module, _, kind = name.rpartition(".")
            if module in norms and kind == "weight":
                parameter.copy_(1 + 0.1 * noise)
            else:
                parameter.copy_(0.2 * noise)


def text_inputs(rng):
    token_ids = rng.integers(1, VOCABULARY, size=(BATCH, LENGTH)).astype("int32")
    lengths = np.array([LENGTH, 6, 8])
    padding_mask = np.arange(LENGTH)[None, :] < lengths[:, None]
    return np.where(padding_mask, token_ids, 0).astype("int32"), padding_mask


def image_inputs(rng, num_images):
    wide = rng.normal(size=(BATCH, num_images, 32, 48, 3)).astype("float32")
    mask = np.zeros((BATCH, num_images, 32, 48), "int64")
    for b, (rows, cols) in enumerate(VALID):
        for i in range(num_images):
            rows_i, cols_i = (rows, cols) if i == 0 else VALID[(b + 1) % BATCH]
            mask[b, i, :rows_i, :cols_i] = 1
    wide = wide * mask[..., None]  # Padding is zeros, as the processor pads.
    square = rng.normal(size=(BATCH, num_images, 32, 32, 3)).astype("float32")
    return wide, mask, square


def torch_images(images):
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(images, -1, -3)))


def run(model, token_ids, padding_mask, images, pixel_mask, nlvr2):
    kwargs = {"input_ids": torch.from_numpy(token_ids).long(),
              "attention_mask": torch.from_numpy(padding_mask).long()}
    if nlvr2:
        pixels = torch_images(images)
        mask = None if pixel_mask is None else torch.from_numpy(pixel_mask)
        return {"logits": model(pixel_values=pixels, pixel_mask=mask, **kwargs).logits}
    pixels = torch_images(images[:, 0])
    mask = None if pixel_mask is None else torch.from_numpy(pixel_mask[:, 0])
    outputs = model.vilt(pixel_values=pixels, pixel_mask=mask, **kwargs)
    sequence = outputs.last_hidden_state
    return {"logits": model(pixel_values=pixels, pixel_mask=mask, **kwargs).logits,
            "pooled": outputs.pooler_output, "text": sequence[:, :LENGTH],
            "image_tokens": sequence[:, LENGTH:]}


def write(name, model_class, seed, **config_kwargs):
    directory = os.path.join(FIXTURES, name)
    shutil.rmtree(directory, ignore_errors=True)
    torch.manual_seed(seed)
    model = model_class(config(**config_kwargs)).eval()
    randomize(model, seed)
    if hasattr(model, "tie_weights"):
        model.tie_weights()
    nlvr2 = model_class is transformers.ViltForImagesAndTextClassification
    rng = np.random.default_rng(seed)
    token_ids, padding_mask = text_inputs(rng)
    wide, pixel_mask, square = image_inputs(rng, 2 if nlvr2 else 1)
    arrays = {"token_ids": token_ids, "padding_mask": padding_mask}
    if nlvr2:
        arrays.update(wide_images=wide, wide_pixel_mask=pixel_mask, square_images=square)
    else:
        arrays.update(wide_images=wide[:, 0], wide_pixel_mask=pixel_mask[:, 0],
                      square_images=square[:, 0])
    with torch.no_grad():
        for prefix, images, mask in (("wide", wide, pixel_mask), ("square", square, None)):
            for key, value in run(model, token_ids, padding_mask, images, mask,
                                  nlvr2).items():
                if key == "image_tokens" and prefix == "wide":
                    continue  # Padded: Hugging Face samples masked patches at random.
                arrays[f"{prefix}_{key}"] = value.numpy()
    os.makedirs(directory)
    model.save_pretrained(directory, safe_serialization=True)
    with open(os.path.join(directory, "vocab.txt"), "w") as f:
        f.write("\n".join(WORD_PIECES) + "\n")
    tokenizer = transformers.BertTokenizer(os.path.join(directory, "vocab.txt"),
                                           do_lower_case=True)
    prompts = tokenizer(PROMPTS, padding="max_length", max_length=12, truncation=True,
                        return_tensors="np")
    arrays.update(prompt_ids=prompts["input_ids"].astype("int32"),
                  prompt_mask=prompts["attention_mask"].astype(bool))
    processor = {"do_resize": True, "size": {"shortest_edge": 32}, "size_divisor": 8,
                 "resample": 3, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
                 "image_processor_type": "ViltImageProcessor"}
    with open(os.path.join(directory, "preprocessor_config.json"), "w") as f:
        json.dump(processor, f, indent=1)
    np.savez(os.path.join(directory, "reference.npz"), **arrays)
    print(name, {k: v.shape for k, v in arrays.items()})


def write_image_processor():
    """`vilt_image_processor/`: pictures of three sizes through Hugging Face's
    `ViltImageProcessor` (PIL backend; no torchvision here)."""
    from transformers.models.vilt.image_processing_pil_vilt import ViltImageProcessorPil

    directory = os.path.join(FIXTURES, "vilt_image_processor")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    rng = np.random.default_rng(4)
    sizes = [(40, 80), (60, 40), (33, 47)]
    # Smooth pictures (random 4x4 grids upsampled): resampling filters agree on them.
    pictures = [np.kron(rng.integers(0, 256, (h // 4 + 1, w // 4 + 1, 3)),
                        np.ones((4, 4, 1)))[:h, :w].astype("uint8") for h, w in sizes]
    processor = ViltImageProcessorPil(size={"shortest_edge": 32}, size_divisor=8)
    outputs = processor(pictures, return_tensors="np")
    arrays = {f"picture_{i}": p for i, p in enumerate(pictures)}
    np.savez_compressed(os.path.join(directory, "reference.npz"),
                        pixel_values=outputs["pixel_values"].transpose(0, 2, 3, 1),
                        pixel_mask=outputs["pixel_mask"], **arrays)
    print("vilt_image_processor", outputs["pixel_values"].shape)


def main():
    write_image_processor()
    write("hf_vilt_mlm", transformers.ViltForMaskedLM, 0)
    labels = {i: f"answer_{i}" for i in range(7)}
    write("hf_vilt_vqa", transformers.ViltForQuestionAnswering, 1, id2label=labels,
          label2id={v: k for k, v in labels.items()})
    write("hf_vilt_retrieval", transformers.ViltForImageAndTextRetrieval, 2)
    write("hf_vilt_nlvr2", transformers.ViltForImagesAndTextClassification, 3, num_images=2,
          modality_type_vocab_size=3, id2label={0: "False", 1: "True"},
          label2id={"False": 0, "True": 1})


if __name__ == "__main__":
    main()
