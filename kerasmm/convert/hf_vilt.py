"""Hugging Face `transformers` ViLT checkpoints -> kerasmm ViLT tasks.

A directory with `config.json` (`"model_type": "vilt"`) and
`model.safetensors` (or `pytorch_model.bin`, which needs torch). The head
is read from `architectures`:

    ViltForMaskedLM                     ViLTMaskedLM          (dandelin/vilt-b32-mlm)
    ViltForQuestionAnswering            VQAClassifier         (dandelin/vilt-b32-finetuned-vqa)
    ViltForImageAndTextRetrieval        ViLTRetrievalScorer   (dandelin/vilt-b32-finetuned-coco)
    ViltForImagesAndTextClassification  MultimodalClassifier  (dandelin/vilt-b32-finetuned-nlvr2)
                                        over a `ViLT` backbone (`backbone/...`)

Name map (HF -> kerasmm), `E` = `vilt.embeddings`, `L` = `vilt.encoder.layer.i`:

    E.text_embeddings.word / position / token_type_embeddings
                                       token_embedding / position_embedding / token_type_embedding
    E.text_embeddings.LayerNorm        embedding_norm
    E.cls_token (1, 1, D)              image_embedding/class_token (D,)
    E.position_embeddings (1, N+1, D)  image_embedding/position_embedding (N+1, D)
    E.patch_embeddings.projection      image_embedding/patch_embedding/projection (OIHW -> HWIO)
    E.token_type_embeddings            modality_embedding
    L.layernorm_before / after         block_i/attention_norm / mlp_norm
    L.attention.attention.q/k/v        block_i/attention/query/key/value (transposed)
    L.attention.output.dense           block_i/attention/output
    L.intermediate.dense / output.dense  block_i/mlp/dense_1 / dense_2
    vilt.layernorm / vilt.pooler.dense final_norm / pooler
    classifier.0 / 1 / 3               classifier/dense_1 / norm / dense_2
    rank_output                        rank_output
    mlm_score.transform.dense / LayerNorm  transform_dense / transform_norm
    mlm_score.decoder.bias (or .bias)  decoder_bias
    mlm_score.decoder.weight           tied: must equal the word embeddings (or
                                       `decoder/kernel` with tie_word_embeddings false)

`max_image_length > 0` makes Hugging Face keep a random subset of the
patches at inference; kerasmm keeps every patch (deterministic), so such a
config's outputs match Hugging Face's only when no image has more valid
patches than that. Preprocessing: ViLT's resize (shorter side 384, longer
at most 1333 / 800 of it, sides multiples of 32, bicubic), mean and std of
`preprocessor_config.json` (0.5 by default), BERT's `vocab.txt` lowercased.
"""

import os

import numpy as np

from kerasmm.convert.checkpoint import Converter
from kerasmm.convert.checkpoint import field
from kerasmm.convert.checkpoint import read_json
from kerasmm.utils.constants import HALF_MEAN
from kerasmm.utils.constants import HALF_STD

# transformers' ViltConfig fields kerasmm reads: type and default.
_FIELDS = {
    "vocab_size": (int, 30522), "type_vocab_size": (int, 2),
    "modality_type_vocab_size": (int, 2), "max_position_embeddings": (int, 40),
    "hidden_size": (int, 768), "num_hidden_layers": (int, 12),
    "num_attention_heads": (int, 12), "intermediate_size": (int, 3072),
    "hidden_act": (str, "gelu"), "layer_norm_eps": (float, 1e-12),
    "image_size": (int, 384), "patch_size": (int, 32), "num_channels": (int, 3),
    "qkv_bias": (bool, True), "tie_word_embeddings": (bool, True), "num_images": (int, -1),
}
# HF architecture -> the kerasmm class built.
HEADS = {
    "ViltForMaskedLM": "ViLTMaskedLM",
    "ViltForQuestionAnswering": "VQAClassifier",
    "ViltForImageAndTextRetrieval": "ViLTRetrievalScorer",
    "ViltForImagesAndTextClassification": "MultimodalClassifier",
}
_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_approximate", "relu": "relu"}
_PROCESSOR = "preprocessor_config.json"
VOCABULARY_FILE = "vocab.txt"


