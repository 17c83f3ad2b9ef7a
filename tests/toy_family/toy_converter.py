"""The toy checkpoint format: its config translation and name map, nothing else."""

from kerasmm.convert import Converter
from kerasmm.convert import field


class ToyConverter(Converter):
    kind = "hf_toy"
    class_name = "ToyBackbone"
    config_file = "config.json"
    weight_files = ("model.safetensors",)
    asset_files = ("vocab.txt",)
    description = "Hugging Face toy"

    def matches(self, config):
        return config.get("model_type") == "toy"

    def model_config(self, config):
        return {"vocabulary_size": field(config, "vocab_size", int),
                "hidden_dim": field(config, "hidden_size", int),
                "output_dim": field(config, "projection_dim", int)}

    def preprocessing(self, config, directory):
        return {"sequence_length": field(config, "max_position_embeddings", int)}

    def name_map(self, reader, config, model_config):
        reader.copy("embeddings.word_embeddings.weight", "embedding/embeddings")
        reader.layer_norm("encoder.norm", "norm")
        reader.dense("projection", "head")
