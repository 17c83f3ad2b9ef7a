"""Hugging Face `transformers` Perceiver checkpoints -> kerasmm `PerceiverIO`.

A directory with `config.json` (`"model_type": "perceiver"`) and
`model.safetensors` (or `pytorch_model.bin`, which needs torch). The
`architectures` field of the config picks the input adapter and decoder,
as the Hugging Face classes hard-code them:

    PerceiverForMaskedLM                    TextAdapter + MaskedLMDecoder (tied)
    PerceiverForImageClassificationLearned  ImageAdapter("conv1x1", learned positions)
                                            + ClassificationDecoder
    PerceiverForImageClassificationFourier  ImageAdapter("pixels", Fourier 224)
                                            + ClassificationDecoder
    PerceiverForImageClassificationConvProcessing
                                            ImageAdapter("conv", Fourier 56)
                                            + ClassificationDecoder

(e.g. deepmind/language-perceiver, deepmind/vision-perceiver-learned,
-fourier, -conv). `PerceiverForMultimodalAutoencoding` is not converted.

Name map (HF -> kerasmm), `E = perceiver.encoder`:

    perceiver.embeddings.latents               latents/latents
    E.cross_attention                          cross_attention/...
    E.self_attends.i                           self_attention_i/...
    perceiver.input_preprocessor.*             input_adapter/...
    perceiver.decoder[.decoder].*              decoder/...
    embedding_decoder.bias                     decoder/bias  (masked LM)

and inside each attention layer `L`:

    L.attention.self.layernorm1                query_norm (cross) / attention_norm (self)
    L.attention.self.layernorm2                context_norm (cross only)
    L.attention.self.query / key / value       attention/query / key / value  (transposed)
    L.attention.output.dense                   attention/output               (transposed)
    L.layernorm                                mlp_norm
    L.mlp.dense1 / dense2                      mlp/dense_1 / dense_2          (transposed)

Adapters and decoders:

    input_preprocessor.embeddings              input_adapter/token_embedding/embeddings
    input_preprocessor.position_embeddings     input_adapter/position_embedding/embeddings
    input_preprocessor.convnet_1x1             input_adapter/conv1x1     (OIHW -> HWIO)
    input_preprocessor.position_embeddings.position_embeddings
                                               input_adapter/position_embeddings/latents
    input_preprocessor.positions_projection    input_adapter/position_projection (transposed)
    input_preprocessor.convnet.conv            input_adapter/conv        (OIHW -> HWIO)
    input_preprocessor.convnet.batchnorm       input_adapter/batchnorm
    decoder.output_position_encodings.position_embeddings
                                               decoder/position_embeddings/latents (masked LM)
                                               decoder/query/latents (classification)
    decoder.decoding_cross_attention           decoder/cross_attention
    decoder.final_layer                        decoder/final_projection  (transposed)

`PerceiverIO` is not built on construction: the converted checkpoint
carries the input shape to build it with (text padded to
`max_position_embeddings`; images of `image_size`).
"""

import json
import os

from kerasmm.convert.checkpoint import ConvertedCheckpoint
from kerasmm.convert.checkpoint import Converter
from kerasmm.convert.checkpoint import TensorReader
from kerasmm.convert.checkpoint import require
from kerasmm.convert.safetensors_io import find_weights_file
from kerasmm.convert.safetensors_io import load_tensors

MASKED_LM = "PerceiverForMaskedLM"
LEARNED = "PerceiverForImageClassificationLearned"
FOURIER = "PerceiverForImageClassificationFourier"
CONV = "PerceiverForImageClassificationConvProcessing"
ARCHITECTURES = (MASKED_LM, LEARNED, FOURIER, CONV)
# ImageNet preprocessing of the vision checkpoints (HF PerceiverImageProcessor).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_IGNORED = ("num_batches_tracked",)


def matches(config):
    return config.get("model_type") == "perceiver"


def _architecture(config):
    architectures = config.get("architectures") or []
    known = [a for a in architectures if a in ARCHITECTURES]
    if not known:
        raise ValueError(
            "Only these Hugging Face Perceiver classes convert: "
            f"{list(ARCHITECTURES)}. Received: architectures={architectures}"
        )
    return known[0]


def _layer(name, config):
    """A kerasmm layer as Keras serializes it (what `PerceiverIO.from_config`
    deserializes; not a bare `{"class_name", "config"}` spec, which the
    preset builder would instantiate first)."""
    return {"module": None, "class_name": name, "config": config,
            "registered_name": f"kerasmm>{name}"}


