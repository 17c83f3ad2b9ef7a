import keras
import numpy as np
import pytest

from kerasmm.models import CLIP
from kerasmm.models import TextTransformer
from kerasmm.models import VisionTransformer
from kerasmm.optim import weight_decay_exclusions


def tiny_clip(**kwargs):
    vision = VisionTransformer(image_size=16, patch_size=8, hidden_dim=8, num_layers=2,
                               num_heads=2, output_dim=4, name="vision")
    text = TextTransformer(vocabulary_size=32, context_length=6, hidden_dim=8,
                           num_layers=2, num_heads=2, output_dim=4, name="text")
    return CLIP(vision, text, name="clip", **kwargs)


def test_clip_exclusions_are_the_1d_embedding_and_logit_variables():
    model = tiny_clip(logit_bias_init=-10.0)
    excluded = {v.path for v in weight_decay_exclusions(model)}
    # Written out by hand from the towers' structure: every norm, bias, the
    # class token, both position tables, the token table, logit scale / bias.
    expected = {"vision/class_embedding", "vision/position_embedding/embeddings",
                "text/token_embedding/embeddings", "text/position_embedding/embeddings"}
    expected |= {v.path for v in model.trainable_variables
                 if v.name in ("gamma", "beta", "bias", "logit_scale", "logit_bias")}
    assert {"clip/logit_scale", "clip/logit_bias", "vision/ln_pre/gamma",
            "text/block_1/attention/query/bias"} <= expected
    assert excluded == expected
    decayed = {v.path for v in model.trainable_variables} - excluded
    assert "vision/patch_embedding/projection/kernel" in decayed  # a kernel, not a table
    assert all(v.name == "kernel" for v in model.trainable_variables if v.path in decayed)


def test_a_non_scalar_logit_variable_is_excluded_by_name():
    class Scaled(keras.layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(3, 3), name="kernel")
            self.logit_bias = self.add_weight(shape=(1, 3), name="logit_bias")

        def call(self, x):
            return x @ self.kernel + self.logit_bias

    layer = Scaled()
    layer.build((None, 3))
    assert [v.name for v in weight_decay_exclusions(layer)] == ["logit_bias"]


def test_adamw_decays_only_the_rest():
    model = tiny_clip()
    variables = model.trainable_variables
    optimizer = keras.optimizers.AdamW(learning_rate=0.1, weight_decay=0.5)
    optimizer.exclude_from_weight_decay(var_list=weight_decay_exclusions(model))
    before = [keras.ops.convert_to_numpy(v) for v in variables]
    # Zero gradients: Adam moves nothing, so only weight decay changes values.
    optimizer.apply([keras.ops.zeros(v.shape) for v in variables], variables)
    excluded = {v.path for v in weight_decay_exclusions(model)}
    for variable, old in zip(variables, before):
        new = keras.ops.convert_to_numpy(variable)
        if variable.path in excluded:
            np.testing.assert_array_equal(new, old, err_msg=variable.path)
        else:
            np.testing.assert_allclose(new, old * (1 - 0.1 * 0.5), rtol=1e-6,
                                       err_msg=variable.path)


def test_bad_model():
    with pytest.raises(TypeError, match="model must be"):
        weight_decay_exclusions([keras.Variable(1.0)])
