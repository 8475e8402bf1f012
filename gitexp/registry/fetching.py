"""`gitexp model get` and `gitexp.model_path`: a version's file, checksum verified.

A DVC-stored model comes from the local DVC cache, fetched from the DVC
remote first when the cache lacks it; a small one comes from the git object
store (a fresh `git clone` has it: clones fetch tags and the commits they
point at). Everything is written to a temporary name beside the
destination, verified against the checksum the tag recorded, and only then
renamed into place: a damaged copy never appears where the user asked.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from gitexp.common.errors import BackendError
from gitexp.gitstore import store
from gitexp.gitstore.repo import MISSING_OBJECT, Repo
from gitexp.gitstore.treewalk import LINK, TREE, SafeDir, blob_data, entries
from gitexp.registry import tagnames, tagstore
from gitexp.registry.checksums import verify_blob, verify_dvc
from gitexp.registry.errors import RegistryError
from gitexp.registry.locate import clean, declared_path, entry_at, locate
from gitexp.registry.message import ModelFile
from gitexp.registry.state import Model, Version, find
from gitexp.registry.writing import experiment_at

CACHE_DIR = "models"  # under the repository's gitexp state dir: model_path's copies


@dataclass(frozen=True)
class Fetched:
    model: str
    version: str
    path: Path
    source: ModelFile


def choose(model: Model, version: str | None, stage: str | None, latest: bool) -> Version:
    """The version named by exactly one of ``version``, ``stage``, ``latest``."""
    if sum((version is not None, stage is not None, latest)) != 1:
        raise RegistryError("say which version: one of --version, --stage or --latest")
    if version is not None:
        return model.version(tagnames.check_version(version))
    if stage is not None:
        held = model.stages.get(tagnames.check_stage(stage))
        if held is None:
            raise RegistryError(f"model {model.name!r} has no version in stage {stage!r}")
        return held
    newest = model.latest
    if newest is None:
        raise RegistryError(f"model {model.name!r} has no active version")
    return newest


def model_file(repo: Repo, model: Model, chosen: Version, path: str | None) -> ModelFile:
    """What the registration recorded; for a tag another tool made, ``path`` or the
    path dvc.yaml declares, looked up in the commit."""
    recorded = chosen.details.model_file
    if recorded is not None:
        return recorded
    path = path or declared_path(repo, chosen.commit, model.name)
    if path is None and not chosen.registered:
        raise _no_version(model, chosen)
    if path is None:
        raise RegistryError(
            f"model {model.name!r} {chosen.version} does not say which file it is",
            "it was registered by another tool: pass --path, or declare it in dvc.yaml",
        )
    experiment = experiment_at(repo, chosen.commit)
    run = store.load(repo, experiment, repo.git[chosen.commit].id).run if experiment else {}
    return locate(repo, chosen.commit, run, path, f"commit {chosen.commit[:10]}")


def _no_version(model: Model, chosen: Version) -> RegistryError:
    """A stage on a commit no version tag of the model names here: its version tag
    did not travel (or never existed), not a tag another tool made."""
    stages = " and ".join(repr(s) for s in chosen.stages) or "a stage"
    return RegistryError(
        f"stage {stages} of model {model.name!r} points at commit {chosen.commit[:10]}, "
        f"which has no version of {model.name!r} here",
        "the stage's version is missing on this repository: pull the model's tags "
        "(`gitexp pull REMOTE`), or ask whoever promoted it",
    )


def get(
    repo: Repo,
    name: str,
    out: Path | None,
    *,
    version: str | None = None,
    stage: str | None = None,
    latest: bool = False,
    path: str | None = None,
    force: bool = False,
    dvc_remote: str | None = None,
) -> Fetched:
    """Write the chosen version's file to ``out`` (a folder: inside it)."""
    model = find(tagstore.read_tags(repo), tagnames.check_model(name))
    chosen = choose(model, version, stage, latest)
    source = model_file(repo, model, chosen, path)
    base = PurePosixPath(clean(source.path)).name
    target = out if out is not None else Path(base)
    if target.is_dir() and not target.is_symlink():
        target = target / base
    if (target.exists() or target.is_symlink()) and not force:
        raise RegistryError(f"{target} exists", "remove it, choose another -o, or pass --force")
    write(repo, source, chosen.commit, target, f"{model.name} {chosen.version}", dvc_remote)
    return Fetched(model.name, chosen.version, target, source)


