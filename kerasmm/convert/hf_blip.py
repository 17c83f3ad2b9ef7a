"""Hugging Face `transformers` BLIP checkpoints -> kerasmm BLIP tasks.

A directory with `config.json` (`"model_type": "blip"`) and
`model.safetensors` (or `pytorch_model.bin`, which needs torch). The head
is read from `architectures`:

    BlipForConditionalGeneration  ImageCaptioner        (Salesforce/blip-image-captioning-*)
    BlipForQuestionAnswering      BLIPQuestionAnswerer  (Salesforce/blip-vqa-*)
    BlipForImageTextRetrieval     ImageTextMatcher      (Salesforce/blip-itm-*)
                                  over a BLIPBackbone (its towers' weights keep
                                  their names: vision_encoder/..., text_encoder/...)

Name map (HF -> kerasmm); `V` = `vision_model` -> `vision_encoder`, `T` a
BERT (`text_decoder.bert` -> `text_decoder`, `text_encoder` -> the same):

    V.embeddings.class_embedding (1, 1, D)       class_embedding (D,)
    V.embeddings.patch_embedding                 patch_embedding/projection  (OIHW -> HWIO, bias)
    V.embeddings.position_embedding (1, N+1, D)  position_embedding/embeddings (N+1, D)
    V.encoder.layers.i.layer_norm1 / 2           block_i/attention_norm / mlp_norm
    V.encoder.layers.i.self_attn.qkv             block_i/attention/query/key/value (split, transposed)
    V.encoder.layers.i.self_attn.projection      block_i/attention/output
    V.encoder.layers.i.mlp.fc1 / fc2             block_i/mlp/dense_1 / dense_2
    V.post_layernorm                             ln_post
    T.embeddings.word / position_embeddings      token_embedding / position_embedding
    T.embeddings.LayerNorm                       embedding_norm
    T.encoder.layer.i.attention.self.q/k/v       layer_i/self_attention/query/key/value
    T.encoder.layer.i.attention.output.dense     layer_i/self_attention/output
    T.encoder.layer.i.attention.output.LayerNorm layer_i/self_attention_norm
    T.encoder.layer.i.crossattention.*           layer_i/cross_attention*  (likewise)
    T.encoder.layer.i.intermediate.dense         layer_i/mlp/dense_1
    T.encoder.layer.i.output.dense / LayerNorm   layer_i/mlp/dense_2 / mlp_norm
    text_decoder.cls.predictions.transform.*     text_decoder/head_dense / head_norm
    text_decoder.cls.predictions.bias            text_decoder/head_bias
    text_decoder.cls.predictions.decoder.*       tied: must equal the word embeddings / bias
    vision_proj / text_proj / itm_head           image_projection / text_projection / itm_head

Special tokens (BLIP's `BertTokenizer` with `[DEC]` and `[ENC]` added):
generation starts at `text_config.bos_token_id` (`[DEC]`), ends at
`sep_token_id` (`[SEP]`) and pads with `pad_token_id`, as
`BlipForConditionalGeneration.generate` does. Preprocessing: the vision
image size, bicubic resizing, mean and std of `preprocessor_config.json`
(OpenAI CLIP's by default), `vocab.txt` (`[DEC]` / `[ENC]` appended when it
does not list them) lowercased.
"""

import os

import numpy as np

from kerasmm.convert.checkpoint import Converter
from kerasmm.convert.checkpoint import field
from kerasmm.convert.checkpoint import read_json
from kerasmm.utils.constants import OPENAI_CLIP_MEAN
from kerasmm.utils.constants import OPENAI_CLIP_STD

