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

    PerceiverForMultimodalAutoencoding      MultimodalAdapter(AudioAdapter, VideoAdapter,
                                            LabelAdapter) + MultimodalDecoder(
                                            BasicDecoder x 2, ClassificationDecoder)

(e.g. deepmind/language-perceiver, deepmind/vision-perceiver-learned,
-fourier, -conv, deepmind/multimodal-perceiver). The multimodal model takes
`{"audio": (B, S, 1), "image": (B, T, H, W, 3) channels-last, "label":
(B, num_labels)}` and returns the same keys; HF's forward only decodes
correctly with `subsampled_output_points`, whose kerasmm equivalent is the
`subsampled_points={"audio": ..., "image": ...}` call argument (a call
without it decodes every point, as HF with all points).

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

and for the multimodal autoencoder (`m` in audio, image, label):

    input_preprocessor.padding.m / mask.m      input_adapter/padding_m / mask_m
    decoder.padding.m                          decoder/padding_m
    decoder.modalities.label.decoder.output_position_encodings.position_embeddings
                                               decoder/label_decoder/query/latents
    decoder.decoder.decoding_cross_attention   decoder/cross_attention
    decoder.decoder.final_layer                decoder/final_projection  (transposed)
    output_postprocessor.modalities.m.classifier
                                               decoder/m_decoder/final_projection
                                                                         (transposed)

