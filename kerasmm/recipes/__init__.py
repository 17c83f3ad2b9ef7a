"""kerasmm.recipes: demos and training jobs, each driven by one config dataclass.

- `run_clip_demo(ClipDemoConfig())`: the `kerasmm demo` CLIP on shapes.
- `train_shapes_clip_tiny(ShapesClipTinyConfig())`: the shipped weights.
- `train_image_classifier`, `train_masked_bytes`,
  `train_multimodal_autoencoder`: three small Perceiver IO jobs, each with
  its config (`.small()` for a smoke run) and a dict of measured numbers.
"""

from kerasmm.utils.lazy import lazy_attributes

# Each public name and the module defining it, imported on first use, so that
# the config dataclasses load without TensorFlow (`kerasmm demo --help`).
__getattr__, __dir__ = lazy_attributes(__name__, {
    "CaptionDemoConfig": "caption_demo_config",
    "run_caption_demo": "caption_demo",
    "evaluate_captioner": "caption_evaluation",
    "build_caption_coca": "caption_training",
    "run_clip_demo": "clip_demo",
    "save_clip": "clip_demo",
    "ClipDemoConfig": "clip_demo_config",
    "evaluate_clip": "clip_evaluation",
    "format_results": "clip_evaluation",
    "load_test_split": "clip_evaluation",
    "query_matches": "clip_retrievals",
    "save_retrievals": "clip_retrievals",
    "build_demo_clip": "clip_training",
    "demo_train_dataset": "clip_training",
    "train_clip": "clip_training",
    "Clock": "clock",
    "evaluation": "evaluation",
    "format_config": "config_format",
    "prepare_output_dir": "output_dir",
    "PerceiverImageClassifierConfig": "perceiver_image_classifier",
    "build_image_classifier": "perceiver_image_classifier",
    "single_shape_images": "perceiver_image_classifier",
    "train_image_classifier": "perceiver_image_classifier",
    "PerceiverMaskedBytesConfig": "perceiver_masked_bytes",
    "build_masked_byte_model": "perceiver_masked_bytes",
    "train_masked_bytes": "perceiver_masked_bytes",
    "PerceiverAutoencoderConfig": "perceiver_autoencoder",
    "build_multimodal_autoencoder": "perceiver_autoencoder",
    "heldout_clips": "perceiver_autoencoder",
    "train_multimodal_autoencoder": "perceiver_autoencoder",
    "GenerateDemoConfig": "generate_demo_config",
    "run_generate_demo": "generate_demo",
    "train_shapes_diffusion_tiny": "generate_demo_weights",
    "load_shapes_reader": "shapes_reader",
    "read_shapes": "shapes_reader",
    "clip_score": "shapes_scoring",
    "score_samples": "shapes_scoring",
    "ShapesClipTinyConfig": "shapes_clip_tiny",
    "train_shapes_clip_tiny": "shapes_clip_tiny",
    "VQADemoConfig": "vqa_demo_config",
    "run_vqa_demo": "vqa_demo",
})
