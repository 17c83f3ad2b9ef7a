"""kerasmm.utils: argument checks and constants (the ground floor)."""
