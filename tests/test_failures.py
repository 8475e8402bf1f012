"""Failing commands, Ctrl-C / SIGTERM, and a SIGKILLed gitexp: always a valid record."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import git, last_line, run_gitexp, write_files
from run_support import exp_refs, metrics_json, only_experiment, run_json, show

from gitexp.gitstore.record import observed_status

# A script that logs, tells the test its pid (atomically, inside the `try`: a Ctrl-C
# sent once the marker exists always reaches the handler), then waits to be stopped.
WAITER = """\
import os, sys, time, gitexp
gitexp.log_metric("loss", 0.5, step=1)
print("started", flush=True)
try:
    with open(os.environ["MARKER"] + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(os.environ["MARKER"] + ".tmp", os.environ["MARKER"])
    time.sleep(600)
except KeyboardInterrupt:
    gitexp.log_metric("loss", 0.25, step=2)
    print("stopping cleanly", flush=True)
    sys.exit(5)
"""


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "child.pid"


def _start(root: Path, marker: Path, *args: str) -> subprocess.Popen[str]:
    """`gitexp run` in the background, returned once its child is running."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitexp", "run", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MARKER": str(marker)},
    )
    deadline = time.monotonic() + 180  # generous: a loaded machine starts slowly
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "child never started"
        time.sleep(0.05)
    return proc


def _child_pid(marker: Path) -> int:
    return int(marker.read_text())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie of an exited child counts as gone
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[1].startswith("Z"))


