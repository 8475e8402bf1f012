"""Refs under refs/experiments/ that point at no commit: an annotated tag, a tree, a blob.

`git push origin v1.0:refs/experiments/rel` puts a tag there by accident; a
hostile remote may advertise anything. Every reader lists such a ref as
``broken`` (never a traceback), `show NAME` refuses it in one line, `remove`
deletes it, and neither push nor pull ever moves one. Real repositories, a
real bare remote, the real `gitexp` command line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git, last_line, make_repo, run_gitexp

BAD = ("tagged", "blob", "tree")  # what each points at: an annotated tag, a blob, a tree
KINDS = {"tagged": "an annotated tag", "blob": "a blob", "tree": "a tree"}


def ok(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = run_gitexp(*args, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return proc


def add_bad_refs(repo: Path) -> None:
    """refs/experiments/{tagged,blob,tree}, made with plain git."""
    git(repo, "tag", "-a", "-m", "release", "v1", "HEAD")
    blob = _blob(repo)
    tree = subprocess.run(
        ["git", "mktree"], cwd=repo, input="", capture_output=True, text=True, check=True
    ).stdout.strip()
    git(repo, "update-ref", "refs/experiments/tagged", "v1")
    git(repo, "update-ref", "refs/experiments/blob", blob)
    git(repo, "update-ref", "refs/experiments/tree", tree)


def _blob(repo: Path) -> str:
    return subprocess.run(
        ["git", "hash-object", "-w", "--stdin"],
        cwd=repo,
        input="not a commit\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def refs(repo: Path) -> dict[str, str]:
    """{name: object type} of the experiment refs."""
    out = git(
        repo, "for-each-ref", "--format=%(refname:lstrip=2) %(objecttype)", "refs/experiments"
    )
    return dict(line.split() for line in out.splitlines())


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with experiment ``ok`` and the three refs to no commit."""
    root = make_repo(tmp_path / "repo")
    ok("run", "-n", "ok", "--", sys.executable, "-c", "print('acc: 1')", cwd=root)
    add_bad_refs(root)
    return root


def test_readers_list_them_as_broken_and_never_crash(repo: Path) -> None:
    shown = ok("show", cwd=repo).stdout
    rows = {line.split()[0]: line for line in shown.splitlines()[2:]}
    assert set(rows) == {"ok", *BAD}
    assert all("broken" in rows[name] for name in BAD)
    listed = {e["name"]: e for e in json.loads(ok("show", "--format", "json", cwd=repo).stdout)}
    assert listed["ok"]["status"] == "succeeded"
    for name in BAD:
        assert listed[name]["status"] == "broken"
        assert f"points at {KINDS[name]}, not a commit" in listed[name]["reason"]
    ok("queue", "list", cwd=repo)
    ok("gc", cwd=repo)
    code = "import gitexp; print(sorted(e.name for e in gitexp.experiments()))"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "'ok'" in proc.stdout


@pytest.mark.parametrize("name", BAD)
def test_show_name_is_one_line(repo: Path, name: str) -> None:
    proc = run_gitexp("show", name, cwd=repo)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"gitexp: error: refs/experiments/{name} points at {KINDS[name]}, not a commit: "
        f"it is no experiment (hint: delete the ref with `gitexp remove {name}`)"
    )


def test_remove_deletes_them(repo: Path) -> None:
    ok("remove", *BAD, cwd=repo)
    assert refs(repo) == {"ok": "commit"}
    assert git(repo, "rev-parse", "v1^{commit}").strip()  # the tag itself is left alone


@pytest.fixture
def remote(tmp_path: Path, repo: Path) -> Path:
    """A bare remote holding ``ok`` and the three bad refs (pushed with plain git)."""
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "push", "-q", str(bare), "refs/experiments/*:refs/experiments/*")
    return bare


def test_pull_takes_only_commits_and_says_so(tmp_path: Path, remote: Path) -> None:
    clone = make_repo(tmp_path / "clone")
    for _ in range(2):  # the refs do not come back on the next pull either
        proc = ok("pull", str(remote), cwd=clone)
        assert refs(clone) == {"ok": "commit"}
        for name in BAD:
            line = (
                f"gitexp: warning: ignoring refs/experiments/{name} on {remote}: "
                f"it points at {KINDS[name]}, not a commit"
            )
            assert proc.stderr.count(line) == 1, proc.stderr
        assert "^{}" not in proc.stderr  # a tag's peeled line is no invalid name
    assert "0 experiment(s)" in last_line(proc.stderr)


def test_forced_pull_keeps_the_commit_a_bad_ref_would_replace(tmp_path: Path, remote: Path) -> None:
    clone = make_repo(tmp_path / "clone")
    ok("run", "-n", "blob", "--", sys.executable, "-c", "print('acc: 2')", cwd=clone)
    mine = git(clone, "rev-parse", "refs/experiments/blob").strip()
    proc = run_gitexp("pull", "--force", str(remote), cwd=clone)
    assert proc.returncode == 0, proc.stderr
    assert git(clone, "rev-parse", "refs/experiments/blob").strip() == mine
    assert "forced: blob" not in proc.stderr
    assert refs(clone) == {"ok": "commit", "blob": "commit"}


def test_push_never_sends_them(tmp_path: Path, repo: Path) -> None:
    bare = tmp_path / "empty.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    proc = ok("push", str(bare), "--all", cwd=repo)
    assert refs(bare) == {"ok": "commit"}
    hint = "(`gitexp remove tagged` deletes it)"
    assert "ignoring refs/experiments/tagged here: it points at an annotated tag" in proc.stderr
    assert hint in proc.stderr
    ok("push", str(bare), "blob", cwd=repo)  # named: left out all the same
    assert refs(bare) == {"ok": "commit"}
