"""kerasmm.models.clip."""
