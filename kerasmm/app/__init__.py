"""The local apps built on kerasmm: `kerasmm search` (photo search index and web page)."""
