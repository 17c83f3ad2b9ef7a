"""Loading a preset through the wrong class names the class to use, in its namespace."""

import pytest

import kerasmm


def test_task_preset_loaded_as_a_model_names_the_task(tmp_path):
    backbone = kerasmm.models.ViLT(vocabulary_size=30, image_size=32, patch_size=16, hidden_dim=8,
                                   num_layers=1, num_heads=2, max_sequence_length=8,
                                   intermediate_dim=16)
    kerasmm.tasks.VQAClassifier(backbone, num_answers=3).save_to_preset(str(tmp_path))
    with pytest.raises(ValueError, match=r"holds a VQAClassifier, not a CLIP: use "
                                         r"kerasmm\.tasks\.VQAClassifier\.from_preset"):
        kerasmm.models.CLIP.from_preset(str(tmp_path))
