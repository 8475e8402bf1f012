"""A queue shared through a remote runs each entry once, in whichever clone claims it
first ON the remote (gitexp/queue/shared.py), and the run goes back over its claim
with no --force and no conflict: `push` and `pull` in every clone agree after.

Real parts: a bare remote over file://, clones made with `git clone`, the real
`gitexp` CLI; the script appends to RUNS_LOG, so the tests count the runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import git, last_line, make_repo, run_gitexp

TRAIN = """\
import os, sys, time, gitexp
p = gitexp.params()
if os.environ.get("MOVE_REMOTE"):  # the network goes away while the run runs
    os.rename(os.environ["MOVE_REMOTE"], os.environ["MOVE_REMOTE"] + ".away")
time.sleep(float(p["nap"]))
with open(os.environ["RUNS_LOG"], "a") as log:
    log.write(os.environ["GITEXP_CLONE"] + " " + os.environ["GITEXP_RUN_NAME"] + "\\n")
gitexp.log_metric("alpha_seen", p["alpha"])
"""


def world(tmp_path: Path) -> tuple[Path, Path]:
    """A bare remote, and clone `ana` (train.py, params.yaml, gitexp.yaml) pushed to it."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    files = {
        "train.py": TRAIN,
        "params.yaml": "alpha: 0.1\nnap: 0.0\n",
        "gitexp.yaml": "command: python train.py\n",
    }
    ana = make_repo(tmp_path / "ana", files)
    git(ana, "remote", "add", "origin", remote.as_uri())
    git(ana, "push", "-q", "origin", "main")
    return remote, ana


def clone(remote: Path, name: str) -> Path:
    target = remote.parent / name
    git(remote.parent, "clone", "-q", remote.as_uri(), str(target))
    return target


