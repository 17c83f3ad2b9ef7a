"""Writes the offline parity fixtures of kerasmm's BLIP converter.

    /work/torchvenv/bin/python tools/make_blip_fixtures.py

A development tool, never a runtime or CI dependency: it needs torch and
transformers, which kerasmm does not. It builds three tiny Hugging Face
BLIP heads (a 32x32 ViT with 8x8 patches, 24 wide, 32 for VQA, whose answer
decoder attends to question states with the vision width; a 2-layer BERT of
width 32 over a 60-word WordPiece vocabulary plus `[DEC]` and `[ENC]`),
every parameter drawn anew (wide enough that greedy decoding has no near
ties), saves each with `save_pretrained`, runs it, and writes under
`tests/fixtures/`:

- `hf_blip_captioning/`: `BlipForConditionalGeneration`.
- `hf_blip_vqa/`: `BlipForQuestionAnswering`.
- `hf_blip_itm/`: `BlipForImageTextRetrieval`.

Each has `config.json`, `model.safetensors`, `vocab.txt`,
`preprocessor_config.json` and `reference.npz`: the inputs (channels-last
`images`; `token_ids` / `padding_mask` of `PROMPTS` as Hugging Face's
`BertTokenizer` gives them) and the outputs: captioning `logits`
(teacher-forced, `[DEC]` first as BLIP trains) and `generated` (greedy
`generate(pixel_values, max_new_tokens=MAX_NEW_TOKENS)`), `prompt_ids` (the
`CAPTION_PROMPTS`, one per image, `[CLS] ... [SEP]` as the processor gives
them) and `prompted` (greedy `generate(pixel_values, input_ids=prompt_ids)`,
which continues each prompt); VQA
`answer_ids` / `answer_mask`, `logits` (the answer decoder over the
question states) and `generated` (greedy `generate` of the questions); ITM
`itm_logits` (`use_itm_head=True`) and `similarity`
(`use_itm_head=False`). Deterministic: rerunning rewrites the same numbers.
"""

import json
import os
import shutil

import numpy as np
import torch
import transformers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
NUM_IMAGES = 4
MAX_NEW_TOKENS = 12
WORDS = ["a", "an", "the", "of", "on", "in", "with", "and", "is", "are", "what",
         "how", "many", "there", "picture", "photo", "cat", "cats", "dog", "two",
         "red", "blue", "green", "circle", "square", "sitting", "couch", "table",
         "color", "shape", "?", ".", ",", "play", "##ing", "##s", "##ed", "big",
         "small", "one", "three", "yes", "no", "man", "woman", "person", "street"]
VOCABULARY = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
PROMPTS = ["a picture of", "what color is the cat?", "how many dogs are playing?",
           "A Red Circle, on the TABLE."]
ANSWERS = ["two", "red", "yes", "a big square"]
CAPTION_PROMPTS = ["a picture of", "a photo of", "the red cat", "two cats on"]  # 3 words each


