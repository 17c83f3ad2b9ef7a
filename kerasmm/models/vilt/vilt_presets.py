"""ViLT presets: plain data, one entry per named preset (converter hf_vilt).

The entry format is described in `kerasmm.presets.registry`. The entries
hold ViLT's heads (`kerasmm.tasks.ViLTMaskedLM`, `VQAClassifier`,
`ViLTRetrievalScorer`, `MultimodalClassifier`), whose `family_presets`
they are. None is pinned yet (this was written offline): each Hub source
is `"unpinned": True`, which `from_preset` downloads only with
`allow_unpinned=True`; `tools/pin_presets.py` pins them. Image size, mean
and std are read from the repo's files (see `kerasmm.convert.hf_vilt`).
"""


from kerasmm.presets.registry import unpinned_hub_entry


def _entry(class_name, description, hf_repo):
    return unpinned_hub_entry(class_name, description, "hf_vilt", hf_repo)


VILT_PRESETS = {
    "vilt_b32_mlm": _entry(
        "ViLTMaskedLM",
        "ViLT-B/32 pre-trained (GCC, SBU, COCO, VG): masked language modelling head.",
        "dandelin/vilt-b32-mlm"),
    "vilt_b32_vqa": _entry(
        "VQAClassifier",
        "ViLT-B/32 fine-tuned on VQAv2: 3129 answers.",
        "dandelin/vilt-b32-finetuned-vqa"),
    "vilt_b32_coco_retrieval": _entry(
        "ViLTRetrievalScorer",
        "ViLT-B/32 fine-tuned on COCO image-text retrieval: one matching score.",
        "dandelin/vilt-b32-finetuned-coco"),
    "vilt_b32_nlvr2": _entry(
        "MultimodalClassifier",
        "ViLT-B/32 fine-tuned on NLVR2: two images and a sentence, true or false.",
        "dandelin/vilt-b32-finetuned-nlvr2"),
}
