"""What a run's command sees of git: no repository of the user's, and the facts
it would have asked git for (GITEXP_BASELINE, GITEXP_DIRTY)."""

from __future__ import annotations

from pathlib import Path

from conftest import git, run_gitexp, write_files

from gitexp.gitstore.gitenv import REPO_LOCATING

SCRIPT = """\
import os, subprocess
seen = sorted(k for k in os.environ if k in {locating})
print("seen:", ",".join(seen) or "-")
subprocess.run(["git", "add", "-A"])
made = subprocess.run(["git", "commit", "-qm", "by script"], capture_output=True, text=True)
print("commit exit:", made.returncode)
head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
print("head exit:", head.returncode)
print("baseline:", os.environ["GITEXP_BASELINE"], "dirty:", os.environ["GITEXP_DIRTY"])
"""


def _script(root: Path) -> None:
    write_files(root, {"gitcommit.py": SCRIPT.format(locating=set(REPO_LOCATING))})
    git(root, "add", "gitcommit.py")
    git(root, "commit", "-qm", "script")


def _state(root: Path) -> tuple[str, str, str]:
    """HEAD, the index's tree and the status: what a script's git would change."""
    return git(root, "rev-parse", "HEAD"), git(root, "write-tree"), git(root, "status", "--short")


def test_git_variables_of_a_hook_do_not_reach_the_command(git_repo: Path) -> None:
    _script(git_repo)
    (git_repo / "notes.md").write_text("uncommitted\n")
    before = _state(git_repo)
    dot_git = git_repo / ".git"
    env = {
        "GIT_DIR": str(dot_git),
        "GIT_WORK_TREE": str(git_repo),
        "GIT_INDEX_FILE": str(dot_git / "index"),
        "GIT_OBJECT_DIRECTORY": str(dot_git / "objects"),
        "GIT_COMMON_DIR": str(dot_git),
        "GIT_PREFIX": "",
    }
    proc = run_gitexp("run", "-n", "hooked", "--", "python", "gitcommit.py", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "seen: -" in proc.stdout
    assert "commit exit: 0" not in proc.stdout  # the script's git found no repository
    assert _state(git_repo) == before  # HEAD, index and files of the user untouched
    assert git(git_repo, "rev-parse", "-q", "--verify", "refs/experiments/hooked")


def test_the_command_gets_the_baseline_instead_of_a_repository(git_repo: Path) -> None:
    _script(git_repo)
    head = git(git_repo, "rev-parse", "HEAD").strip()
    clean = run_gitexp("run", "-n", "clean", "--", "python", "gitcommit.py")
    assert clean.returncode == 0, clean.stderr
    assert "head exit: 128" in clean.stdout  # the run dir is a snapshot, not a clone
    assert f"baseline: {head} dirty: 0" in clean.stdout
    (git_repo / "notes.md").write_text("uncommitted\n")
    dirty = run_gitexp("run", "-n", "dirty", "--", "python", "gitcommit.py")
    assert dirty.returncode == 0, dirty.stderr
    assert f"baseline: {head} dirty: 1" in dirty.stdout
    recorded = git(git_repo, "show", "refs/experiments/dirty:.gitexp/run.json")
    assert f'"baseline": "{head}"' in recorded
