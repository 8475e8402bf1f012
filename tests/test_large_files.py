"""Large untracked files never become git blobs: DVC pointers, or a refusal in one line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import git, last_line, run_gitexp, write_files
from run_support import exp_refs, run_json, show, tree_files

READS = """\
import hashlib
data = open("big.dat", "rb").read()
print("size:", len(data))
print("md5", hashlib.md5(data).hexdigest())
"""
SIZE = 6 * 2**20  # above the default 5 MB threshold


def _big(root: Path) -> str:
    data = bytes(range(256)) * (SIZE // 256)
    (root / "big.dat").write_bytes(data)
    return hashlib.md5(data).hexdigest()


def _objects_kb(root: Path) -> int:
    out = git(root, "count-objects", "-v")
    sizes = dict(line.split(": ") for line in out.splitlines())
    return int(sizes["size"]) + int(sizes["size-pack"])


def test_refused_without_dvc_in_one_line_and_nothing_written(git_repo: Path) -> None:
    write_files(git_repo, {"r.py": READS})
    _big(git_repo)
    before = _objects_kb(git_repo)
    proc = run_gitexp("run", "--", "python", "r.py")
    assert proc.returncode == 2
    assert last_line(proc.stderr) == (
        "gitexp: error: untracked files too large to snapshot into git: big.dat (6.0 MB) "
        "(hint: ignore them and list them under `link:` in gitexp.yaml, `dvc add` them "
        "(or `gitexp init --dvc`), or pass --allow-large)"
    )
    assert exp_refs(git_repo) == {}
    assert _objects_kb(git_repo) - before < 1024  # no 6 MB blob went in


def test_allow_large_snapshots_it_into_git(git_repo: Path) -> None:
    write_files(git_repo, {"r.py": READS})
    _big(git_repo)
    proc = run_gitexp("run", "-n", "blob", "--allow-large", "--", "python", "r.py")
    assert proc.returncode == 0, proc.stderr
    assert "big.dat" in tree_files(git_repo, "blob")


def test_a_higher_threshold_lets_it_through(git_repo: Path) -> None:
    write_files(git_repo, {"r.py": READS, "gitexp.yaml": "artifacts:\n  threshold: 100MB\n"})
    _big(git_repo)
    assert run_gitexp("run", "-n", "t", "--", "python", "r.py").returncode == 0


@pytest.mark.dvc
def test_with_dvc_it_is_a_pointer_and_the_run_reads_the_data(git_repo: Path) -> None:
    assert run_gitexp("init", "--no-hooks", "--dvc").returncode == 0
    git(git_repo, "add", ".dvc", "gitexp.yaml")
    git(git_repo, "commit", "-q", "-m", "dvc")
    write_files(git_repo, {"r.py": READS})
    md5 = _big(git_repo)
    before = _objects_kb(git_repo)
    proc = run_gitexp("run", "-n", "dvc", "--", "python", "r.py")
    assert proc.returncode == 0, proc.stderr
    files = tree_files(git_repo, "dvc")
    assert "big.dat.dvc" in files and "big.dat" not in files
    pointer = show(git_repo, "dvc", "big.dat.dvc")
    assert f"md5: {md5}" in pointer and "gitexp: input" in pointer
    log = show(git_repo, "dvc", ".gitexp/output.log")
    assert f"size: {SIZE}" in log and f"md5 {md5}" in log  # the data, not a pointer
    inputs = run_json(git_repo, "dvc")["dvc_inputs"]
    assert [(i["path"], i["md5"]) for i in inputs] == [("big.dat", md5)]
    assert _objects_kb(git_repo) - before < 1024  # into DVC's cache, not git
    assert (git_repo / "big.dat").read_bytes()[:4] == bytes(range(4))  # the user's file stays
