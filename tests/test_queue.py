"""`gitexp queue add|run|list|remove` with the local executor: queued runs are refs
(`gitexp show` lists them `queued`), run oldest first N at a time, taken over by
compare-and-swap (two runners never run one entry), and Ctrl-C leaves what had not
started queued. The same queue on Ray is in tests/test_ray.py."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import git, last_line, run_gitexp, write_files
from run_support import exp_refs, metrics_json, run_json, show

# sleeps, and says when it ran (to see runs overlap) and who it was (to count runs);
# with MEET, a run first waits (30 s at most) to see another run alive beside it and
# then writes MEET/met: two runs at once, seen as an event rather than by the clock
NAPPER = """\
import os, time, gitexp
started = time.time()
meet = os.environ.get("MEET")
if meet:
    alive = os.path.join(meet, "alive")
    os.makedirs(alive, exist_ok=True)
    me = os.path.join(alive, os.environ["GITEXP_RUN_NAME"])
    open(me, "w").close()
    deadline = time.time() + 30
    while not os.path.exists(os.path.join(meet, "met")) and time.time() < deadline:
        if len(os.listdir(alive)) > 1:
            open(os.path.join(meet, "met"), "w").close()
        time.sleep(0.05)
time.sleep(float(gitexp.params()["nap"]))
if meet:
    os.remove(me)
gitexp.log_metric("started", started)
gitexp.log_metric("ended", time.time())
gitexp.log_metric("lr_seen", gitexp.params()["lr"])
if os.environ.get("RUNS_LOG"):
    with open(os.environ["RUNS_LOG"], "a") as log:
        log.write(os.environ["GITEXP_RUN_NAME"] + "\\n")
