"""The Perceiver IO masked byte job: its loss falls on held-out texts."""

import numpy as np
import pytest

from kerasmm.recipes import PerceiverMaskedBytesConfig
from kerasmm.recipes import build_masked_byte_model
from kerasmm.recipes import train_masked_bytes


def test_steps_must_be_a_multiple_of_log_every():
    with pytest.raises(ValueError, match="steps must be divisible by log_every. "
                                         "Received: steps=15, log_every=10"):
        PerceiverMaskedBytesConfig.small(steps=15)


def test_build_masked_byte_model_predicts_every_position():
    config = PerceiverMaskedBytesConfig.small(num_latents=4, latent_dim=8)
    model = build_masked_byte_model(config)
    token_ids = np.ones((2, config.sequence_length), "int32")
    out = model(token_ids)
    assert tuple(out.shape)[:2] == (2, config.sequence_length)


@pytest.mark.slow  # ~20 s of CPU
def test_masked_bytes_small_loss_falls():
    config = PerceiverMaskedBytesConfig.small()
    result = train_masked_bytes(config)
    assert len(result["losses"]) == config.steps // config.log_every
    assert result["last_loss"] < 0.8 * result["first_loss"], result["losses"]
    assert result["heldout_loss_after"] < 0.8 * result["heldout_loss_before"], result
    assert result["heldout_masked_accuracy"] > 10 / 262  # 10x chance