# transformers' BlipTextConfig / BlipVisionConfig fields kerasmm reads: type
# and default (configs list only what differs from these).
_TEXT_FIELDS = {
    "vocab_size": (int, 30524), "hidden_size": (int, 768), "intermediate_size": (int, 3072),
    "num_hidden_layers": (int, 12), "num_attention_heads": (int, 8),
    "max_position_embeddings": (int, 512), "hidden_act": (str, "gelu"),
    "layer_norm_eps": (float, 1e-12), "bos_token_id": (int, 30522),
    "sep_token_id": (int, 102), "pad_token_id": (int, 0),
}
_VISION_FIELDS = {
    "hidden_size": (int, 768), "intermediate_size": (int, 3072),
    "num_hidden_layers": (int, 12), "num_attention_heads": (int, 12),
    "image_size": (int, 384), "patch_size": (int, 16), "hidden_act": (str, "gelu"),
    "layer_norm_eps": (float, 1e-5),
}
# HF architecture -> the kerasmm class built.
HEADS = {
    "BlipForConditionalGeneration": "ImageCaptioner",
    "BlipForQuestionAnswering": "BLIPQuestionAnswerer",
    "BlipForImageTextRetrieval": "ImageTextMatcher",
}
_PROCESSOR = "preprocessor_config.json"
VOCABULARY_FILE = "vocab.txt"


def _tower(config, name, fields):
    where = f"{name}_config"
    tower = field(config, where, dict, {})
    tower = {key: field(tower, key, kind, default, where)
             for key, (kind, default) in fields.items()}
    if tower["hidden_act"] != "gelu":
        raise ValueError(f"Unsupported {where} hidden_act. Expected 'gelu'. "
                         f"Received: hidden_act={tower['hidden_act']!r}")
    return tower


def _head(config):
    architectures = field(config, "architectures", list, [])
    heads = [HEADS[a] for a in architectures if a in HEADS]
    if not heads:
        raise ValueError(f"architectures must name one of {sorted(HEADS)} (BlipModel, the "
                         f"contrastive-only model, is not converted). Received: "
                         f"architectures={architectures}")
    return heads[0]


def _bert_args(text, cross_attention_dim):
    return {"vocabulary_size": text["vocab_size"], "hidden_dim": text["hidden_size"],
            "num_layers": text["num_hidden_layers"],
            "num_heads": text["num_attention_heads"],
            "intermediate_dim": text["intermediate_size"],
            "max_sequence_length": text["max_position_embeddings"],
            "cross_attention_dim": cross_attention_dim,
            "layer_norm_epsilon": text["layer_norm_eps"]}


def vision_layers(reader, prefix, path, tower):
    """Maps `<prefix>.encoder.layers.i` (BLIP's ViT) to `<path>/block_i`."""
    width, mlp = tower["hidden_dim"], tower["intermediate_dim"]
    for i in range(tower["num_layers"]):
        src, dst = f"{prefix}.encoder.layers.{i}", f"{path}/block_{i}"
        reader.layer_norm(f"{src}.layer_norm1", f"{dst}/attention_norm")
        weight = reader.take(f"{src}.self_attn.qkv.weight", (3 * width, width))
        bias = reader.take(f"{src}.self_attn.qkv.bias", (3 * width,))
        for part, w, b in zip(("query", "key", "value"), np.split(weight, 3),
                              np.split(bias, 3)):
            reader.put(f"{dst}/attention/{part}/kernel", w.T,
                       f"{src}.self_attn.qkv.weight[{part}] (transposed)")
            reader.put(f"{dst}/attention/{part}/bias", b, f"{src}.self_attn.qkv.bias[{part}]")
        reader.dense(f"{src}.self_attn.projection", f"{dst}/attention/output", (width, width))
        reader.layer_norm(f"{src}.layer_norm2", f"{dst}/mlp_norm")
        reader.dense(f"{src}.mlp.fc1", f"{dst}/mlp/dense_1", (mlp, width))
        reader.dense(f"{src}.mlp.fc2", f"{dst}/mlp/dense_2", (width, mlp))


