"""Helpers for the core-run tests: read experiments back with plain git."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from conftest import git


def exp_refs(root: Path) -> dict[str, str]:
    """name → commit of every refs/experiments/* ref, read by real git."""
    out = git(root, "for-each-ref", "--format=%(refname) %(objectname)", "refs/experiments/")
    refs = {}
    for line in out.splitlines():
        ref, sha = line.split()
        refs[ref[len("refs/experiments/") :]] = sha
    return refs


def only_experiment(root: Path) -> str:
    refs = exp_refs(root)
    assert len(refs) == 1, refs
    return next(iter(refs))


def show(root: Path, name: str, path: str) -> str:
    return git(root, "show", f"refs/experiments/{name}:{path}")


def run_json(root: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(show(root, name, ".gitexp/run.json"))
    return data


def metrics_json(root: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(show(root, name, ".gitexp/metrics.json"))
    return data


def tree_files(root: Path, name: str) -> list[str]:
    return git(root, "ls-tree", "-r", "--name-only", f"refs/experiments/{name}").splitlines()


def write_gitexp_yaml(root: Path, text: str) -> None:
    (root / "gitexp.yaml").write_text(text)


def repo_state(root: Path) -> dict[str, Any]:
    """Everything a user could notice changing: git's view and every byte and mode."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for fname in filenames:
            full = Path(dirpath) / fname
            st = full.lstat()
            data = os.readlink(full).encode() if full.is_symlink() else full.read_bytes()
            files[full.relative_to(root).as_posix()] = (
                hashlib.sha1(data).hexdigest(),
                st.st_mode,
                st.st_mtime_ns,
            )
    index = root / ".git" / "index"
    # --no-optional-locks: our own `git status` must not refresh the index it compares
    return {
        "status": git(
            root,
            "--no-optional-locks",
            "status",
            "--porcelain",
            "--ignored",
            "--untracked-files=all",
        ),
        "index": git(root, "ls-files", "-s"),
        "index_bytes": index.read_bytes() if index.exists() else None,
        "stash": git(root, "stash", "list", "--format=%H %gs"),
        "head": git(root, "rev-parse", "-q", "--verify", "HEAD", check=False),
        "head_ref": git(root, "symbolic-ref", "-q", "HEAD", check=False),
        "branches": git(root, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/"),
        "files": files,
    }
