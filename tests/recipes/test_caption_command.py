"""`kerasmm caption PHOTO... --preset P`, on the tiny BLIP checkpoint of the fixtures."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from kerasmm import cli
from kerasmm.app import caption_command

PRESET = os.path.join(os.path.dirname(__file__), "..", "fixtures", "hf_blip_captioning")


def write_photo(path, size, seed):
    pixels = np.random.default_rng(seed).integers(0, 256, size=(*size, 3), dtype="uint8")
    Image.fromarray(pixels).save(path)
    return str(path)


@pytest.mark.slow
def test_caption_prints_one_line_per_photo_and_json(tmp_path, capsys, monkeypatch):
    captioner = caption_command.load_captioner(PRESET)
    loaded = []
    monkeypatch.setattr(caption_command, "load_captioner",
                        lambda preset, allow_unpinned: loaded.append(preset) or captioner)
    photos = [write_photo(tmp_path / "a.png", (40, 50), 0),
              write_photo(tmp_path / "b.jpg", (30, 30), 1),
              write_photo(tmp_path / "c.png", (40, 50), 2)]
    status = cli.main(["caption", *photos, "--preset", PRESET, "--max-length", "5", "--json"])
    assert status == 0 and loaded == [PRESET]
    lines = capsys.readouterr().out.strip().splitlines()
    results = json.loads(lines[-1])
    assert [c["path"] for c in results["captions"]] == photos
    assert lines[:3] == [f"{c['path']}\t{c['caption']}" for c in results["captions"]]
    # The same captions as the task itself gives (photos of one size batched).
    pixels = [np.asarray(Image.open(p).convert("RGB")) for p in photos]
    expected = captioner.caption(np.stack([pixels[0], pixels[2]]), max_length=5)
    expected.insert(1, captioner.caption(pixels[1][None], max_length=5)[0])
    assert [c["caption"] for c in results["captions"]] == expected


def test_unreadable_photo_is_an_error_before_loading(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    assert cli.main(["caption", str(bad), "--preset", "no_such_preset"]) == 2
    assert "PHOTO must be a readable image" in capsys.readouterr().err
    assert cli.main(["caption", str(tmp_path / "missing.jpg")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_parser_options():
    parser = cli.build_parser()
    args = parser.parse_args(["caption", "x.jpg", "--strategy", "beam", "--num-beams", "2"])
    assert (args.preset, args.strategy, args.num_beams) == ("blip_captioning_base", "beam", 2)
    with pytest.raises(SystemExit):
        parser.parse_args(["caption", "x.jpg", "--max-length", "0"])


def test_decoding_options_reach_caption(tmp_path, capsys, monkeypatch):
    """open_clip's CoCa decoding from the command line: --strategy beam
    --num-beams 6 --min-length 4 --max-length 29 reach `caption` as given."""
    calls = []

    class Recorder:
        def caption(self, images, **kwargs):
            calls.append((len(images), kwargs))
            return ["a caption"] * len(images)

    monkeypatch.setattr(caption_command, "load_captioner", lambda preset, allow_unpinned: Recorder())
    photo = write_photo(tmp_path / "a.png", (20, 20), 0)
    assert cli.main(["caption", photo, "--strategy", "beam", "--num-beams", "6",
                     "--min-length", "4", "--max-length", "29"]) == 0
    assert calls == [(1, {"max_length": 29, "strategy": "beam", "min_length": 4,
                          "num_beams": 6})]
    assert capsys.readouterr().out == f"{photo}\ta caption\n"
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["caption", "x.jpg", "--min-length", "-1"])
