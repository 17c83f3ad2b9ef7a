"""`prepare_output_dir`: a run's folder is checked (and created) before any work."""

import os

import pytest

from kerasmm.recipes import prepare_output_dir


def test_new_folder_is_created(tmp_path):
    path = prepare_output_dir(str(tmp_path / "a" / "b"))
    assert os.path.isdir(path) and path == str(tmp_path / "a" / "b")


def test_empty_folder_is_accepted_and_relative_paths_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkdir("empty")
    assert prepare_output_dir("empty") == str(tmp_path / "empty")


def test_folder_with_earlier_results_is_refused_unless_overwrite(tmp_path):
    (tmp_path / "shapes_clip.keras").write_bytes(b"earlier")
    with pytest.raises(ValueError, match=r"output_dir must be a new or empty folder.*"
                                         r"shapes_clip\.keras.*overwrite=True"):
        prepare_output_dir(str(tmp_path))
    assert prepare_output_dir(tmp_path, overwrite=True) == str(tmp_path)
    # Checking never deletes anything.
    assert (tmp_path / "shapes_clip.keras").read_bytes() == b"earlier"


def test_a_file_is_refused_even_with_overwrite(tmp_path):
    path = tmp_path / "results.txt"
    path.write_text("x")
    with pytest.raises(ValueError, match="output_dir must be a folder, not a file"):
        prepare_output_dir(str(path), overwrite=True)


@pytest.mark.parametrize("output_dir", ["", None, 3])
def test_bad_paths_are_refused(output_dir):
    with pytest.raises(ValueError, match="output_dir must be a non-empty path"):
        prepare_output_dir(output_dir)


def test_overwrite_must_be_a_bool(tmp_path):
    with pytest.raises(ValueError, match="overwrite must be a bool"):
        prepare_output_dir(str(tmp_path), overwrite="no")
