"""CoCa presets: plain data, one entry per named preset (converter open_clip_coca).

The entry format is described in `kerasmm.presets.registry`; `CoCa`
carries these as `CoCa.family_presets`. Written offline: each Hub source
is `"unpinned": True`, which `from_preset` downloads only with
`allow_unpinned=True` (trust on first use, `kerasmm.presets.lock`). The
converter reads the repo's `open_clip_config.json` (see
`kerasmm.convert.open_clip_coca`).
"""

from kerasmm.presets.registry import unpinned_hub_entry
from kerasmm.utils.constants import OPENAI_CLIP_MEAN
from kerasmm.utils.constants import OPENAI_CLIP_STD

COCA_PRESETS = {
    "coca_vit_b32_laion2b": {
        **unpinned_hub_entry(
            "CoCa",
            "open_clip coca_ViT-B-32 trained on LAION-2B (13B samples, batch 90K): "
            "ViT-B/32, 224x224 images, 512-d embeddings, 12 + 12 text blocks.",
            "open_clip_coca", "laion/CoCa-ViT-B-32-laion2B-s13B-b90k"),
        "preprocessing": {"image_size": 224, "mean": list(OPENAI_CLIP_MEAN),
                          "std": list(OPENAI_CLIP_STD), "interpolation": "bicubic",
                          "context_length": 76},
    },
}
