"""Helpers for the sharing tests: a bare git remote and a local-folder DVC remote,
clones set up with DVC, and experiment files read back with plain git."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from conftest import git, make_repo, run_gitexp, write_files

# a script writing a big (above 1 KB threshold) model and a small file, seeded
TRAIN = """\
import os, random
import gitexp
gitexp.seed_everything()
rnd = random.Random(gitexp.current_run().seed)
with open("model.bin", "wb") as f:
    f.write(bytes(rnd.getrandbits(8) for _ in range(4000)))
with open("notes.txt", "w") as f:
    f.write("small")
gitexp.log_metric("acc", rnd.random())
"""
GITEXP_YAML = "command: python train.py\nartifacts:\n  threshold: 1KB\n"


@dataclass(frozen=True)
class World:
    """A bare git remote, a DVC remote folder and clone A (DVC set up, pushed)."""

    remote: Path
    store: Path
    a: Path

    @property
    def url(self) -> str:
        return self.remote.as_uri()

    def clone(self, name: str) -> Path:
        target = self.remote.parent / name
        git(self.remote.parent, "clone", "-q", self.url, str(target))
        return target


def make_world(tmp: Path, files: dict[str, str] | None = None, dvc_remote: bool = True) -> World:
    remote, store = tmp / "remote.git", tmp / "dvc-store"
    git(tmp, "init", "-q", "--bare", "-b", "main", str(remote))
    a = make_repo(tmp / "a", {"train.py": TRAIN, "gitexp.yaml": GITEXP_YAML, **(files or {})})
    args = ["init", "--no-hooks", "--dvc"] + (["--dvc-remote", str(store)] if dvc_remote else [])
    proc = run_gitexp(*args, cwd=a)
    assert proc.returncode == 0, proc.stderr
    git(a, "add", "-A")
    git(a, "commit", "-q", "-m", "dvc")
    git(a, "remote", "add", "origin", remote.as_uri())
    git(a, "push", "-q", "origin", "main")
    return World(remote, store, a)


def ok(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = run_gitexp(*args, cwd=cwd, env=env)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc.stdout + proc.stderr


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def store_files(store: Path) -> set[str]:
    """Object ids in a DVC remote folder (files/md5/ab/cdef → abcdef)."""
    return {p.parent.name + p.name for p in store.rglob("*") if p.is_file()}


__all__ = ["World", "make_world", "ok", "write_files"]
