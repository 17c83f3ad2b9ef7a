"""Hugging Face `generate` on a toy decoder: the fixture for kerasmm's decoding loops.

Run in the torch reference venv (transformers >= 5):

    /work/torchvenv/bin/python tools/make_generation_fixture.py

The toy model's logits at position i are `bigram[t_i] + skip[t_{i-1}] +
row_bias` (`skip[t_0]` at i = 0), the same as `ToyDecoder` in
tests/models/generation/numpy_decoding.py. It writes the tables, the
per-row biases and HF's greedy and beam-search token ids (prompt = the start
token, which is dropped) to tests/fixtures/hf_generation/decoding.npz.
"""

import os

import numpy as np
import torch
import transformers
from transformers import GenerationMixin, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

START, END, PAD = 0, 1, 2
VOCABULARY, BATCH, MAX_NEW = 9, 6, 7
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "hf_generation")

# (name, generate kwargs): HF's defaults otherwise (length_penalty 1, early_stopping False).
CASES = [
    ("greedy", {}),
    ("greedy_min2_rep1.6", {"min_new_tokens": 2, "repetition_penalty": 1.6}),
    ("beam2", {"num_beams": 2}),
    ("beam4", {"num_beams": 4}),
    ("beam3_min3", {"num_beams": 3, "min_new_tokens": 3}),
    ("beam4_rep0.7", {"num_beams": 4, "repetition_penalty": 0.7}),
]


class ToyConfig(PretrainedConfig):
    model_type = "kerasmm_toy"


class ToyLM(PreTrainedModel, GenerationMixin):
    config_class = ToyConfig

    def __init__(self, config, bigram, skip):
        super().__init__(config)
        self.bigram = torch.nn.Parameter(torch.tensor(bigram))
        self.skip = torch.nn.Parameter(torch.tensor(skip))

    def forward(self, input_ids, row_bias=None, **kwargs):
        previous = torch.cat([input_ids[:, :1], input_ids[:, :-1]], dim=1)
        logits = self.bigram[input_ids] + self.skip[previous] + row_bias[:, None, :]
        return CausalLMOutput(logits=logits)

    def prepare_inputs_for_generation(self, input_ids, row_bias=None, **kwargs):
        return {"input_ids": input_ids, "row_bias": row_bias}


def main():
    rng = np.random.default_rng(0)
    tables = {name: rng.normal(scale=1.5, size=(VOCABULARY, VOCABULARY)).astype("float32")
              for name in ("bigram", "skip")}
    row_bias = rng.normal(scale=2.5, size=(BATCH, VOCABULARY)).astype("float32")
    config = ToyConfig(vocab_size=VOCABULARY, is_encoder_decoder=False,
                       bos_token_id=START, eos_token_id=END, pad_token_id=PAD)
    model = ToyLM(config, tables["bigram"], tables["skip"]).eval()
    prompt = torch.full((BATCH, 1), START)
    results = {}
    for name, kwargs in CASES:
        with torch.no_grad():
            out = model.generate(prompt, row_bias=torch.tensor(row_bias), max_new_tokens=MAX_NEW,
                                 do_sample=False, use_cache=False, eos_token_id=END,
                                 pad_token_id=PAD, **kwargs)
        results[name] = out[:, 1:].numpy().astype("int32")
        print(name, results[name].tolist())
    os.makedirs(OUT, exist_ok=True)
    np.savez(os.path.join(OUT, "decoding.npz"), row_bias=row_bias,
             transformers_version=transformers.__version__, **tables,
             **{f"ids_{k}": v for k, v in results.items()})


if __name__ == "__main__":
    main()
