"""gitexp's own git commands ignore what a git hook leaves in the environment
(GIT_INDEX_FILE, GIT_OBJECT_DIRECTORY, ...): they act on the repository gitexp
opened, its real index and object store (gitexp/gitstore/gitenv.py, for_git)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import git, make_repo, run_gitexp
from run_support import tree_files

from gitexp.gitstore import gitenv

PACKAGE = Path(__file__).resolve().parent.parent / "gitexp"
# modules that start git with an environment their caller built with for_git
GIVEN_ENV = {"sharing/pushing.py": "remotes._env()"}


def _other_index(root: Path, tmp_path: Path) -> Path:
    """An index of HEAD elsewhere, as `git commit -a` hands its pre-commit hook."""
    other = tmp_path / "hook-index"
    env = {"GIT_INDEX_FILE": str(other)}
    subprocess.run(["git", "read-tree", "HEAD"], cwd=root, env={**os.environ, **env}, check=True)
    return other


def test_for_git_drops_what_locates_a_repository_and_keeps_git_c(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in ("GIT_INDEX_FILE", "GIT_DIR", "GIT_WORK_TREE", "GIT_OBJECT_DIRECTORY"):
        monkeypatch.setenv(key, "/elsewhere")
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'http.proxy'='p'")
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "http.extraHeader")
    env = gitenv.for_git({"GIT_TERMINAL_PROMPT": "0"})
    assert not {"GIT_INDEX_FILE", "GIT_DIR", "GIT_WORK_TREE", "GIT_OBJECT_DIRECTORY"} & set(env)
    assert env["GIT_CONFIG_PARAMETERS"] == "'http.proxy'='p'"
    assert (env["GIT_CONFIG_COUNT"], env["GIT_CONFIG_KEY_0"]) == ("1", "http.extraHeader")
    assert env["GIT_TERMINAL_PROMPT"] == "0" and env["HOME"]


def test_run_in_a_sparse_checkout_reads_the_real_index(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"t.py": "print('ran')\n", "a/x.txt": "x", "b/y.txt": "y"})
    git(root, "sparse-checkout", "set", "--cone", "a")
    assert not (root / "b").exists()
    other = _other_index(root, tmp_path)  # no skip-worktree bits: b/y.txt looks deleted
    real, hooks = (root / ".git" / "index").read_bytes(), other.read_bytes()
    env = {"GIT_INDEX_FILE": str(other)}
    proc = run_gitexp("run", "-n", "sparse", "--", "python", "t.py", cwd=root, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "b/y.txt" in tree_files(root, "sparse")  # gitexp asked the real index
    assert (root / ".git" / "index").read_bytes() == real and other.read_bytes() == hooks


def test_gc_keeps_what_only_the_real_index_holds(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r")
    (root / "staged.txt").write_text("only in the index\n")
    git(root, "add", "staged.txt")
    blob = git(root, "rev-parse", ":staged.txt").strip()
    git(root, "config", "gc.pruneExpire", "now")  # unreachable objects go at once
    other = _other_index(root, tmp_path)
    proc = run_gitexp("gc", cwd=root, env={"GIT_INDEX_FILE": str(other)})
    assert proc.returncode == 0, proc.stderr
    assert git(root, "cat-file", "-p", blob) == "only in the index\n"  # not pruned
    assert git(root, "status", "--porcelain") == "A  staged.txt\n"


def test_push_and_pull_use_the_repository_s_own_object_store(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    a = make_repo(tmp_path / "a", {"t.py": "print('ran')\n"})
    assert run_gitexp("run", "-n", "one", "--", "python", "t.py", cwd=a).returncode == 0
    elsewhere = tmp_path / "quarantine"
    elsewhere.mkdir()
    env = {"GIT_OBJECT_DIRECTORY": str(elsewhere)}  # an empty store: git would find nothing
    pushed = run_gitexp("push", str(remote), "--all", cwd=a, env=env)
    assert pushed.returncode == 0, pushed.stderr
    commit = git(a, "rev-parse", "refs/experiments/one").strip()
    assert git(remote, "rev-parse", "refs/experiments/one").strip() == commit
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(remote), str(b))
    pulled = run_gitexp("pull", str(remote), cwd=b, env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert git(b, "cat-file", "-t", commit) == "commit\n"  # in b's store, not the other
    assert not any(elsewhere.iterdir())
    git(b, "fsck", "--no-progress")


def test_every_module_that_starts_git_gives_it_a_clean_environment() -> None:
    """A new call site cannot forget: a module whose subprocess argv starts with
    "git" names gitenv (for_git, or scrub) or is listed with where its env comes from."""
    starts_git = re.compile(r'\[\s*"git"\s*,')
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        text = path.read_text(encoding="utf-8")
        if starts_git.search(text) and "gitenv." not in text and rel not in GIVEN_ENV:
            missing.append(rel)
    assert missing == []
