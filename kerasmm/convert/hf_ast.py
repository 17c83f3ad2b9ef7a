"""Hugging Face `transformers` AST checkpoints -> kerasmm `AudioClassifier`.

A directory with `config.json` (`"model_type":
"audio-spectrogram-transformer"`, `ASTForAudioClassification`) and
`model.safetensors` (or `pytorch_model.bin`, which needs torch), e.g.
`MIT/ast-finetuned-audioset-10-10-0.4593`. It builds an `AudioClassifier`
over an `AudioSpectrogramTransformer` (`backbone/...`).

Name map (HF -> kerasmm), `A` = `audio_spectrogram_transformer`,
`E` = `A.embeddings`, `L` = `A.encoder.layer.i`:

    E.cls_token / distillation_token (1, 1, D)  embedding/class_token / distillation_token (D,)
    E.position_embeddings (1, N + 2, D)          embedding/position_embedding (N + 2, D)
    E.patch_embeddings.projection (OIHW)         embedding/patch_embedding (HWIO)
    L.layernorm_before / layernorm_after         block_i/attention_norm / mlp_norm
    L.attention.attention.query / key / value    block_i/attention/query / key / value
    L.attention.output.dense                     block_i/attention/output
    L.intermediate.dense / L.output.dense        block_i/mlp/dense_1 / dense_2
    A.layernorm                                  final_norm
    classifier.layernorm / classifier.dense      head_norm / head (transposed)

Preprocessing (`preprocessor_config.json`, `ASTFeatureExtractor`'s
defaults when absent): sample rate, mel bins, frames, mean and std.
"""

import os

from kerasmm.convert.checkpoint import Converter
from kerasmm.convert.checkpoint import field
from kerasmm.convert.checkpoint import read_json

MODEL_TYPE = "audio-spectrogram-transformer"
# transformers' ASTConfig fields kerasmm reads: type and default.
_FIELDS = {
    "hidden_size": (int, 768), "num_hidden_layers": (int, 12),
    "num_attention_heads": (int, 12), "intermediate_size": (int, 3072),
    "hidden_act": (str, "gelu"), "layer_norm_eps": (float, 1e-12),
    "patch_size": ((int, list), 16), "qkv_bias": (bool, True),
    "frequency_stride": (int, 10), "time_stride": (int, 10),
    "max_length": (int, 1024), "num_mel_bins": (int, 128),
}
_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_approximate", "relu": "relu"}
_PROCESSOR = "preprocessor_config.json"
# preprocessor_config.json key -> (ASTPreprocessor argument, type, default).
_PROCESSOR_FIELDS = {"sampling_rate": ("sample_rate", int, 16000),
                     "mean": ("mean", float, -4.2677393), "std": ("std", float, 4.5689974),
                     "do_normalize": ("do_normalize", bool, True)}


def _fields(config):
    values = {key: field(config, key, kind, default) for key, (kind, default) in _FIELDS.items()}
    patch = values["patch_size"]
    if isinstance(patch, list):
        if len(patch) != 2 or patch[0] != patch[1]:
            raise ValueError(f"kerasmm's AST takes square patches. Received: patch_size={patch}")
        values["patch_size"] = int(patch[0])
    if values["hidden_act"] not in _ACTIVATIONS:
        raise ValueError(f"Unsupported hidden_act. Expected one of {sorted(_ACTIVATIONS)}. "
                         f"Received: hidden_act={values['hidden_act']!r}")
    if not values["qkv_bias"]:
        raise ValueError("kerasmm's AST takes q/k/v biases. Received: qkv_bias=False")
    return values


def _class_names(config):
    labels = field(config, "id2label", dict, None)
    if not labels:
        return None, field(config, "num_labels", int, 2)
    names = [str(labels[key]) for key in sorted(labels, key=int)]
    return names, len(names)


