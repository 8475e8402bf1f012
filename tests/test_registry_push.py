"""A push never sends a stage without its version: a stage, deprecation or
deregistration tag reaches the remote only where the version tag it refers to
is there with the same commit (gitexp/sharing/pushing.py, registry/travel.py).

Real repositories: a bare remote over file://, clones made with `git clone`,
the real `gitexp` CLI, and a `git` on PATH that logs each call (to count the
pushes). Models are small files stored in git, so no DVC is needed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import git, last_line, make_repo, run_gitexp
from run_support import run_json
from sharing_support import make_world, ok, store_files

from gitexp.registry import travel

TRAIN = """\
import os
with open("model.txt", "w") as f:
    f.write("model of " + os.environ["GITEXP_RUN_NAME"])
"""


def world(tmp_path: Path) -> tuple[Path, Path]:
    """A bare remote, and clone A (with a train.py and gitexp.yaml) pushed to it."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    a = make_repo(tmp_path / "a", {"train.py": TRAIN, "gitexp.yaml": "command: python train.py\n"})
    git(a, "remote", "add", "origin", remote.as_uri())
    git(a, "push", "-q", "origin", "main")
    return remote, a


def clone(remote: Path, name: str) -> Path:
    target = remote.parent / name
    git(remote.parent, "clone", "-q", remote.as_uri(), str(target))
    return target


def registered(root: Path, experiment: str, *more: str) -> None:
    """Run ``experiment`` and register its model.txt as `toy` (the next version)."""
    ok("run", "-n", experiment, cwd=root)
    ok("model", "register", "toy", "--from", experiment, "--path", "model.txt", *more, cwd=root)


def remote_tags(remote: Path) -> list[str]:
    return sorted(git(remote, "tag", "-l").split())


