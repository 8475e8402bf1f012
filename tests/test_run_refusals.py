"""`gitexp run` refuses, before reserving a name, what would only record a broken
experiment: unmerged files of a merge or rebase, a name git reads as a commit, a
branch name git refuses, a Python file typed as a program, a symlinked params file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import git, last_line, run_gitexp
from run_support import exp_refs
from sharing_support import ok

UNMERGED = (
    "gitexp: error: cannot run during a {op}: unmerged files train.py (hint: resolve them and "
    "finish the {op} (git add, then git {op} --continue or git commit), or abort it "
    "(git {op} --abort))"
)


def _conflict(root: Path) -> None:
    """Two branches change train.py differently."""
    git(root, "checkout", "-q", "-b", "other")
    (root / "train.py").write_text("print('score: 2')\n")
    git(root, "commit", "-qam", "other")
    git(root, "checkout", "-q", "main")
    (root / "train.py").write_text("print('score: 3')\n")
    git(root, "commit", "-qam", "main")


@pytest.mark.parametrize("op", ["merge", "rebase"])
def test_unmerged_files_are_refused_naming_them(git_repo: Path, op: str) -> None:
    _conflict(git_repo)
    git(git_repo, op, "other", check=False)
    assert "<<<<<<<" in (git_repo / "train.py").read_text()
    proc = run_gitexp("run", "--", "python", "train.py", cwd=git_repo)
    assert (proc.returncode, proc.stderr) == (2, UNMERGED.format(op=op) + "\n")
    assert exp_refs(git_repo) == {}


@pytest.mark.parametrize("name", ["HEAD", "FETCH_HEAD", "ORIG_HEAD", "MERGE_HEAD", "6cd97d0"])
def test_names_git_reads_as_commits_are_refused(git_repo: Path, name: str) -> None:
    proc = run_gitexp("run", "-n", name, "--", "python", "train.py", cwd=git_repo)
    assert (proc.returncode, proc.stderr) == (
        2,
        f"gitexp: error: invalid experiment name {name!r}: git would read it as a commit "
        f"(HEAD, FETCH_HEAD, a commit id), not as a name (hint: add a word, e.g. run-{name})\n",
    )
    assert exp_refs(git_repo) == {}


def test_rename_to_a_commit_id_is_refused_and_words_of_hex_letters_are_names(
    git_repo: Path,
) -> None:
    ok("run", "-n", "dead", "-q", "--", "python", "train.py", cwd=git_repo)  # a word, kept
    proc = run_gitexp("rename", "dead", "1234abc", cwd=git_repo)
    assert proc.returncode == 2
    assert "git would read it as a commit" in last_line(proc.stderr)
    assert exp_refs(git_repo).keys() == {"dead"}


@pytest.mark.parametrize("branch", ["-x", "a..b", "HEAD", "bad name"])
def test_a_branch_name_git_refuses_is_refused(git_repo: Path, branch: str) -> None:
    ok("run", "-n", "bo", "-q", "--", "python", "train.py", cwd=git_repo)
    heads = git(git_repo, "for-each-ref", "refs/heads/")
    proc = run_gitexp("branch", "bo", "--", branch, cwd=git_repo)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"gitexp: error: invalid branch name {branch!r} (hint: ")
    assert len(proc.stderr.splitlines()) == 1
    assert git(git_repo, "for-each-ref", "refs/heads/") == heads


def test_a_python_file_typed_as_the_command_gets_the_right_form(git_repo: Path) -> None:
    proc = run_gitexp("run", "train.py", "--fast", cwd=git_repo)
    assert (proc.returncode, proc.stderr) == (
        2,
        "gitexp: error: command not found: 'train.py' "
        "(hint: it is a Python file: gitexp run -- python train.py --fast)\n",
    )
    assert exp_refs(git_repo) == {}


def test_a_symlinked_params_file_says_so(git_repo: Path) -> None:
    (git_repo / "real.yaml").write_text("lr: 0.1\n")
    os.remove(git_repo / "params.yaml")
    os.symlink("real.yaml", git_repo / "params.yaml")
    proc = run_gitexp("run", "-p", "lr=0.2", "--", "python", "train.py", cwd=git_repo)
    assert (proc.returncode, proc.stderr) == (
        2,
        "gitexp: error: params file params.yaml is a symlink (to 'real.yaml'); gitexp reads "
        "params files from the snapshot, where symlinks are not followed (hint: make it a "
        "regular file, or name the file it points to under `params:`)\n",
    )
    assert exp_refs(git_repo) == {}