def config(vision_width):
    text = dict(vocab_size=len(VOCABULARY) + 2, hidden_size=32,
                intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                max_position_embeddings=40, bos_token_id=len(VOCABULARY),
                sep_token_id=VOCABULARY.index("[SEP]"), pad_token_id=0, eos_token_id=2)
    vision = dict(hidden_size=vision_width, intermediate_size=40, num_hidden_layers=2,
                  num_attention_heads=vision_width // 8, image_size=32, patch_size=8)
    return transformers.BlipConfig(text_config=text, vision_config=vision,
                                   image_text_hidden_size=16, projection_dim=16)


def randomize(model, seed):
    """Every parameter drawn anew: LayerNorms near 1 / 0, the rest wide."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if "LayerNorm.weight" in name or "layer_norm" in name and name.endswith("weight") \
                    or "layernorm.weight" in name:
                parameter.copy_(1 + 0.1 * noise)
            else:
                parameter.copy_(0.3 * noise)


def tokenize(directory, texts, max_length=12):
    tokenizer = transformers.BertTokenizer(os.path.join(directory, "vocab.txt"),
                                           do_lower_case=True)
    batch = tokenizer(texts, padding="max_length", max_length=max_length, return_tensors="np")
    return batch["input_ids"].astype("int32"), batch["attention_mask"].astype(bool)


def write(name, model_class, seed, outputs, vision_width=24):
    directory = os.path.join(FIXTURES, name)
    shutil.rmtree(directory, ignore_errors=True)
    torch.manual_seed(seed)
    model = model_class(config(vision_width)).eval()
    randomize(model, seed)
    model.tie_weights()
    os.makedirs(directory)
    with open(os.path.join(directory, "vocab.txt"), "w") as f:
        f.write("\n".join(VOCABULARY) + "\n")
    processor = {"do_resize": True, "size": {"height": 32, "width": 32},
                 "resample": 3, "image_mean": [0.48145466, 0.4578275, 0.40821073],
                 "image_std": [0.26862954, 0.26130258, 0.27577711],
                 "image_processor_type": "BlipImageProcessor"}
    with open(os.path.join(directory, "preprocessor_config.json"), "w") as f:
        json.dump(processor, f, indent=1)
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(NUM_IMAGES, 32, 32, 3)).astype("float32")
    token_ids, padding_mask = tokenize(directory, PROMPTS)
    pixels = torch.from_numpy(images.transpose(0, 3, 1, 2))
    with torch.no_grad():
        arrays = outputs(model, directory, pixels, token_ids, padding_mask)
    model.save_pretrained(directory, safe_serialization=True)  # After end_some's change.
    if os.path.exists(os.path.join(directory, "generation_config.json")):  # Not read.
        os.remove(os.path.join(directory, "generation_config.json"))
    np.savez(os.path.join(directory, "reference.npz"), images=images, token_ids=token_ids,
             padding_mask=padding_mask, **arrays)
    print(name, {k: v.shape for k, v in arrays.items()})


def end_some(model, generate):
    """Raises the `[SEP]` logit bias until greedy decoding ends some, not
    all, of the sequences early (so the fixtures cover the end token)."""
    sep = model.config.text_config.sep_token_id
    bias = model.text_decoder.cls.predictions.bias
    for _ in range(200):
        ended = (generate()[:, 2:-1] == sep).any(axis=1).sum()
        if 0 < ended < NUM_IMAGES:
            return
        bias[sep] += 0.05 if ended == 0 else -0.01
    raise RuntimeError("no [SEP] bias ends some but not all sequences")


def captioning(model, directory, pixels, token_ids, padding_mask):
    end_some(model, lambda: model.generate(pixel_values=pixels, max_new_tokens=MAX_NEW_TOKENS,
                                           do_sample=False).numpy())
    ids = token_ids.copy()
    ids[:, 0] = model.config.text_config.bos_token_id
    out = model(pixel_values=pixels, input_ids=torch.from_numpy(ids).long(),
                attention_mask=torch.from_numpy(padding_mask).long())
    generated = model.generate(pixel_values=pixels, max_new_tokens=MAX_NEW_TOKENS,
                               do_sample=False, num_beams=1)
    prompt_ids, prompt_mask = tokenize(directory, CAPTION_PROMPTS, max_length=5)
    assert prompt_mask.all()  # Equal lengths: no padding inside the prompts.
    prompted = model.generate(pixel_values=pixels, input_ids=torch.from_numpy(prompt_ids).long(),
                              max_new_tokens=MAX_NEW_TOKENS, do_sample=False, num_beams=1)
    return {"caption_ids": ids, "logits": out.logits.numpy(),
            "generated": generated.numpy().astype("int32"), "prompt_ids": prompt_ids,
            "prompted": prompted.numpy().astype("int32")}


def vqa(model, directory, pixels, token_ids, padding_mask):
    ids, mask = torch.from_numpy(token_ids).long(), torch.from_numpy(padding_mask).long()
    end_some(model, lambda: model.generate(input_ids=ids, pixel_values=pixels, attention_mask=mask,
                                           max_new_tokens=MAX_NEW_TOKENS,
                                           do_sample=False).numpy())
    answer_ids, answer_mask = tokenize(directory, ANSWERS)
    answer_ids[:, 0] = model.config.text_config.bos_token_id
    image_embeds = model.vision_model(pixel_values=pixels).last_hidden_state
    mask = torch.from_numpy(padding_mask).long()
    question = model.text_encoder(
        input_ids=torch.from_numpy(token_ids).long(), attention_mask=mask,
        encoder_hidden_states=image_embeds,
        encoder_attention_mask=torch.ones(image_embeds.shape[:-1], dtype=torch.long))[0]
    logits = model.text_decoder(
        input_ids=torch.from_numpy(answer_ids).long(),
        attention_mask=torch.from_numpy(answer_mask).long(),
        encoder_hidden_states=question, encoder_attention_mask=mask).logits
    generated = model.generate(input_ids=torch.from_numpy(token_ids).long(),
                               pixel_values=pixels, attention_mask=mask,
                               max_new_tokens=MAX_NEW_TOKENS, do_sample=False, num_beams=1)
    return {"answer_ids": answer_ids, "answer_mask": answer_mask,
            "logits": logits.numpy(), "generated": generated.numpy().astype("int32")}


def itm(model, directory, pixels, token_ids, padding_mask):
    ids = torch.from_numpy(token_ids).long()
    mask = torch.from_numpy(padding_mask).long()
    itm_logits = model(input_ids=ids, pixel_values=pixels, attention_mask=mask,
                       use_itm_head=True).itm_score
    similarity = model(input_ids=ids, pixel_values=pixels, attention_mask=mask,
                       use_itm_head=False).itm_score
    return {"itm_logits": itm_logits.numpy(), "similarity": similarity.numpy()}


if __name__ == "__main__":
    write("hf_blip_captioning", transformers.BlipForConditionalGeneration, 0, captioning)
    write("hf_blip_vqa", transformers.BlipForQuestionAnswering, 1, vqa, vision_width=32)
    write("hf_blip_itm", transformers.BlipForImageTextRetrieval, 2, itm)