def _adapter_and_decoder(config, architecture):
    """`(input_adapter spec, decoder spec, input_shape, preprocessing)`."""
    if architecture == MASKED_LM:
        d_model = require(config, "d_model", "config.json")
        length = require(config, "max_position_embeddings", "config.json")
        vocabulary = require(config, "vocab_size", "config.json")
        adapter = _layer("TextAdapter", {"vocabulary_size": vocabulary,
                                         "max_sequence_length": length,
                                         "embedding_dim": d_model})
        # HF hard-codes this head: 8 heads, q/k 256 wide, values d_model wide.
        decoder = _layer("MaskedLMDecoder", {
            "vocabulary_size": vocabulary, "max_sequence_length": length,
            "position_dim": d_model, "tie_embeddings": True, "num_heads": 8,
            "qk_channels": 256, "v_channels": d_model, "widening_factor": 1,
            "use_query_residual": False})
        return (adapter, decoder, {"token_ids": (None, length), "padding_mask": (None, length)},
                {"sequence_length": length, "pad_token_id": 0, "tokenizer": "ByteTokenizer",
                 "add_special_tokens": True})
    size = require(config, "image_size", "config.json")
    image = {"image_shape": (size, size, 3)}
    if architecture == LEARNED:
        image.update(preprocessing="conv1x1", out_channels=256, position_encoding="learned",
                     position_dim=256, project_pos_dim=256)
    elif architecture == FOURIER:
        image.update(preprocessing="pixels", position_encoding="fourier", num_bands=64,
                     max_resolution=(224, 224), concat_pos=True, sine_only=False)
    else:
        image.update(preprocessing="conv", out_channels=64, use_batchnorm=True,
                     position_encoding="fourier", num_bands=64, max_resolution=(56, 56),
                     concat_pos=True, sine_only=False)
    num_labels = len(config.get("id2label") or {}) or config.get("num_labels", 2)
    decoder = _layer("ClassificationDecoder", {
        "num_classes": num_labels, "num_heads": 1, "widening_factor": 1,
        "use_query_residual": True})
    return (_layer("ImageAdapter", image), decoder, (None, size, size, 3),
            {"image_size": size, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)})


def model_config(config):
    """`(constructor config of PerceiverIO, input_shape, preprocessing,
    architecture)` from an HF config dict."""
    architecture = _architecture(config)
    if config.get("hidden_act", "gelu") != "gelu":
        raise ValueError("kerasmm's Perceiver blocks use exact GELU. Received: "
                         f"hidden_act={config.get('hidden_act')!r}")
    adapter, decoder, input_shape, preprocessing = _adapter_and_decoder(config, architecture)
    get = lambda key: require(config, key, "config.json")  # noqa: E731
    perceiver = {
        "input_adapter": adapter,
        "decoder": decoder,
        "num_latents": get("num_latents"),
        "latent_dim": get("d_latents"),
        "num_blocks": get("num_blocks"),
        "num_self_attends_per_block": get("num_self_attends_per_block"),
        "num_cross_attention_heads": get("num_cross_attention_heads"),
        "num_self_attention_heads": get("num_self_attention_heads"),
        "cross_attention_widening_factor": get("cross_attention_widening_factor"),
        "self_attention_widening_factor": get("self_attention_widening_factor"),
        "qk_channels": config.get("qk_channels"),
        "v_channels": config.get("v_channels"),
        "cross_attention_shape_for_attn": config.get(
            "cross_attention_shape_for_attention", "kv"),
        "use_query_residual": config.get("use_query_residual", True),
    }
    return perceiver, input_shape, preprocessing, architecture


# === Tensors ===


def _attention(reader, prefix, path, cross):
    """One HF `PerceiverLayer` -> a kerasmm `CrossAttention` / `SelfAttention`."""
    reader.layer_norm(f"{prefix}.attention.self.layernorm1",
                      f"{path}/query_norm" if cross else f"{path}/attention_norm")
    if cross:
        reader.layer_norm(f"{prefix}.attention.self.layernorm2", f"{path}/context_norm")
    for part in ("query", "key", "value"):
        reader.dense(f"{prefix}.attention.self.{part}", f"{path}/attention/{part}")
    reader.dense(f"{prefix}.attention.output.dense", f"{path}/attention/output")
    reader.layer_norm(f"{prefix}.layernorm", f"{path}/mlp_norm")
    reader.dense(f"{prefix}.mlp.dense1", f"{path}/mlp/dense_1")
    reader.dense(f"{prefix}.mlp.dense2", f"{path}/mlp/dense_2")


