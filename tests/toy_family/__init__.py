"""A toy family, written by copying the pattern of kerasmm/models/<family>/.

It proves the family shape scales: a backbone, its preprocessor, its presets
(plain data) and a converter name map, all outside the kerasmm package, load
with `from_preset` through public extension points only.
"""
