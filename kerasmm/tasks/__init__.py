"""kerasmm.tasks."""