def _input_adapter(reader, architecture, config):
    p = "perceiver.input_preprocessor"
    a = "input_adapter"
    if architecture == MASKED_LM:
        shape = (config["vocab_size"], config["d_model"])
        reader.copy(f"{p}.embeddings.weight", f"{a}/token_embedding/embeddings", shape)
        reader.copy(f"{p}.position_embeddings.weight", f"{a}/position_embedding/embeddings",
                    (config["max_position_embeddings"], config["d_model"]))
    elif architecture == LEARNED:
        reader.conv(f"{p}.convnet_1x1.weight", f"{a}/conv1x1/kernel")
        reader.copy(f"{p}.convnet_1x1.bias", f"{a}/conv1x1/bias", (256,))
        reader.copy(f"{p}.position_embeddings.position_embeddings",
                    f"{a}/position_embeddings/latents", (config["image_size"] ** 2, 256))
        reader.dense(f"{p}.positions_projection", f"{a}/position_projection")
    elif architecture == CONV:
        reader.conv(f"{p}.convnet.conv.weight", f"{a}/conv/kernel")
        reader.batch_norm(f"{p}.convnet.batchnorm", f"{a}/batchnorm")


def convert_tensors(tensors, config, architecture, checkpoint="checkpoint"):
    """`({Keras weight path: array}, {path: HF name})` for an HF Perceiver."""
    reader = TensorReader(tensors, ignore=_IGNORED, checkpoint=checkpoint)
    reader.copy("perceiver.embeddings.latents", "latents/latents",
                (config["num_latents"], config["d_latents"]))
    _attention(reader, "perceiver.encoder.cross_attention", "cross_attention", cross=True)
    for i in range(config["num_self_attends_per_block"]):
        _attention(reader, f"perceiver.encoder.self_attends.{i}", f"self_attention_{i}",
                   cross=False)
    _input_adapter(reader, architecture, config)
    if architecture == MASKED_LM:
        d = "perceiver.decoder"
        reader.copy(f"{d}.output_position_encodings.position_embeddings",
                    "decoder/position_embeddings/latents",
                    (config["max_position_embeddings"], config["d_model"]))
        _attention(reader, f"{d}.decoding_cross_attention", "decoder/cross_attention",
                   cross=True)
        reader.copy("embedding_decoder.bias", "decoder/bias", (config["vocab_size"],))
    else:
        d = "perceiver.decoder.decoder"
        reader.copy(f"{d}.output_position_encodings.position_embeddings",
                    "decoder/query/latents", (1, config["d_latents"]))
        _attention(reader, f"{d}.decoding_cross_attention", "decoder/cross_attention",
                   cross=True)
        reader.dense(f"{d}.final_layer", "decoder/final_projection")
    return reader.finish()


def convert(directory, load_weights=True):
    """Converts an HF Perceiver checkpoint directory.

    Args:
        directory: holds `config.json` and, if `load_weights`,
            `model.safetensors` (or `pytorch_model.bin`).
        load_weights: read and convert the weights too.

    Returns:
        A `ConvertedCheckpoint` for `kerasmm.models.PerceiverIO`, with the
        input shape to build it with.
    """
    config_path = os.path.join(directory, "config.json")
    with open(config_path) as f:
        config = json.load(f)
    if not matches(config):
        raise ValueError(f"{config_path} is not a Perceiver config. Received: "
                         f"model_type={config.get('model_type')!r}")
    perceiver, input_shape, preprocessing, architecture = model_config(config)
    converted = ConvertedCheckpoint(
        class_name="PerceiverIO", config=perceiver, preprocessing=preprocessing,
        input_shape=input_shape,
        description=f"Hugging Face {architecture} checkpoint {directory}")
    if load_weights:
        path = find_weights_file(directory, CONVERTER.weight_files)
        converted.weights, converted.sources = convert_tensors(
            load_tensors(path), config, architecture, checkpoint=path)
    return converted


CONVERTER = Converter(
    kind="hf_perceiver",
    config_file="config.json",
    weight_files=("model.safetensors", "pytorch_model.bin"),
    asset_files=(),
    matches=matches,
    convert=convert,
)
