"""Constants written once: pixel statistics and CLIP's temperature bounds."""

import math

# Pixel mean / std of OpenAI's CLIP training data (RGB, on images in [0, 1]).
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
# ImageNet's (torchvision, timm, Perceiver IO).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Mean / std 0.5: images mapped to [-1, 1] (SigLIP, ViLT).
HALF_MEAN = (0.5, 0.5, 0.5)
HALF_STD = (0.5, 0.5, 0.5)

# CLIP's learnable log inverse temperature: initialised to ln(1 / 0.07) and
# clamped to [0, ln 100] (open_clip's range: temperature between 1 and 1/100).
LOGIT_SCALE_INIT = math.log(1 / 0.07)
LOGIT_SCALE_MIN = 0.0
LOGIT_SCALE_MAX = math.log(100.0)

# Text-to-image diffusion's choices, shared by the model, its recipe config
# and the `kerasmm generate` command (which must not import a backend).
DIFFUSION_SAMPLERS = ("ddim", "ddpm")
DIFFUSION_PREDICTION_TYPES = ("epsilon", "v")
DIFFUSION_LOSS_WEIGHTINGS = ("none", "min_snr")
