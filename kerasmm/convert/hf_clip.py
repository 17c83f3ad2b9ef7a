"""Hugging Face `transformers` CLIP checkpoints -> kerasmm `CLIP`.

A directory with `config.json` (`"model_type": "clip"`, e.g.
openai/clip-vit-base-patch32, -patch16, clip-vit-large-patch14(-336), or
the HF export of laion/CLIP-ViT-B-32-laion2B-s34B-b79K) and
`model.safetensors` (or `pytorch_model.bin`, which needs torch).

Name map (HF -> kerasmm), per tower `T` (`vision_model` ->
`vision_encoder`, `text_model` -> `text_encoder`):

    vision_model.embeddings.class_embedding     class_embedding
    vision_model.embeddings.patch_embedding     patch_embedding/projection  (OIHW -> HWIO)
    vision_model.embeddings.position_embedding  position_embedding/embeddings
    vision_model.pre_layrnorm / post_layernorm  ln_pre / ln_post
    text_model.embeddings.token_embedding       token_embedding/embeddings
    text_model.embeddings.position_embedding    position_embedding/embeddings
    text_model.final_layer_norm                 ln_final
    T.encoder.layers.i.layer_norm1 / 2          block_i/attention_norm / mlp_norm
    T.encoder.layers.i.self_attn.q/k/v_proj     block_i/attention/query/key/value  (transposed)
    T.encoder.layers.i.self_attn.out_proj       block_i/attention/output           (transposed)
    T.encoder.layers.i.mlp.fc1 / fc2            block_i/mlp/dense_1 / dense_2      (transposed)
    visual_projection / text_projection         vision_encoder / text_encoder projection (transposed)
    logit_scale                                 logit_scale

Text pooling, as HF does it: a config whose `eos_token_id` is 2 (the
original OpenAI exports, before transformers PR #24773) pools at the argmax
of the token ids (`eot_token_id=None`); any other `eos_token_id` pools at
the first position holding it (`eot_token_id=eos_token_id`).
"""

import json
import os

from kerasmm.convert.checkpoint import ConvertedCheckpoint
from kerasmm.convert.checkpoint import Converter
from kerasmm.convert.checkpoint import TensorReader
from kerasmm.convert.checkpoint import read_hf_config
from kerasmm.convert.safetensors_io import find_weights_file
from kerasmm.convert.safetensors_io import load_tensors

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# transformers' CLIPTextConfig / CLIPVisionConfig defaults, for the keys
# that short configs (e.g. LAION's HF exports) leave out.
_TEXT_DEFAULTS = {
    "vocab_size": 49408, "hidden_size": 512, "intermediate_size": 2048,
    "num_hidden_layers": 12, "num_attention_heads": 8, "max_position_embeddings": 77,
    "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "eos_token_id": 49407,
}
_VISION_DEFAULTS = {
    "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
    "num_attention_heads": 12, "num_channels": 3, "image_size": 224, "patch_size": 32,
    "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5,
}
# HF `hidden_act` -> kerasmm activation name.
ACTIVATIONS = {
    "quick_gelu": "quick_gelu",
    "gelu": "gelu",
    "gelu_new": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
}
# Buffers some HF checkpoints hold that are not weights.
_IGNORED = ("position_ids",)


def matches(config):
    return config.get("model_type") == "clip"


def _tower_config(config, name, defaults):
    tower = dict(defaults)
    tower.update(config.get(f"{name}_config") or {})
    tower.update(config.get(f"{name}_config_dict") or {})  # Old configs keep both.
    if tower["intermediate_size"] != 4 * tower["hidden_size"]:
        raise ValueError(
            f"kerasmm's CLIP towers use an MLP 4x as wide as the model. Received: "
            f"{name}_config intermediate_size={tower['intermediate_size']}, "
            f"hidden_size={tower['hidden_size']}"
        )
    if tower["hidden_act"] not in ACTIVATIONS:
        raise ValueError(
            f"Unsupported {name}_config hidden_act. Expected one of "
            f"{sorted(ACTIVATIONS)}. Received: hidden_act={tower['hidden_act']!r}"
        )
    return tower


def model_config(config):
    """`(constructor config of CLIP, preprocessing)` from an HF config dict."""
    vision = _tower_config(config, "vision", _VISION_DEFAULTS)
    text = _tower_config(config, "text", _TEXT_DEFAULTS)
    if vision["num_channels"] != 3:
        raise ValueError(f"Only RGB images are supported. Received: vision_config "
                         f"num_channels={vision['num_channels']}")
    projection_dim = config.get("projection_dim", 512)
    eos = text["eos_token_id"]
    eot_token_id = None if eos == 2 else eos
    if eot_token_id is not None and not 0 <= eot_token_id < text["vocab_size"]:
        raise ValueError(
            "text_config eos_token_id must be 2 (argmax pooling) or an id in "
            f"[0, vocab_size). Received: eos_token_id={eos}, "
            f"vocab_size={text['vocab_size']}"
        )
    vision_encoder = {
        "image_size": vision["image_size"],
        "patch_size": vision["patch_size"],
        "hidden_dim": vision["hidden_size"],
        "num_layers": vision["num_hidden_layers"],
        "num_heads": vision["num_attention_heads"],
        "output_dim": projection_dim,
        "activation": ACTIVATIONS[vision["hidden_act"]],
        "layer_norm_epsilon": vision["layer_norm_eps"],
    }
    text_encoder = {
        "vocabulary_size": text["vocab_size"],
        "context_length": text["max_position_embeddings"],
        "hidden_dim": text["hidden_size"],
        "num_layers": text["num_hidden_layers"],
        "num_heads": text["num_attention_heads"],
        "output_dim": projection_dim,
        "activation": ACTIVATIONS[text["hidden_act"]],
        "eot_token_id": eot_token_id,
        "layer_norm_epsilon": text["layer_norm_eps"],
    }
    clip_config = {
        "vision_encoder": {"class_name": "VisionTransformer", "config": vision_encoder},
        "text_encoder": {"class_name": "TextTransformer", "config": text_encoder},
        "logit_scale_init": float(config.get("logit_scale_init_value", 2.6592)),
    }
    preprocessing = {
        "image_size": vision["image_size"],
        "mean": list(OPENAI_CLIP_MEAN),
        "std": list(OPENAI_CLIP_STD),
        "interpolation": "bicubic",
        "context_length": text["max_position_embeddings"],
    }
    return clip_config, preprocessing, vision["num_hidden_layers"], text["num_hidden_layers"]