def gx(root: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    proc = run_gitexp(*args, cwd=root, env=_env(root))
    assert proc.returncode == code, proc.stderr
    return proc


def _env(root: Path) -> dict[str, str]:
    return {"RUNS_LOG": str(root.parent / "runs.log"), "GITEXP_CLONE": root.name}


def runs(tmp_path: Path) -> list[str]:
    log = tmp_path / "runs.log"
    return log.read_text().splitlines() if log.exists() else []


def status_on(remote: Path, name: str) -> str:
    run = json.loads(git(remote, "show", f"refs/experiments/{name}:.gitexp/run.json"))
    return str(run["status"])


def status_here(root: Path, name: str) -> str:
    return status_on(root, name)


def shared_queue(tmp_path: Path) -> tuple[Path, Path, Path]:
    """ana queued q1 and pushed it; bo cloned and pulled it: q1 is queued in both."""
    remote, ana = world(tmp_path)
    gx(ana, "queue", "add", "-n", "q1", "-p", "alpha=0.05")
    gx(ana, "push", "--all")
    bo = clone(remote, "bo")
    gx(bo, "pull")
    assert status_here(bo, "q1") == "queued"
    return remote, ana, bo


def test_a_pushed_queue_runs_once_and_every_clone_agrees_after(tmp_path: Path) -> None:
    remote, ana, bo = shared_queue(tmp_path)

    ran = gx(bo, "queue", "run")
    assert "gitexp: q1 succeeded; published to origin" in ran.stderr.splitlines()
    assert status_on(remote, "q1") == "succeeded"  # a third clone would not run it again

    later = gx(ana, "queue", "run")  # ana's q1 is still queued here: claimed on origin, though
    assert "gitexp: q1 was claimed on origin by another clone" in later.stderr
    assert last_line(later.stderr) == "gitexp: queue: 1 taken; 0 still queued"
    assert runs(tmp_path) == ["bo q1"]
    assert status_here(ana, "q1") == "succeeded"  # bo's run took the entry's place here

    for root in (ana, bo):  # no --force, no conflict, in either clone
        assert last_line(gx(root, "push", "--all").stderr).endswith(", 1 up to date")
        assert last_line(gx(root, "pull").stderr).endswith(", 1 up to date")
    ci = clone(remote, "ci")
    gx(ci, "pull")
    assert (
        last_line(gx(ci, "queue", "run").stderr) == "gitexp: queue: nothing to run; 0 still queued"
    )
    assert runs(tmp_path) == ["bo q1"]


def test_a_stale_queued_entry_takes_the_remote_run_on_push_or_pull(tmp_path: Path) -> None:
    remote, ana, bo = shared_queue(tmp_path)
    gx(bo, "queue", "run")
    bo_run = git(bo, "rev-parse", "refs/experiments/q1").strip()

    pushed = gx(ana, "push", "--all")  # was: exit 1, "conflict: q1 is ... here and ... on origin"
    assert "conflict" not in pushed.stderr
    assert git(ana, "rev-parse", "refs/experiments/q1").strip() == bo_run
    assert git(remote, "rev-parse", "refs/experiments/q1").strip() == bo_run

    ci = clone(remote, "ci")
    gx(ana, "queue", "add", "-n", "q2")
    gx(ana, "push", "--all")
    gx(ci, "pull")
    gx(bo, "pull")
    gx(bo, "queue", "run")
    pulled = gx(ci, "pull")  # ci's q2 is queued, origin's succeeded: ci takes it
    assert "conflict" not in pulled.stderr
    assert status_here(ci, "q2") == "succeeded"
    assert runs(tmp_path) == ["bo q1", "bo q2"]


def test_two_clones_running_the_queue_at_once_run_each_entry_once(tmp_path: Path) -> None:
    remote, ana, bo = shared_queue(tmp_path)
    for name in ("q2", "q3"):
        gx(ana, "queue", "add", "-n", name, "-p", "nap=0.5")
    gx(ana, "push", "--all")
    gx(bo, "pull")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gitexp", "queue", "run"],
            cwd=root,
            env={**os.environ, **_env(root)},
            stderr=subprocess.PIPE,
            text=True,
        )
        for root in (ana, bo)
    ]
    errs = [p.communicate(timeout=180)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    ran = sorted(line.split()[1] for line in runs(tmp_path))
    assert ran == ["q1", "q2", "q3"]  # each once, whoever won its claim
    for name in ran:
        assert status_on(remote, name) == "succeeded"
    for root in (ana, bo):
        assert gx(root, "push", "--all").returncode == 0


def test_an_unreachable_remote_is_refused_unless_offline(tmp_path: Path) -> None:
    _, _, bo = shared_queue(tmp_path)
    git(bo, "remote", "set-url", "origin", (tmp_path / "gone.git").as_uri())

    refused = gx(bo, "queue", "run", code=1)
    assert last_line(refused.stderr).startswith(
        "gitexp: error: cannot reach 'origin' to claim queued runs there: "
    )
    assert "pass --offline to run them here only" in refused.stderr
    assert runs(tmp_path) == [] and status_here(bo, "q1") == "queued"

    offline = gx(bo, "queue", "run", "--offline")
    assert "warning: --offline" in offline.stderr
    assert runs(tmp_path) == ["bo q1"]


def test_local_entries_run_without_the_remote_and_a_lost_publish_goes_with_push(
    tmp_path: Path,
) -> None:
    remote, _, bo = shared_queue(tmp_path)
    gx(bo, "queue", "add", "-n", "mine")  # never pushed: nothing to claim
    env = {**_env(bo), "MOVE_REMOTE": str(remote)}  # q1's run takes the remote away
    proc = run_gitexp("queue", "run", "q1", cwd=bo, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "gitexp: q1 succeeded; not on origin yet (" in proc.stderr
    assert "`gitexp push origin q1` sends it" in proc.stderr
    (tmp_path / "remote.git.away").rename(remote)
    assert status_on(remote, "q1") == "running"  # bo's claim

    gx(bo, "queue", "run", "mine")
    assert "mine" not in git(remote, "for-each-ref", "refs/experiments/")
    pushed = gx(bo, "push", "--all")  # the claimed run goes over bo's claim: no --force
    assert "conflict" not in pushed.stderr and "forced" not in pushed.stderr
    assert status_on(remote, "q1") == "succeeded"
    assert status_on(remote, "mine") == "succeeded"
    assert runs(tmp_path) == ["bo q1", "bo mine"]
