"""A pull never brings a stage without its version: a stage, deprecation or
deregistration tag is fetched only where the version tag it refers to will be
here with the remote's commit (gitexp/registry/travel.py ``hold_back``), the
mirror of what a push does (tests/test_registry_push.py). And the summary
lines of push and pull count model tags alike.

Real repositories: a bare remote over file://, clones made with `git clone`,
the real `gitexp` CLI; models are small files stored in git (no DVC needed).
"""

from __future__ import annotations

from pathlib import Path

from conftest import git, last_line, run_gitexp
from sharing_support import ok
from test_registry_push import clone, recording_git, registered, verbs, world


def local_tags(root: Path) -> list[str]:
    return sorted(git(root, "tag", "-l").split())


def promoted_on_origin(tmp_path: Path) -> tuple[Path, Path]:
    """Clone B registered toy@v0.0.1 on its own experiment, not pushed; A registered
    v0.0.1 on exp1, promoted it to prod (toy#prod#1) and pushed both."""
    remote, a = world(tmp_path)
    b = clone(remote, "b")
    registered(b, "other")
    registered(a, "exp1")
    ok("model", "promote", "toy", "v0.0.1", "--stage", "prod", cwd=a)
    ok("push", "origin", "--all", cwd=a)
    return a, b


def test_a_stage_whose_version_differs_here_is_held_back(tmp_path: Path) -> None:
    _, b = promoted_on_origin(tmp_path)
    mine = git(b, "rev-parse", "toy@v0.0.1").strip()

    proc = run_gitexp("pull", "origin", cwd=b)
    assert proc.returncode == 1, proc.stderr  # as for any conflict
    lines = proc.stderr.splitlines()
    assert any(ln.startswith("gitexp: conflict: model tag toy@v0.0.1 is ") for ln in lines)
    assert "gitexp: held back toy#prod#1: its version toy@v0.0.1 differs here" in lines
    assert last_line(proc.stderr) == (
        "gitexp: pulled 1 experiment(s) from origin, 0 up to date, 0 model tag(s), 1 held back"
    )
    assert local_tags(b) == ["toy@v0.0.1"]  # the stage did not come: it would name exp1's
    assert git(b, "rev-parse", "toy@v0.0.1").strip() == mine  # commit, v0.0.1 of nobody here
    assert git(b, "rev-parse", "refs/experiments/exp1").strip()  # the experiment came

    again = run_gitexp("pull", "origin", "--force", cwd=b)  # held back, --force or not
    assert again.returncode == 1
    assert "gitexp: held back toy#prod#1: its version toy@v0.0.1 differs here" in again.stderr
    assert local_tags(b) == ["toy@v0.0.1"]

    # the way out docs/registry.md gives: drop ours (never pushed), take theirs
    git(b, "tag", "-d", "toy@v0.0.1")
    out = ok("pull", "origin", cwd=b)
    assert (
        last_line(out) == "gitexp: pulled 0 experiment(s) from origin, 1 up to date, 2 model tag(s)"
    )
    ok("model", "get", "toy", "--stage", "prod", "-o", "got.txt", cwd=b)
    assert (b / "got.txt").read_text() == "model of exp1"


def test_a_deregistration_and_a_deprecation_wait_for_their_version_too(tmp_path: Path) -> None:
    a, b = promoted_on_origin(tmp_path)
    ok("model", "deprecate", "toy", "v0.0.1", cwd=a)  # toy@v0.0.1!#2 on exp1's commit
    ok("model", "deprecate", "toy", cwd=a)  # toy@deprecated#3, on the same commit
    ok("push", "origin", "--all", cwd=a)

    proc = run_gitexp("pull", "origin", "exp1", cwd=b)  # by name: the tags on its commit
    assert proc.returncode == 1, proc.stderr
    for tag in ("toy#prod#1", "toy@v0.0.1!#2", "toy@deprecated#3"):
        line = f"gitexp: held back {tag}: its version toy@v0.0.1 differs here"
        assert line in proc.stderr.splitlines()
    assert last_line(proc.stderr).endswith(", 0 model tag(s), 3 held back")
    assert local_tags(b) == ["toy@v0.0.1"]


def test_a_stage_comes_when_the_version_here_differs_only_in_its_tag(tmp_path: Path) -> None:
    """B registered v0.0.1 on the very commit A did (another tag object): the stage
    names that commit, which is v0.0.1 here too, so it may come."""
    remote, a = world(tmp_path)
    ok("run", "-n", "exp1", cwd=a)
    ok("push", "origin", "exp1", cwd=a)
    b = clone(remote, "b")
    ok("pull", "origin", cwd=b)
    reg = ("model", "register", "toy", "--from", "exp1", "--path", "model.txt")
    ok(*reg, "-m", "registered by B", cwd=b)
    ok(*reg, "-m", "registered by A", cwd=a)
    ok("model", "promote", "toy", "v0.0.1", "--stage", "prod", cwd=a)
    ok("push", "origin", "--all", cwd=a)

    proc = run_gitexp("pull", "origin", cwd=b)
    assert proc.returncode == 1  # the version tag itself is still a conflict
    assert "gitexp: conflict: model tag toy@v0.0.1 is " in proc.stderr
    assert "held back" not in proc.stderr
    assert last_line(proc.stderr).endswith(", 1 model tag(s)")
    assert local_tags(b) == ["toy#prod#1", "toy@v0.0.1"]
    ok("model", "get", "toy", "--stage", "prod", "-o", "got.txt", cwd=b)
    assert (b / "got.txt").read_text() == "model of exp1"


def test_a_version_and_its_stage_come_together_in_one_fetch(tmp_path: Path) -> None:
    remote, a = world(tmp_path)
    b = clone(remote, "b")
    registered(a, "exp1")
    ok("model", "promote", "toy", "v0.0.1", "--stage", "prod", cwd=a)
    ok("push", "origin", "--all", cwd=a)
    env, calls = recording_git(tmp_path)
    out = ok("pull", "origin", cwd=b, env=env)
    assert (
        last_line(out) == "gitexp: pulled 1 experiment(s) from origin, 0 up to date, 2 model tag(s)"
    )
    assert verbs(calls).count("fetch") == 1
    assert local_tags(b) == ["toy#prod#1", "toy@v0.0.1"]


def test_push_and_pull_count_model_tags_alike(tmp_path: Path) -> None:
    """Both summaries count model tags, 0 too, once either side has some; neither
    does in a repository that never used the registry."""
    remote, a = world(tmp_path)
    ok("run", "-n", "plain", cwd=a)
    assert last_line(ok("push", "origin", "plain", cwd=a)) == (
        "gitexp: pushed 1 experiment(s) to origin, 0 up to date"
    )
    b = clone(remote, "b")
    assert last_line(ok("pull", "origin", cwd=b)) == (
        "gitexp: pulled 1 experiment(s) from origin, 0 up to date"
    )

    registered(a, "exp1")  # tags here only, none on origin yet
    assert last_line(ok("pull", "origin", cwd=a)) == (
        "gitexp: pulled 0 experiment(s) from origin, 1 up to date, 0 model tag(s)"
    )
    ok("push", "origin", "exp1", cwd=a)
    ok("run", "-n", "exp2", cwd=a)  # no tag on its commit
    assert last_line(ok("push", "origin", "exp2", cwd=a)) == (
        "gitexp: pushed 1 experiment(s) to origin, 0 up to date, 0 model tag(s)"
    )
    assert last_line(ok("pull", "origin", "exp2", cwd=b)) == (
        "gitexp: pulled 1 experiment(s) from origin, 0 up to date, 0 model tag(s)"
    )  # B has no model tag; origin has
