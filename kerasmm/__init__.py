"""kerasmm: a Keras 3 multimodal model zoo (CLIP, Perceiver, Perceiver IO).

`import kerasmm` imports every sub-package, so that every kerasmm class is
registered with Keras' serialization: `keras.saving.load_model` imports
modules of Keras' own packages only, so `import kerasmm` followed by
`keras.saving.load_model("clip.keras")` must find the classes registered.

The one exception is the process of the `kerasmm` command (its console
script, or `python -m kerasmm`): there the sub-packages load on first use
(PEP 562 `__getattr__`), so `kerasmm --help` answers in a fraction of a
second; when a command runs, `kerasmm.cli` first quietens TensorFlow's
start-up logs, then imports every sub-package (so the command, too, can load
any `.keras` file) and TensorFlow with them.

Designs weighed for that: (1) lazy sub-packages for everyone, with
registration at first model use, would break `import kerasmm;
keras.saving.load_model(...)` (nothing kerasmm runs before Keras looks a
class up, and Keras has no plugin hook); (2) a hook in `sys.meta_path`
finishing the imports when `keras` loads would run kerasmm's imports inside
Keras' (import cycles, surprises for every user); (3) an eager package with
the console script on a launcher outside it would add a second top-level
module, could not read the recipes' configs for the help without importing
the package, and would leave `python -m kerasmm` slow and noisy, as Python
imports the package before its `__main__`. So the package stays eager and
tells the command's process apart by `sys.argv` (below), which Python sets
before any import: a misread can only make it eager (slow), never lazy for
a library user who runs a script that is not named `kerasmm`.
"""

import os
import re
import sys

from kerasmm.utils.lazy import lazy_attributes
from kerasmm.version import __version__  # noqa: F401

SUBPACKAGES = ("layers", "preprocessing", "distribute", "metrics", "optim", "convert",
               "losses", "datasets", "presets", "models", "tasks")

__getattr__, __dir__ = lazy_attributes(__name__, {name: name for name in SUBPACKAGES})


def _started_as_the_command():
    """Whether this process is the `kerasmm` command: its console script
    (`kerasmm`, `kerasmm.exe`, `kerasmm-script.py`), or `python -m kerasmm`
    while Python locates `kerasmm.__main__` (`sys.argv[0]` is `-m` then)."""
    argv = getattr(sys, "argv", None) or [""]
    if argv[0] == "-m":
        original = getattr(sys, "orig_argv", [])
        return "-m" in original and original[original.index("-m") + 1:][:1] == ["kerasmm"]
    return re.sub(r"(-script\.pyw?|\.exe)$", "", os.path.basename(argv[0])) == "kerasmm"


if not _started_as_the_command():
    for _name in SUBPACKAGES:
        __getattr__(_name)
    del _name
