"""kerasmm.models: prebuilt models."""

from kerasmm.models.clip import *  # noqa: F401,F403
from kerasmm.models.perceiver import *  # noqa: F401,F403
