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
                       "works offline. Gets the colour right (shapes reader: 92.9% of its "
                       "samples of the 30 'a {colour} {shape}' prompts), the shape rarely "
                       "(21.2%, chance 20%): both 19.6% (seen combinations 20.5%, held-out "
                       "15%; metrics.json there).",
        "package_data": "shapes_diffusion_tiny",
        # Percent, from metrics.json (DDIM 25 steps, guidance 3, 8 samples per prompt).
        "metrics": {name: {"metrics.json": value} for name, value in (
            ("shapes_reader_accuracy_all", 19.58), ("shapes_reader_accuracy_seen", 20.5),
            ("shapes_reader_color_accuracy_all", 92.92),
            ("shapes_reader_shape_accuracy_all", 21.25), ("clip_accuracy_all", 20.42),
            ("clip_score_all", 62.05))},
    },
}
