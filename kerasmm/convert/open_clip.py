"""open_clip (and OpenAI) CLIP checkpoints -> kerasmm `CLIP`.

A directory with `open_clip_config.json` (`{"model_cfg": {"embed_dim",
"quick_gelu", "vision_cfg", "text_cfg"}, "preprocess_cfg": {...}}`, as in
laion/CLIP-ViT-B-32-laion2B-s34B-b79K or timm/resnet50_clip.openai) and
`open_clip_model.safetensors` (or `model.safetensors`, or
`open_clip_pytorch_model.bin`, which needs torch). The state dict layout is
OpenAI's `clip/model.py`, so OpenAI state dicts convert the same way. Any
`mlp_ratio` converts (MLP width `int(width * mlp_ratio)`: 4.9231 for LAION's
ViT-bigG-14 / ViT-g-14), as do `norm_kwargs.eps` and `text_cfg.proj_bias`.

Name map (open_clip -> kerasmm):

    visual.conv1                         vision_encoder/patch_embedding/projection (OIHW -> HWIO)
    visual.class_embedding               vision_encoder/class_embedding
    visual.positional_embedding          vision_encoder/position_embedding/embeddings
    visual.ln_pre / ln_post              vision_encoder/ln_pre / ln_post
    visual.proj                          vision_encoder/projection/kernel (already (in, out))
    token_embedding                      text_encoder/token_embedding/embeddings
    positional_embedding                 text_encoder/position_embedding/embeddings
    ln_final / text_projection           text_encoder/ln_final / projection/kernel
    text_projection.weight / .bias       text_encoder/projection (proj_bias: an nn.Linear)
    [visual.]transformer.resblocks.i:
      ln_1 / ln_2                        block_i/attention_norm / mlp_norm
      attn.in_proj_weight / _bias        block_i/attention/query|key|value (rows split in 3, transposed)
      attn.out_proj                      block_i/attention/output (transposed)
      mlp.c_fc / mlp.c_proj              block_i/mlp/dense_1 / dense_2 (transposed)
    ModifiedResNet (vision_cfg.layers is a list of 4):
      visual.conv1..3 / bn1..3           vision_encoder/stem_conv1..3 / stem_bn1..3
      visual.layer{s+1}.{b}.conv1..3/bn1..3   stage_{s}_block_{b}/conv1..3 / bn1..3
      visual.layer{s+1}.{b}.downsample.0/1    stage_{s}_block_{b}/downsample_conv / downsample_bn
      visual.attnpool.positional_embedding    attention_pool/positional_embedding
      visual.attnpool.q/k/v/c_proj            attention_pool/attention/query/key/value/output
    logit_scale (logit_bias)             logit_scale (logit_bias)

Activation: OpenAI's models use QuickGELU (`"quick_gelu": true` in the
config), LAION's use exact GELU (the default, `quick_gelu` false).
"""

from kerasmm.convert.checkpoint import Converter
from kerasmm.convert.checkpoint import field
from kerasmm.utils.constants import LOGIT_SCALE_INIT
from kerasmm.utils.constants import OPENAI_CLIP_MEAN
from kerasmm.utils.constants import OPENAI_CLIP_STD

# Options kerasmm's towers do not implement, with the value that means "off".
_VISION_OFF = {
    "ls_init_value": None, "attentional_pool": False, "no_ln_pre": False,
    "pos_embed_type": "learnable", "final_ln_after_pool": False, "pool_type": "tok",
    "act_kwargs": None, "block_type": None, "qk_norm": False,
    "scaled_cosine_attn": False, "scale_heads": False, "scale_attn_inner": False,
    "scale_attn": False, "scale_fc": False, "timm_model_name": None,
}
_TEXT_OFF = {
    "ls_init_value": None, "embed_cls": False, "no_causal_mask": False,
    "final_ln_after_pool": False, "proj_type": "linear",
    "act_kwargs": None, "block_type": None, "qk_norm": False,
    "scaled_cosine_attn": False, "scale_heads": False, "scale_attn_inner": False,
    "scale_attn": False, "scale_fc": False, "hf_model_name": None,
}
_MODEL_OFF = {"custom_text": False, "multimodal_cfg": None}


def _check_off(cfg, off, where):
    for key, value in off.items():
        allowed = (value, None, "default") if value in (False, None) else (value,)
        if cfg.get(key, value) not in allowed:
            raise ValueError(
                f"Unsupported open_clip option: {where}.{key}={cfg[key]!r} "
                f"(kerasmm's CLIP towers implement {key}={value!r} only)"
            )


def _layer_norm_epsilon(cfg, where):
    norm_kwargs = field(cfg, "norm_kwargs", dict, {}, where)
    if set(norm_kwargs) - {"eps"}:
        raise ValueError(f"Unsupported open_clip option: {where}.norm_kwargs="
                         f"{norm_kwargs!r} (only eps is supported)")
    return field(norm_kwargs, "eps", float, 1e-5, f"{where}.norm_kwargs")


