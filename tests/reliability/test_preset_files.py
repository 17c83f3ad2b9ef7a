"""Issue 16, item 4 (preset files): a bad config.json or preprocessor.json is a
ValueError that names the file and the key.

Failed before the fix: missing `class_name`, `config` or a tower in config.json
(bare `KeyError: 'class_name'` / `'config'` / `'vision_encoder'`); a tower of the
wrong type or an unknown class (errors naming no file); preprocessor.json without
`preprocessing` (bare KeyError), without `class_name` or with `assets` not a list
(loaded anyway). Passed before in substance (kept as guards): config.json /
preprocessor.json that is not JSON, empty or a list (`kerasmm.convert.read_json`
named the file; run against the old tree these cases failed only because
`update_manifest`, used to set them up, did not exist), and a Hugging Face config
field of the wrong type (the Converter base names the file; it passed as is).

Each preset here is edited by hand and its manifest entry updated (as for a
preset edited on purpose), so that the file's content, not the manifest check,
is what is refused.
"""

import json
import os
import shutil

import pytest

from kerasmm.models import CLIP
from kerasmm.models import CLIPPreprocessor
from kerasmm.presets.manifest import update_manifest
from tests.convert.parity import fixture
from tests.presets.fake_hub import offline  # noqa: F401 (the fixture)
from tests.presets.tiny import tiny_clip

pytestmark = pytest.mark.usefixtures("offline")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("saved") / "preset")
    tiny_clip().save_to_preset(
        directory, preprocessor=CLIPPreprocessor.from_preset(fixture("hf_clip_eos")))
    return directory


def edited(saved, tmp_path, filename, edit):
    """A copy of `saved` whose `filename` is rewritten by `edit` (text -> text),
    then sealed; returns (directory, path of the file)."""
    directory = str(tmp_path / "edited")
    shutil.copytree(saved, directory)
    path = os.path.join(directory, filename)
    with open(path, encoding="utf-8") as f:
        text = edit(f.read())
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    update_manifest(directory, [filename])
    return directory, path


def json_edit(change):
    def edit(text):
        content = json.loads(text)
        change(content)
        return json.dumps(content)
    return edit


@pytest.mark.parametrize("text, message", [
    ("{not json", "is not valid JSON"),
    ("", "is empty; expected a JSON object"),
    ("  \n", "is empty; expected a JSON object"),
    ("[1, 2]", r"must hold a JSON object \(\{...\}\). Received: a JSON list"),
])
def test_config_json_that_is_not_an_object(saved, tmp_path, text, message):
    directory, path = edited(saved, tmp_path, "config.json", lambda _: text)
    with pytest.raises(ValueError, match=rf"{path} {message}"):
        CLIP.from_preset(directory)


@pytest.mark.parametrize("change, message", [
    (lambda c: c.pop("class_name"), r"missing the key 'class_name'"),
    (lambda c: c.pop("config"), r"missing the key 'config'"),
    (lambda c: c.update(class_name=7), r"class_name must be a string. Received: class_name=7"),
    (lambda c: c.update(config=[1]), r"config must be an object"),
    (lambda c: c.update(build_config="x"), r"build_config must be an object"),
    (lambda c: c.update(class_name="NoSuchModel"), r"Unknown kerasmm class 'NoSuchModel'"),
    (lambda c: c["config"].pop("vision_encoder"),
     r"the config of CLIP is missing the key 'vision_encoder'"),
    (lambda c: c["config"].pop("text_encoder"),
     r"the config of CLIP is missing the key 'text_encoder'"),
    (lambda c: c["config"].update(text_encoder=5),
     r"text_encoder must be a Keras model or layer"),
    (lambda c: c["config"]["vision_encoder"].update(config="broken"), r"."),
])
def test_config_json_missing_or_wrong_keys(saved, tmp_path, change, message):
    directory, path = edited(saved, tmp_path, "config.json", json_edit(change))
    with pytest.raises(ValueError, match=rf"^{path}: .*{message}"):
        CLIP.from_preset(directory)


@pytest.mark.parametrize("text, message", [
    ("nope", "is not valid JSON"),
    ("", "is empty; expected a JSON object"),
    ("[]", "must hold a JSON object"),
])
def test_preprocessor_json_that_is_not_an_object(saved, tmp_path, text, message):
    directory, path = edited(saved, tmp_path, "preprocessor.json", lambda _: text)
    with pytest.raises(ValueError, match=rf"{path} {message}"):
        CLIPPreprocessor.from_preset(directory)


@pytest.mark.parametrize("change, message", [
    (lambda c: c.pop("class_name"), "missing the key 'class_name'"),
    (lambda c: c.pop("preprocessing"), "missing the key 'preprocessing'"),
    (lambda c: c.update(preprocessing=[]), "preprocessing must be an object"),
    (lambda c: c.pop("assets"), "missing the key 'assets'"),
    (lambda c: c.update(assets="vocab.json"), "assets must be a list"),
    (lambda c: c.update(assets=["/etc/passwd"]), "assets must be a plain file name"),
])
def test_preprocessor_json_missing_or_wrong_keys(saved, tmp_path, change, message):
    directory, path = edited(saved, tmp_path, "preprocessor.json", json_edit(change))
    with pytest.raises(ValueError, match=rf"^{path}: {message}"):
        CLIPPreprocessor.from_preset(directory)


def test_hf_config_field_of_the_wrong_type_names_the_file(tmp_path):
    directory = str(tmp_path / "hf")
    shutil.copytree(fixture("hf_clip_argmax"), directory)
    path = os.path.join(directory, "config.json")
    with open(path) as f:
        config = json.load(f)
    config["text_config"]["hidden_size"] = "32"
    with open(path, "w") as f:
        json.dump(config, f)
    with pytest.raises(ValueError, match=rf"^{path}: text_config.hidden_size must be an "
                                         r"integer. Received: text_config.hidden_size='32'"):
        CLIP.from_preset(directory)
