"""kerasmm.presets: the machinery behind `from_preset` and `save_to_preset`.

One job per module: `registry` (entry format, `merge_presets`), `pins`
(commits and sha256 of remote sources; Hub names checked), `resolve`
(name / `hf://` / directory -> local files), `download` (Hub, verified,
cache), `lock` (trust on first use for unpinned downloads), `manifest`
(sha256 of a saved preset's files), `weights` (weight paths), `build`
(model from plain data), `load`, `save`, `mixin` (`PresetMixin` for
models) and `preprocessor` (the `Preprocessor` base of family
preprocessors). The preset data itself lives
in each family's folder (`kerasmm/models/<family>/<family>_presets.py`);
this package imports no model.

A new family (or a test's toy family) plugs in with public names only:

- presets: `class Toy(PresetMixin, keras.Model): family_presets = TOY_PRESETS`
  (entries as in `kerasmm.presets.registry`);
- a checkpoint format: `preset_converters = {**kerasmm.convert.CONVERTERS,
  "toy": TOY_CONVERTER}` on the same class (a `kerasmm.convert.Converter`);
- a preprocessor: subclass `Preprocessor`, set `backbone_cls = Toy`, and
  implement `preset_arguments`, `preset_preprocessing` (and `save_assets`).
"""

from kerasmm.presets.build import build_model  # noqa: F401
from kerasmm.presets.build import instantiate  # noqa: F401
from kerasmm.presets.build import registered_class  # noqa: F401
from kerasmm.presets.load import PresetAssets  # noqa: F401
from kerasmm.presets.load import from_preset  # noqa: F401
from kerasmm.presets.load import load_preprocessing  # noqa: F401
from kerasmm.presets.manifest import verify_preset  # noqa: F401
from kerasmm.presets.manifest import write_manifest  # noqa: F401
from kerasmm.presets.mixin import PresetMixin  # noqa: F401
from kerasmm.presets.pins import hub_source  # noqa: F401
from kerasmm.presets.pins import read_pins  # noqa: F401
from kerasmm.presets.preprocessor import Preprocessor  # noqa: F401
from kerasmm.presets.registry import check_preset_entry  # noqa: F401
from kerasmm.presets.registry import merge_presets  # noqa: F401
from kerasmm.presets.registry import unpinned_hub_entry  # noqa: F401
from kerasmm.presets.save import save_to_preset  # noqa: F401
from kerasmm.presets.weights import assign_weights  # noqa: F401
from kerasmm.presets.weights import model_weights  # noqa: F401
