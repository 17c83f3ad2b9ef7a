"""The preset registry: plain data, one entry per named preset.

Each entry:

- `class_name`: the kerasmm model class (`Model.presets` lists the entries
  of that class; `Model.from_preset(name)` builds it).
- `description`: one line.
- `sources`: where the weights live, tried in order until one has the
  files: `{"converter": a key of kerasmm.convert.CONVERTERS, "hf_repo":
  "org/name", "revision": optional, "sha256": {file name: hex digest}}`.
  The files fetched are the converter's config file, its weight files (the
  first present; safetensors from every source before any PyTorch pickle,
  which needs torch) and its assets (tokenizer vocabulary and merges).
  A sha256 is listed only where one is documented; a cached file with a
  wrong hash is fetched again.
- `package_data`: instead of `sources`, a directory shipped in the package
  under `kerasmm/weights/` (written by `save_to_preset`).
- `preprocessing`: the constants the model expects (image size, pixel
  mean/std, resize interpolation, text context length).
- `params` (open_clip's count), `download_size` (approximate size of the
  weights file), `metrics`: documentation (see `weights/README.md`);
  `metrics` values are published numbers with their source, not measured
  here.

Perceiver IO presets (converter `hf_perceiver`) follow the CLIP ones.
"""

_OPENAI_PREPROCESSING = {
    "mean": [0.48145466, 0.4578275, 0.40821073],
    "std": [0.26862954, 0.26130258, 0.27577711],
    "interpolation": "bicubic",
    "context_length": 77,
}
# Zero-shot ImageNet-1k top-1 (%): "paper" is Radford et al. 2021; "open_clip"
# is open_clip's docs/openclip_classification_results.csv.
_PAPER = "Radford et al. 2021"
_OPEN_CLIP = "open_clip docs/openclip_classification_results.csv"


def _openai_vit(hf_repo, timm_repo, image_size):
    """OpenAI ViT weights: the HF transformers export, else open_clip's copy."""
    return {
        "sources": [
            {"converter": "hf_clip", "hf_repo": hf_repo},
            {"converter": "open_clip", "hf_repo": timm_repo},
        ],
        "preprocessing": dict(_OPENAI_PREPROCESSING, image_size=image_size),
    }


PRESETS = {
    # === CLIP (OpenAI) ===
    "clip_vit_b32_openai": {
        "class_name": "CLIP",
        "description": "OpenAI CLIP ViT-B/32, 224x224 images, 512-d embeddings.",
        **_openai_vit("openai/clip-vit-base-patch32",
                      "timm/vit_base_patch32_clip_224.openai", 224),
        "params": "151.28M",
        "download_size": "~605 MB",
        "metrics": {"imagenet_zero_shot_top1": {_PAPER: 63.2, _OPEN_CLIP: 63.32}},
    },
    "clip_vit_b16_openai": {
        "class_name": "CLIP",
        "description": "OpenAI CLIP ViT-B/16, 224x224 images, 512-d embeddings.",
        **_openai_vit("openai/clip-vit-base-patch16",
                      "timm/vit_base_patch16_clip_224.openai", 224),
        "params": "149.62M",
        "download_size": "~599 MB",
        "metrics": {"imagenet_zero_shot_top1": {_PAPER: 68.6, _OPEN_CLIP: 68.34}},
    },
    "clip_vit_l14_openai": {
        "class_name": "CLIP",
        "description": "OpenAI CLIP ViT-L/14, 224x224 images, 768-d embeddings.",
        **_openai_vit("openai/clip-vit-large-patch14",
                      "timm/vit_large_patch14_clip_224.openai", 224),
        "params": "427.62M",
        "download_size": "~1.71 GB",
        "metrics": {"imagenet_zero_shot_top1": {_PAPER: 75.3, _OPEN_CLIP: 75.54}},
    },
    "clip_vit_l14_336_openai": {
        "class_name": "CLIP",
        "description": "OpenAI CLIP ViT-L/14 at 336x336 images, 768-d embeddings.",
        **_openai_vit("openai/clip-vit-large-patch14-336",
                      "timm/vit_large_patch14_clip_336.openai", 336),
        "params": "427.94M",
        "download_size": "~1.71 GB",
        "metrics": {"imagenet_zero_shot_top1": {_OPEN_CLIP: 76.56}},
    },
    "clip_rn50_openai": {
        "class_name": "CLIP",
        "description": "OpenAI CLIP ResNet-50 (ModifiedResNet, attention pooling), "
                       "224x224 images, 1024-d embeddings.",
        "sources": [{"converter": "open_clip", "hf_repo": "timm/resnet50_clip.openai"}],
        "preprocessing": dict(_OPENAI_PREPROCESSING, image_size=224),
        "params": "102.01M",
        "download_size": "~408 MB",
        "metrics": {"imagenet_zero_shot_top1": {_OPEN_CLIP: 59.82}},
    },
    # === CLIP (LAION, open_clip) ===
    "clip_vit_b32_laion2b": {
        "class_name": "CLIP",
        "description": "open_clip ViT-B/32 trained on LAION-2B (34B samples, "
                       "batch 79K), GELU, 224x224 images, 512-d embeddings.",
        "sources": [
            {"converter": "open_clip", "hf_repo": "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"},
            {"converter": "hf_clip", "hf_repo": "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"},
        ],
        "preprocessing": dict(_OPENAI_PREPROCESSING, image_size=224),
        "params": "151.28M",
        "download_size": "~605 MB",
        "metrics": {"imagenet_zero_shot_top1": {_OPEN_CLIP: 66.56}},
    },
    # === Trained here ===
    "shapes_clip_tiny": {
        "class_name": "CLIP",
        "description": "A tiny CLIP trained by `kerasmm demo` on the embedded shapes "
                       "dataset (weights/train_shapes_clip_tiny.py); ships with "
                       "kerasmm, works offline.",
        "package_data": "shapes_clip_tiny",
        "metrics": {},
    },
}

