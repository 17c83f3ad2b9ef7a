"""Hugging Face `transformers` SigLIP checkpoints -> kerasmm `SigLIP`.

A directory with `config.json` (`"model_type": "siglip"`) and
`model.safetensors` (or `pytorch_model.bin`, which needs torch): SigLIP
(google/siglip-base-patch16-224, -so400m-patch14-384, ...) and SigLIP 2 at
a fixed resolution (google/siglip2-base-patch16-224, ...), which Hugging
Face stores as `siglip` too (`SiglipModel`; only the vocabulary, 256k, and
the tokenizer, Gemma's, differ). `"model_type": "siglip2"` is Hugging
Face's NaFlex variant (`Siglip2Model`: variable resolution and aspect
ratio, a linear patch embedding on flattened patches, positions resized per
image); it is recognised and refused with an explanation.

Name map (HF -> kerasmm), per tower `T` (`vision_model` ->
`vision_encoder`, `text_model` -> `text_encoder`):

    vision_model.embeddings.patch_embedding      patch_embedding/projection  (OIHW -> HWIO, bias)
    vision_model.embeddings.position_embedding   position_embedding/embeddings
    vision_model.post_layernorm                  ln_post
    vision_model.head.probe                      head/probe
    vision_model.head.attention.in_proj_*        head/attention/query/key/value  (split, transposed)
    vision_model.head.attention.out_proj         head/attention/output           (transposed)
    vision_model.head.layernorm / mlp.fc1 / fc2  head/layer_norm / mlp/dense_1 / dense_2
    text_model.embeddings.token_embedding        token_embedding/embeddings
    text_model.embeddings.position_embedding     position_embedding/embeddings
    text_model.final_layer_norm / head           ln_final / head                 (transposed)
    T.encoder.layers.i                           block_i (as in kerasmm.convert.hf_clip)
    logit_scale / logit_bias  (shape (1,))       logit_scale / logit_bias  (scalars)

Preprocessing: the image size of the config, mean and std of
`preprocessor_config.json` (default 0.5), bilinear resizing as big_vision
trained; the text context length of the config and the tokenizer of the
directory: `spiece.model` (SigLIP: lowercased, punctuation removed,
`</s>` as end and pad token) or `tokenizer.model` (SigLIP 2, Gemma's:
lowercased, `<eos>` end token, `<pad>` padding).
"""

import os

from kerasmm.convert.checkpoint import Converter
from kerasmm.convert.checkpoint import field
from kerasmm.convert.checkpoint import read_json
from kerasmm.convert.hf_clip import ACTIVATIONS
from kerasmm.convert.hf_clip import encoder_layers
from kerasmm.utils.constants import HALF_MEAN
from kerasmm.utils.constants import HALF_STD

# transformers' SiglipTextConfig / SiglipVisionConfig fields kerasmm reads:
# type and default (configs list only what differs from these).
_COMMON_FIELDS = {
    "hidden_size": (int, 768), "intermediate_size": (int, 3072),
    "num_hidden_layers": (int, 12), "num_attention_heads": (int, 12),
    "hidden_act": (str, "gelu_pytorch_tanh"), "layer_norm_eps": (float, 1e-6),
}
_TEXT_FIELDS = {**_COMMON_FIELDS, "vocab_size": (int, 32000),
                "max_position_embeddings": (int, 64), "projection_size": (int, None)}
_VISION_FIELDS = {**_COMMON_FIELDS, "num_channels": (int, 3), "image_size": ((int, list), 224),
                  "patch_size": ((int, list), 16), "vision_use_head": (bool, True)}
_PROCESSOR = "preprocessor_config.json"
# The tokenizer file of each SigLIP generation and its settings.
TOKENIZERS = {
    "spiece.model": {"lowercase": True, "canonicalize": True,
                     "end_token": "</s>", "pad_token": "</s>"},
    "tokenizer.model": {"lowercase": True, "canonicalize": False,
                        "end_token": "<eos>", "pad_token": "<pad>"},
}


def _tower(config, name, fields):
    """`{field: value}` of `<name>_config`, typed, defaults filled in."""
    where = f"{name}_config"
    tower = field(config, where, dict, {})
    tower = {key: field(tower, key, kind, default, where)
             for key, (kind, default) in fields.items()}
    if tower["hidden_act"] not in ACTIVATIONS:
        raise ValueError(f"Unsupported {where} hidden_act. Expected one of "
                         f"{sorted(ACTIVATIONS)}. Received: hidden_act={tower['hidden_act']!r}")
    return tower


def _square(tower, key):
    """An int, or a `[n, n]` list as Hugging Face allows, as an int."""
    value = tower[key]
    if isinstance(value, list):
        if len(value) != 2 or value[0] != value[1] or not isinstance(value[0], int):
            raise ValueError(f"vision_config {key} must be an int or a square [n, n]. "
                             f"Received: {key}={value!r}")
        value = value[0]
    return value


def _transformer_args(tower):
    return {
        "hidden_dim": tower["hidden_size"],
        "num_layers": tower["num_hidden_layers"],
        "num_heads": tower["num_attention_heads"],
        "intermediate_dim": tower["intermediate_size"],
        "activation": ACTIVATIONS[tower["hidden_act"]],
        "layer_norm_epsilon": tower["layer_norm_eps"],
    }


