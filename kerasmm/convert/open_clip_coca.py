"""open_clip CoCa checkpoints -> kerasmm `CoCa`.

A directory with `open_clip_config.json` whose `model_cfg` has a
`multimodal_cfg` (as in laion/CoCa-ViT-B-32-laion2B-s13B-b90k; open_clip's
`coca_ViT-B-32.json` / `coca_ViT-L-14.json`) and `open_clip_model.safetensors`
(or `model.safetensors`, or `open_clip_pytorch_model.bin`, which needs
torch). The model is open_clip's original CoCa layout, so `CoCa` is built
with `shared_pooler=True` (one `AttentionalPooler` of `attn_pooler_queries`
queries, the first for the contrastive embedding, then `ln_post` on all of
them), `pooler_num_heads=attn_pooler_heads`, `text_mask="open_clip"` and a
`CoCaVisionTransformer` (CLIP's ViT without `ln_post` / `proj`). Start and
end tokens are the last two ids of the vocabulary (CLIP's BPE:
`<start_of_text>` 49406, `<end_of_text>` 49407, as open_clip's `generate`);
padding is `text_cfg.pad_id` (0). The preprocessing constants are open_clip
CLIP's (`preprocess_cfg`, `text_cfg.context_length`) plus `pad_token_id`;
`vocab.json` and `merges.txt` in the directory give `CoCaPreprocessor` its
tokenizer.

Name map (open_clip -> kerasmm), blocks as in `kerasmm.convert.open_clip`
(`ln_1` / `ln_2` -> `attention_norm` / `mlp_norm`, `attn.in_proj_*` split in
q, k, v, `attn.out_proj` -> `attention/output`, `mlp.c_fc` / `c_proj` ->
`mlp/dense_1` / `dense_2`):

    visual.conv1 / class_embedding / positional_embedding / ln_pre
                                           vision_encoder/patch_embedding/projection /
                                           class_embedding / position_embedding / ln_pre
    visual.transformer.resblocks.i         vision_encoder/block_i
    visual.attn_pool.query / ln_q / ln_k   caption_pooler/queries / query_norm / token_norm
    visual.attn_pool.attn                  caption_pooler/attention (q/k/v_proj_weight when
                                           the vision width differs, else in_proj_weight)
    visual.ln_post / visual.proj           image_norm / image_projection
    text.token_embedding / positional_embedding / cls_emb
                                           token_embedding / position_embedding / cls_embedding
    text.transformer.resblocks.i           unimodal_i
    text.ln_final / text_projection        text_norm / text_projection
    text_decoder.resblocks.i               decoder_self_i
    text_decoder.cross_attn.i              decoder_cross_i (ln_1 -> query_norm,
                                           ln_1_kv -> context_norm)
    text_decoder.ln_final / text_projection    decoder_norm / vocabulary_projection
    logit_scale                            logit_scale

Options kerasmm's CoCa does not implement (layer scale, custom blocks, timm
or Hugging Face towers, the "parallel" / "cascade" poolers, a logit bias,
different text and decoder widths or heads) are refused with their name.
"""

import numpy as np

from kerasmm.convert.checkpoint import field
from kerasmm.convert.open_clip import OpenCLIPConverter
from kerasmm.utils.constants import LOGIT_SCALE_INIT

# Options of each config with the only value kerasmm reads them at (absent
# or null counts as that value, except for `_REQUIRED`'s, which are off by
# default in open_clip).
_FIXED = {
    "model_cfg": {"init_logit_bias": None, "nonscalar_logit_scale": False},
    "vision_cfg": {"attentional_pool": True, "ls_init_value": None, "no_ln_pre": False,
                   "pos_embed_type": "learnable", "pool_type": "tok", "act_kwargs": None,
                   "norm_kwargs": None, "block_type": None, "qk_norm": False,
                   "scaled_cosine_attn": False, "scale_heads": False,
                   "scale_attn_inner": False, "scale_attn": False, "scale_fc": False,
                   "timm_model_name": None},
    "text_cfg": {"embed_cls": True, "text_arch": "clip", "ls_init_value": None,
                 "mlp_ratio": 4.0, "no_causal_mask": False, "proj_bias": False,
                 "proj_type": "linear", "act_kwargs": None, "norm_kwargs": None,
                 "block_type": None, "qk_norm": False, "scaled_cosine_attn": False,
                 "scale_heads": False, "scale_attn_inner": False, "scale_attn": False,
                 "scale_fc": False, "hf_model_name": None},
    "multimodal_cfg": {"ls_init_value": None},
}
_REQUIRED = {("vision_cfg", "attentional_pool"), ("text_cfg", "embed_cls")}


