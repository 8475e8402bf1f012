"""`gitexp queue retry`: a queued run that a killed `queue run` left `interrupted`
(or that failed) goes back in the queue with the same request and name; the
record it replaces is kept, never dropped silently."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import git, last_line, run_gitexp, write_files
from leftovers_support import HOLDER, kill, start, stop_group
from run_support import run_json


def queue_list(root: Path) -> list[dict[str, Any]]:
    proc = run_gitexp("queue", "list", "--format", "json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    rows: list[dict[str, Any]] = json.loads(proc.stdout)
    return rows


def status(root: Path, name: str) -> str:
    proc = run_gitexp("show", "--format", "json", cwd=root)
    return str({r["name"]: r["status"] for r in json.loads(proc.stdout)}[name])


def test_a_run_a_killed_queue_left_interrupted_is_queued_again(git_repo: Path) -> None:
    write_files(git_repo, {"hold.py": HOLDER})
    add = run_gitexp("queue", "add", "-n", "q1", "-p", "lr=0.5", "--", "python", "hold.py", "0")
    assert add.returncode == 0, add.stderr
    before = queue_list(git_repo)
    runner, pid = start(git_repo, "queue", "run")
    kill(runner)
    stop_group(pid)
    assert status(git_repo, "q1") == "interrupted" and queue_list(git_repo) == []
    interrupted = git(git_repo, "rev-parse", "refs/experiments/q1").strip()

    proc = run_gitexp("queue", "retry", "q1")
    assert proc.returncode == 0, proc.stderr
    kept = f"refs/gitexp/retried/q1/{interrupted[:12]}"
    assert proc.stdout == "q1\n"
    assert (
        last_line(proc.stderr)
        == f"gitexp: q1: queued again; its interrupted record is kept as {kept}"
    )
    assert queue_list(git_repo) == before  # the same entry: request, seed, place
    assert git(git_repo, "rev-parse", kept).strip() == interrupted

    done = run_gitexp("queue", "run")
    assert done.returncode == 0, done.stderr
    record = run_json(git_repo, "q1")
    assert record["status"] == "succeeded" and record["params"]["lr"] == 0.5
    assert record["seed"] == before[0]["seed"]


def test_a_failed_run_is_queued_again_under_a_new_name_beside_its_record(git_repo: Path) -> None:
    write_files(git_repo, {"flaky.py": "import sys\nsys.exit(1)\n"})
    assert run_gitexp("queue", "add", "-n", "f1", "--", "python", "flaky.py").returncode == 0
    assert run_gitexp("queue", "run").returncode == 1
    proc = run_gitexp("queue", "retry", "f1", "--name", "f1-again")
    assert proc.returncode == 0, proc.stderr
    assert last_line(proc.stderr) == "gitexp: f1-again: queued again"
    assert status(git_repo, "f1") == "failed"  # the record stays where it was
    assert [e["name"] for e in queue_list(git_repo)] == ["f1-again"]
    assert run_json(git_repo, "f1-again")["queue"]["command"] == ["python", "flaky.py"]


def test_retry_refuses_what_it_cannot_queue_again_in_one_line(git_repo: Path) -> None:
    assert run_gitexp("run", "-q", "-n", "plain", "--", "python", "train.py").returncode == 0
    assert run_gitexp("queue", "add", "-n", "waiting", "--", "python", "train.py").returncode == 0
    refused = {
        ("plain",): "gitexp: error: 'plain' is succeeded: only an interrupted or failed run"
        " is queued again (hint: queue a new run with `gitexp queue add`)",
        ("waiting",): "gitexp: error: 'waiting' is queued: only an interrupted or failed run"
        " is queued again (hint: queue a new run with `gitexp queue add`)",
        ("nosuch",): None,
        ("plain", "waiting", "--name", "x"): "gitexp: error: --name gives one run a new name:"
        " name one run",
    }
    for args, line in refused.items():
        proc = run_gitexp("queue", "retry", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("gitexp: error: ")
        assert line is None or proc.stderr.strip() == line
    assert [e["name"] for e in queue_list(git_repo)] == ["waiting"]  # nothing moved
