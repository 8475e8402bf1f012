"""Sparse checkouts and partial clones: what is present works, what is missing is said."""

from __future__ import annotations

from pathlib import Path

from conftest import git, make_repo, run_gitexp
from run_support import show, tree_files

READS = "print(open('dir1/a.txt').read().strip())\n"


def _source(tmp_path: Path) -> Path:
    src = make_repo(tmp_path / "src", {"dir1/a.txt": "a\n", "dir2/b.txt": "b\n", "t.py": READS})
    git(src, "config", "uploadpack.allowFilter", "true")
    return src


def test_a_sparse_checkout_keeps_the_files_it_does_not_show(tmp_path: Path) -> None:
    src = _source(tmp_path)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(src), str(clone))
    git(clone, "sparse-checkout", "set", "--cone", "dir1")
    assert not (clone / "dir2").exists()
    proc = run_gitexp("run", "-n", "sparse", "--", "python", "t.py", cwd=clone)
    assert proc.returncode == 0, proc.stderr
    assert "dir2/b.txt" in tree_files(clone, "sparse")  # not "deleted" by the experiment
    assert show(clone, "sparse", ".gitexp/output.log").startswith("a")
    assert "not in this clone" not in proc.stderr  # the blobs are here


def test_a_partial_clone_runs_with_what_it_has_and_names_the_rest(tmp_path: Path) -> None:
    src = _source(tmp_path)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--filter=blob:none", "--no-checkout", src.as_uri(), str(clone))
    git(clone, "sparse-checkout", "set", "--cone", "dir1")
    git(clone, "checkout", "-q", "main")
    for name in ("first", "second"):  # the second reuses the run dir: still said
        proc = run_gitexp("run", "-n", name, "--", "python", "t.py", cwd=clone)
        assert proc.returncode == 0, proc.stderr
        assert (
            "gitexp: warning: 1 file(s) of the snapshot are not in this clone, so not in the "
            "run directory: dir2/b.txt"
        ) in proc.stderr
        assert "dir2/b.txt" in tree_files(clone, name)
        assert show(clone, name, ".gitexp/output.log").startswith("a")
