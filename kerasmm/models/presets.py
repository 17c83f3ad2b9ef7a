"""Every family's presets in one table, joined explicitly.

Each family keeps its entries as plain data in its own folder, and its
model classes carry them (`CLIP.family_presets`); `from_preset` needs
nothing else. This table is for listing and documentation
(`weights/README.md`, tests of every entry). A new family is one more
argument to `merge_presets`.
"""

from kerasmm.models.ast.ast_presets import AST_PRESETS
from kerasmm.models.blip.blip_presets import BLIP_PRESETS
from kerasmm.models.clip.clip_presets import CLIP_PRESETS
from kerasmm.models.coca.coca_presets import COCA_PRESETS
from kerasmm.models.diffusion.diffusion_presets import DIFFUSION_PRESETS
from kerasmm.models.perceiver.perceiver_presets import PERCEIVER_PRESETS
from kerasmm.models.siglip.siglip_presets import SIGLIP_PRESETS
from kerasmm.models.vilt.vilt_presets import VILT_PRESETS
from kerasmm.presets import merge_presets

PRESETS = merge_presets(
    CLIP_PRESETS,
    PERCEIVER_PRESETS,
    SIGLIP_PRESETS,
    VILT_PRESETS,
    BLIP_PRESETS,
    AST_PRESETS,
    DIFFUSION_PRESETS,
    COCA_PRESETS,
)
