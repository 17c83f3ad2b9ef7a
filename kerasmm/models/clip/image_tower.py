"""What the ViT-style image towers share: their input check and output shapes."""

from kerasmm.utils.checks import check_images


class ImageTowerMixin:
    """For a `keras.Model` image tower with `image_size`, `num_patches`,
    `hidden_dim`, `output_tokens` and `pooled_dim` (the width of the pooled
    vector): refuses bad image batches in symbolic calls too (they skip
    `call`), and gives the output shapes: `(B, pooled_dim)`, or with
    `output_tokens` `{"pooled": (B, pooled_dim), "tokens": (B, N, hidden_dim)}`.
    """

    def _check_images(self, shape, dtype=None):
        size = self.image_size
        check_images("images", shape, (size, size, 3), f"image_size={size}", dtype)

    def compute_output_spec(self, images, training=None):
        self._check_images(images.shape, images.dtype)
        return super().compute_output_spec(images, training=training)

    def compute_output_shape(self, input_shape):
        self._check_images(input_shape)
        pooled = (input_shape[0], self.pooled_dim)
        if self.output_tokens:
            return {"pooled": pooled,
                    "tokens": (input_shape[0], self.num_patches, self.hidden_dim)}
        return pooled