def _scalar(reader, name):
    """A `(1,)` (or 0-d) parameter as a scalar."""
    array = reader.take(name, path=name)
    if array.size != 1:
        raise ValueError(f"{reader.checkpoint}: tensor {name!r} must hold one value. "
                         f"Received: shape {array.shape}")
    reader.put(name, array.reshape(()), f"{name} (as a scalar)")


class HFSigLIPConverter(Converter):
    kind = "hf_siglip"
    class_name = "SigLIP"
    asset_files = (*TOKENIZERS, _PROCESSOR)
    ignore = ("position_ids",)  # A buffer older HF checkpoints hold.
    description = "Hugging Face SigLIP"

    def matches(self, config):
        return config.get("model_type") in ("siglip", "siglip2")

    def model_config(self, config):
        if config.get("model_type") == "siglip2":
            raise ValueError(
                "model_type 'siglip2' is Hugging Face's SigLIP 2 NaFlex variant "
                "(Siglip2Model: native aspect ratio and variable resolution, a linear "
                "patch embedding on flattened patches, position embeddings resized per "
                "image), which kerasmm does not implement. The fixed-resolution SigLIP 2 "
                "checkpoints (e.g. google/siglip2-base-patch16-224) are model_type "
                "'siglip' and convert")
        vision = _tower(config, "vision", _VISION_FIELDS)
        text = _tower(config, "text", _TEXT_FIELDS)
        if vision["num_channels"] != 3:
            raise ValueError(f"Only RGB images are supported. Received: vision_config "
                             f"num_channels={vision['num_channels']}")
        if not vision["vision_use_head"]:
            raise ValueError("SigLIP needs the vision attention-pooling head. Received: "
                             "vision_config vision_use_head=false")
        projection = text["projection_size"] or text["hidden_size"]
        if projection != vision["hidden_size"]:
            raise ValueError(
                "The text projection_size must equal the vision hidden_size (the two "
                f"embeddings are compared). Received: projection_size={projection}, "
                f"vision hidden_size={vision['hidden_size']}")
        vision_encoder = {"image_size": _square(vision, "image_size"),
                          "patch_size": _square(vision, "patch_size"),
                          **_transformer_args(vision)}
        text_encoder = {"vocabulary_size": text["vocab_size"],
                        "context_length": text["max_position_embeddings"],
                        "output_dim": projection, **_transformer_args(text)}
        return {
            "vision_encoder": {"class_name": "SigLIPVisionEncoder", "config": vision_encoder},
            "text_encoder": {"class_name": "SigLIPTextEncoder", "config": text_encoder},
        }

    def preprocessing(self, config, directory):
        """Image size and context length of the config, mean and std of
        `preprocessor_config.json`, the tokenizer file the directory has."""
        vision = _tower(config, "vision", _VISION_FIELDS)
        text = _tower(config, "text", _TEXT_FIELDS)
        path = os.path.join(directory, _PROCESSOR)
        processor = read_json(path) if os.path.isfile(path) else {}
        preprocessing = {
            "image_size": _square(vision, "image_size"),
            "mean": [float(v) for v in field(processor, "image_mean", list, HALF_MEAN,
                                             _PROCESSOR)],
            "std": [float(v) for v in field(processor, "image_std", list, HALF_STD,
                                            _PROCESSOR)],
            "interpolation": "bilinear",
            "antialias": False,
            "context_length": text["max_position_embeddings"],
        }
        for filename, settings in TOKENIZERS.items():
            if os.path.isfile(os.path.join(directory, filename)):
                preprocessing.update(tokenizer_file=filename, **settings)
                break
        return preprocessing

    def name_map(self, reader, config, model_config):
        v, t = "vision_model", "text_model"
        vision = model_config["vision_encoder"]["config"]
        text = model_config["text_encoder"]["config"]
        width, mlp = vision["hidden_dim"], vision["intermediate_dim"]
        reader.conv(f"{v}.embeddings.patch_embedding.weight",
                    "vision_encoder/patch_embedding/projection/kernel")
        reader.copy(f"{v}.embeddings.patch_embedding.bias",
                    "vision_encoder/patch_embedding/projection/bias", (width,))
        reader.copy(f"{v}.embeddings.position_embedding.weight",
                    "vision_encoder/position_embedding/embeddings")
        encoder_layers(reader, v, "vision_encoder", vision)
        reader.layer_norm(f"{v}.post_layernorm", "vision_encoder/ln_post")
        reader.copy(f"{v}.head.probe", "vision_encoder/head/probe", (1, 1, width))
        reader.packed_qkv(f"{v}.head.attention", "vision_encoder/head/attention")
        reader.dense(f"{v}.head.attention.out_proj", "vision_encoder/head/attention/output",
                     (width, width))
        reader.layer_norm(f"{v}.head.layernorm", "vision_encoder/head/layer_norm")
        reader.dense(f"{v}.head.mlp.fc1", "vision_encoder/head/mlp/dense_1", (mlp, width))
        reader.dense(f"{v}.head.mlp.fc2", "vision_encoder/head/mlp/dense_2", (width, mlp))

        for table in ("token_embedding", "position_embedding"):
            reader.copy(f"{t}.embeddings.{table}.weight", f"text_encoder/{table}/embeddings")
        encoder_layers(reader, t, "text_encoder", text)
        reader.layer_norm(f"{t}.final_layer_norm", "text_encoder/ln_final")
        reader.dense(f"{t}.head", "text_encoder/head", (text["output_dim"], text["hidden_dim"]))
        _scalar(reader, "logit_scale")
        _scalar(reader, "logit_bias")


CONVERTER = HFSigLIPConverter()