def vision_encoder(reader, tower):
    v, path = "vision_model", "vision_encoder"
    width = tower["hidden_dim"]
    num_positions = (tower["image_size"] // tower["patch_size"]) ** 2 + 1
    reader.put(f"{path}/class_embedding",
               reader.take(f"{v}.embeddings.class_embedding", (1, 1, width)).reshape(width),
               f"{v}.embeddings.class_embedding (flattened)")
    reader.conv(f"{v}.embeddings.patch_embedding.weight",
                f"{path}/patch_embedding/projection/kernel")
    reader.copy(f"{v}.embeddings.patch_embedding.bias",
                f"{path}/patch_embedding/projection/bias", (width,))
    reader.put(f"{path}/position_embedding/embeddings",
               reader.take(f"{v}.embeddings.position_embedding",
                           (1, num_positions, width))[0],
               f"{v}.embeddings.position_embedding (squeezed)")
    vision_layers(reader, v, path, tower)
    reader.layer_norm(f"{v}.post_layernorm", f"{path}/ln_post")


def _attention(reader, src, dst, width, context_width):
    for part in ("query", "key", "value"):
        reader.dense(f"{src}.self.{part}", f"{dst}/{part}",
                     (width, width if part == "query" else context_width))
    reader.dense(f"{src}.output.dense", f"{dst}/output", (width, width))


def bert(reader, prefix, path, tower):
    """Maps a BLIP BERT (`<prefix>.embeddings`, `<prefix>.encoder.layer.i`)."""
    width, mlp = tower["hidden_dim"], tower["intermediate_dim"]
    reader.copy(f"{prefix}.embeddings.word_embeddings.weight", f"{path}/token_embedding/embeddings")
    reader.copy(f"{prefix}.embeddings.position_embeddings.weight",
                f"{path}/position_embedding/embeddings")
    reader.layer_norm(f"{prefix}.embeddings.LayerNorm", f"{path}/embedding_norm")
    for i in range(tower["num_layers"]):
        src, dst = f"{prefix}.encoder.layer.{i}", f"{path}/layer_{i}"
        _attention(reader, f"{src}.attention", f"{dst}/self_attention", width, width)
        reader.layer_norm(f"{src}.attention.output.LayerNorm", f"{dst}/self_attention_norm")
        if tower["cross_attention_dim"] is not None:
            _attention(reader, f"{src}.crossattention", f"{dst}/cross_attention", width,
                       tower["cross_attention_dim"])
            reader.layer_norm(f"{src}.crossattention.output.LayerNorm",
                              f"{dst}/cross_attention_norm")
        reader.dense(f"{src}.intermediate.dense", f"{dst}/mlp/dense_1", (mlp, width))
        reader.dense(f"{src}.output.dense", f"{dst}/mlp/dense_2", (width, mlp))
        reader.layer_norm(f"{src}.output.LayerNorm", f"{dst}/mlp_norm")


def _check_tied(reader, name, expected):
    """A stored copy of a tied tensor: read (so it is not left over) and checked."""
    if name in reader.tensors and name not in reader.used:
        array = reader.take(name, expected.shape)
        if not np.array_equal(array, expected):
            raise ValueError(f"{reader.checkpoint}: {name!r} differs from the tensor it is "
                             "tied to; kerasmm's BLIP decoder ties them")


def text_decoder(reader, tower):
    p, path = "text_decoder", "text_decoder"
    bert(reader, f"{p}.bert", path, tower)
    head = f"{p}.cls.predictions"
    reader.dense(f"{head}.transform.dense", f"{path}/head_dense",
                 (tower["hidden_dim"], tower["hidden_dim"]))
    reader.layer_norm(f"{head}.transform.LayerNorm", f"{path}/head_norm")
    # Exports keep the tied bias under either name (or both, checked equal below).
    bias = f"{head}.bias" if f"{head}.bias" in reader.tensors else f"{head}.decoder.bias"
    reader.copy(bias, f"{path}/head_bias", (tower["vocabulary_size"],))
    _check_tied(reader, f"{head}.decoder.weight", reader.weights[f"{path}/token_embedding/embeddings"])
    _check_tied(reader, f"{head}.decoder.bias", reader.weights[f"{path}/head_bias"])


class HFBLIPConverter(Converter):
    kind = "hf_blip"
    class_name = None  # Per checkpoint: see HEADS.
    asset_files = (VOCABULARY_FILE, _PROCESSOR)
    ignore = ("position_ids",)  # A buffer older HF checkpoints hold.
    description = "Hugging Face BLIP"

    def matches(self, config):
        return config.get("model_type") == "blip"

    def convert(self, directory, load_weights=True):
        converted = super().convert(directory, load_weights)
        converted.class_name = _head(self.read_config(directory)[1])
        return converted

    def model_config(self, config):
        head = _head(config)
        vision = _tower(config, "vision", _VISION_FIELDS)
        text = _tower(config, "text", _TEXT_FIELDS)
        vision_width = vision["hidden_size"]
        vision_encoder = {"class_name": "BLIPVisionEncoder", "config": {
            "image_size": vision["image_size"], "patch_size": vision["patch_size"],
            "hidden_dim": vision_width, "num_layers": vision["num_hidden_layers"],
            "num_heads": vision["num_attention_heads"],
            "intermediate_dim": vision["intermediate_size"],
            "layer_norm_epsilon": vision["layer_norm_eps"], "name": "vision_encoder"}}
        # Every BLIP BERT's cross-attention reads `encoder_hidden_size`, the vision width.
        # Named: the matcher's towers sit in its backbone, where weight paths
        # start with the tower's name.
        text_encoder = {"class_name": "BLIPTextEncoder",
                        "config": {**_bert_args(text, vision_width), "name": "text_encoder"}}
        decoder = {"class_name": "BLIPTextDecoder",
                   "config": {**_bert_args(text, vision_width), "name": "text_decoder"}}
        tokens = {"start_token_id": text["bos_token_id"], "end_token_id": text["sep_token_id"],
                  "pad_token_id": text["pad_token_id"]}
        if head == "ImageCaptioner":
            return {"vision_encoder": vision_encoder, "text_decoder": decoder, **tokens}
        if head == "BLIPQuestionAnswerer":
            if text["hidden_size"] != vision_width:
                raise ValueError(
                    "BLIP VQA's answer decoder attends to question states with the vision "
                    "width: text_config hidden_size must equal vision_config hidden_size. "
                    f"Received: {text['hidden_size']} and {vision_width}")
            return {"vision_encoder": vision_encoder, "text_encoder": text_encoder,
                    "text_decoder": decoder, **tokens}
        backbone = {"class_name": "BLIPBackbone",
                    "config": {"vision_encoder": vision_encoder, "text_encoder": text_encoder}}
        return {"backbone": backbone,
                "embedding_dim": field(config, "image_text_hidden_size", int, 256)}

    def preprocessing(self, config, directory):
        vision = _tower(config, "vision", _VISION_FIELDS)
        text = _tower(config, "text", _TEXT_FIELDS)
        path = os.path.join(directory, _PROCESSOR)
        processor = read_json(path) if os.path.isfile(path) else {}
        return {
            "image_size": vision["image_size"],
            "mean": [float(v) for v in field(processor, "image_mean", list,
                                             OPENAI_CLIP_MEAN, _PROCESSOR)],
            "std": [float(v) for v in field(processor, "image_std", list,
                                            OPENAI_CLIP_STD, _PROCESSOR)],
            "interpolation": "bicubic",
            "antialias": True,
            "context_length": min(35, text["max_position_embeddings"]),
            "start_token_id": text["bos_token_id"],
            "vocabulary_file": VOCABULARY_FILE,
        }

    def name_map(self, reader, config, model_config):
        head = _head(config)
        if head == "ImageTextMatcher":
            towers = model_config["backbone"]["config"]
        else:
            towers = model_config
        vision = towers["vision_encoder"]["config"]
        vision_encoder(reader, vision)
        if head == "ImageCaptioner":
            text_decoder(reader, model_config["text_decoder"]["config"])
            return
        text = towers["text_encoder"]["config"]
        bert(reader, "text_encoder", "text_encoder", text)
        if head == "BLIPQuestionAnswerer":
            text_decoder(reader, model_config["text_decoder"]["config"])
            return
        dim, text_width = model_config["embedding_dim"], text["hidden_dim"]
        reader.dense("vision_proj", "image_projection", (dim, vision["hidden_dim"]))
        reader.dense("text_proj", "text_projection", (dim, text_width))
        reader.dense("itm_head", "itm_head", (2, text_width))


CONVERTER = HFBLIPConverter()