"""
# the marker is written whole (tmp + rename): the test reads it as soon as it exists
WAITER = """\
import os, time, gitexp
gitexp.log_metric("loss", 0.5)
open(os.environ["MARKER"] + ".tmp", "w").write(f"{os.environ['GITEXP_RUN_NAME']} {os.getpid()}")
os.rename(os.environ["MARKER"] + ".tmp", os.environ["MARKER"])
time.sleep(600)
"""


@pytest.fixture
def repo(git_repo: Path) -> Path:
    write_files(git_repo, {"napper.py": NAPPER, "waiter.py": WAITER})
    (git_repo / "params.yaml").write_text("lr: 0.1\nnap: 0.0\nmodel:\n  depth: 3\n")
    return git_repo


def queue(root: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return run_gitexp("queue", *args, cwd=root, env=env, timeout=180)


def add(root: Path, *args: str) -> str:
    proc = queue(root, "add", *args)
    assert proc.returncode == 0, proc.stderr
    return str(proc.stdout.strip())


def listed(root: Path) -> list[dict[str, Any]]:
    proc = queue(root, "list", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data: list[dict[str, Any]] = json.loads(proc.stdout)
    return data


def test_queued_runs_show_as_queued_then_run_two_at_once(repo: Path, tmp_path: Path) -> None:
    names = [add(repo, "-p", f"lr={lr}", "-p", "nap=1", "--", "python", "napper.py")
             for lr in (0.1, 0.2, 0.3, 0.4)]  # fmt: skip
    assert [e["name"] for e in listed(repo)] == names  # oldest first
    shown = run_gitexp("show", "-f", "status=queued", "--format", "json", cwd=repo)
    assert sorted(e["name"] for e in json.loads(shown.stdout)) == sorted(names)
    record = run_json(repo, names[0])
    assert record["status"] == "queued" and record["params"]["lr"] == 0.1
    proc = queue(repo, "run", "-j", "2", env={"MEET": str(tmp_path / "meet")})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "meet" / "met").exists()  # two runs were alive at once
    assert "queue: 4 succeeded; 0 still queued" in proc.stderr
    assert listed(repo) == []
    spans = []
    for name, lr in zip(names, (0.1, 0.2, 0.3, 0.4), strict=True):
        record = run_json(repo, name)
        assert record["status"] == "succeeded" and record["queued_at"]
        metrics = metrics_json(repo, name)
        assert metrics["lr_seen"] == lr
        spans.append((metrics["started"], metrics["ended"]))
    spans.sort()
    assert any(b[0] < a[1] for a, b in itertools.pairwise(spans)), spans  # two at once


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "nope=1", "--", "python", "napper.py"], "nope"),
        (["--", "no-such-program-xyz"], "no-such-program-xyz"),
        (["--cpus", "2", "--", "python", "napper.py"], "--cpus is an option of the Ray executor"),
    ],
)
def test_queue_add_refuses_what_run_refuses_and_writes_nothing(
    repo: Path, args: list[str], message: str
) -> None:
    proc = queue(repo, "add", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in last_line(proc.stderr)
    assert exp_refs(repo) == {}


def test_two_queue_runners_never_run_one_entry_twice(repo: Path, tmp_path: Path) -> None:
    names = {add(repo, "-p", f"lr={i / 10}", "--", "python", "napper.py") for i in range(6)}
    runs_log = tmp_path / "runs.log"
    env = {**os.environ, "RUNS_LOG": str(runs_log)}
    command = [sys.executable, "-m", "gitexp", "queue", "run", "-j", "2"]
    procs = [subprocess.Popen(command, cwd=repo, env=env, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    ran = runs_log.read_text().split()
    assert sorted(ran) == sorted(names)  # each exactly once, between the two runners
    assert all(run_json(repo, n)["status"] == "succeeded" for n in names)


def test_ctrl_c_records_the_running_one_and_leaves_the_rest_queued(
    repo: Path, tmp_path: Path
) -> None:
    names = [add(repo, "-p", f"lr={lr}", "--", "python", "waiter.py") for lr in (0.1, 0.2, 0.3)]
    marker = tmp_path / "running"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitexp", "queue", "run"],
        cwd=repo,
        env={**os.environ, "MARKER": str(marker)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180  # generous: a loaded machine starts slowly
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err
    assert marker.read_text().split()[0] == names[0]
    assert run_json(repo, names[0])["status"] == "interrupted"
    assert metrics_json(repo, names[0]) == {"loss": 0.5}
    assert [e["name"] for e in listed(repo)] == names[1:]
    assert all(run_json(repo, n)["status"] == "queued" for n in names[1:])


def test_a_failing_entry_is_recorded_and_the_queue_goes_on(repo: Path) -> None:
    write_files(repo, {"crash.py": "import sys\nsys.exit(4)\n"})
    bad = add(repo, "-n", "bad", "--", "python", "crash.py")
    good = add(repo, "-n", "good", "--", "python", "napper.py")
    proc = queue(repo, "run")
    assert proc.returncode == 1
    assert "gitexp: bad failed (exit code 4)" in proc.stderr
    assert last_line(proc.stderr) == (
        "gitexp: error: 1 queued run(s) did not succeed (hint: see `gitexp show`)"
    )
    assert run_json(repo, bad)["status"] == "failed"
    assert run_json(repo, good)["status"] == "succeeded"


def test_queue_run_names_only_some_and_remove_takes_entries_off(repo: Path) -> None:
    first = add(repo, "-n", "first", "--", "python", "napper.py")
    second = add(repo, "-n", "second", "--", "python", "napper.py")
    third = add(repo, "-n", "third", "--", "python", "napper.py")
    assert queue(repo, "run", second).returncode == 0
    assert run_json(repo, second)["status"] == "succeeded"
    assert [e["name"] for e in listed(repo)] == [first, third]
    proc = queue(repo, "remove", second)
    assert proc.returncode == 2
    assert last_line(proc.stderr).startswith("gitexp: error: 'second' is not queued")
    assert queue(repo, "remove", first).returncode == 0
    assert sorted(exp_refs(repo)) == [second, third]
    assert queue(repo, "remove", "--all").returncode == 0
    assert sorted(exp_refs(repo)) == [second]
    assert queue(repo, "run").returncode == 0  # nothing left: says so, exit 0


def test_a_dead_queue_runner_leaves_its_run_interrupted_and_the_rest_queued(
    repo: Path, tmp_path: Path
) -> None:
    names = [add(repo, "-p", f"lr={lr}", "--", "python", "waiter.py") for lr in (0.1, 0.2, 0.3)]
    marker = tmp_path / "running"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitexp", "queue", "run"],
        cwd=repo,
        env={**os.environ, "MARKER": str(marker)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group: the test kills the runner and its run
    )
    deadline = time.monotonic() + 180
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver dies with no chance to record
    proc.wait(timeout=120)
    os.kill(int(marker.read_text().split()[1]), signal.SIGKILL)  # its orphaned command
    shown = run_gitexp("show", "--format", "json", cwd=repo)
    status = {e["name"]: e["status"] for e in json.loads(shown.stdout)}
    assert status == {names[0]: "interrupted", names[1]: "queued", names[2]: "queued"}
    assert [e["name"] for e in listed(repo)] == names[1:]


def test_queue_add_from_an_experiment_runs_with_its_params(repo: Path) -> None:
    ran = run_gitexp("run", "-n", "base", "-p", "lr=0.7", "-p", "model.depth=9",
                     "--", "python", "napper.py", cwd=repo)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    later = add(repo, "-n", "later", "--from", "base", "-p", "nap=0", "--", "python", "napper.py")
    assert run_json(repo, later)["queue"]["from"] == "base"
    assert queue(repo, "run").returncode == 0
    record = run_json(repo, later)
    assert record["status"] == "succeeded"
    assert record["params"]["lr"] == 0.7 and record["params"]["model"]["depth"] == 9
    assert record["from"] == "base" and metrics_json(repo, later)["lr_seen"] == 0.7
    proc = queue(repo, "add", "--from", "nosuch", "--", "python", "napper.py")
    assert proc.returncode == 2 and "nosuch" in last_line(proc.stderr)
    assert listed(repo) == []


@pytest.mark.parametrize("origin_first", [True, False], ids=["origin-first", "entry-first"])
def test_queue_add_from_a_queued_entry_runs_its_params_in_either_order(
    repo: Path, origin_first: bool
) -> None:
    qa = add(repo, "-n", "qa", "-p", "model.depth=20", "--", "python", "napper.py")
    qb = add(repo, "-n", "qb", "--from", "qa", "--", "python", "napper.py")
    assert {e["name"]: e["params"]["model"]["depth"] for e in listed(repo)} == {qa: 20, qb: 20}
    table = queue(repo, "list").stdout
    assert "model.depth=20" in next(line for line in table.splitlines() if line.startswith(qb))
    for name in [qa, qb] if origin_first else [qb, qa]:
        proc = queue(repo, "run", name)
        assert proc.returncode == 0, proc.stderr
    record = run_json(repo, qb)
    assert record["status"] == "succeeded" and record["from"] == "qa"
    assert record["params"]["model"]["depth"] == 20 and record["overrides"] == []
    assert show(repo, qb, "params.yaml") == show(repo, qa, "params.yaml")


def test_a_queued_from_is_pinned_and_outlives_its_origin(repo: Path) -> None:
    add(repo, "-n", "qa", "-p", "model.depth=20", "-p", "lr=0.3", "--", "python", "napper.py")
    qb = add(repo, "-n", "qb", "--from", "qa", "-p", "lr=0.5", "--", "python", "napper.py")
    (entry,) = [e for e in listed(repo) if e["name"] == qb]
    pin = git(repo, "rev-parse", f"refs/experiments/{qb}:.gitexp/from").strip()
    assert entry["from"] == "qa" and entry["from_pin"] == f"pinned:{pin}"
    assert entry["params"]["model"]["depth"] == 20 and entry["params"]["lr"] == 0.5
    assert queue(repo, "remove", "qa").returncode == 0  # the origin goes before qb runs
    proc = queue(repo, "run")
    assert proc.returncode == 0, proc.stderr
    record = run_json(repo, qb)
    assert record["params"]["model"]["depth"] == 20 and record["overrides"] == ["lr=0.5"]
    assert metrics_json(repo, qb)["lr_seen"] == 0.5
    files = git(repo, "ls-tree", "-r", "--name-only", f"refs/experiments/{qb}").split()
    assert "params.yaml" in files and ".gitexp/from/origin.json" not in files  # pin left behind
