"""Writes tests/fixtures/hf_ast/: a tiny random Hugging Face AST checkpoint.

Run in the reference venv (transformers, torch, safetensors; no
torchaudio, so `ASTFeatureExtractor` takes its numpy path):

    /work/torchvenv/bin/python tools/make_ast_fixtures.py

`checkpoint/` holds `config.json`, `model.safetensors` and
`preprocessor_config.json` of an `ASTForAudioClassification` (36 mel bins,
60 frames, 16 x 16 patches with frequency stride 10 and time stride 12:
3 x 4 patches; width 32, 2 layers, 4 heads, 5 labels), every parameter
drawn at random (Hugging Face initialises the tokens and positions to
zero). `outputs.npz`: random features and the logits, last hidden state
and pooled output on them; two 0.5 s waveforms at 16 kHz, the extractor's
features of them and the logits on those.
"""

import os

import numpy as np
import torch
from transformers import ASTConfig
from transformers import ASTFeatureExtractor
from transformers import ASTForAudioClassification

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "hf_ast")


def main():
    torch.manual_seed(0)
    config = ASTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=64, patch_size=16, frequency_stride=10,
                       time_stride=12, max_length=60, num_mel_bins=36, num_labels=5,
                       id2label={i: f"sound_{i}" for i in range(5)},
                       label2id={f"sound_{i}": i for i in range(5)})
    model = ASTForAudioClassification(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(0.2 * torch.randn_like(parameter))
    extractor = ASTFeatureExtractor(num_mel_bins=36, max_length=60)
    directory = os.path.join(OUT, "checkpoint")
    model.save_pretrained(directory)
    extractor.save_pretrained(directory)

    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 60, 36)).astype("float32")
    t = np.arange(8000) / 16000
    waveforms = np.stack([0.5 * np.sin(2 * np.pi * 700 * t) + 0.05 * rng.normal(size=8000),
                          0.3 * rng.normal(size=8000)]).astype("float32")
    extracted = extractor(list(waveforms), sampling_rate=16000,
                          return_tensors="np")["input_values"]
    with torch.no_grad():
        out = model(torch.from_numpy(features), output_hidden_states=True)
        base = model.audio_spectrogram_transformer(torch.from_numpy(features))
        wave_logits = model(torch.from_numpy(extracted)).logits
    np.savez_compressed(
        os.path.join(OUT, "outputs.npz"), features=features, logits=out.logits.numpy(),
        sequence_output=base.last_hidden_state.numpy(), pooled_output=base.pooler_output.numpy(),
        waveforms=waveforms, extracted=extracted, waveform_logits=wave_logits.numpy())
    for root, _, files in os.walk(OUT):
        for name in files:
            print(os.path.join(root, name), os.path.getsize(os.path.join(root, name)))


if __name__ == "__main__":
    main()
