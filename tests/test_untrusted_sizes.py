"""An experiment's gitexp.yaml and params files are parsed before it reruns: bounded.

A pulled experiment with a 60 MB gitexp.yaml held `gitexp reproduce` for half
a minute of YAML parsing. Each file here is put into a copy of a real
experiment's tree with pygit2, pushed with plain git to a real bare remote,
pulled with `gitexp pull`, and reproduced: one line naming the file and its
size, exit 2, within a second or two, and no rerun left behind.
"""

from __future__ import annotations

import time
from pathlib import Path

import pygit2
import pytest
from conftest import git, make_repo, run_gitexp

from gitexp.sharing.recorded import MAX_BYTES

TRAIN = "import gitexp\ngitexp.log_metric('acc', 1.0)\n"
CONFIG = "command: python train.py\n"


def with_file(repo: Path, base: str, path: str, data: bytes) -> str:
    """A copy of experiment ``base`` whose tree has ``path`` (top level) set to ``data``."""
    r = pygit2.Repository(str(repo))
    commit = r.revparse_single(f"refs/experiments/{base}").peel(pygit2.Commit)
    root = r.TreeBuilder(commit.tree)
    root.insert(path, r.create_blob(data), pygit2.enums.FileMode.BLOB)
    sig = commit.author
    return str(r.create_commit(None, sig, sig, "gitexp: big", root.write(), commit.parent_ids))


def padded(text: str, size: int) -> bytes:
    """Valid YAML of ``size`` bytes: ``text`` and comment lines."""
    line = "# " + "x" * 97 + "\n"
    body = text + line * ((size - len(text)) // len(line) + 1)
    return body[:size].encode()


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A clone that pulled ``ok`` and ``config`` / ``params`` (one file over the limit)."""
    author = make_repo(
        tmp_path / "author", {"train.py": TRAIN, "gitexp.yaml": CONFIG, "params.yaml": "lr: 1\n"}
    )
    assert run_gitexp("run", "-n", "ok", cwd=author).returncode == 0
    big = MAX_BYTES + 1
    bad = {
        "config": ("gitexp.yaml", padded(CONFIG, big)),
        "params": ("params.yaml", padded("lr: 1\n", big)),
    }
    for name, (path, data) in bad.items():
        git(author, "update-ref", f"refs/experiments/{name}", with_file(author, "ok", path, data))
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(author, "push", "-q", str(remote), "refs/experiments/*:refs/experiments/*")
    target = make_repo(tmp_path / "clone")
    assert run_gitexp("pull", str(remote), cwd=target).returncode == 0
    return target


@pytest.mark.parametrize(("name", "path"), [("config", "gitexp.yaml"), ("params", "params.yaml")])
def test_an_oversized_file_is_refused_before_it_is_parsed(
    clone: Path, name: str, path: str
) -> None:
    before = git(clone, "for-each-ref", "refs/experiments")
    start = time.monotonic()
    proc = run_gitexp("reproduce", name, cwd=clone)
    assert time.monotonic() - start < 10  # was 31 s at 60 MB; this file is 1 MiB
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"gitexp: error: experiment {name!r}: {path} is {MAX_BYTES + 1:,} bytes, more than the "
        f"{MAX_BYTES:,} gitexp parses from an experiment (hint: such a file is no real settings "
        "or params file; check where the experiment came from)"
    )
    assert git(clone, "for-each-ref", "refs/experiments") == before  # no rerun ref


def test_files_within_the_limit_rerun(clone: Path) -> None:
    proc = run_gitexp("reproduce", "ok", cwd=clone)
    assert proc.returncode == 0, proc.stderr
    assert "metrics match" in proc.stderr + proc.stdout
