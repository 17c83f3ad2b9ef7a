"""Text-to-image diffusion presets: plain data (format in `kerasmm.presets.registry`).

Shipped entries (e.g. "shapes_diffusion_tiny", trained by
`weights/train_shapes_diffusion_tiny.py`) are added here.
"""

DIFFUSION_PRESETS = {
    "shapes_diffusion_tiny": {
        "class_name": "TextToImageDiffusion",
        "description": "A tiny text-to-image diffusion model (32x32x3) trained on the "
                       "single-shape scenes of the embedded shapes dataset "
                       "(weights/train_shapes_diffusion_tiny.py); ships with kerasmm, "
                       "works offline.",
        "package_data": "shapes_diffusion_tiny",
        "metrics": {},
    },
}
