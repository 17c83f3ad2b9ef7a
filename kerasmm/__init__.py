"""kerasmm: a Keras 3 multimodal model zoo (CLIP, Perceiver, Perceiver IO).

Every sub-package is imported here, so that `import kerasmm` registers every
class with Keras' serialization (`keras.saving.load_model` needs that).
"""

from kerasmm.version import __version__  # noqa: F401

from kerasmm import layers  # noqa: E402,F401
from kerasmm import preprocessing  # noqa: E402,F401
from kerasmm import distribute  # noqa: E402,F401
from kerasmm import metrics  # noqa: E402,F401
from kerasmm import optim  # noqa: E402,F401
from kerasmm import convert  # noqa: E402,F401
from kerasmm import losses  # noqa: E402,F401
from kerasmm import datasets  # noqa: E402,F401
from kerasmm import presets  # noqa: E402,F401
from kerasmm import models  # noqa: E402,F401
from kerasmm import tasks  # noqa: E402,F401
