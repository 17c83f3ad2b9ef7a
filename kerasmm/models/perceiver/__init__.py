"""kerasmm.models.perceiver."""
