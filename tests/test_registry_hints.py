"""`gitexp model register` without a usable --path names the files that could be
the model and a `git ls-tree` command to paste (gitexp/registry/candidates.py).

Real repositories and the real `gitexp` CLI; the experiments hold their files in
git (no DVC artifacts), which is when the hint lists files.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from conftest import git, last_line, make_repo, run_gitexp
from sharing_support import ok

LISTING = "all its files: `git ls-tree -r --name-only refs/experiments/exp1`"


def fails(*args: str, cwd: Path) -> str:
    """The one stderr line of a usage mistake (exit 2), nothing written."""
    before = git(cwd, "tag", "-l")
    proc = run_gitexp(*args, cwd=cwd)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert git(cwd, "tag", "-l") == before
    return last_line(proc.stderr)


def test_without_dvc_artifacts_the_hint_lists_the_files_git_holds(tmp_path: Path) -> None:
    files = {"train.py": "open('model.txt', 'w').write('m')\n", ".gitignore": "*.log\n"}
    a = make_repo(tmp_path / "a", {**files, "gitexp.yaml": "command: python train.py\n"})
    ok("run", "-n", "exp1", cwd=a)
    found = "files in it that could be the model: model.txt"
    hint = f"(hint: it has no DVC artifacts; {found}; {LISTING})"
    assert fails("model", "register", "toy", "--from", "exp1", cwd=a) == (
        f"gitexp: error: name the model file of experiment 'exp1' with --path {hint}"
    )
    assert fails("model", "register", "toy", "--from", "exp1", "--path", "nope.bin", cwd=a) == (
        f"gitexp: error: path 'nope.bin' is not in experiment 'exp1' {hint}"
    )
    command = shlex.split(LISTING.split("`")[1])  # the command runs as pasted
    listed = subprocess.run(command, cwd=a, capture_output=True, text=True, check=True).stdout
    assert "model.txt" in listed.split() and ".gitexp/run.json" in listed.split()
    ok("model", "register", "toy", "--from", "exp1", "--path", "model.txt", cwd=a)


def test_the_hint_shows_ten_files_likely_models_first_and_counts_the_rest(tmp_path: Path) -> None:
    files = {f"weights/m{i:02}.pt": str(i) for i in range(12)}
    files |= {"notes.txt": "n", "model.pkl.dvc": "outs:\n- md5: 0\n  path: model.pkl\n"}
    files |= {"params.py": "lr = 1\n", "README.md": "r", ".dvc/config": "", "dvc.yaml": "x: 1\n"}
    a = make_repo(tmp_path / "a", {**files, "gitexp.yaml": "command: python -c pass\n"})
    ok("run", "-n", "exp1", cwd=a)
    line = fails("model", "register", "toy", "--from", "exp1", cwd=a)
    shown = ["model.pkl", *(f"weights/m{i:02}.pt" for i in range(9))]  # a .dvc pointer: its path
    assert line.endswith(f"could be the model: {', '.join(shown)} (and 4 more); {LISTING})")


def test_a_tree_with_nothing_like_a_model_says_so(tmp_path: Path) -> None:
    a = make_repo(tmp_path / "a", {"gitexp.yaml": "command: python -c pass\n", "run.py": "\n"})
    ok("run", "-n", "exp1", cwd=a)
    line = fails("model", "register", "toy", "--from", "exp1", cwd=a)
    assert line.endswith(
        f"(hint: it has no DVC artifacts; no file in it looks like a model; {LISTING})"
    )


def test_a_tag_another_tool_made_gets_the_commits_listing(tmp_path: Path) -> None:
    """`model get --path` on a version GTO (here plain git) registered: the command
    names the commit, which is what the error names too."""
    a = make_repo(tmp_path / "a", {"gitexp.yaml": "command: python -c \"open('m.bin','w')\"\n"})
    ok("run", "-n", "exp1", cwd=a)
    commit = git(a, "rev-parse", "refs/experiments/exp1").strip()
    git(a, "tag", "-a", "toy@v0.0.1", "-m", "Registering artifact toy version v0.0.1", commit)
    line = fails("model", "get", "toy", "--version", "v0.0.1", "--path", "nope.bin", cwd=a)
    assert line == (
        f"gitexp: error: path 'nope.bin' is not in commit {commit[:10]} (hint: it has no DVC "
        "artifacts; files in it that could be the model: m.bin; all its files: "
        f"`git ls-tree -r --name-only {commit[:10]}`)"
    )
