"""AST presets: plain data, one entry per named preset (converter hf_ast).

The entry format is described in `kerasmm.presets.registry`. The entries
hold `kerasmm.tasks.AudioClassifier`s over an `AudioSpectrogramTransformer`.
None is pinned yet (this was written offline): each Hub source is
`"unpinned": True`, which `from_preset` downloads only with
`allow_unpinned=True`; `tools/pin_presets.py` pins them. Mel bins, frames,
sample rate and the normalisation are read from the repo's
`config.json` and `preprocessor_config.json` (see `kerasmm.convert.hf_ast`).
`params` is counted from the architecture (`AudioClassifier` over the
default `AudioSpectrogramTransformer`, 527 classes); `download_size` is 4
bytes per parameter (float32 safetensors), approximate. The mAP is the
one in the checkpoint's name and the paper (single model, 10/10 strides).
"""

from kerasmm.presets.registry import unpinned_hub_entry

_AST_PAPER = "Gong et al. 2021, AST (Interspeech), AudioSet eval mAP"

AST_PRESETS = {
    "ast_audioset": {
        **unpinned_hub_entry(
            "AudioClassifier",
            "AST (ImageNet-pretrained DeiT-B/384, 10x10 strides) fine-tuned on AudioSet: "
            "527 sound event labels, 10.24 s at 16 kHz, 128 Kaldi mel bins.",
            "hf_ast", "MIT/ast-finetuned-audioset-10-10-0.4593"),
        "params": "86.59M",
        "download_size": "~346 MB",
        "metrics": {"audioset_map": {_AST_PAPER: 45.93}},
    },
}
