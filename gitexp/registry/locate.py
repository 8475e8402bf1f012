"""Where a model's bytes are in a commit: a DVC artifact, a `.dvc` pointer, or git.

An experiment's run.json lists its DVC artifacts (path, md5, size) and those
kept in git (``store: git``, found in the tree); any other path is looked up
in the commit's tree: a ``<path>.dvc`` pointer (data the
user added with `dvc add`), else a file (blob) or folder (tree) held by git.
A commit GTO registered without saying the path may declare it in dvc.yaml
(``artifacts: {NAME: {path: ...}}``), as DVC and GTO do.
"""

from __future__ import annotations

from typing import Any

import yaml

from gitexp.gitstore.repo import MISSING_OBJECT, Repo
from gitexp.gitstore.treewalk import check_path
from gitexp.registry import candidates
from gitexp.registry.errors import RegistryError
from gitexp.registry.message import ModelFile


def clean(path: str) -> str:
    """``./models/m.pkl/`` → ``models/m.pkl``, refused when it could leave the tree."""
    while path.startswith("./"):
        path = path[2:]
    return check_path(path.rstrip("/"), "model path")


def artifacts(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in run.get("artifacts") or [] if isinstance(r, dict) and r.get("path")]


def locate(
    repo: Repo, commit: str, run: dict[str, Any], path: str | None, where: str, rev: str = ""
) -> ModelFile:
    """The model file of a commit (``where`` names it in errors, ``rev`` in the
    `git ls-tree` command a hint gives; the commit itself by default)."""
    listed = artifacts(run)
    if path is None:
        if len(listed) != 1:
            raise RegistryError(
                f"name the model file of {where} with --path", _hint(repo, commit, listed, rev)
            )
        path = str(listed[0]["path"])
    path = clean(path)
    for record in listed:
        if record["path"] == path and record.get("store") != "git":  # git: the tree has it
            return _dvc(path, record)
    found = _in_tree(repo, commit, path)
    if found is None:
        raise RegistryError(f"path {path!r} is not in {where}", _hint(repo, commit, listed, rev))
    return found


def _hint(repo: Repo, commit: str, listed: list[dict[str, Any]], rev: str) -> str:
    """Its recorded artifacts when it has some; else the files git holds that could be it."""
    if listed:
        return f"its artifacts: {', '.join(str(r['path']) for r in listed[:8])}"
    return "it has no DVC artifacts; " + candidates.hint(repo, commit, rev or commit[:10])


def _dvc(path: str, record: dict[str, Any]) -> ModelFile:
    size, nfiles = record.get("size"), record.get("nfiles")
    return ModelFile(
        path,
        "dvc",
        md5=str(record.get("md5")),
        size=size if isinstance(size, int) else None,
        nfiles=nfiles if isinstance(nfiles, int) else None,
    )


def _object(repo: Repo, oid: Any) -> Any:
    """An object of the store, duck-typed (pygit2 stays in gitexp/gitstore)."""
    return repo.git[oid]


def entry_at(repo: Repo, commit: str, path: str) -> Any:
    """The tree entry at ``path`` of a commit, or None."""
    try:
        return _object(repo, _object(repo, commit).tree_id)[path]
    except (*MISSING_OBJECT, AttributeError):
        return None


def _in_tree(repo: Repo, commit: str, path: str) -> ModelFile | None:
    pointer = entry_at(repo, commit, path + ".dvc")
    if pointer is not None and pointer.type_str == "blob":
        out = _pointer_out(_object(repo, pointer.id).data)
        if out is not None:
            return _dvc(path, out)
    entry = entry_at(repo, commit, path)
    if entry is None:
        return None
    if entry.type_str == "tree":
        return ModelFile(path, "git", tree=str(entry.id))
    if entry.type_str != "blob":
        return None
    return ModelFile(path, "git", size=int(_object(repo, entry.id).size), blob=str(entry.id))


def _pointer_out(data: bytes) -> dict[str, Any] | None:
    """The one output of a `.dvc` file, when it names an md5."""
    try:
        parsed = yaml.safe_load(data)
    except yaml.YAMLError:
        return None
    outs = parsed.get("outs") if isinstance(parsed, dict) else None
    if not isinstance(outs, list) or len(outs) != 1 or not isinstance(outs[0], dict):
        return None
    return outs[0] if outs[0].get("md5") else None


def declared_path(repo: Repo, commit: str, model: str) -> str | None:
    """``artifacts.<model>.path`` of the commit's dvc.yaml (DVC's model declarations)."""
    entry = entry_at(repo, commit, "dvc.yaml")
    if entry is None or entry.type_str != "blob":
        return None
    try:
        parsed = yaml.safe_load(_object(repo, entry.id).data)
    except yaml.YAMLError:
        return None
    declared = (parsed or {}).get("artifacts") if isinstance(parsed, dict) else None
    found = declared.get(model) if isinstance(declared, dict) else None
    path = found.get("path") if isinstance(found, dict) else None
    return path if isinstance(path, str) else None