def _check_fixed(cfg, where):
    for key, value in _FIXED[where].items():
        received = cfg.get(key)
        if received is None and (where, key) not in _REQUIRED:
            continue
        if received == value or (key == "block_type" and received == "default"):
            continue
        raise ValueError(f"Unsupported open_clip CoCa option: {where}.{key}={received!r} "
                         f"(kerasmm's CoCa implements {key}={value!r} only)")


def _same(where, values):
    """The one value of `{name: value}`; a ValueError naming them all if they differ."""
    if len(set(values.values())) != 1:
        raise ValueError(f"kerasmm's CoCa needs equal {where}. Received: "
                         + ", ".join(f"{k}={v!r}" for k, v in values.items()))
    return next(iter(values.values()))


def _vision_encoder(vision, activation):
    layers = field(vision, "layers", (int, list), 12, "vision_cfg")
    if not isinstance(layers, int):
        raise ValueError(f"Unsupported open_clip CoCa option: vision_cfg.layers={layers!r} "
                         "(a ModifiedResNet; kerasmm's CoCa converts ViT towers only)")
    size = field(vision, "image_size", (int, list), 224, "vision_cfg")
    if isinstance(size, list):
        if len(size) != 2 or size[0] != size[1]:
            raise ValueError(f"Only square images are supported. Received: "
                             f"vision_cfg.image_size={size!r}")
        size = size[0]
    width = field(vision, "width", int, 768, "vision_cfg")
    mlp_width = int(width * field(vision, "mlp_ratio", float, 4.0, "vision_cfg"))
    return {"class_name": "CoCaVisionTransformer", "config": {
        "image_size": size, "patch_size": field(vision, "patch_size", int, 16, "vision_cfg"),
        "hidden_dim": width, "num_layers": layers,
        "num_heads": width // field(vision, "head_width", int, 64, "vision_cfg"),
        "activation": activation,
        "intermediate_dim": None if mlp_width == 4 * width else mlp_width,
        "patch_dropout": field(vision, "patch_dropout", float, 0.0, "vision_cfg")}}


