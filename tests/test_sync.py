"""`gitexp push`/`pull` between two clones over a bare file:// remote, artifacts through a
local-folder DVC remote; conflicts; plain git refspecs."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git, last_line, run_gitexp
from run_support import exp_refs, run_json
from sharing_support import make_world, md5, ok, store_files

pytestmark = pytest.mark.dvc  # conftest: skip, or fail under GITEXP_REQUIRE_DVC=1


@pytest.mark.slow
def test_run_push_pull_show_artifacts_and_reproduce_in_a_fresh_clone(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    ok("run", "-n", "first", cwd=world.a)
    ok("run", "-n", "second", cwd=world.a)
    record = run_json(world.a, "first")
    [model] = [r for r in record["artifacts"] if r["path"] == "model.bin"]

    out = ok("push", "origin", "--all", cwd=world.a)
    assert "pushed 2 experiment(s) to origin" in out
    assert exp_refs(world.remote) == exp_refs(world.a)
    assert model["md5"] in store_files(world.store)

    b = world.clone("b")
    assert exp_refs(b) == {}  # a plain clone does not fetch experiments
    out = ok("pull", "origin", cwd=b)
    assert "pulled 2 experiment(s) from origin" in out
    assert exp_refs(b) == exp_refs(world.a)
    shown = ok("show", cwd=b)
    assert "first" in shown and "second" in shown

    ok("artifacts", "pull", "first", "-o", str(tmp_path / "got"), cwd=b)
    assert md5(tmp_path / "got" / "model.bin") == model["md5"]
    proc = run_gitexp("reproduce", "first", "-q", cwd=b)
    assert proc.returncode == 0, proc.stderr
    assert "metrics match" in last_line(proc.stderr)
    assert exp_refs(b).keys() == {"first", "second"}  # no temporary ref left

    out = ok("pull", cwd=b)  # the remote defaults to origin, as in git
    assert "pulled 0 experiment(s) from origin, 2 up to date" in out


@pytest.mark.slow
def test_push_and_pull_report_conflicts_and_force_overwrites(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    b = world.clone("b")
    ok("run", "-n", "same", cwd=world.a)
    ok("run", "-n", "same", cwd=b)
    ok("run", "-n", "only-b", cwd=b)
    ok("push", "origin", "same", cwd=world.a)
    pushed = exp_refs(world.remote)["same"]

    proc = run_gitexp("push", "origin", "--all", cwd=b)
    assert proc.returncode == 1
    assert "gitexp: conflict: same is" in proc.stderr
    assert last_line(proc.stderr).startswith(
        "gitexp: pushed 1 experiment(s) to origin, 0 up to date, 1 conflict(s) left as they are"
    )
    assert exp_refs(world.remote) == {"same": pushed, "only-b": exp_refs(b)["only-b"]}

    proc = run_gitexp("pull", "origin", cwd=b)
    assert proc.returncode == 1 and "conflict: same" in proc.stderr
    assert exp_refs(b)["same"] != pushed  # B's own run is kept

    ok("pull", "origin", "same", "--force", cwd=b)
    assert exp_refs(b)["same"] == pushed
    ok("run", "-n", "same2", cwd=b)
    git(b, "update-ref", "refs/experiments/same", exp_refs(b)["same2"])
    ok("push", "origin", "same", "--force", cwd=b)
    assert exp_refs(world.remote)["same"] == exp_refs(b)["same2"]


def test_plain_git_refspecs_share_experiments_too(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    ok("run", "-n", "plain", cwd=world.a)
    git(world.a, "push", "-q", "origin", "refs/experiments/*:refs/experiments/*")
    b = world.clone("b")
    git(b, "config", "--add", "remote.origin.fetch", "+refs/experiments/*:refs/experiments/*")
    git(b, "fetch", "-q", "origin")
    assert exp_refs(b) == exp_refs(world.a)
    assert "plain" in ok("show", cwd=b)


def test_missing_dvc_remote_is_a_clear_error_and_nothing_is_pushed(tmp_path: Path) -> None:
    world = make_world(tmp_path, dvc_remote=False)
    ok("run", "-n", "big", cwd=world.a)
    proc = run_gitexp("push", "origin", "big", cwd=world.a)
    assert proc.returncode == 1
    assert last_line(proc.stderr).startswith(
        "gitexp: error: no DVC remote is configured for the artifacts (hint: add one with"
    )
    assert exp_refs(world.remote) == {}
    ok("push", "origin", "big", "--no-artifacts", cwd=world.a)
    assert exp_refs(world.remote).keys() == {"big"}


def test_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    proc = run_gitexp("push", "origin", cwd=world.a)
    assert proc.returncode == 2
    assert last_line(proc.stderr) == (
        "gitexp: error: name the experiments to push (hint: or push them all with --all)"
    )
    proc = run_gitexp("pull", "origin", "nope", cwd=world.a)
    assert proc.returncode == 2
    assert last_line(proc.stderr) == "gitexp: error: no experiment named 'nope' on origin"
    for command in ("push", "pull"):
        proc = run_gitexp(command, "nowhere", "--all", cwd=world.a)
        assert (proc.returncode, last_line(proc.stderr)) == (
            2,
            "gitexp: error: no git remote named 'nowhere' (this repository's remotes: origin) "
            "(hint: give a remote's name, a URL or a path; `git remote add NAME URL` adds one)",
        )
    proc = run_gitexp("push", "orgin", "--all", cwd=world.a)
    assert last_line(proc.stderr).endswith("(hint: did you mean `origin`?)")
    proc = run_gitexp("push", "ssh://nowhere.invalid/x.git", "--all", cwd=world.a)
    assert proc.returncode == 1  # a URL is git's to try
    assert last_line(proc.stderr).startswith("gitexp: error: git push failed:")


def test_a_lone_experiment_name_goes_to_origin(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    ok("run", "-n", "solo", "--", "python", "train.py", cwd=world.a)
    proc = run_gitexp("push", "solo", cwd=world.a)  # not a remote: the experiment, to origin
    assert proc.returncode == 0, proc.stderr
    assert exp_refs(world.remote).keys() == {"solo"}
    other = world.clone("other")
    proc = run_gitexp("pull", "solo", cwd=other)
    assert proc.returncode == 0, proc.stderr
    assert exp_refs(other).keys() == {"solo"}
    proc = run_gitexp("push", "orgin", cwd=world.a)  # close to a remote: the typo is said
    assert (proc.returncode, last_line(proc.stderr)) == (
        2,
        "gitexp: error: no git remote named 'orgin' (this repository's remotes: origin) "
        "(hint: did you mean `origin`?)",
    )
