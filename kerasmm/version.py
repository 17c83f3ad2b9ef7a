"""The kerasmm version (its own module, so nothing inside the package imports the root)."""

__version__ = "0.2.0.dev0"
