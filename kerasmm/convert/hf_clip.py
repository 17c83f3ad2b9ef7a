"""Hugging Face `transformers` CLIP checkpoints -> kerasmm `CLIP`.

A directory with `config.json` (`"model_type": "clip"`, e.g.
openai/clip-vit-base-patch32, -patch16, clip-vit-large-patch14(-336), or
the HF exports of LAION's ViT-B-32 ... ViT-bigG-14) and `model.safetensors`
(or `pytorch_model.bin`, which needs torch). Any MLP width
(`intermediate_size`: 4x for OpenAI, 4.9231x for ViT-bigG-14 / ViT-g-14),
LayerNorm epsilon and activation of the list below converts.

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

import os

from kerasmm.convert.checkpoint import Converter
from kerasmm.convert.checkpoint import field
from kerasmm.convert.checkpoint import read_json
from kerasmm.utils.constants import LOGIT_SCALE_INIT
from kerasmm.utils.constants import OPENAI_CLIP_MEAN
from kerasmm.utils.constants import OPENAI_CLIP_STD

# transformers' CLIPTextConfig / CLIPVisionConfig fields kerasmm reads: type
# and default (for the keys short configs, e.g. LAION's HF exports, leave out).
_TEXT_FIELDS = {
    "vocab_size": (int, 49408), "hidden_size": (int, 512), "intermediate_size": (int, 2048),
    "num_hidden_layers": (int, 12), "num_attention_heads": (int, 8),
    "max_position_embeddings": (int, 77), "hidden_act": (str, "quick_gelu"),
    "layer_norm_eps": (float, 1e-5), "eos_token_id": (int, 49407),
}
_VISION_FIELDS = {
    "hidden_size": (int, 768), "intermediate_size": (int, 3072),
    "num_hidden_layers": (int, 12), "num_attention_heads": (int, 12),
    "num_channels": (int, 3), "image_size": (int, 224), "patch_size": (int, 32),
    "hidden_act": (str, "quick_gelu"), "layer_norm_eps": (float, 1e-5),
}
# HF `hidden_act` -> kerasmm activation name.
ACTIVATIONS = {
    "quick_gelu": "quick_gelu",
    "gelu": "gelu",
    "gelu_new": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
}


def _tower(config, name, fields):
    """`{field: value}` of `<name>_config`, typed, defaults filled in."""
    where = f"{name}_config"
    tower = {}
    for key in (where, f"{where}_dict"):  # Old configs keep both; the dict wins.
        tower.update(field(config, key, dict, {}))
    tower = {key: field(tower, key, kind, default, where)
             for key, (kind, default) in fields.items()}
    if tower["hidden_act"] not in ACTIVATIONS:
        raise ValueError(
            f"Unsupported {where} hidden_act. Expected one of "
            f"{sorted(ACTIVATIONS)}. Received: hidden_act={tower['hidden_act']!r}"
        )
    return tower


def _transformer_args(tower):
    """Constructor arguments both CLIP transformer towers take."""
    width, mlp = tower["hidden_size"], tower["intermediate_size"]
    return {
        "hidden_dim": width,
        "num_layers": tower["num_hidden_layers"],
        "num_heads": tower["num_attention_heads"],
        "activation": ACTIVATIONS[tower["hidden_act"]],
        "layer_norm_epsilon": tower["layer_norm_eps"],
        "intermediate_dim": None if mlp == 4 * width else mlp,
    }


class HFCLIPConverter(Converter):
    kind = "hf_clip"
    class_name = "CLIP"
    asset_files = ("vocab.json", "merges.txt", "preprocessor_config.json")
    ignore = ("position_ids",)  # A buffer some HF checkpoints hold.
    prefixes = ("clip.", "model.")  # Some exports prefix every name.
    description = "Hugging Face CLIP"

    def matches(self, config):
        return config.get("model_type") == "clip"

    def model_config(self, config):
        vision = _tower(config, "vision", _VISION_FIELDS)
        text = _tower(config, "text", _TEXT_FIELDS)
        if vision["num_channels"] != 3:
            raise ValueError(f"Only RGB images are supported. Received: vision_config "
                             f"num_channels={vision['num_channels']}")
        projection_dim = field(config, "projection_dim", int, 512)
        eos = text["eos_token_id"]
        eot_token_id = None if eos == 2 else eos
        if eot_token_id is not None and not 0 <= eot_token_id < text["vocab_size"]:
            raise ValueError(
                "text_config eos_token_id must be 2 (argmax pooling) or an id in "
                f"[0, vocab_size). Received: eos_token_id={eos}, "
                f"vocab_size={text['vocab_size']}"
            )
        vision_encoder = {"image_size": vision["image_size"],
                          "patch_size": vision["patch_size"],
                          "output_dim": projection_dim, **_transformer_args(vision)}
        text_encoder = {"vocabulary_size": text["vocab_size"],
                        "context_length": text["max_position_embeddings"],
                        "output_dim": projection_dim, "eot_token_id": eot_token_id,
                        **_transformer_args(text)}
        return {
            "vision_encoder": {"class_name": "VisionTransformer", "config": vision_encoder},
            "text_encoder": {"class_name": "TextTransformer", "config": text_encoder},
            "logit_scale_init": field(config, "logit_scale_init_value", float,
                                      LOGIT_SCALE_INIT),
        }

    def preprocessing(self, config, directory):
        """CLIP's defaults, then mean and std of `preprocessor_config.json`."""
        preprocessing = {
            "image_size": _tower(config, "vision", _VISION_FIELDS)["image_size"],
            "mean": list(OPENAI_CLIP_MEAN),
            "std": list(OPENAI_CLIP_STD),
            "interpolation": "bicubic",
            "context_length": _tower(config, "text", _TEXT_FIELDS)["max_position_embeddings"],
        }
        path = os.path.join(directory, "preprocessor_config.json")
        if os.path.isfile(path):
            processor = read_json(path)
            for key, target in (("image_mean", "mean"), ("image_std", "std")):
                values = field(processor, key, list, None, "preprocessor_config.json")
                if values is not None:
                    preprocessing[target] = [float(v) for v in values]
        return preprocessing

    def name_map(self, reader, config, model_config):
        v, t = "vision_model", "text_model"
        vision = model_config["vision_encoder"]["config"]
        text = model_config["text_encoder"]["config"]
        reader.copy(f"{v}.embeddings.class_embedding", "vision_encoder/class_embedding")
        reader.conv(f"{v}.embeddings.patch_embedding.weight",
                    "vision_encoder/patch_embedding/projection/kernel")
        reader.copy(f"{v}.embeddings.position_embedding.weight",
                    "vision_encoder/position_embedding/embeddings")
        reader.layer_norm(f"{v}.pre_layrnorm", "vision_encoder/ln_pre")
        encoder_layers(reader, v, "vision_encoder", vision)
        reader.layer_norm(f"{v}.post_layernorm", "vision_encoder/ln_post")
        reader.linear("visual_projection.weight", "vision_encoder/projection/kernel")

        reader.copy(f"{t}.embeddings.token_embedding.weight",
                    "text_encoder/token_embedding/embeddings")
        reader.copy(f"{t}.embeddings.position_embedding.weight",
                    "text_encoder/position_embedding/embeddings")
        encoder_layers(reader, t, "text_encoder", text)
        reader.layer_norm(f"{t}.final_layer_norm", "text_encoder/ln_final")
        reader.linear("text_projection.weight", "text_encoder/projection/kernel")
        reader.copy("logit_scale", "logit_scale", shape=())


def encoder_layers(reader, prefix, path, tower):
    """Maps `<prefix>.encoder.layers.i` (CLIP and SigLIP) to `<path>/block_i`."""
    width = tower["hidden_dim"]
    mlp = tower["intermediate_dim"] or 4 * width
    for i in range(tower["num_layers"]):
        src, dst = f"{prefix}.encoder.layers.{i}", f"{path}/block_{i}"
        reader.layer_norm(f"{src}.layer_norm1", f"{dst}/attention_norm")
        for hf_name, keras_name in (("q_proj", "query"), ("k_proj", "key"),
                                    ("v_proj", "value"), ("out_proj", "output")):
            reader.dense(f"{src}.self_attn.{hf_name}", f"{dst}/attention/{keras_name}",
                         (width, width))
        reader.layer_norm(f"{src}.layer_norm2", f"{dst}/mlp_norm")
        reader.dense(f"{src}.mlp.fc1", f"{dst}/mlp/dense_1", (mlp, width))
        reader.dense(f"{src}.mlp.fc2", f"{dst}/mlp/dense_2", (width, mlp))


CONVERTER = HFCLIPConverter()
