"""Pins the remote presets: each Hub repo's commit and the sha256 of its files.

    python tools/pin_presets.py [--family clip] [--revision org/repo=REV] [--dry-run]

Run online, by a maintainer, then review and commit the diff. For every Hub
repo a family's presets download from (the `sources` of
`kerasmm/models/<family>/<family>_presets.py`), it reads the commit the
repo's default branch (or `--revision`) points to now, and the sha256 of
every file `from_preset` would fetch from it at that commit: the
converter's config file, its weights file (the first of the converter's
`weight_files` the repo holds: safetensors before PyTorch pickles) and the
assets the repo holds (tokenizer vocabulary and merges). Large files are
stored with Git LFS, whose sha256 the Hub reports
(`HfApi.model_info(repo, revision=..., files_metadata=True)`); a small file
has only a git blob id (a sha1 of the git object), so it is downloaded at
the commit and hashed. The pins go to
`kerasmm/models/<family>/<family>_pins.json` (`PINS_FILE` of the presets
module), which the family's presets read (`kerasmm.presets.pins`); a repo
missing from that file stays unpinned, and `from_preset` refuses to
download it unless the user opts in.

A pin says "these exact bytes are the right ones": before committing, check
that the commit is the one the model card documents (or an upstream tag).
"""

import argparse
import importlib
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kerasmm import convert  # noqa: E402
from kerasmm.presets.manifest import sha256_of  # noqa: E402
from kerasmm.presets.pins import check_pin  # noqa: E402
from kerasmm.presets.pins import hub_source  # noqa: E402
from kerasmm.presets.registry import check_source  # noqa: E402

# family -> (presets module, presets table in it)
FAMILIES = {
    "clip": ("kerasmm.models.clip.clip_presets", "CLIP_PRESETS"),
    "perceiver": ("kerasmm.models.perceiver.perceiver_presets", "PERCEIVER_PRESETS"),
    "siglip": ("kerasmm.models.siglip.siglip_presets", "SIGLIP_PRESETS"),
}


def family_repos(presets):
    """`{hf_repo: [converter, ...]}` of every source in `presets`."""
    repos = {}
    for entry in presets.values():
        for source in entry.get("sources", []):
            converters = repos.setdefault(source["hf_repo"], [])
            if source["converter"] not in converters:
                converters.append(source["converter"])
    return repos


def files_to_pin(converter, present):
    """The files `from_preset` fetches through `converter` from a repo that
    holds the files `present`; a ValueError if it lacks the config or weights."""
    spec = convert.CONVERTERS[converter]
    weights = next((name for name in spec.weight_files if name in present), None)
    if spec.config_file not in present or weights is None:
        raise ValueError(f"The repo holds no {converter} checkpoint: it needs "
                         f"{spec.config_file} and one of {list(spec.weight_files)}")
    return [spec.config_file, weights] + [name for name in spec.asset_files if name in present]


def _lfs_sha256(sibling):
    lfs = getattr(sibling, "lfs", None)
    if lfs is None:
        return None
    return lfs["sha256"] if isinstance(lfs, dict) else lfs.sha256


def pin_repo(api, download, repo, converters, revision=None):
    """`{"revision": commit, "sha256": {file: digest}}` for one repo.

    Args:
        api: a `huggingface_hub.HfApi` (its `model_info`).
        download: `huggingface_hub.hf_hub_download` (small files are hashed).
        repo: `"org/name"`.
        converters: the converters its sources name.
        revision: the branch, tag or commit to pin (None: the default branch).
    """
    info = api.model_info(repo, revision=revision, files_metadata=True)
    siblings = {sibling.rfilename: sibling for sibling in info.siblings}
    files = []
    for converter in converters:
        try:
            names = files_to_pin(converter, siblings)
        except ValueError as error:
            raise ValueError(f"{repo} at {info.sha}: {error}") from None
        files += [name for name in names if name not in files]
    digests = {}
    with tempfile.TemporaryDirectory() as cache:
        for name in files:
            digest = _lfs_sha256(siblings[name])
            if digest is None:  # Not in LFS: hash the bytes at the pinned commit.
                digest = sha256_of(download(repo_id=repo, filename=name, revision=info.sha,
                                            cache_dir=cache))
            digests[name] = digest.lower()
    pin = {"revision": info.sha, "sha256": dict(sorted(digests.items()))}
    check_pin(repo, pin)
    for converter in converters:  # What the registry check will demand of it.
        check_source(repo, hub_source(converter, repo, {repo: pin}))
    return pin


def pin_family(family, api, download, revisions=None, log=print):
    """Pins every repo of `family`; returns `(pins file, pins)`."""
    module_name, table = FAMILIES[family]
    module = importlib.import_module(module_name)
    pins = {}
    for repo, converters in sorted(family_repos(getattr(module, table)).items()):
        pins[repo] = pin_repo(api, download, repo, converters, (revisions or {}).get(repo))
        log(f"{repo}: {pins[repo]['revision']} ({', '.join(pins[repo]['sha256'])})")
    return module.PINS_FILE, pins


def write_pins(path, pins):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(pins, f, indent=1, sort_keys=True)
        f.write("\n")


def parse_revisions(values):
    revisions = {}
    for value in values or []:
        repo, sep, revision = value.partition("=")
        if not sep or not repo or not revision:
            raise SystemExit(f"--revision takes org/repo=REVISION. Received: {value!r}")
        revisions[repo] = revision
    return revisions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=sorted(FAMILIES), action="append",
                        help="family to pin (repeatable; default: all)")
    parser.add_argument("--revision", action="append", metavar="ORG/REPO=REV",
                        help="pin this branch, tag or commit of a repo instead of its "
                             "default branch (repeatable)")
    parser.add_argument("--dry-run", action="store_true", help="print the pins, write nothing")
    args = parser.parse_args(argv)
    import huggingface_hub

    api = huggingface_hub.HfApi()
    revisions = parse_revisions(args.revision)
    for family in args.family or sorted(FAMILIES):
        path, pins = pin_family(family, api, huggingface_hub.hf_hub_download, revisions)
        if args.dry_run:
            print(json.dumps(pins, indent=1, sort_keys=True))
        else:
            write_pins(path, pins)
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
