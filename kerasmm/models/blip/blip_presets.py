"""BLIP presets: plain data, one entry per named preset (converter hf_blip).

The entry format is described in `kerasmm.presets.registry`. The entries
hold BLIP's tasks (`kerasmm.tasks.ImageCaptioner`, `BLIPQuestionAnswerer`,
`ImageTextMatcher`), whose `family_presets` they are. None is pinned yet
(this was written offline): each Hub source is `"unpinned": True`, which
`from_preset` downloads only with `allow_unpinned=True` (trust on first
use, `kerasmm.presets.lock`); `tools/pin_presets.py` pins them. The
entries carry no `preprocessing`: image size, mean and std are read from
the repo's `config.json` and `preprocessor_config.json` (see
`kerasmm.convert.hf_blip`), and no parameter counts or metrics, which
could not be checked offline.
"""


from kerasmm.presets.registry import unpinned_hub_entry


def _entry(class_name, description, hf_repo):
    return unpinned_hub_entry(class_name, description, "hf_blip", hf_repo)


BLIP_PRESETS = {
    "blip_captioning_base": _entry(
        "ImageCaptioner",
        "BLIP image captioning: ViT-B/16 image encoder, BERT-base text decoder (COCO).",
        "Salesforce/blip-image-captioning-base"),
    "blip_captioning_large": _entry(
        "ImageCaptioner",
        "BLIP image captioning: ViT-L/16 image encoder, BERT-base text decoder (COCO).",
        "Salesforce/blip-image-captioning-large"),
    "blip_vqa_base": _entry(
        "BLIPQuestionAnswerer",
        "BLIP generative VQA: ViT-B/16 image encoder, BERT-base question encoder and "
        "answer decoder (VQAv2).",
        "Salesforce/blip-vqa-base"),
    "blip_itm_base_coco": _entry(
        "ImageTextMatcher",
        "BLIP image-text matching (ITM) and contrastive (ITC) heads: ViT-B/16, "
        "BERT-base (COCO retrieval).",
        "Salesforce/blip-itm-base-coco"),
}