`PerceiverIO` is not built on construction: the converted checkpoint
carries the input shape to build it with (text padded to
`max_position_embeddings`; images of `image_size`; for the multimodal
model, `num_frames * audio_samples_per_frame` audio samples and
`num_frames` frames of `image_size`).
"""

from kerasmm.convert.checkpoint import Converter
from kerasmm.convert.checkpoint import field
from kerasmm.utils.constants import IMAGENET_MEAN
from kerasmm.utils.constants import IMAGENET_STD

MASKED_LM = "PerceiverForMaskedLM"
LEARNED = "PerceiverForImageClassificationLearned"
FOURIER = "PerceiverForImageClassificationFourier"
CONV = "PerceiverForImageClassificationConvProcessing"
MULTIMODAL = "PerceiverForMultimodalAutoencoding"
ARCHITECTURES = (MASKED_LM, LEARNED, FOURIER, CONV, MULTIMODAL)
MODALITIES = ("audio", "image", "label")


def _architecture(config):
    architectures = field(config, "architectures", list, [])
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


def _multimodal_sizes(config):
    """What HF's `PerceiverForMultimodalAutoencoding` hard-codes or derives
    from its config: Fourier options per modality, the feature width of each
    modality's preprocessor and query width of each modality's decoder."""
    frames, size = field(config, "num_frames", int), field(config, "image_size", int)
    per_patch = field(config, "samples_per_patch", int)
    samples = frames * field(config, "audio_samples_per_frame", int)
    audio_fourier = {"position_encoding": "fourier", "num_bands": 192,
                     "max_resolution": (samples,), "concat_pos": True, "sine_only": False}
    image_fourier = {"position_encoding": "fourier", "num_bands": 32,
                     "max_resolution": (frames, size, size), "concat_pos": True,
                     "sine_only": False}
    audio_pos, image_pos = 2 * 192 + 1, 3 * 2 * 32 + 3
    # `_label_trainable_num_channels` is absent from older config.json files.
    label_dim = field(config, "_label_trainable_num_channels", int, 1024)
    num_labels = _num_labels(config)
    features = {"audio": per_patch + audio_pos, "image": 3 * 4 * 4 + image_pos,
                "label": num_labels}
    queries = {"audio": audio_pos, "image": image_pos, "label": label_dim}
    return {"frames": frames, "image_size": size, "samples": samples,
            "samples_per_patch": per_patch, "num_labels": num_labels,
            "output_index_dims": tuple(field(config, "output_shape", list)[1:4]),
            "output_num_channels": field(config, "output_num_channels", int),
            "audio_fourier": audio_fourier, "image_fourier": image_fourier,
            "features": features, "feature_dim": max(features.values()) + 4,
            "queries": queries, "query_dim": max(queries.values()) + 2}


def _multimodal_adapter_and_decoder(config):
    sizes = _multimodal_sizes(config)
    frames, size, samples = sizes["frames"], sizes["image_size"], sizes["samples"]
    adapter = _layer("MultimodalAdapter", {
        "adapters": {
            "audio": _layer("AudioAdapter", {"samples_per_patch": sizes["samples_per_patch"],
                                             **sizes["audio_fourier"]}),
            "image": _layer("VideoAdapter", {"video_shape": (frames, size, size, 3),
                                             "temporal_downsample": 1,
                                             "spatial_downsample": 4,
                                             **sizes["image_fourier"]}),
            "label": _layer("LabelAdapter", {"num_classes": sizes["num_labels"]}),
        },
        "min_padding_size": 4,
        "mask_probs": {"audio": 0.0, "image": 0.0, "label": 1.0}})
    # Every query uses the positions of subsampled decoding, as HF's
    # `subsampled_output_points` (its only working way to decode).
    decoders = {
        "audio": _layer("BasicDecoder", {
            "name": "audio_decoder", "output_num_channels": sizes["samples_per_patch"],
            "output_index_dims": (samples // sizes["samples_per_patch"],),
            "output_shape": (-1,), "position_grid": "index", **sizes["audio_fourier"]}),
        "image": _layer("BasicDecoder", {
            "name": "image_decoder", "output_num_channels": 3,
            "output_index_dims": sizes["output_index_dims"], "position_grid": "index",
            **sizes["image_fourier"]}),
        "label": _layer("ClassificationDecoder", {
            "name": "label_decoder", "num_classes": sizes["num_labels"],
            "query_dim": sizes["queries"]["label"]}),
    }
    decoder = _layer("MultimodalDecoder", {
        "decoders": decoders, "output_num_channels": sizes["output_num_channels"],
        "min_padding_size": 2, "num_heads": 1, "widening_factor": 1,
        "use_query_residual": False})
    input_shape = {"audio": (None, samples, 1), "image": (None, frames, size, size, 3),
                   "label": (None, sizes["num_labels"])}
    preprocessing = {"image_size": size, "num_frames": frames, "audio_samples": samples,
                     "samples_per_patch": sizes["samples_per_patch"],
                     "num_labels": sizes["num_labels"], "mean": None, "std": None,
                     "context_length": None}
    return adapter, decoder, input_shape, preprocessing


def _adapter_and_decoder(config, architecture):
    """`(input_adapter spec, decoder spec, input_shape, preprocessing)`."""
    if architecture == MULTIMODAL:
        return _multimodal_adapter_and_decoder(config)
    if architecture == MASKED_LM:
        d_model = field(config, "d_model", int)
        length = field(config, "max_position_embeddings", int)
        vocabulary = field(config, "vocab_size", int)
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
                {"context_length": length, "pad_token_id": 0, "tokenizer": "ByteTokenizer",
                 "add_special_tokens": True})
    size = field(config, "image_size", int)
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
    num_labels = _num_labels(config)
    decoder = _layer("ClassificationDecoder", {
        "num_classes": num_labels, "num_heads": 1, "widening_factor": 1,
        "use_query_residual": True})
    return (_layer("ImageAdapter", image), decoder, (None, size, size, 3),
            {"image_size": size, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD),
             # PerceiverImageProcessor's defaults: crop 224/256 of the short side.
             "center_crop_fraction": 224 / 256, "interpolation": "bicubic"})


def _num_labels(config):
    return len(field(config, "id2label", dict, {})) or field(config, "num_labels", int, 2)


class HFPerceiverConverter(Converter):
    kind = "hf_perceiver"
    class_name = "PerceiverIO"
    ignore = ("num_batches_tracked",)
    description = "Hugging Face Perceiver"

    def matches(self, config):
        return config.get("model_type") == "perceiver"

    def model_config(self, config):
        architecture = _architecture(config)
        hidden_act = field(config, "hidden_act", str, "gelu")
        if hidden_act != "gelu":
            raise ValueError("kerasmm's Perceiver blocks use exact GELU. Received: "
                             f"hidden_act={hidden_act!r}")
        adapter, decoder, _, _ = _adapter_and_decoder(config, architecture)
        ints = {"num_latents": "num_latents", "latent_dim": "d_latents",
                "num_blocks": "num_blocks",
                "num_self_attends_per_block": "num_self_attends_per_block",
                "num_cross_attention_heads": "num_cross_attention_heads",
                "num_self_attention_heads": "num_self_attention_heads",
                "cross_attention_widening_factor": "cross_attention_widening_factor",
                "self_attention_widening_factor": "self_attention_widening_factor"}
        return {
            "input_adapter": adapter,
            "decoder": decoder,
            **{name: field(config, key, int) for name, key in ints.items()},
            "qk_channels": field(config, "qk_channels", int, None),
            "v_channels": field(config, "v_channels", int, None),
            "cross_attention_shape_for_attn": field(
                config, "cross_attention_shape_for_attention", str, "kv"),
            "use_query_residual": field(config, "use_query_residual", bool, True),
        }

    def input_shape(self, config):
        """Text padded to `max_position_embeddings`, images of `image_size`,
        or the multimodal model's audio, video and label shapes."""
        return _adapter_and_decoder(config, _architecture(config))[2]

    def preprocessing(self, config, directory):
        return _adapter_and_decoder(config, _architecture(config))[3]

    def name_map(self, reader, config, model_config):
        architecture = _architecture(config)
        reader.copy("perceiver.embeddings.latents", "latents/latents",
                    (config["num_latents"], config["d_latents"]))
        _attention(reader, "perceiver.encoder.cross_attention", "cross_attention", cross=True)
        for i in range(config["num_self_attends_per_block"]):
            _attention(reader, f"perceiver.encoder.self_attends.{i}", f"self_attention_{i}",
                       cross=False)
        _input_adapter(reader, architecture, config)
        if architecture == MULTIMODAL:
            _multimodal_tensors(reader, config)
        elif architecture == MASKED_LM:
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


