"""Dual-stream fusion (ViLBERT / LXMERT style): text and image streams cross-attend."""

from kerasmm.models.coattention.coattention_backbone import CoAttentionTransformer  # noqa: F401
