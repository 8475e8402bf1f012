"""remove / rename / apply / branch: refs change, the user's work stays intact."""

from __future__ import annotations

import hashlib
from pathlib import Path

from conftest import git, last_line, run_gitexp
from explore_support import gitexp_json, gitexp_ok, names, study, study_template

__all__ = ["study", "study_template"]


def user_state(root: Path) -> tuple[str, str, str, str]:
    """HEAD, the index file, `git status` and the work tree files' contents."""
    status = git(root, "status", "--porcelain")  # first: it may refresh the index's stat data
    index = hashlib.sha1((root / ".git" / "index").read_bytes()).hexdigest()
    files = sorted(p for p in root.rglob("*") if ".git" not in p.parts and p.is_file())
    tree = hashlib.sha1(b"".join(p.read_bytes() + str(p).encode() for p in files)).hexdigest()
    return git(root, "rev-parse", "HEAD"), index, status, tree


def experiments(root: Path) -> list[str]:
    return sorted(names(gitexp_json("show", cwd=root)))


def test_remove_by_name_and_prefix(study: Path) -> None:
    before = user_state(study)
    out = gitexp_ok("remove", "alpha", "gam", cwd=study).stdout
    assert out.splitlines() == ["removed alpha", "removed gamma"]
    assert experiments(study) == ["beta", "broken"]
    assert git(study, "for-each-ref", "refs/experiments/alpha") == ""
    assert user_state(study) == before


def test_remove_failed_and_all_of_baseline(study: Path) -> None:
    assert gitexp_ok("remove", "--failed", cwd=study).stdout == "removed broken\n"
    assert experiments(study) == ["alpha", "beta", "gamma"]
    dry = gitexp_ok("remove", "--all-of", "HEAD", "--dry-run", cwd=study).stdout
    assert dry.splitlines() == ["would remove alpha", "would remove beta", "would remove gamma"]
    assert experiments(study) == ["alpha", "beta", "gamma"]
    gitexp_ok("remove", "--all-of", "main", cwd=study)
    assert experiments(study) == []


def test_remove_errors(study: Path) -> None:
    proc = run_gitexp("remove", cwd=study)
    assert proc.returncode == 2
    assert last_line(proc.stderr).startswith("gitexp: error: nothing to remove")
    proc = run_gitexp("remove", "alpha", "nope", cwd=study)
    assert proc.returncode == 2
    assert last_line(proc.stderr).startswith("gitexp: error: no experiment named 'nope'")
    assert "alpha" in experiments(study)  # all or nothing


def test_rename(study: Path) -> None:
    commit = git(study, "rev-parse", "refs/experiments/beta").strip()
    before = user_state(study)
    assert gitexp_ok("rename", "beta", "best/beta-1", cwd=study).stdout == (
        "renamed beta -> best/beta-1\n"
    )
    rows = {r["name"]: r for r in gitexp_json("show", cwd=study)}
    assert rows["best/beta-1"]["commit"] == commit and "beta" not in rows
    assert rows["best/beta-1"]["ref"] == "refs/experiments/best/beta-1"
    assert user_state(study) == before
    for args, message in (
        (("rename", "alpha", "gamma"), "gitexp: error: experiment name 'gamma' is taken"),
        (("rename", "alpha", "bad..name"), "gitexp: error: invalid experiment name 'bad..name'"),
        (("rename", "nope", "x"), "gitexp: error: no experiment named 'nope'"),
    ):
        proc = run_gitexp(*args, cwd=study)
        assert proc.returncode == 2, proc.stderr
        assert last_line(proc.stderr).startswith(message), proc.stderr
    assert "alpha" in experiments(study)


def test_apply_writes_files_without_touching_index_or_head(study: Path) -> None:
    head = git(study, "rev-parse", "HEAD")
    git(study, "status")  # refresh the index's stat data before taking its picture
    index = (study / ".git" / "index").read_bytes()
    out = gitexp_ok("apply", "gamma", cwd=study).stdout
    assert out.startswith("applied gamma (") and "1 written (params.yaml), 0 deleted" in out
    assert "depth: 9" in (study / "params.yaml").read_text()
    assert not (study / ".gitexp").exists()
    assert git(study, "rev-parse", "HEAD") == head
    assert (study / ".git" / "index").read_bytes() == index
    assert git(study, "status", "--porcelain") == " M params.yaml\n"
    assert git(study, "diff", "--cached") == ""


def test_apply_refuses_to_overwrite_uncommitted_changes(study: Path) -> None:
    (study / "params.yaml").write_text("model:\n  depth: 4\n")  # gamma writes this file
    proc = run_gitexp("apply", "gamma", cwd=study)
    assert proc.returncode == 2
    assert proc.stderr == (
        "gitexp: error: refusing to apply 'gamma': uncommitted changes to files it would "
        "write or delete (params.yaml); nothing was written (hint: commit or stash them "
        "first, or use --force, which saves them in a stash first)\n"
    )
    assert (study / "params.yaml").read_text() == "model:\n  depth: 4\n"
    gitexp_ok("apply", "gamma", "--force", cwd=study)  # tests/test_apply_uncommitted.py
    assert "depth: 9" in (study / "params.yaml").read_text()
    assert git(study, "show", "stash@{0}:params.yaml") == "model:\n  depth: 4\n"


def test_apply_refuses_to_clobber_untracked_file(study: Path, tmp_path: Path) -> None:
    # an experiment that produced a new file, then the user has their own copy of it
    (study / "extra.txt").write_text("from the run\n")
    gitexp_ok("run", "-q", "-n", "withfile", "--", "python", "train.py", cwd=study)
    (study / "extra.txt").write_text("mine\n")
    proc = run_gitexp("apply", "withfile", cwd=study)
    assert proc.returncode == 2
    assert "untracked files it would overwrite (extra.txt)" in proc.stderr
    assert (study / "extra.txt").read_text() == "mine\n"
    (study / "extra.txt").write_text("from the run\n")  # identical content is no conflict
    gitexp_ok("apply", "withfile", cwd=study)


def test_branch_points_at_the_experiment(study: Path) -> None:
    before = user_state(study)
    out = gitexp_ok("branch", "beta", "try-beta", cwd=study).stdout
    commit = git(study, "rev-parse", "refs/experiments/beta").strip()
    assert out == f"created branch try-beta at {commit[:7]} (beta)\n"
    assert git(study, "rev-parse", "refs/heads/try-beta").strip() == commit
    assert git(study, "show", "try-beta:params.yaml").count("depth: 6") == 1
    assert user_state(study) == before
    assert git(study, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    for branch, message in (
        ("try-beta", "gitexp: error: branch 'try-beta' exists already"),
        ("bad..branch", "gitexp: error: invalid branch name 'bad..branch'"),
    ):
        proc = run_gitexp("branch", "beta", branch, cwd=study)
        assert proc.returncode == 2, proc.stderr
        assert last_line(proc.stderr).startswith(message)
