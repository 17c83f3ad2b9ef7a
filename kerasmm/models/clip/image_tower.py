"""What the ViT-style image towers share: their input check, output shapes
and patch dropout."""

from kerasmm.models.clip.patch_dropout import PatchDropout
from kerasmm.utils.checks import check_images
from kerasmm.utils.checks import check_rate


class ImageTowerMixin:
    """For a `keras.Model` image tower with `image_size`, `num_patches`,
    `hidden_dim`, `output_tokens` and `pooled_dim` (the width of the pooled
    vector): refuses bad image batches in symbolic calls too (they skip
    `call`), gives the output shapes: `(B, pooled_dim)`, or with
    `output_tokens` `{"pooled": (B, pooled_dim), "tokens": (B, N, hidden_dim)}`,
    and patch dropout (FLIP) in training.
    """

    def _set_patch_dropout(self, patch_dropout, num_prefix_tokens):
        """Checks and stores `patch_dropout` and, only when it is nonzero
        (no seed state in other models' variables), makes the
        `PatchDropout` layer `token_dropout` that `_drop_patches` applies."""
        self.patch_dropout = check_rate("patch_dropout", patch_dropout)
        self.token_dropout = None
        if self.patch_dropout:
            self.token_dropout = PatchDropout(
                self.patch_dropout, num_prefix_tokens=num_prefix_tokens,
                name="patch_dropout", dtype=self.dtype_policy)

    def _drop_patches(self, tokens, training):
        """`tokens` with a random subset of the patches kept in training
        (after the position embeddings); `tokens` otherwise."""
        if self.token_dropout is None:
            return tokens
        return self.token_dropout(tokens, training=training)

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
