"""Video encoders: image towers applied per frame, pooled over time."""

from kerasmm.models.video.video_encoder import VideoEncoder  # noqa: F401
from kerasmm.models.video.video_encoder import uniform_frame_indices  # noqa: F401
from kerasmm.models.video.video_clip import VideoCLIP  # noqa: F401
