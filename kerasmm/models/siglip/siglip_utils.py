"""What the two SigLIP towers share: their transformer arguments and checks."""

from kerasmm.layers import SelfAttention
from kerasmm.layers.remat import check_remat
from kerasmm.models.clip.clip_utils import check_tower_args
from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int

# Constructor arguments both towers take, stored under their names.
TRANSFORMER_ARGS = ("hidden_dim", "num_layers", "num_heads", "intermediate_dim",
                    "activation", "layer_norm_epsilon", "remat", "output_tokens")


def set_transformer_args(tower, hidden_dim, num_layers, num_heads, intermediate_dim,
                         activation, layer_norm_epsilon, remat, output_tokens):
    """Checks the `TRANSFORMER_ARGS` and stores each on `tower` under its name
    (`intermediate_dim=None` stored as `4 * hidden_dim`)."""
    check_tower_args(num_heads, "hidden_dim", hidden_dim, activation, num_layers=num_layers)
    check_positive_int("intermediate_dim", intermediate_dim, allow_none=True)
    tower.hidden_dim = hidden_dim
    tower.num_layers = num_layers
    tower.num_heads = num_heads
    tower.intermediate_dim = intermediate_dim or 4 * hidden_dim
    tower.activation = activation
    tower.layer_norm_epsilon = check_number(
        "layer_norm_epsilon", layer_norm_epsilon, minimum=0, exclusive_minimum=True)
    tower.remat = check_remat(remat)
    tower.output_tokens = check_bool("output_tokens", output_tokens)


def encoder_blocks(tower):
    """The tower's `num_layers` pre-LN blocks (Hugging Face's
    `SiglipEncoderLayer`: q/k/v/output projections with biases, GELU MLP)."""
    return [
        SelfAttention(tower.num_heads, activation=tower.activation,
                      layer_norm_epsilon=tower.layer_norm_epsilon,
                      intermediate_dim=tower.intermediate_dim,
                      name=f"block_{i}", dtype=tower.dtype_policy)
        for i in range(tower.num_layers)
    ]


def transformer_config(tower):
    """The `TRANSFORMER_ARGS` part of a tower's `get_config`."""
    return {name: getattr(tower, name) for name in TRANSFORMER_ARGS}
