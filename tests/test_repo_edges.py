"""Repositories at the edges: GIT_DIR in the environment, a separate git dir,
core.worktree, a repository owned by another user."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from conftest import git, last_line, make_repo, require_backend, run_gitexp, write_files

SCRIPT = {"t.py": 'print("accuracy: 0.5")\n'}


def test_a_hooks_git_dir_naming_this_repository_is_followed(git_repo: Path) -> None:
    proc = run_gitexp("run", "-n", "in-hook", "--", "python", "train.py", env={"GIT_DIR": ".git"})
    assert proc.returncode == 0, proc.stderr
    assert git(git_repo, "rev-parse", "-q", "--verify", "refs/experiments/in-hook")


def test_git_dir_naming_another_repository_is_refused(git_repo: Path, tmp_path: Path) -> None:
    other = make_repo(tmp_path / "other")
    proc = run_gitexp("show", env={"GIT_DIR": str(other / ".git")})
    assert proc.returncode == 2
    assert last_line(proc.stderr) == (
        f"gitexp: error: GIT_DIR={other / '.git'} is not the repository at {git_repo} "
        f"({git_repo / '.git'}) (hint: gitexp finds the repository from the current "
        "directory: cd into its work tree, and unset GIT_DIR)"
    )


def test_git_dir_outside_any_repository_says_it_is_not_followed(
    git_repo: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = run_gitexp("show", cwd=elsewhere, env={"GIT_DIR": str(git_repo / ".git")})
    assert proc.returncode == 2
    assert last_line(proc.stderr) == (
        f"gitexp: error: not a git repository: {elsewhere} (GIT_DIR={git_repo / '.git'} "
        "is not followed) (hint: gitexp finds the repository from the current directory: "
        "cd into its work tree)"
    )


def _run_json(git_dir: Path, name: str) -> dict[str, object]:
    shown = subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"refs/experiments/{name}:.gitexp/run.json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    data: dict[str, object] = json.loads(shown.stdout)
    return data


def test_a_separate_git_dir_keeps_its_work_tree(tmp_path: Path) -> None:
    work, sep = tmp_path / "work", tmp_path / "sep.git"
    git(tmp_path, "init", "-q", "-b", "main", f"--separate-git-dir={sep}", str(work))
    write_files(work, {**SCRIPT, "sub/s.py": 'print("accuracy: 0.7")\n'})
    git(work, "add", "-A")
    git(work, "commit", "-qm", "base")
    proc = run_gitexp("run", "-n", "sep", "--", "python", "s.py", cwd=work / "sub")
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr  # the registry listener found the repository
    assert _run_json(sep, "sep")["cwd"] == "sub"  # relative to the work tree, not to sep.git/..


def test_core_worktree_without_a_dot_git_in_the_work_tree(tmp_path: Path) -> None:
    """Run from inside the git dir: the work tree has no .git that leads back."""
    work, git_dir = tmp_path / "work", tmp_path / "repo.git"
    work.mkdir()
    git(tmp_path, "init", "-q", "-b", "main", "--bare", str(git_dir))
    git(git_dir, "config", "core.bare", "false")
    git(git_dir, "config", "core.worktree", str(work))
    write_files(work, SCRIPT)
    git(git_dir, "add", "-A")
    git(git_dir, "commit", "-qm", "base")
    proc = run_gitexp("run", "-n", "cw", "--", "python", "t.py", cwd=git_dir)
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr
    assert _run_json(git_dir, "cw")["status"] == "succeeded"


def test_a_repository_of_another_user_is_one_line_with_gits_hint(git_repo: Path) -> None:
    # root only (chown); CI runs as root with the mount switch, which makes a skip fail
    not_root = "giving a folder to another user needs root"
    require_backend("GITEXP_REQUIRE_MOUNT", not_root if os.geteuid() != 0 else None)
    theirs = git_repo.parent / "theirs"
    shutil.copytree(git_repo, theirs, symlinks=True)
    subprocess.run(["chown", "-R", "nobody", str(theirs)], check=True)
    before = sorted(p.name for p in theirs.iterdir())
    proc = run_gitexp("show", cwd=theirs)
    assert proc.returncode == 1
    assert last_line(proc.stderr) == (
        f"gitexp: error: the repository at {theirs} is owned by another user; git refuses it "
        f"(hint: if you trust it: git config --global --add safe.directory {theirs})"
    )
    assert sorted(p.name for p in theirs.iterdir()) == before
    git(theirs.parent, "config", "--global", "--add", "safe.directory", str(theirs))
    assert run_gitexp("show", cwd=theirs).returncode == 0  # the hint works
