"""kerasmm.models.perceiver."""

from kerasmm.models.perceiver.perceiver import Perceiver
from kerasmm.models.perceiver.perceiver_io import PerceiverIO