def model_path(repo: Repo, name: str, stage: str = "prod", version: str | None = None) -> Path:
    """A verified local copy of a version (``version`` wins over ``stage``), kept under
    .git/gitexp/models/ and reused while its recorded checksum is unchanged."""
    model = find(tagstore.read_tags(repo), tagnames.check_model(name))
    chosen = choose(model, version, None if version else stage, False)
    source = model_file(repo, model, chosen, None)
    folder = repo.state_dir / CACHE_DIR / model.name.replace(":", "=") / chosen.version
    target = folder / PurePosixPath(clean(source.path)).name
    marker, stamp = folder / ".verified", _stamp(source)
    if target.exists() and marker.is_file() and marker.read_text(encoding="utf-8") == stamp:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    write(repo, source, chosen.commit, target, f"{model.name} {chosen.version}", None)
    marker.write_text(stamp, encoding="utf-8")
    return target


def _stamp(source: ModelFile) -> str:
    return f"{source.storage} {source.path} {source.md5 or source.blob or source.tree}\n"


def write(
    repo: Repo, source: ModelFile, commit: str, target: Path, label: str, remote: str | None
) -> None:
    """Write and verify under a temporary name beside ``target``, then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.gitexp-{secrets.token_hex(4)}"
    try:
        if source.storage == "dvc":
            _write_dvc(repo.root, source, tmp, label, remote)
        else:
            _write_git(repo, source, commit, tmp, label)
        _remove(target)
        os.replace(tmp, target)
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _write_dvc(root: Path, source: ModelFile, tmp: Path, label: str, remote: str | None) -> None:
    from gitexp.dvcstore.cache import cache_dir, checked_md5, complete
    from gitexp.dvcstore.checkout import checkout

    md5 = checked_md5(source.md5, source.path)
    record: dict[str, Any] = {"path": tmp.name, "md5": md5, "size": source.size}
    if not complete(cache_dir(root), md5):
        _fetch(root, record, label, remote)
    checkout(root, [record], tmp.parent)
    verify_dvc(root, tmp, md5, label)


def _fetch(root: Path, record: dict[str, Any], label: str, remote: str | None) -> None:
    from gitexp.config.settings import load_config
    from gitexp.dvcstore.settings import artifacts_settings
    from gitexp.dvcstore.transfer import fetch

    remote = remote or artifacts_settings(load_config(root)).remote
    if fetch(root, [record], remote).failed:
        raise BackendError(
            f"{label} ({record['md5']}) could not be fetched from the DVC remote "
            "(missing or damaged there)",
            "push it from the clone that registered it: `gitexp push REMOTE EXPERIMENT`",
        )


def _write_git(repo: Repo, source: ModelFile, commit: str, tmp: Path, label: str) -> None:
    """A file or folder of the commit, checked to be the object the tag recorded."""
    claimed = source.blob or source.tree or ""
    entry = entry_at(repo, commit, clean(source.path))
    if entry is None or str(entry.id) != claimed:
        raise BackendError(f"{label}: {source.path} at {commit[:10]} is not {claimed[:10]}")
    try:
        if source.tree:
            _write_tree(repo, entry.id, tmp, label)
        else:
            blob: Any = repo.git[entry.id]
            data = bytes(blob.data)
            with SafeDir(tmp.parent) as out:
                out.write_file(tmp.name, data, int(entry.filemode))
            verify_blob(tmp, claimed, label)
    except MISSING_OBJECT as exc:
        raise BackendError(f"{label}: git objects are missing from this clone: {exc}") from exc


def _write_tree(repo: Repo, tree: Any, tmp: Path, label: str) -> None:
    files = entries(repo.git, tree)  # every path checked before anything is written
    with SafeDir(tmp) as out:
        for item in files:
            if item.mode == TREE:
                out.make_dir(item.path)
            elif item.mode == LINK:
                out.symlink(item.path, item.target)
            else:
                out.write_file(item.path, blob_data(repo.git, item), item.mode)
    for item in files:
        if item.mode not in (TREE, LINK):
            verify_blob(tmp / item.path, str(item.oid), f"{label}/{item.path}")
