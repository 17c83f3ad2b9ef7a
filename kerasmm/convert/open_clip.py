"""open_clip (and OpenAI) CLIP checkpoints -> kerasmm `CLIP`.

A directory with `open_clip_config.json` (`{"model_cfg": {"embed_dim",
"quick_gelu", "vision_cfg", "text_cfg"}, "preprocess_cfg": {...}}`, as in
laion/CLIP-ViT-B-32-laion2B-s34B-b79K or timm/resnet50_clip.openai) and
`open_clip_model.safetensors` (or `model.safetensors`, or
`open_clip_pytorch_model.bin`, which needs torch). The state dict layout is
OpenAI's `clip/model.py`, so OpenAI state dicts convert the same way.

Name map (open_clip -> kerasmm):

    visual.conv1                         vision_encoder/patch_embedding/projection (OIHW -> HWIO)
    visual.class_embedding               vision_encoder/class_embedding
    visual.positional_embedding          vision_encoder/position_embedding/embeddings
    visual.ln_pre / ln_post              vision_encoder/ln_pre / ln_post
    visual.proj                          vision_encoder/projection/kernel (already (in, out))
    token_embedding                      text_encoder/token_embedding/embeddings
    positional_embedding                 text_encoder/position_embedding/embeddings
    ln_final / text_projection           text_encoder/ln_final / projection/kernel
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

import json
import os

from kerasmm.convert.checkpoint import ConvertedCheckpoint
from kerasmm.convert.checkpoint import Converter
from kerasmm.convert.checkpoint import TensorReader
from kerasmm.convert.checkpoint import require
from kerasmm.convert.safetensors_io import find_weights_file
from kerasmm.convert.safetensors_io import load_tensors

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# Options kerasmm's towers do not implement, with the value that means "off".
_VISION_OFF = {
    "ls_init_value": None, "attentional_pool": False, "no_ln_pre": False,
    "pos_embed_type": "learnable", "final_ln_after_pool": False, "pool_type": "tok",
    "act_kwargs": None, "block_type": None, "qk_norm": False,
    "scaled_cosine_attn": False, "scale_heads": False, "scale_attn_inner": False,
    "scale_attn": False, "scale_fc": False, "timm_model_name": None,
    "mlp_ratio": 4.0,
}
_TEXT_OFF = {
    "ls_init_value": None, "embed_cls": False, "no_causal_mask": False,
    "final_ln_after_pool": False, "proj_bias": False, "proj_type": "linear",
    "act_kwargs": None, "block_type": None, "qk_norm": False,
    "scaled_cosine_attn": False, "scale_heads": False, "scale_attn_inner": False,
    "scale_attn": False, "scale_fc": False, "hf_model_name": None, "mlp_ratio": 4.0,
}
_MODEL_OFF = {"custom_text": False, "multimodal_cfg": None}
# Not weights: BatchNorm's step counter, scalars of OpenAI's JIT state dicts.
_IGNORED = ("num_batches_tracked", "input_resolution", "context_length", "vocab_size")


def matches(config):
    return isinstance(config, dict) and isinstance(config.get("model_cfg"), dict)


def _check_off(cfg, off, where):
    for key, value in off.items():
        allowed = (value, None, "default") if value in (False, None) else (value,)
        if cfg.get(key, value) not in allowed:
            raise ValueError(
                f"Unsupported open_clip option: {where}.{key}={cfg[key]!r} "
                f"(kerasmm's CLIP towers implement {key}={value!r} only)"
            )


def _layer_norm_epsilon(cfg, where):
    norm_kwargs = cfg.get("norm_kwargs") or {}
    if set(norm_kwargs) - {"eps"}:
        raise ValueError(f"Unsupported open_clip option: {where}.norm_kwargs="
                         f"{norm_kwargs!r} (only eps is supported)")
    return float(norm_kwargs.get("eps", 1e-5))


def _image_size(value):
    if isinstance(value, (list, tuple)):
        if len(value) != 2 or value[0] != value[1]:
            raise ValueError(f"Only square images are supported. Received: "
                             f"vision_cfg.image_size={value!r}")
        value = value[0]
    return int(value)


def model_config(open_clip_config):
    """`(CLIP constructor config, preprocessing, tower layout)` from
    the content of `open_clip_config.json`."""
    where = "open_clip_config.json"
    model_cfg = require(open_clip_config, "model_cfg", where)
    vision = dict(require(model_cfg, "vision_cfg", f"{where} model_cfg"))
    text = dict(require(model_cfg, "text_cfg", f"{where} model_cfg"))
    _check_off(model_cfg, _MODEL_OFF, "model_cfg")
    _check_off(vision, _VISION_OFF, "vision_cfg")
    _check_off(text, _TEXT_OFF, "text_cfg")
    embed_dim = require(model_cfg, "embed_dim", f"{where} model_cfg")
    activation = "quick_gelu" if model_cfg.get("quick_gelu", False) else "gelu"
    image_size = _image_size(vision.get("image_size", 224))
    head_width = vision.get("head_width", 64)
    width = vision.get("width", 768)
    layers = vision.get("layers", 12)
    if isinstance(layers, (list, tuple)):
        vision_encoder = {"class_name": "ModifiedResNet", "config": {
            "block_counts": list(layers), "width": width,
            "num_heads": width * 32 // head_width, "output_dim": embed_dim,
            "image_size": image_size}}
    else:
        vision_encoder = {"class_name": "VisionTransformer", "config": {
            "image_size": image_size, "patch_size": vision.get("patch_size", 16),
            "hidden_dim": width, "num_layers": layers, "num_heads": width // head_width,
            "output_dim": embed_dim, "activation": activation,
            "layer_norm_epsilon": _layer_norm_epsilon(vision, "vision_cfg")}}
    pool_type = text.get("pool_type", "argmax")
    if pool_type not in ("argmax", "eos"):
        raise ValueError(f"Unsupported open_clip option: text_cfg.pool_type="
                         f"{pool_type!r} (expected 'argmax' or 'eos')")
    text_encoder = {"class_name": "TextTransformer", "config": {
        "vocabulary_size": text.get("vocab_size", 49408),
        "context_length": text.get("context_length", 77),
        "hidden_dim": text.get("width", 512),
        "num_layers": text.get("layers", 12),
        "num_heads": text.get("heads", 8),
        "output_dim": embed_dim,
        "activation": activation,
        "eot_token_id": text.get("eos_id", 2) if pool_type == "eos" else None,
        "layer_norm_epsilon": _layer_norm_epsilon(text, "text_cfg")}}
    clip_config = {"vision_encoder": vision_encoder, "text_encoder": text_encoder,
                   "logit_scale_init": float(model_cfg.get("init_logit_scale", 2.6592))}
    if model_cfg.get("init_logit_bias") is not None:
        clip_config["logit_bias_init"] = float(model_cfg["init_logit_bias"])
    preprocess = open_clip_config.get("preprocess_cfg") or {}
    preprocessing = {
        "image_size": image_size,
        "mean": [float(v) for v in preprocess.get("mean", OPENAI_CLIP_MEAN)],
        "std": [float(v) for v in preprocess.get("std", OPENAI_CLIP_STD)],
        "interpolation": preprocess.get("interpolation", "bicubic"),
        "context_length": text_encoder["config"]["context_length"],
    }
    return clip_config, preprocessing


# === Name map ===


def _resblocks(reader, prefix, path, num_layers):
    for i in range(num_layers):
        src, dst = f"{prefix}transformer.resblocks.{i}", f"{path}/block_{i}"
        reader.layer_norm(f"{src}.ln_1", f"{dst}/attention_norm")
        reader.packed_qkv(f"{src}.attn", f"{dst}/attention")
        reader.dense(f"{src}.attn.out_proj", f"{dst}/attention/output")
        reader.layer_norm(f"{src}.ln_2", f"{dst}/mlp_norm")
        reader.dense(f"{src}.mlp.c_fc", f"{dst}/mlp/dense_1")
        reader.dense(f"{src}.mlp.c_proj", f"{dst}/mlp/dense_2")


def _vision_transformer(reader, config):
    path = "vision_encoder"
    reader.conv("visual.conv1.weight", f"{path}/patch_embedding/projection/kernel")
    reader.copy("visual.class_embedding", f"{path}/class_embedding")
    reader.copy("visual.positional_embedding", f"{path}/position_embedding/embeddings")
    reader.layer_norm("visual.ln_pre", f"{path}/ln_pre")
    _resblocks(reader, "visual.", path, config["num_layers"])
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
    _resblocks(reader, "", path, config["num_layers"])
    reader.layer_norm("ln_final", f"{path}/ln_final")
    if "text_projection.weight" in reader.tensors:  # An nn.Linear in some configs.
        reader.linear("text_projection.weight", f"{path}/projection/kernel")
    else:
        reader.copy("text_projection", f"{path}/projection/kernel")


def convert_tensors(tensors, clip_config, checkpoint="checkpoint"):
    """`(weights, sources)`: open_clip tensors -> kerasmm CLIP weight paths."""
    reader = TensorReader(tensors, ignore=_IGNORED, checkpoint=checkpoint)
    vision = clip_config["vision_encoder"]
    if vision["class_name"] == "ModifiedResNet":
        _modified_resnet(reader, vision["config"])
    else:
        _vision_transformer(reader, vision["config"])
    _text_transformer(reader, clip_config["text_encoder"]["config"])
    reader.copy("logit_scale", "logit_scale", shape=())
    if "logit_bias_init" in clip_config:
        reader.copy("logit_bias", "logit_bias", shape=())
    return reader.finish()


def _strip_prefix(tensors):
    """Training checkpoints prefix every name with `module.` (DDP)."""
    if tensors and all(name.startswith("module.") for name in tensors):
        return {name[len("module."):]: a for name, a in tensors.items()}
    return tensors


def convert(directory, load_weights=True):
    """Converts an open_clip checkpoint directory.

    Args:
        directory: holds `open_clip_config.json` and, if `load_weights`, one
            of `open_clip_model.safetensors`, `model.safetensors`,
            `open_clip_pytorch_model.bin` (needs torch).
        load_weights: read and convert the weights too.

    Returns:
        A `ConvertedCheckpoint` for `kerasmm.models.CLIP`.
    """
    config_path = os.path.join(directory, "open_clip_config.json")
    with open(config_path) as f:
        open_clip_config = json.load(f)
    if not matches(open_clip_config):
        raise ValueError(f"{config_path} has no 'model_cfg' dict; not an open_clip config")
    clip_config, preprocessing = model_config(open_clip_config)
    converted = ConvertedCheckpoint(
        class_name="CLIP", config=clip_config, preprocessing=preprocessing,
        description=f"open_clip checkpoint {directory}")
    if load_weights:
        path = find_weights_file(directory, CONVERTER.weight_files)
        tensors = _strip_prefix(load_tensors(path))
        converted.weights, converted.sources = convert_tensors(
            tensors, clip_config, checkpoint=path)
    return converted


CONVERTER = Converter(
    kind="open_clip",
    config_file="open_clip_config.json",
    weight_files=("open_clip_model.safetensors", "model.safetensors",
                  "open_clip_pytorch_model.bin"),
    asset_files=("vocab.json", "merges.txt"),
    matches=matches,
    convert=convert,
)