def _image_size(vision):
    value = field(vision, "image_size", (int, list), 224, "vision_cfg")
    if isinstance(value, (list, tuple)):
        if len(value) != 2 or value[0] != value[1]:
            raise ValueError(f"Only square images are supported. Received: "
                             f"vision_cfg.image_size={value!r}")
        value = field({"image_size": value[0]}, "image_size", int, where="vision_cfg")
    return value


def _intermediate_dim(cfg, width, where):
    """open_clip's MLP width, `int(width * mlp_ratio)`; None when it is 4x."""
    mlp = int(width * field(cfg, "mlp_ratio", float, 4.0, where))
    return None if mlp == 4 * width else mlp


def _vision_encoder(vision, embed_dim, activation):
    width = field(vision, "width", int, 768, "vision_cfg")
    head_width = field(vision, "head_width", int, 64, "vision_cfg")
    layers = field(vision, "layers", (int, list), 12, "vision_cfg")
    image_size = _image_size(vision)
    if isinstance(layers, (list, tuple)):
        return {"class_name": "ModifiedResNet", "config": {
            "block_counts": list(layers), "width": width,
            "num_heads": width * 32 // head_width, "output_dim": embed_dim,
            "image_size": image_size}}
    return {"class_name": "VisionTransformer", "config": {
        "image_size": image_size,
        "patch_size": field(vision, "patch_size", int, 16, "vision_cfg"),
        "hidden_dim": width, "num_layers": layers, "num_heads": width // head_width,
        "output_dim": embed_dim, "activation": activation,
        "layer_norm_epsilon": _layer_norm_epsilon(vision, "vision_cfg"),
        "intermediate_dim": _intermediate_dim(vision, width, "vision_cfg")}}


def _text_encoder(text, embed_dim, activation):
    pool_type = field(text, "pool_type", str, "argmax", "text_cfg")
    if pool_type not in ("argmax", "eos"):
        raise ValueError(f"Unsupported open_clip option: text_cfg.pool_type="
                         f"{pool_type!r} (expected 'argmax' or 'eos')")
    width = field(text, "width", int, 512, "text_cfg")
    return {"class_name": "TextTransformer", "config": {
        "vocabulary_size": field(text, "vocab_size", int, 49408, "text_cfg"),
        "context_length": field(text, "context_length", int, 77, "text_cfg"),
        "hidden_dim": width,
        "num_layers": field(text, "layers", int, 12, "text_cfg"),
        "num_heads": field(text, "heads", int, 8, "text_cfg"),
        "output_dim": embed_dim,
        "activation": activation,
        "eot_token_id": (field(text, "eos_id", int, 2, "text_cfg")
                         if pool_type == "eos" else None),
        "layer_norm_epsilon": _layer_norm_epsilon(text, "text_cfg"),
        "intermediate_dim": _intermediate_dim(text, width, "text_cfg"),
        "use_projection_bias": field(text, "proj_bias", bool, False, "text_cfg")}}


class OpenCLIPConverter(Converter):
    kind = "open_clip"
    class_name = "CLIP"
    config_file = "open_clip_config.json"
    weight_files = ("open_clip_model.safetensors", "model.safetensors",
                    "open_clip_pytorch_model.bin")
    asset_files = ("vocab.json", "merges.txt")
    # Not weights: BatchNorm's step counter, scalars of OpenAI's JIT state dicts.
    ignore = ("num_batches_tracked", "input_resolution", "context_length", "vocab_size")
    prefixes = ("module.",)  # Training checkpoints (DDP).
    description = "open_clip"

    def matches(self, config):
        return isinstance(config.get("model_cfg"), dict)

    def model_config(self, config):
        model_cfg = field(config, "model_cfg", dict)
        vision = field(model_cfg, "vision_cfg", dict, where="model_cfg")
        text = field(model_cfg, "text_cfg", dict, where="model_cfg")
        _check_off(model_cfg, _MODEL_OFF, "model_cfg")
        _check_off(vision, _VISION_OFF, "vision_cfg")
        _check_off(text, _TEXT_OFF, "text_cfg")
        embed_dim = field(model_cfg, "embed_dim", int, where="model_cfg")
        quick_gelu = field(model_cfg, "quick_gelu", bool, False, "model_cfg")
        activation = "quick_gelu" if quick_gelu else "gelu"
        clip_config = {
            "vision_encoder": _vision_encoder(vision, embed_dim, activation),
            "text_encoder": _text_encoder(text, embed_dim, activation),
            "logit_scale_init": field(model_cfg, "init_logit_scale", float,
                                      LOGIT_SCALE_INIT, "model_cfg")}
        bias = field(model_cfg, "init_logit_bias", float, None, "model_cfg")
        if bias is not None:
            clip_config["logit_bias_init"] = bias
        return clip_config

    def preprocessing(self, config, directory):
        preprocess = field(config, "preprocess_cfg", dict, {})
        model_cfg = field(config, "model_cfg", dict)
        text = field(model_cfg, "text_cfg", dict, where="model_cfg")

        def rgb(key, default):
            return [float(v) for v in field(preprocess, key, list, default, "preprocess_cfg")]

        return {
            "image_size": _image_size(field(model_cfg, "vision_cfg", dict)),
            "mean": rgb("mean", OPENAI_CLIP_MEAN),
            "std": rgb("std", OPENAI_CLIP_STD),
            "interpolation": field(preprocess, "interpolation", str, "bicubic",
                                   "preprocess_cfg"),
            "context_length": field(text, "context_length", int, 77, "text_cfg"),
        }

    def name_map(self, reader, config, model_config):
        vision = model_config["vision_encoder"]
        if vision["class_name"] == "ModifiedResNet":
            _modified_resnet(reader, vision["config"])
        else:
            _vision_transformer(reader, vision["config"])
        _text_transformer(reader, model_config["text_encoder"]["config"])
        reader.copy("logit_scale", "logit_scale", shape=())
        if "logit_bias_init" in model_config:
            reader.copy("logit_bias", "logit_bias", shape=())