# === Perceiver IO (DeepMind, Hugging Face exports; converter hf_perceiver) ===
# ImageNet-1k top-1 (%) from Jaegle et al. 2021 (Perceiver IO), Table 3 /
# the Hugging Face model cards. Keys the CLIP presets use that do not apply
# to a modality are None.
_PERCEIVER_PAPER = "Jaegle et al. 2021 (Perceiver IO)"
_PERCEIVER_VISION_PREPROCESSING = {
    # HF PerceiverImageProcessor: center crop 224/256 of the short side,
    # bicubic resize to 224, ImageNet mean/std.
    "image_size": 224,
    "mean": [0.485, 0.456, 0.406],
    "std": [0.229, 0.224, 0.225],
    "interpolation": "bicubic",
    "center_crop_fraction": 224 / 256,
    "context_length": None,
}


def _perceiver_vision(variant, description, top1, download_size):
    return {
        "class_name": "PerceiverIO",
        "description": description,
        "sources": [{"converter": "hf_perceiver",
                     "hf_repo": f"deepmind/vision-perceiver-{variant}"}],
        "preprocessing": dict(_PERCEIVER_VISION_PREPROCESSING),
        "download_size": download_size,
        "metrics": {"imagenet_top1": {_PERCEIVER_PAPER: top1}},
    }


PRESETS.update({
    "perceiver_io_language": {
        "class_name": "PerceiverIO",
        "description": "Perceiver IO masked language model on UTF-8 bytes "
                       "(PerceiverForMaskedLM, 2048 bytes, 256 latents x 1280), "
                       "use with ByteTokenizer(add_special_tokens=True).",
        "sources": [{"converter": "hf_perceiver", "hf_repo": "deepmind/language-perceiver"}],
        "preprocessing": {"context_length": 2048, "pad_token_id": 0,
                          "tokenizer": "ByteTokenizer", "add_special_tokens": True,
                          "image_size": None, "mean": None, "std": None},
        "metrics": {},
    },
    "perceiver_io_vision_learned": _perceiver_vision(
        "learned", "Perceiver IO ImageNet classifier, 1x1 conv + learned 2D "
        "position embeddings (PerceiverForImageClassificationLearned).", 72.7, None),
    "perceiver_io_vision_fourier": _perceiver_vision(
        "fourier", "Perceiver IO ImageNet classifier on raw pixels with Fourier "
        "position features (PerceiverForImageClassificationFourier).", 79.0, "~194 MB"),
    "perceiver_io_vision_conv": _perceiver_vision(
        "conv", "Perceiver IO ImageNet classifier with a conv + max-pool stem and "
        "Fourier positions (PerceiverForImageClassificationConvProcessing).", 82.1, None),
    "perceiver_io_multimodal": {
        "class_name": "PerceiverIO",
        "description": "Perceiver IO multimodal autoencoder on Kinetics-700 "
                       "(PerceiverForMultimodalAutoencoding): 16 frames of 224 x 224 "
                       "video, 30,720 audio samples in patches of 16 and a 700-way "
                       "label in; reconstructions out, decoded whole or in chunks "
                       "(`subsampled_points`).",
        "sources": [{"converter": "hf_perceiver", "hf_repo": "deepmind/multimodal-perceiver"}],
        "preprocessing": {"image_size": 224, "num_frames": 16, "audio_samples": 30720,
                          "samples_per_patch": 16, "num_labels": 700, "mean": None,
                          "std": None, "context_length": None},
        "metrics": {},
    },
})
