"""kerasmm.convert."""
