"""kerasmm.datasets."""