def _multimodal_tensors(reader, config):
    sizes = _multimodal_sizes(config)
    p, d = "perceiver.input_preprocessor", "perceiver.decoder"
    features, width = sizes["features"], sizes["feature_dim"]
    queries, query_dim = sizes["queries"], sizes["query_dim"]
    for m in MODALITIES:
        reader.copy(f"{p}.padding.{m}", f"input_adapter/padding_{m}", (1, width - features[m]))
        reader.copy(f"{p}.mask.{m}", f"input_adapter/mask_{m}", (1, width))
        reader.copy(f"{d}.padding.{m}", f"decoder/padding_{m}", (1, query_dim - queries[m]))
    reader.copy(f"{d}.modalities.label.decoder.output_position_encodings.position_embeddings",
                "decoder/label_decoder/query/latents", (1, queries["label"]))
    _attention(reader, f"{d}.decoder.decoding_cross_attention", "decoder/cross_attention",
               cross=True)
    channels = sizes["output_num_channels"]
    reader.dense(f"{d}.decoder.final_layer", "decoder/final_projection",
                 (channels, query_dim))
    outputs = {"audio": sizes["samples_per_patch"], "image": 3, "label": sizes["num_labels"]}
    for m in MODALITIES:
        reader.dense(f"perceiver.output_postprocessor.modalities.{m}.classifier",
                     f"decoder/{m}_decoder/final_projection", (outputs[m], channels))


CONVERTER = HFPerceiverConverter()