class OpenCLIPCoCaConverter(OpenCLIPConverter):
    """open_clip's CoCa; files, prefixes and preprocessing as open_clip's CLIP."""

    kind = "open_clip_coca"
    class_name = "CoCa"
    description = "open_clip CoCa"

    def matches(self, config):
        model_cfg = config.get("model_cfg")
        return isinstance(model_cfg, dict) and isinstance(model_cfg.get("multimodal_cfg"), dict)

    def model_config(self, config):
        model_cfg = field(config, "model_cfg", dict)
        cfgs = {"model_cfg": model_cfg}
        for name in ("vision_cfg", "text_cfg", "multimodal_cfg"):
            cfgs[name] = field(model_cfg, name, dict, where="model_cfg")
        for name, cfg in cfgs.items():
            _check_fixed(cfg, name)
        vision, text, multimodal = cfgs["vision_cfg"], cfgs["text_cfg"], cfgs["multimodal_cfg"]
        activation = "quick_gelu" if field(model_cfg, "quick_gelu", bool, False,
                                           "model_cfg") else "gelu"
        embed_dim = field(model_cfg, "embed_dim", int, where="model_cfg")
        hidden_dim = _same("widths", {
            "model_cfg.embed_dim": embed_dim,
            "text_cfg.width": field(text, "width", int, 512, "text_cfg"),
            "multimodal_cfg.width": field(multimodal, "width", int, 512, "multimodal_cfg")})
        vocabulary_size = field(text, "vocab_size", int, 49408, "text_cfg")
        return {
            "vision_encoder": _vision_encoder(vision, activation),
            "vocabulary_size": vocabulary_size,
            "context_length": field(text, "context_length", int, 77, "text_cfg"),
            "hidden_dim": hidden_dim,
            "num_unimodal_layers": field(text, "layers", int, 12, "text_cfg"),
            "num_multimodal_layers": field(multimodal, "layers", int, 12, "multimodal_cfg"),
            "num_heads": _same("heads", {
                "text_cfg.heads": field(text, "heads", int, 8, "text_cfg"),
                "multimodal_cfg.heads": field(multimodal, "heads", int, 8, "multimodal_cfg")}),
            "output_dim": embed_dim,
            "start_token_id": vocabulary_size - 2,
            "end_token_id": vocabulary_size - 1,
            "pad_token_id": field(text, "pad_id", int, 0, "text_cfg"),
            "num_caption_queries": field(vision, "attn_pooler_queries", int, 256,
                                         "vision_cfg") - 1,
            "activation": activation,
            "logit_scale_init": field(model_cfg, "init_logit_scale", float,
                                      LOGIT_SCALE_INIT, "model_cfg"),
            "shared_pooler": True,
            "pooler_num_heads": field(vision, "attn_pooler_heads", int, 8, "vision_cfg"),
            "text_mask": "open_clip",
        }

    def preprocessing(self, config, directory):
        """open_clip's CLIP preprocessing (shortest side resized, center crop)
        and CLIP's BPE padded with `text_cfg.pad_id` to the text tower's
        context length (76 for the released CoCa, tokenizer files
        `vocab.json` and `merges.txt`)."""
        resize_mode = field(field(config, "preprocess_cfg", dict, {}), "resize_mode", str,
                            "shortest", "preprocess_cfg")
        if resize_mode != "shortest":
            raise ValueError(f"Unsupported open_clip CoCa option: preprocess_cfg.resize_mode="
                             f"{resize_mode!r} (kerasmm resizes the shortest side only)")
        text = field(field(config, "model_cfg", dict), "text_cfg", dict, where="model_cfg")
        return dict(super().preprocessing(config, directory),
                    pad_token_id=field(text, "pad_id", int, 0, "text_cfg"))

    def name_map(self, reader, config, model_config):
        vision = model_config["vision_encoder"]["config"]
        reader.conv("visual.conv1.weight", "vision_encoder/patch_embedding/projection/kernel")
        reader.copy("visual.class_embedding", "vision_encoder/class_embedding")
        reader.copy("visual.positional_embedding",
                    "vision_encoder/position_embedding/embeddings")
        reader.layer_norm("visual.ln_pre", "vision_encoder/ln_pre")
        for i in range(vision["num_layers"]):
            _block(reader, f"visual.transformer.resblocks.{i}", f"vision_encoder/block_{i}")
        reader.copy("visual.attn_pool.query", "caption_pooler/queries")
        reader.layer_norm("visual.attn_pool.ln_q", "caption_pooler/query_norm")
        reader.layer_norm("visual.attn_pool.ln_k", "caption_pooler/token_norm")
        _attention(reader, "visual.attn_pool.attn", "caption_pooler/attention")
        reader.layer_norm("visual.ln_post", "image_norm")
        reader.copy("visual.proj", "image_projection/kernel")  # x @ proj: (in, out).
        reader.copy("text.token_embedding.weight", "token_embedding/embeddings")
        reader.copy("text.positional_embedding", "position_embedding")
        reader.copy("text.cls_emb", "cls_embedding")
        for i in range(model_config["num_unimodal_layers"]):
            _block(reader, f"text.transformer.resblocks.{i}", f"unimodal_{i}")
        reader.layer_norm("text.ln_final", "text_norm")
        reader.copy("text.text_projection", "text_projection/kernel")
        for i in range(model_config["num_multimodal_layers"]):
            _block(reader, f"text_decoder.resblocks.{i}", f"decoder_self_{i}")
            _block(reader, f"text_decoder.cross_attn.{i}", f"decoder_cross_{i}", cross=True)
        reader.layer_norm("text_decoder.ln_final", "decoder_norm")
        reader.copy("text_decoder.text_projection", "vocabulary_projection/kernel")
        reader.copy("logit_scale", "logit_scale", shape=())


def _attention(reader, source, path):
    """open_clip's `Attention`: packed `in_proj_weight`, or separate
    `q/k/v_proj_weight` when keys and values are narrower or wider."""
    if f"{source}.in_proj_weight" in reader.tensors:
        reader.packed_qkv(source, path)
    else:
        biases = np.split(reader.take(f"{source}.in_proj_bias"), 3)
        for part, bias in zip(("query", "key", "value"), biases):
            reader.linear(f"{source}.{part[0]}_proj_weight", f"{path}/{part}/kernel")
            reader.put(f"{path}/{part}/bias", bias, f"{source}.in_proj_bias[{part}]")
    reader.dense(f"{source}.out_proj", f"{path}/output")


def _block(reader, source, path, cross=False):
    """A `ResidualAttentionBlock` to a `SelfAttention` (or, with its
    `ln_1_kv`, a `CrossAttention`) block."""
    norms = (("ln_1", "query_norm"), ("ln_1_kv", "context_norm")) if cross else (
        ("ln_1", "attention_norm"),)
    for name, keras_name in norms + (("ln_2", "mlp_norm"),):
        reader.layer_norm(f"{source}.{name}", f"{path}/{keras_name}")
    _attention(reader, f"{source}.attn", f"{path}/attention")
    for name, keras_name in (("c_fc", "dense_1"), ("c_proj", "dense_2")):
        reader.dense(f"{source}.mlp.{name}", f"{path}/mlp/{keras_name}")


CONVERTER = OpenCLIPCoCaConverter()
