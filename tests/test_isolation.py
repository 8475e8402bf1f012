"""No gitexp command touches the user's files, index, HEAD, branches or stash."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import git, make_repo, run_gitexp, write_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from run_support import exp_refs, repo_state, show, tree_files


def _dirty_repo(root: Path) -> Path:
    """Modified, staged, partly staged, untracked, ignored files, a stash and a branch."""
    make_repo(
        root,
        {
            "params.yaml": "lr: 0.1\n",
            "train.py": "print('v1')\n",
            "lib/util.py": "A = 1\n",
            "gone.txt": "to be deleted\n",
            ".gitignore": "*.ignored\ndata/\n",
        },
    )
    git(root, "branch", "feature")
    write_files(root, {"lib/util.py": "A = 2\n"})
    git(root, "stash", "push", "-q", "-m", "saved work")
    write_files(root, {"train.py": "print('v2 staged')\n"})
    git(root, "add", "train.py")
    write_files(root, {"params.yaml": "lr: 0.1\nlr2: 0.3\n"})
    git(root, "add", "params.yaml")
    write_files(root, {"params.yaml": "lr: 0.5\nlr2: 0.3\n"})  # staged + further modified
    (root / "gone.txt").unlink()
    write_files(root, {"notes/new.py": "print('untracked')\n", "big.ignored": "x" * 1000})
    write_files(root, {"data/raw.csv": "a,b\n1,2\n"})
    os.symlink("train.py", root / "link-to-train")
    return root


def test_dirty_tree_is_byte_identical_after_run(tmp_path: Path) -> None:
    root = _dirty_repo(tmp_path / "r")
    before = repo_state(root)
    proc = run_gitexp("run", "-n", "iso", "-p", "lr=0.9", "--", "python", "train.py", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert repo_state(root) == before
    # and the experiment saw the work tree as it is, not HEAD or the index
    assert show(root, "iso", "train.py") == "print('v2 staged')\n"
    assert show(root, "iso", "params.yaml") == "lr: 0.9\nlr2: 0.3\n"
    files = tree_files(root, "iso")
    assert "notes/new.py" in files and "link-to-train" in files
    assert "gone.txt" not in files and "big.ignored" not in files and "data/raw.csv" not in files
    assert git(root, "rev-parse", "refs/experiments/iso^").strip() == before["head"].strip()


def test_failing_and_refused_runs_leave_the_tree_alone(tmp_path: Path) -> None:
    root = _dirty_repo(tmp_path / "r")
    before = repo_state(root)
    failed = run_gitexp("run", "-n", "boom", "--", "python", "-c", "raise SystemExit(3)", cwd=root)
    assert failed.returncode == 1
    refused = run_gitexp("run", "-p", "nope=1", "--", "python", "train.py", cwd=root)
    assert refused.returncode == 2
    assert repo_state(root) == before


def test_run_writing_into_tracked_files_does_not_reach_user(tmp_path: Path) -> None:
    root = _dirty_repo(tmp_path / "r")
    write_files(root, {"clobber.py": "open('train.py', 'w').write('clobbered')\n"})
    before = repo_state(root)
    assert run_gitexp("run", "-n", "c", "--", "python", "clobber.py", cwd=root).returncode == 0
    assert repo_state(root) == before
    assert show(root, "c", "train.py") == "clobbered"  # the commit holds what the run did


def test_detached_head_and_branch_untouched(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"a.py": "print(1)\n"})
    git(root, "checkout", "-q", "--detach")
    before = repo_state(root)
    assert run_gitexp("run", "-n", "det", "--", "python", "a.py", cwd=root).returncode == 0
    assert repo_state(root) == before


_names = st.text(alphabet="abcdefghij", min_size=1, max_size=6)
_paths = st.lists(_names, min_size=1, max_size=3).map("/".join)
_kinds = st.sampled_from(["committed", "modified", "staged", "untracked", "ignored", "deleted"])


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(files=st.dictionaries(_paths, st.tuples(_kinds, st.binary(max_size=64)), max_size=8))
def test_random_work_trees_are_never_touched(files: dict[str, tuple[str, bytes]]) -> None:
    paths = sorted(files)
    # a path that is a prefix folder of another cannot also be a file
    files = {p: files[p] for p in paths if not any(q.startswith(p + "/") for q in paths)}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "r"
        make_repo(root, {".gitignore": "*.ign\n", "keep.txt": "k\n"})
        committed = [p for p, (kind, _) in files.items() if kind != "untracked"]
        for p in committed:
            _write(root, p, b"base")
        if committed:
            git(root, "add", *committed)
            git(root, "commit", "-q", "-m", "files")
        for p, (kind, data) in files.items():
            if kind == "deleted":
                (root / p).unlink()
            elif kind == "ignored":
                _write(root, p + ".ign", data)
            elif kind != "committed":
                _write(root, p, data)
                if kind == "staged":
                    git(root, "add", p)
        before = repo_state(root)
        proc = subprocess.run(
            [sys.executable, "-m", "gitexp", "run", "-q", "-n", "h", "--", "true"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert repo_state(root) == before
        in_commit = set(tree_files(root, "h"))
        for p, (kind, _) in files.items():
            assert (p in in_commit) == (kind != "deleted"), (p, kind)
            assert p + ".ign" not in in_commit
        assert exp_refs(root).keys() == {"h"}


def _write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.mark.parametrize("command", [["init"], ["init", "--force"]])
def test_init_touches_only_gitexp_yaml(tmp_path: Path, command: list[str]) -> None:
    root = _dirty_repo(tmp_path / "r")
    before = repo_state(root)
    assert run_gitexp(*command, cwd=root).returncode == 0
    after = repo_state(root)
    assert after["files"].pop("gitexp.yaml")
    for key in ("index", "index_bytes", "stash", "head", "head_ref", "branches", "files"):
        assert after[key] == before[key], key