def _fields(config):
    values = {key: field(config, key, kind, default) for key, (kind, default) in _FIELDS.items()}
    if values["hidden_act"] not in _ACTIVATIONS:
        raise ValueError(f"Unsupported hidden_act. Expected one of {sorted(_ACTIVATIONS)}. "
                         f"Received: hidden_act={values['hidden_act']!r}")
    if values["num_channels"] != 3 or not values["qkv_bias"]:
        raise ValueError("kerasmm's ViLT takes RGB images and q/k/v biases. Received: "
                         f"num_channels={values['num_channels']}, "
                         f"qkv_bias={values['qkv_bias']}")
    return values


def _head(config):
    architectures = field(config, "architectures", list, [])
    heads = [HEADS[a] for a in architectures if a in HEADS]
    if not heads:
        raise ValueError(f"architectures must name one of {sorted(HEADS)} (ViltModel alone "
                         f"is not converted). Received: architectures={architectures}")
    return heads[0]


def _num_labels(config):
    labels = field(config, "id2label", dict, None)
    return len(labels) if labels else field(config, "num_labels", int, 2)


def _backbone(reader, values):
    e, width, mlp = "vilt.embeddings", values["hidden_size"], values["intermediate_size"]
    path = "backbone"
    text = f"{e}.text_embeddings"
    for hf_name, name in (("word_embeddings", "token_embedding"),
                          ("position_embeddings", "position_embedding"),
                          ("token_type_embeddings", "token_type_embedding")):
        reader.copy(f"{text}.{hf_name}.weight", f"{path}/{name}/embeddings")
    reader.layer_norm(f"{text}.LayerNorm", f"{path}/embedding_norm")
    image = f"{path}/image_embedding"
    reader.put(f"{image}/class_token",
               reader.take(f"{e}.cls_token", (1, 1, width)).reshape(width),
               f"{e}.cls_token (flattened)")
    positions = (values["image_size"] // values["patch_size"]) ** 2 + 1
    reader.put(f"{image}/position_embedding",
               reader.take(f"{e}.position_embeddings", (1, positions, width))[0],
               f"{e}.position_embeddings (squeezed)")
    reader.conv(f"{e}.patch_embeddings.projection.weight",
                f"{image}/patch_embedding/projection/kernel")
    reader.copy(f"{e}.patch_embeddings.projection.bias",
                f"{image}/patch_embedding/projection/bias", (width,))
    reader.copy(f"{e}.token_type_embeddings.weight", f"{path}/modality_embedding/embeddings")
    for i in range(values["num_hidden_layers"]):
        src, dst = f"vilt.encoder.layer.{i}", f"{path}/block_{i}"
        reader.layer_norm(f"{src}.layernorm_before", f"{dst}/attention_norm")
        for part in ("query", "key", "value"):
            reader.dense(f"{src}.attention.attention.{part}", f"{dst}/attention/{part}",
                         (width, width))
        reader.dense(f"{src}.attention.output.dense", f"{dst}/attention/output",
                     (width, width))
        reader.layer_norm(f"{src}.layernorm_after", f"{dst}/mlp_norm")
        reader.dense(f"{src}.intermediate.dense", f"{dst}/mlp/dense_1", (mlp, width))
        reader.dense(f"{src}.output.dense", f"{dst}/mlp/dense_2", (width, mlp))
    reader.layer_norm("vilt.layernorm", f"{path}/final_norm")
    reader.dense("vilt.pooler.dense", f"{path}/pooler", (width, width))


def _masked_lm(reader, values, tie_weights):
    width, vocabulary = values["hidden_size"], values["vocab_size"]
    reader.dense("mlm_score.transform.dense", "transform_dense", (width, width))
    reader.layer_norm("mlm_score.transform.LayerNorm", "transform_norm")
    # Older checkpoints store the bias twice (`mlm_score.bias`, tied to the decoder's).
    names = [n for n in ("mlm_score.decoder.bias", "mlm_score.bias") if n in reader.tensors]
    if not names:
        raise ValueError(f"{reader.checkpoint}: missing the tensor 'mlm_score.decoder.bias'")
    biases = [reader.take(name, (vocabulary,)) for name in names]
    if not all(np.array_equal(b, biases[0]) for b in biases):
        raise ValueError(f"{reader.checkpoint}: 'mlm_score.bias' differs from "
                         "'mlm_score.decoder.bias', which Hugging Face ties")
    reader.put("decoder_bias", biases[0], names[0])
    decoder = "mlm_score.decoder.weight"
    if not tie_weights:
        reader.linear(decoder, "decoder/kernel", (vocabulary, width))
    elif decoder in reader.tensors:
        embeddings = reader.weights["backbone/token_embedding/embeddings"]
        if not np.array_equal(reader.take(decoder, (vocabulary, width)), embeddings):
            raise ValueError(f"{reader.checkpoint}: {decoder!r} differs from the word "
                             "embeddings it is tied to (tie_word_embeddings is true)")


class HFViLTConverter(Converter):
    kind = "hf_vilt"
    class_name = None  # Per checkpoint: see HEADS.
    asset_files = (VOCABULARY_FILE, _PROCESSOR)
    ignore = ("position_ids", "token_type_ids")  # Buffers older checkpoints hold.
    description = "Hugging Face ViLT"

    def matches(self, config):
        return config.get("model_type") == "vilt"

    def convert(self, directory, load_weights=True):
        converted = super().convert(directory, load_weights)
        converted.class_name = _head(self.read_config(directory)[1])
        return converted

    def model_config(self, config):
        head, values = _head(config), _fields(config)
        backbone = {"class_name": "ViLT", "config": {
            "vocabulary_size": values["vocab_size"], "image_size": values["image_size"],
            "patch_size": values["patch_size"], "hidden_dim": values["hidden_size"],
            "num_layers": values["num_hidden_layers"],
            "num_heads": values["num_attention_heads"],
            "max_sequence_length": values["max_position_embeddings"],
            "intermediate_dim": values["intermediate_size"],
            "type_vocabulary_size": values["type_vocab_size"],
            "modality_type_vocabulary_size": values["modality_type_vocab_size"],
            "activation": _ACTIVATIONS[values["hidden_act"]],
            "layer_norm_epsilon": values["layer_norm_eps"]}}
        if head == "ViLTMaskedLM":
            return {"backbone": backbone, "tie_weights": values["tie_word_embeddings"]}
        if head == "VQAClassifier":
            return {"backbone": backbone, "num_answers": _num_labels(config)}
        if head == "ViLTRetrievalScorer":
            return {"backbone": backbone}
        num_images = values["num_images"]
        if num_images < 1 or num_images >= values["modality_type_vocab_size"]:
            raise ValueError(
                "ViltForImagesAndTextClassification needs num_images >= 1 and a modality "
                "type per image (modality_type_vocab_size > num_images). Received: "
                f"num_images={num_images}, "
                f"modality_type_vocab_size={values['modality_type_vocab_size']}")
        return {"backbone": backbone, "num_classes": _num_labels(config),
                "num_images": num_images}

    def preprocessing(self, config, directory):
        values = _fields(config)
        path = os.path.join(directory, _PROCESSOR)
        processor = read_json(path) if os.path.isfile(path) else {}
        size = field(processor, "size", dict, {"shortest_edge": 384}, _PROCESSOR)
        shortest = field(size, "shortest_edge", int, 384, f"{_PROCESSOR} size")
        return {
            "shortest_edge": shortest,
            "longest_edge": int(shortest * 1333 / 800),
            "size_divisor": field(processor, "size_divisor", int, 32, _PROCESSOR),
            "mean": [float(v) for v in field(processor, "image_mean", list, HALF_MEAN,
                                             _PROCESSOR)],
            "std": [float(v) for v in field(processor, "image_std", list, HALF_STD,
                                            _PROCESSOR)],
            "interpolation": "bicubic",
            "context_length": values["max_position_embeddings"],
            "vocabulary_file": VOCABULARY_FILE,
            "lowercase": True,
        }

    def name_map(self, reader, config, model_config):
        head, values = _head(config), _fields(config)
        _backbone(reader, values)
        width = values["hidden_size"]
        if head == "ViLTMaskedLM":
            _masked_lm(reader, values, model_config["tie_weights"])
        elif head == "ViLTRetrievalScorer":
            reader.dense("rank_output", "rank_output", (1, width))
        else:
            # VQA widens the pooled output 2x; NLVR2 concatenates one per image.
            if head == "VQAClassifier":
                inputs, hidden, outputs = width, 2 * width, model_config["num_answers"]
            else:
                inputs = hidden = model_config["num_images"] * width
                outputs = model_config["num_classes"]
            reader.dense("classifier.0", "classifier/dense_1", (hidden, inputs))
            reader.layer_norm("classifier.1", "classifier/norm")
            reader.dense("classifier.3", "classifier/dense_2", (outputs, hidden))


CONVERTER = HFViLTConverter()
