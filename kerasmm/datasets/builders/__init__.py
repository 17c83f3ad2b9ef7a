"""TFDS builders kerasmm adds, one module per dataset (manual download).

Each module imports `tensorflow_datasets` and registers its builder with
TFDS when imported; only `kerasmm.datasets.load` imports them, so that
`import kerasmm.datasets` stays free of TFDS. The user places the official
files in a `manual_dir`; the builder reads them from there.
"""
