"""`--from NAME` whatever state NAME is in: a queued experiment stands for the params
it will run with (its overrides applied, as `queue run` applies them), a running one
for the params it runs with; `run`, `sweep` and `queue add` share that rule. The
queue's own cases (order, a pinned origin that goes away) are in tests/test_queue.py;
--from with composed params in tests/test_compose.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from compose_support import compose_repo, omegaconf_compose
from conftest import git, run_gitexp, write_files
from run_support import exp_refs, run_json, show

WAITER = """\
import os, time
open(os.environ["MARKER"], "w").write("started")
time.sleep(600)
"""


def ok(root: Path, *args: str) -> Any:
    proc = run_gitexp(*args, cwd=root, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return proc


def depth_lr(root: Path, name: str) -> tuple[Any, Any]:
    params = run_json(root, name)["params"]
    return params["model"]["depth"], params["lr"]


def test_run_from_a_queued_experiment_gets_the_params_it_will_run_with(git_repo: Path) -> None:
    train = ("--", "python", "train.py")
    ok(git_repo, "queue", "add", "-n", "qa", "-p", "model.depth=20", "-p", "lr=0.3", *train)
    ok(git_repo, "queue", "add", "-n", "qb", "--from", "qa", "-p", "lr=0.5", *train)
    queued_qa = exp_refs(git_repo)["qa"]
    ok(git_repo, "run", "-n", "ra", "--from", "qa", *train)
    ok(git_repo, "run", "-n", "rb", "--from", "qb", *train)  # a --from of a --from
    assert depth_lr(git_repo, "ra") == (20, 0.3) and depth_lr(git_repo, "rb") == (20, 0.5)
    record = run_json(git_repo, "ra")
    assert record["from"] == "qa" and record["from_commit"] == queued_qa
    assert record["overrides"] == []
    ok(git_repo, "queue", "run")  # what they run with is what ra and rb got
    for queued, ran in (("qa", "ra"), ("qb", "rb")):
        assert show(git_repo, queued, "params.yaml") == show(git_repo, ran, "params.yaml")


def test_a_sweep_from_a_queued_experiment(git_repo: Path) -> None:
    ok(git_repo, "queue", "add", "-n", "qa", "-p", "model.depth=20", "--", "python", "train.py")
    ok(git_repo, "sweep", "-n", "tune", "--from", "qa", "-p", "lr=choice(0.2,0.4)",
       "--sampler", "grid", "--objective", "acc:max", "--", "python", "train.py")  # fmt: skip
    trials = [n for n in exp_refs(git_repo) if n.startswith("tune/")]
    assert len(trials) == 2
    assert sorted(depth_lr(git_repo, n) for n in trials) == [(20, 0.2), (20, 0.4)]
    assert {run_json(git_repo, n)["from"] for n in trials} == {"qa"}


def test_from_a_queued_composed_experiment(tmp_path: Path) -> None:
    repo = compose_repo(tmp_path / "repo")
    ok(repo, "queue", "add", "-n", "qv", "-p", "model=vit", "-p", "optimizer.lr=0.001")
    ok(repo, "run", "-n", "again", "--from", "qv", "-p", "epochs=5")
    want = omegaconf_compose(repo / "conf", ["model=vit", "optimizer.lr=0.001", "epochs=5"])
    assert run_json(repo, "again")["params"] == want
    assert run_json(repo, "again")["compose"]["choices"] == {"model": "vit", "optimizer": "adam"}


def test_from_a_running_experiment_takes_its_params_at_once(git_repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    write_files(git_repo, {"waiter.py": WAITER})
    busy = subprocess.Popen(
        [sys.executable, "-m", "gitexp", "run", "-n", "busy", "-p", "model.depth=9",
         "--", "python", "waiter.py"],
        cwd=git_repo, env={**os.environ, "MARKER": str(marker)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180  # generous: a loaded machine starts slowly
        while not marker.exists():
            assert busy.poll() is None and time.monotonic() < deadline, busy.communicate()
            time.sleep(0.05)
        assert run_json(git_repo, "busy")["status"] == "running"
        ok(git_repo, "queue", "add", "-n", "later", "--from", "busy", "--", "python", "train.py")
        ok(git_repo, "run", "-n", "now", "--from", "busy", "--", "python", "train.py")
    finally:
        busy.send_signal(signal.SIGINT)
        busy.communicate(timeout=180)
    assert depth_lr(git_repo, "now") == (9, 0.1)
    assert run_json(git_repo, "later")["params"]["model"]["depth"] == 9
    ok(git_repo, "queue", "run")
    assert depth_lr(git_repo, "later") == (9, 0.1)
    assert git(git_repo, "rev-parse", "refs/experiments/now:params.yaml") == git(
        git_repo, "rev-parse", "refs/experiments/busy:params.yaml"
    )


@pytest.mark.parametrize("spec", ["pinned:0123456789abcdef", "pinned:zz"])
def test_a_pin_that_is_not_there_is_one_line(git_repo: Path, spec: str) -> None:
    proc = run_gitexp("run", "--from", spec, "--", "python", "train.py", cwd=git_repo)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"gitexp: error: the pinned --from params {spec[7:19]!r} are missing from the object "
        "store (hint: fetch the queued experiment again, or remove it and queue it anew)"
    ]
    assert exp_refs(git_repo) == {}


FORGETFUL = """\
import subprocess, sys
import gitexp
lr = gitexp.params()["lr"]
subprocess.run(["git", "-C", sys.argv[1], "update-ref", "-d", "refs/experiments/origin"])
gitexp.log_metric("acc", lr)
"""


def test_a_sweep_reads_its_origin_once_for_all_its_trials(git_repo: Path) -> None:
    """The origin is read as the sweep starts: its first trial removes it, and the
    later ones still start from it (read again, it would be `no experiment named`)."""
    ok(git_repo, "run", "-n", "origin", "-p", "model.depth=7", "--", "python", "train.py")
    commit = exp_refs(git_repo)["origin"]
    write_files(git_repo, {"forget.py": FORGETFUL})
    space, forget = "lr=choice(0.2,0.4,0.6)", ("python", "forget.py", str(git_repo))
    ok(git_repo, "sweep", "-n", "tune", "--from", "origin", "-p", space,
       "--sampler", "grid", "--objective", "acc:max", "--", *forget)  # fmt: skip
    refs = exp_refs(git_repo)
    trials = sorted(n for n in refs if n.startswith("tune/"))
    assert "origin" not in refs and len(trials) == 3
    records = [run_json(git_repo, n) for n in trials]
    assert [r["status"] for r in records] == ["succeeded"] * 3
    assert sorted(depth_lr(git_repo, n) for n in trials) == [(7, 0.2), (7, 0.4), (7, 0.6)]
    assert {(r["from"], r["from_commit"]) for r in records} == {("origin", commit)}