def recording_git(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A `git` on PATH that logs each call's arguments, then runs the real one."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "git-calls"
    bin_dir.mkdir()
    shim = bin_dir / "git"
    shim.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {shutil.which("git")} "$@"\n')
    shim.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, calls


def verbs(calls: Path) -> list[str]:
    return [line.split()[0] for line in calls.read_text().splitlines()]


def conflicting(tmp_path: Path) -> tuple[Path, Path]:
    """Clone B pushed toy@v0.0.1 on its own commit; A registered v0.0.1 elsewhere
    and promoted it to prod (toy#prod#1), not pushed yet."""
    remote, a = world(tmp_path)
    b = clone(remote, "b")
    registered(b, "other")
    ok("push", "origin", "--all", cwd=b)
    registered(a, "exp1")
    ok("model", "promote", "toy", "v0.0.1", "--stage", "prod", cwd=a)
    return remote, a


def test_a_stage_whose_version_differs_on_the_remote_is_held_back(tmp_path: Path) -> None:
    remote, a = conflicting(tmp_path)
    theirs = git(remote, "rev-parse", "toy@v0.0.1").strip()
    env, calls = recording_git(tmp_path)

    proc = run_gitexp("push", "origin", "--all", cwd=a, env=env)
    assert proc.returncode == 1, proc.stderr  # as for any conflict
    lines = proc.stderr.splitlines()
    assert any(ln.startswith("gitexp: conflict: model tag toy@v0.0.1 is ") for ln in lines)
    assert "gitexp: held back toy#prod#1: its version toy@v0.0.1 differs on origin" in lines
    assert last_line(proc.stderr) == (
        "gitexp: pushed 1 experiment(s) to origin, 0 up to date, 0 model tag(s), 1 held back"
    )
    assert remote_tags(remote) == ["toy@v0.0.1"]  # nothing of toy#prod#... reached it
    assert git(remote, "rev-parse", "toy@v0.0.1").strip() == theirs
    assert git(remote, "rev-parse", "refs/experiments/exp1").strip()  # the experiment went
    pushes = [ln for ln in calls.read_text().splitlines() if ln.startswith("push")]
    assert "--atomic" in pushes[0].split() and len(pushes) == 2  # atomic: refused, sent nothing
    assert "toy@v0.0.1" in pushes[1] and "toy#prod#1" not in pushes[1]  # then all but the stage

    again = run_gitexp("push", "origin", "--all", "--force", cwd=a)  # held back, --force or not
    assert again.returncode == 1
    assert "gitexp: held back toy#prod#1: its version toy@v0.0.1 differs on origin" in again.stderr
    assert remote_tags(remote) == ["toy@v0.0.1"]

    # the way out docs/registry.md gives: drop ours, take theirs, register anew
    git(a, "tag", "-d", "toy@v0.0.1", "toy#prod#1")
    ok("pull", "origin", cwd=a)
    ok("model", "register", "toy", "--from", "exp1", "--path", "model.txt", cwd=a)
    ok("model", "promote", "toy", "v0.0.2", "--stage", "prod", cwd=a)
    ok("push", "origin", "--all", cwd=a)
    c = clone(remote, "c")
    ok("model", "get", "toy", "--stage", "prod", "-o", "got.txt", cwd=c)
    assert (c / "got.txt").read_text() == "model of exp1"


def test_a_deprecation_and_a_deregistration_wait_for_their_version_too(tmp_path: Path) -> None:
    remote, a = conflicting(tmp_path)
    ok("model", "deprecate", "toy", "v0.0.1", cwd=a)  # toy@v0.0.1!#2 on exp1's commit
    ok("model", "deprecate", "toy", cwd=a)  # toy@deprecated#3, on the same commit
    proc = run_gitexp("push", "origin", "exp1", cwd=a)
    assert proc.returncode == 1, proc.stderr
    for tag in ("toy#prod#1", "toy@v0.0.1!#2", "toy@deprecated#3"):
        line = f"gitexp: held back {tag}: its version toy@v0.0.1 differs on origin"
        assert line in proc.stderr.splitlines()
    assert remote_tags(remote) == ["toy@v0.0.1"]


def test_a_version_and_its_stage_go_together_in_one_push(tmp_path: Path) -> None:
    remote, a = world(tmp_path)
    registered(a, "exp1")
    ok("model", "promote", "toy", "v0.0.1", "--stage", "prod", cwd=a)
    env, calls = recording_git(tmp_path)
    out = ok("push", "origin", "--all", cwd=a, env=env)
    summary = "gitexp: pushed 1 experiment(s) to origin, 0 up to date, 2 model tag(s)"
    assert last_line(out) == summary
    assert verbs(calls).count("push") == 1 and "ls-remote" not in verbs(calls)
    assert remote_tags(remote) == ["toy#prod#1", "toy@v0.0.1"]

    c = clone(remote, "c")
    ok("model", "get", "toy", "--stage", "prod", "-o", "got.txt", cwd=c)
    assert (c / "got.txt").read_text() == "model of exp1"


def test_a_stage_for_a_version_already_on_the_remote_goes(tmp_path: Path) -> None:
    remote, a = world(tmp_path)
    registered(a, "exp1")
    ok("push", "origin", "--all", cwd=a)
    ok("model", "promote", "toy", "v0.0.1", "--stage", "prod", cwd=a)
    env, calls = recording_git(tmp_path)
    out = ok("push", "origin", "exp1", cwd=a, env=env)
    summary = "gitexp: pushed 0 experiment(s) to origin, 1 up to date, 1 model tag(s)"
    assert last_line(out) == summary
    assert verbs(calls).count("push") == 1
    assert remote_tags(remote) == ["toy#prod#1", "toy@v0.0.1"]


def test_a_stage_goes_when_the_remotes_version_differs_only_in_its_tag(tmp_path: Path) -> None:
    """B registered v0.0.1 on the very commit A did (another tag object): the stage
    names that commit, which is v0.0.1 on the remote too, so it may go."""
    remote, a = world(tmp_path)
    ok("run", "-n", "exp1", cwd=a)
    ok("push", "origin", "exp1", cwd=a)
    b = clone(remote, "b")
    ok("pull", "origin", cwd=b)
    reg = ("model", "register", "toy", "--from", "exp1", "--path", "model.txt")
    ok(*reg, "-m", "registered by B", cwd=b)
    ok("push", "origin", "--all", cwd=b)
    ok(*reg, "-m", "registered by A", cwd=a)
    ok("model", "promote", "toy", "v0.0.1", "--stage", "prod", cwd=a)

    proc = run_gitexp("push", "origin", "--all", cwd=a)
    assert proc.returncode == 1  # the version tag itself is still a conflict
    assert "gitexp: conflict: model tag toy@v0.0.1 is " in proc.stderr
    assert "held back" not in proc.stderr
    assert remote_tags(remote) == ["toy#prod#1", "toy@v0.0.1"]
    c = clone(remote, "c")
    ok("model", "get", "toy", "--stage", "prod", "-o", "got.txt", cwd=c)
    assert (c / "got.txt").read_text() == "model of exp1"


def test_a_remote_that_cannot_push_atomically_gets_two_phases(tmp_path: Path) -> None:
    remote, a = conflicting(tmp_path)
    git(remote, "config", "receive.advertiseAtomic", "false")
    proc = run_gitexp("push", "origin", "--all", cwd=a)
    assert proc.returncode == 1, proc.stderr
    assert "gitexp: held back toy#prod#1: its version toy@v0.0.1 differs on origin" in proc.stderr
    assert remote_tags(remote) == ["toy@v0.0.1"]

    registered(a, "exp2")  # v0.0.2: one version per commit
    ok("model", "promote", "toy", "v0.0.2", "--stage", "prod", cwd=a)
    proc = run_gitexp("push", "origin", "--all", cwd=a)
    assert "gitexp: held back toy#prod#1:" in proc.stderr  # the old one still waits
    assert "toy#prod#2" not in proc.stderr and "toy@v0.0.2 " not in proc.stderr
    assert remote_tags(remote) == ["toy#prod#2", "toy@v0.0.1", "toy@v0.0.2"]


@pytest.mark.dvc
def test_with_dvc_the_artifacts_still_go_first_and_the_stage_is_held_back(tmp_path: Path) -> None:
    """DVC set up: a dry run of the same push says what moves (atomic, then the
    two phases), the artifacts go, then the refs; the stage stays behind."""
    world = make_world(tmp_path)
    b = world.clone("b")
    ok("run", "-n", "other", cwd=b)
    ok("model", "register", "toy", "--from", "other", cwd=b)
    ok("push", "origin", "--all", "--no-artifacts", cwd=b)
    ok("run", "-n", "exp1", cwd=world.a)
    ok("model", "register", "toy", "--from", "exp1", cwd=world.a)
    ok("model", "promote", "toy", "v0.0.1", "--stage", "prod", cwd=world.a)

    proc = run_gitexp("push", "origin", "--all", cwd=world.a)
    assert proc.returncode == 1, proc.stderr
    assert "gitexp: held back toy#prod#1: its version toy@v0.0.1 differs on origin" in proc.stderr
    assert remote_tags(world.remote) == ["toy@v0.0.1"]
    md5s = {r["md5"] for r in run_json(world.a, "exp1")["artifacts"]}
    assert md5s and md5s <= store_files(world.store)  # exp1's artifacts reached DVC


def test_get_by_a_stage_whose_version_is_missing_says_so(tmp_path: Path) -> None:
    """What an older push left: the stage on origin, its version not (plain git here)."""
    remote, a = conflicting(tmp_path)
    git(a, "push", "-q", "origin", "refs/experiments/exp1", "toy#prod#1")
    c = clone(remote, "c")
    proc = run_gitexp("model", "get", "toy", "--stage", "prod", cwd=c)
    assert proc.returncode == 2, proc.stderr
    commit = git(a, "rev-parse", "refs/experiments/exp1").strip()
    assert last_line(proc.stderr) == (
        f"gitexp: error: stage 'prod' of model 'toy' points at commit {commit[:10]}, which has "
        "no version of 'toy' here (hint: the stage's version is missing on this repository: "
        "pull the model's tags (`gitexp pull REMOTE`), or ask whoever promoted it)"
    )
    ok("model", "get", "toy", "--stage", "prod", "--path", "model.txt", "-o", "got.txt", cwd=c)
    assert (c / "got.txt").read_text() == "model of exp1"  # --path still reads it (GTO's way)


def test_needs_names_the_versions_a_tag_refers_to() -> None:
    commits = {"toy@v1.0.0": "A", "toy@v1.1.0": "B", "toy#prod#3": "A", "toy@v1.1.0!#4": "B"}
    commits |= {"toy@deprecated#5": "B", "other#prod#1": "A", "toy#dev#2": "C"}
    asked: list[str] = []

    def commit_of(tag: str) -> str | None:
        asked.append(tag)
        return commits.get(tag)

    needed = travel.needs(sorted(commits), commit_of)
    assert needed == {
        "toy#prod#3": ["toy@v1.0.0"],
        "toy@v1.1.0!#4": ["toy@v1.1.0"],
        "toy@deprecated#5": ["toy@v1.1.0"],
    }  # toy#dev#2 is on a commit with no version; `other` has no version at all
    assert "other#prod#1" not in asked
    held = travel.held(needed, {"toy@v1.0.0"}, lambda v: False)
    assert held == {"toy@v1.1.0!#4": "toy@v1.1.0", "toy@deprecated#5": "toy@v1.1.0"}
    assert travel.held(needed, set(), lambda v: v == "toy@v1.1.0") == {"toy#prod#3": "toy@v1.0.0"}