def _read_preprocessor_config(directory, preprocessing):
    """Mean, std and crop size from `preprocessor_config.json`, if present."""
    path = os.path.join(directory, "preprocessor_config.json")
    if not os.path.isfile(path):
        return preprocessing
    with open(path) as f:
        processor = json.load(f)
    preprocessing = dict(preprocessing)
    for key, target in (("image_mean", "mean"), ("image_std", "std")):
        if processor.get(key) is not None:
            preprocessing[target] = [float(v) for v in processor[key]]
    return preprocessing


def _encoder_layers(reader, prefix, path, num_layers):
    for i in range(num_layers):
        src, dst = f"{prefix}.encoder.layers.{i}", f"{path}/block_{i}"
        reader.layer_norm(f"{src}.layer_norm1", f"{dst}/attention_norm")
        for hf_name, keras_name in (("q_proj", "query"), ("k_proj", "key"),
                                    ("v_proj", "value"), ("out_proj", "output")):
            reader.dense(f"{src}.self_attn.{hf_name}", f"{dst}/attention/{keras_name}")
        reader.layer_norm(f"{src}.layer_norm2", f"{dst}/mlp_norm")
        reader.dense(f"{src}.mlp.fc1", f"{dst}/mlp/dense_1")
        reader.dense(f"{src}.mlp.fc2", f"{dst}/mlp/dense_2")


def convert_tensors(tensors, vision_layers, text_layers, checkpoint="checkpoint"):
    """`(weights, sources)`: HF CLIP tensors -> kerasmm CLIP weight paths."""
    reader = TensorReader(tensors, ignore=_IGNORED, checkpoint=checkpoint)
    v, t = "vision_model", "text_model"
    reader.copy(f"{v}.embeddings.class_embedding", "vision_encoder/class_embedding")
    reader.conv(f"{v}.embeddings.patch_embedding.weight",
                "vision_encoder/patch_embedding/projection/kernel")
    reader.copy(f"{v}.embeddings.position_embedding.weight",
                "vision_encoder/position_embedding/embeddings")
    reader.layer_norm(f"{v}.pre_layrnorm", "vision_encoder/ln_pre")
    _encoder_layers(reader, v, "vision_encoder", vision_layers)
    reader.layer_norm(f"{v}.post_layernorm", "vision_encoder/ln_post")
    reader.linear("visual_projection.weight", "vision_encoder/projection/kernel")

    reader.copy(f"{t}.embeddings.token_embedding.weight",
                "text_encoder/token_embedding/embeddings")
    reader.copy(f"{t}.embeddings.position_embedding.weight",
                "text_encoder/position_embedding/embeddings")
    _encoder_layers(reader, t, "text_encoder", text_layers)
    reader.layer_norm(f"{t}.final_layer_norm", "text_encoder/ln_final")
    reader.linear("text_projection.weight", "text_encoder/projection/kernel")
    reader.copy("logit_scale", "logit_scale", shape=())
    return reader.finish()


def _strip_prefix(tensors):
    """Some exports prefix every name with `clip.` or `model.`."""
    for prefix in ("clip.", "model."):
        if tensors and all(name.startswith(prefix) for name in tensors):
            return {name[len(prefix):]: a for name, a in tensors.items()}
    return tensors


def convert(directory, load_weights=True):
    """Converts an HF CLIP checkpoint directory.

    Args:
        directory: holds `config.json` and, if `load_weights`,
            `model.safetensors` (or `pytorch_model.bin`).
        load_weights: read and convert the weights too.

    Returns:
        A `ConvertedCheckpoint` for `kerasmm.models.CLIP`.
    """
    config = read_hf_config(directory, matches, "CLIP")
    clip_config, preprocessing, vision_layers, text_layers = model_config(config)
    preprocessing = _read_preprocessor_config(directory, preprocessing)
    converted = ConvertedCheckpoint(
        class_name="CLIP", config=clip_config, preprocessing=preprocessing,
        description=f"Hugging Face CLIP checkpoint {directory}")
    if load_weights:
        path = find_weights_file(directory, CONVERTER.weight_files)
        tensors = _strip_prefix(load_tensors(path))
        converted.weights, converted.sources = convert_tensors(
            tensors, vision_layers, text_layers, checkpoint=path)
    return converted


CONVERTER = Converter(
    kind="hf_clip",
    config_file="config.json",
    weight_files=("model.safetensors", "pytorch_model.bin"),
    asset_files=("vocab.json", "merges.txt", "preprocessor_config.json"),
    matches=matches,
    convert=convert,
)
