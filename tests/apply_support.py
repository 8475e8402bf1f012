"""Helpers for the `gitexp apply` tests: a run, a commit, the work tree's picture."""

from __future__ import annotations

import hashlib
from pathlib import Path

from conftest import git, make_repo, run_gitexp, write_files

TRAIN = """\
import os, pathlib
pathlib.Path("model.txt").write_text("weights\\n")
if os.path.exists("old.txt"):
    os.remove("old.txt")
"""


def ok(*args: str, cwd: Path) -> str:
    proc = run_gitexp(*args, cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def commit(root: Path, files: dict[str, str], message: str) -> None:
    write_files(root, files)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def work_tree(root: Path) -> dict[str, str]:
    """Every work-tree file (.git/ left out) and its content's digest."""
    files = (p for p in root.rglob("*") if ".git" not in p.relative_to(root).parts)
    return {
        str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in files
        if p.is_file()
    }


def experiment(root: Path) -> Path:
    """A repository with experiment `exp` on HEAD: lr 0.5 in params.yaml, model.txt
    added, old.txt deleted; train.py, notes.md and .gitignore unchanged."""
    make_repo(
        root,
        {
            "params.yaml": "lr: 0.1\n",
            "train.py": TRAIN,
            "notes.md": "v1\n",
            "old.txt": "old\n",
            ".gitignore": "__pycache__/\n",
        },
    )
    ok("run", "-q", "-n", "exp", "-p", "lr=0.5", "--", "python", "train.py", cwd=root)
    return root


def short(root: Path, rev: str) -> str:
    return git(root, "rev-parse", "--short=7", rev).strip()