class HFASTConverter(Converter):
    kind = "hf_ast"
    class_name = "AudioClassifier"
    asset_files = (_PROCESSOR,)
    description = "Hugging Face AST"

    def matches(self, config):
        return config.get("model_type") == MODEL_TYPE

    def model_config(self, config):
        values = _fields(config)
        names, count = _class_names(config)
        backbone = {"class_name": "AudioSpectrogramTransformer", "config": {
            "num_mel_bins": values["num_mel_bins"], "max_length": values["max_length"],
            "patch_size": values["patch_size"],
            "frequency_stride": values["frequency_stride"],
            "time_stride": values["time_stride"], "hidden_dim": values["hidden_size"],
            "num_layers": values["num_hidden_layers"],
            "num_heads": values["num_attention_heads"],
            "intermediate_dim": values["intermediate_size"],
            "activation": _ACTIVATIONS[values["hidden_act"]],
            "layer_norm_epsilon": values["layer_norm_eps"]}}
        return {"backbone": backbone, "num_classes": count, "class_names": names,
                "layer_norm_epsilon": values["layer_norm_eps"]}

    def preprocessing(self, config, directory):
        values = _fields(config)
        path = os.path.join(directory, _PROCESSOR)
        processor = read_json(path) if os.path.isfile(path) else {}
        constants = {name: field(processor, key, kind, default, _PROCESSOR)
                     for key, (name, kind, default) in _PROCESSOR_FIELDS.items()}
        constants["num_mel_bins"] = field(processor, "num_mel_bins", int,
                                          values["num_mel_bins"], _PROCESSOR)
        constants["max_length"] = field(processor, "max_length", int, values["max_length"],
                                        _PROCESSOR)
        return constants

    def name_map(self, reader, config, model_config):
        values = _fields(config)
        width, mlp = values["hidden_size"], values["intermediate_size"]
        src, dst = "audio_spectrogram_transformer", "backbone"
        grid = ((values["num_mel_bins"] - values["patch_size"]) // values["frequency_stride"]
                + 1) * ((values["max_length"] - values["patch_size"]) // values["time_stride"]
                        + 1)
        for token in ("cls_token", "distillation_token"):
            name = "class_token" if token == "cls_token" else token
            reader.put(f"{dst}/embedding/{name}",
                       reader.take(f"{src}.embeddings.{token}", (1, 1, width)).reshape(width),
                       f"{src}.embeddings.{token} (flattened)")
        reader.put(f"{dst}/embedding/position_embedding",
                   reader.take(f"{src}.embeddings.position_embeddings", (1, grid + 2, width))[0],
                   f"{src}.embeddings.position_embeddings (squeezed)")
        patches = f"{src}.embeddings.patch_embeddings.projection"
        reader.conv(f"{patches}.weight", f"{dst}/embedding/patch_embedding/kernel")
        reader.copy(f"{patches}.bias", f"{dst}/embedding/patch_embedding/bias", (width,))
        for i in range(values["num_hidden_layers"]):
            layer, block = f"{src}.encoder.layer.{i}", f"{dst}/block_{i}"
            reader.layer_norm(f"{layer}.layernorm_before", f"{block}/attention_norm")
            reader.layer_norm(f"{layer}.layernorm_after", f"{block}/mlp_norm")
            for part in ("query", "key", "value"):
                reader.dense(f"{layer}.attention.attention.{part}",
                             f"{block}/attention/{part}", (width, width))
            reader.dense(f"{layer}.attention.output.dense", f"{block}/attention/output",
                         (width, width))
            reader.dense(f"{layer}.intermediate.dense", f"{block}/mlp/dense_1", (mlp, width))
            reader.dense(f"{layer}.output.dense", f"{block}/mlp/dense_2", (width, mlp))
        reader.layer_norm(f"{src}.layernorm", f"{dst}/final_norm")
        reader.layer_norm("classifier.layernorm", "head_norm")
        reader.dense("classifier.dense", "head", (model_config["num_classes"], width))


CONVERTER = HFASTConverter()