@pytest.fixture
def reap() -> Iterator[list[int]]:
    """Pids the test may leave behind (a SIGKILLed gitexp's child): killed at the end."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_failing_command_is_recorded_as_failed(git_repo: Path) -> None:
    write_files(
        git_repo,
        {"bad.py": "import gitexp\ngitexp.log_metric('loss', 2.0)\nprint('about to fail')\n"
                   "raise SystemExit(3)\n"},
    )  # fmt: skip
    proc = run_gitexp("run", "-n", "bad", "--", "python", "bad.py")
    assert proc.returncode == 1
    assert "about to fail" in proc.stdout
    assert last_line(proc.stderr) == (
        "gitexp: error: experiment 'bad' failed (exit code 3); recorded as refs/experiments/bad"
    )
    assert "Traceback" not in proc.stderr
    record = run_json(git_repo, "bad")
    assert record["status"] == "failed" and record["exit_code"] == 3
    assert record["ended"] and record["duration_s"] is not None
    assert "about to fail" in show(git_repo, "bad", ".gitexp/output.log")
    assert metrics_json(git_repo, "bad") == {"loss": 2.0}
    assert git(git_repo, "log", "-1", "--format=%b", "refs/experiments/bad").startswith("failed ")


def test_python_traceback_of_the_script_is_in_the_log(git_repo: Path) -> None:
    write_files(git_repo, {"bad.py": "raise ValueError('bad input')\n"})
    proc = run_gitexp("run", "-n", "tb", "--", "python", "bad.py")
    assert proc.returncode == 1
    assert "ValueError: bad input" in show(git_repo, "tb", ".gitexp/output.log")
    assert "ValueError: bad input" in proc.stderr  # shown, and it is the script's, not ours


def test_shell_command_not_found_at_run_time_is_failed_127(git_repo: Path) -> None:
    write_files(git_repo, {"gitexp.yaml": "command: no-such-program-xyz > out.txt\n"})
    proc = run_gitexp("run", "-n", "nf")
    assert proc.returncode == 1
    assert run_json(git_repo, "nf")["exit_code"] == 127


def test_sigterm_to_gitexp_reaches_the_child_as_sigterm(git_repo: Path, marker: Path) -> None:
    """As without gitexp: no handler, so the child dies of it; what it logged is kept
    (the tracking library flushes on SIGTERM)."""
    write_files(git_repo, {"wait.py": WAITER})
    proc = _start(git_repo, marker, "-n", "stopped", "--", "python", "wait.py")
    child = _child_pid(marker)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=180)
    assert "started" in out
    assert proc.returncode == 130, err
    assert last_line(err) == (
        "gitexp: error: experiment 'stopped' interrupted by SIGTERM; "
        "recorded as refs/experiments/stopped"
    )
    assert not _alive(child)
    record = run_json(git_repo, "stopped")
    assert (record["status"], record["exit_code"]) == ("interrupted", -signal.SIGTERM)
    assert metrics_json(git_repo, "stopped") == {"loss": 0.5}
    assert "stopping cleanly" not in show(git_repo, "stopped", ".gitexp/output.log")


def test_ctrl_c_to_gitexp_stops_child_and_records_interrupted(git_repo: Path, marker: Path) -> None:
    write_files(git_repo, {"wait.py": WAITER})
    proc = _start(git_repo, marker, "-n", "stopped", "--", "python", "wait.py")
    child = _child_pid(marker)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=180)
    assert "started" in out
    assert proc.returncode == 130, err
    assert last_line(err) == (
        "gitexp: error: experiment 'stopped' interrupted (exit code 5); "
        "recorded as refs/experiments/stopped"
    )
    assert "Traceback" not in err
    assert not _alive(child)
    record = run_json(git_repo, "stopped")
    assert record["status"] == "interrupted"
    assert record["exit_code"] == 5  # the child got SIGINT and exited its own way
    assert "stopping cleanly" in show(git_repo, "stopped", ".gitexp/output.log")
    assert metrics_json(git_repo, "stopped") == {"loss": 0.25}
    assert git(git_repo, "fsck", "--strict", "--no-dangling", "--no-progress").strip() == ""


@pytest.mark.slow
def test_child_ignoring_sigint_is_terminated(git_repo: Path, marker: Path) -> None:
    write_files(
        git_repo,
        {"stubborn.py": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n" + WAITER},
    )
    proc = _start(git_repo, marker, "-n", "stubborn", "--", "python", "stubborn.py")
    child = _child_pid(marker)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=300)
    assert proc.returncode == 130
    assert time.monotonic() - started < 120  # the grace period (10 s), not the 600 s sleep
    assert not _alive(child)
    record = run_json(git_repo, "stubborn")
    assert record["status"] == "interrupted" and record["exit_code"] == -signal.SIGTERM


def test_sigkill_of_gitexp_leaves_a_valid_running_ref(
    git_repo: Path, marker: Path, reap: list[int]
) -> None:
    write_files(git_repo, {"wait.py": WAITER})
    proc = _start(git_repo, marker, "-n", "orphan", "--", "python", "wait.py")
    reap.append(_child_pid(marker))
    proc.kill()
    proc.wait(timeout=120)
    proc.communicate()
    # the ref is valid: the reservation commit of the snapshot, status running
    assert exp_refs(git_repo).keys() == {"orphan"}
    record = run_json(git_repo, "orphan")
    assert record["status"] == "running"
    assert record["host"] == socket.gethostname() and record["pid"] == proc.pid
    assert record["exit_code"] is None
    assert show(git_repo, "orphan", "wait.py") == WAITER
    assert git(git_repo, "fsck", "--strict", "--no-dangling", "--no-progress").strip() == ""
    assert not list((git_repo / ".git").rglob("*.lock"))
    # the pid is dead on this host, so readers report it as interrupted
    assert observed_status(record["status"], record["host"], record["pid"]) == "interrupted"
    shown = run_gitexp("show", "orphan", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["status"] == "interrupted"
    # and the name stays taken
    again = run_gitexp("run", "-n", "orphan", "--", "python", "train.py")
    assert again.returncode == 2
    assert "is taken" in last_line(again.stderr)


@pytest.mark.slow
def test_sigkill_at_random_moments_never_leaves_a_broken_ref(git_repo: Path) -> None:
    """Kill gitexp at many points of its life: each ref is absent or a valid commit."""
    write_files(git_repo, {"quick.py": "import gitexp\ngitexp.log_metric('x', 1.0)\n"})
    for i, delay in enumerate([0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.5, 2.0]):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gitexp",
                "run",
                "-q",
                "-n",
                f"k{i}",
                "--",
                "python",
                "quick.py",
            ],
            cwd=git_repo,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.kill()
        proc.wait()
    refs = exp_refs(git_repo)
    for name in refs:
        status = run_json(git_repo, name)["status"]
        assert status in ("running", "succeeded"), (name, status)
    assert git(git_repo, "fsck", "--strict", "--no-dangling", "--no-progress").strip() == ""
    assert not list((git_repo / ".git" / "refs").rglob("*.lock"))
    listed = run_gitexp("show", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert {e["name"] for e in json.loads(listed.stdout)} == set(refs)
    assert "running" not in {e["status"] for e in json.loads(listed.stdout)}


def test_interrupted_experiment_is_not_confused_with_running(git_repo: Path) -> None:
    """A finished run's record is final: observed_status never rewrites it."""
    assert run_gitexp("run", "-n", "done", "--", "python", "train.py").returncode == 0
    name = only_experiment(git_repo)
    record = run_json(git_repo, name)
    assert observed_status(record["status"], record["host"], record["pid"]) == "succeeded"
