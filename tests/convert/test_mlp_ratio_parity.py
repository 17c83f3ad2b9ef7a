"""CLIPs whose MLPs are not 4x as wide convert with float32 parity: 2x, and
LAION ViT-bigG-14 / ViT-g-14's 4.9231x (`int(width * 4.9231)`), from
Hugging Face and open_clip; open_clip's `output_tokens` sequences match too.
Fixtures: `tools/make_parity_fixtures.py --mlp-ratios`."""

import pytest

from kerasmm import convert
from kerasmm.models import TextTransformer
from kerasmm.models import VisionTransformer
from tests.convert.parity import ATOL, assert_clip_parity, converted_model, copy_fixture
from tests.convert.parity import max_abs_diff, reference, rewrite_config

WIDTH = 32
# Fixture: MLP hidden width of both towers.
MLP_WIDTHS = {
    "hf_clip_mlp2x": 2 * WIDTH,
    "hf_clip_mlp4_9231x": int(WIDTH * 4.9231),  # 157
    "open_clip_mlp2x": 2 * WIDTH,
    "open_clip_mlp4_9231x": int(WIDTH * 4.9231),
}


@pytest.mark.parametrize("name", sorted(MLP_WIDTHS))
def test_parity_at_mlp_width(name):
    model = converted_model(name)
    for tower in (model.vision_encoder, model.text_encoder):
        assert tower.intermediate_dim == MLP_WIDTHS[name]
        for block in tower.blocks:
            assert tuple(block.mlp.dense_1.kernel.shape) == (WIDTH, MLP_WIDTHS[name])
    assert_clip_parity(model, reference(name))


def test_epsilon_and_projection_bias_follow_the_config():
    hf = converted_model("hf_clip_mlp2x")
    assert hf.vision_encoder.layer_norm_epsilon == 1e-6
    assert hf.text_encoder.ln_final.epsilon == 1e-6
    open_clip = converted_model("open_clip_mlp2x")  # text_cfg.proj_bias: true
    assert open_clip.text_encoder.use_projection_bias
    assert abs(float(open_clip.text_encoder.projection.bias.numpy().sum())) > 0
    assert open_clip.vision_encoder.projection.bias is None


def _with_tokens(tower):
    """A copy of `tower` built with output_tokens=True, same weights."""
    cls = VisionTransformer if isinstance(tower, VisionTransformer) else TextTransformer
    copy = cls.from_config({**tower.get_config(), "output_tokens": True})
    copy.set_weights(tower.get_weights())
    return copy


@pytest.mark.parametrize("name", ["open_clip_mlp2x", "open_clip_mlp4_9231x"])
def test_output_tokens_match_open_clip(name):
    model, ref = converted_model(name), reference(name)
    image = _with_tokens(model.vision_encoder)(ref["images"])
    text = _with_tokens(model.text_encoder)(ref["token_ids"])
    for key, outputs in (("image_tokens", image), ("text_tokens", text)):
        assert tuple(outputs["tokens"].shape) == ref[key].shape
        diff = max_abs_diff(outputs["tokens"], ref[key])
        assert diff <= ATOL, f"{key}: max abs diff {diff:.3g} > {ATOL}"
    # The pooled output of the full path equals the fast pooled path's.
    assert max_abs_diff(image["pooled"], model.vision_encoder(ref["images"])) <= 1e-5
    assert max_abs_diff(text["pooled"], model.text_encoder(ref["token_ids"])) <= 1e-5


def test_mlp_ratio_the_weights_do_not_have_is_refused(tmp_path):
    """The config implies each MLP's shape: a wrong ratio names the tensor."""
    directory = copy_fixture("open_clip_mlp2x", tmp_path)
    rewrite_config(directory, lambda c: c["model_cfg"]["vision_cfg"].update(mlp_ratio=4.0),
                   "open_clip_config.json")
    with pytest.raises(ValueError, match=r"visual\.transformer\.resblocks\.0\.mlp\.c_fc"
                       r"\.weight' has shape \(64, 32\), but the config implies \(128, 32\)"):
        convert.convert(directory)