# === Name map ===


def _resblocks(reader, prefix, path, tower):
    width = tower["hidden_dim"]
    mlp = tower["intermediate_dim"] or 4 * width
    for i in range(tower["num_layers"]):
        src, dst = f"{prefix}transformer.resblocks.{i}", f"{path}/block_{i}"
        reader.layer_norm(f"{src}.ln_1", f"{dst}/attention_norm")
        reader.packed_qkv(f"{src}.attn", f"{dst}/attention")
        reader.dense(f"{src}.attn.out_proj", f"{dst}/attention/output", (width, width))
        reader.layer_norm(f"{src}.ln_2", f"{dst}/mlp_norm")
        reader.dense(f"{src}.mlp.c_fc", f"{dst}/mlp/dense_1", (mlp, width))
        reader.dense(f"{src}.mlp.c_proj", f"{dst}/mlp/dense_2", (width, mlp))


def _vision_transformer(reader, config):
    path = "vision_encoder"
    reader.conv("visual.conv1.weight", f"{path}/patch_embedding/projection/kernel")
    reader.copy("visual.class_embedding", f"{path}/class_embedding")
    reader.copy("visual.positional_embedding", f"{path}/position_embedding/embeddings")
    reader.layer_norm("visual.ln_pre", f"{path}/ln_pre")
    _resblocks(reader, "visual.", path, config)
    reader.layer_norm("visual.ln_post", f"{path}/ln_post")
    reader.copy("visual.proj", f"{path}/projection/kernel")


def _modified_resnet(reader, config):
    path = "vision_encoder"
    for i in (1, 2, 3):
        reader.conv(f"visual.conv{i}.weight", f"{path}/stem_conv{i}/kernel")
        reader.batch_norm(f"visual.bn{i}", f"{path}/stem_bn{i}")
    for s, count in enumerate(config["block_counts"]):
        for b in range(count):
            src, dst = f"visual.layer{s + 1}.{b}", f"{path}/stage_{s}_block_{b}"
            for i in (1, 2, 3):
                reader.conv(f"{src}.conv{i}.weight", f"{dst}/conv{i}/kernel")
                reader.batch_norm(f"{src}.bn{i}", f"{dst}/bn{i}")
            if f"{src}.downsample.0.weight" in reader.tensors:
                reader.conv(f"{src}.downsample.0.weight", f"{dst}/downsample_conv/kernel")
                reader.batch_norm(f"{src}.downsample.1", f"{dst}/downsample_bn")
    pool = f"{path}/attention_pool"
    reader.copy("visual.attnpool.positional_embedding", f"{pool}/positional_embedding")
    for name, keras_name in (("q_proj", "query"), ("k_proj", "key"), ("v_proj", "value"),
                             ("c_proj", "output")):
        reader.dense(f"visual.attnpool.{name}", f"{pool}/attention/{keras_name}")


def _text_transformer(reader, config):
    path = "text_encoder"
    reader.copy("token_embedding.weight", f"{path}/token_embedding/embeddings")
    reader.copy("positional_embedding", f"{path}/position_embedding/embeddings")
    _resblocks(reader, "", path, config)
    reader.layer_norm("ln_final", f"{path}/ln_final")
    if config["use_projection_bias"]:  # proj_bias: an nn.Linear.
        reader.dense("text_projection", f"{path}/projection")
    elif "text_projection.weight" in reader.tensors:  # An nn.Linear without bias.
        reader.linear("text_projection.weight", f"{path}/projection/kernel")
    else:
        reader.copy("text_projection", f"{path}/projection/kernel")


CONVERTER = OpenCLIPConverter()
