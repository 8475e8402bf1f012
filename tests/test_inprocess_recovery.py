"""A SIGKILLed in-process run (a kernel OOM-killed) keeps what it flushed: the next
run records it `interrupted` with its metrics; while it runs, its record names the
scratch dir, so a reader in another process (`gitexp ui`) follows its live metrics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from conftest import git
from run_support import metrics_json, run_json, show

from gitexp.exploring.live import live_metrics_file
from gitexp.gitstore.repo import open_repo

SLOW = """\
import time
import gitexp
with gitexp.start_run(name="killed9", params={"width": 4}):
    gitexp.log_param("chosen", "yes")
    open("model.bin", "w").write("weights")
    gitexp.log_artifact("model.bin")
    for i in range(10_000):
        gitexp.log_metric("loss", 1 / (i + 1))
        time.sleep(0.05)
"""


def _start(root: Path) -> subprocess.Popen[str]:
    (root / "slow.py").write_text(SLOW)
    return subprocess.Popen([sys.executable, "slow.py"], cwd=root, text=True)


def _wait_for(check: object, what: str, deadline_s: float = 60) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if callable(check) and check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _live_lines(root: Path) -> int:
    found = list((root / ".git" / "gitexp" / "inprocess").glob("*/.gitexp/live/metrics.tsv"))
    return len(found[0].read_text().splitlines()) if found else 0


def _killed_after_three_points(root: Path) -> tuple[subprocess.Popen[str], int]:
    """The slow run, SIGKILLed once it flushed three points; how many it flushed."""
    proc = _start(root)
    try:
        _wait_for(lambda: _live_lines(root) >= 3, "three flushed points")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    return proc, _live_lines(root)


def test_a_killed_run_is_recorded_with_its_flushed_metrics_by_the_next_run(
    git_repo: Path,
) -> None:
    proc, flushed = _killed_after_three_points(git_repo)
    scratch = git_repo / ".git" / "gitexp" / "inprocess"
    assert run_json(git_repo, "killed9")["status"] == "running"  # nobody recorded it yet

    next_run = "import gitexp\nwith gitexp.start_run(name='after'):\n    pass\n"
    (git_repo / "next.py").write_text(next_run)
    done = subprocess.run([sys.executable, "next.py"], cwd=git_repo, check=False)
    assert done.returncode == 0

    run = run_json(git_repo, "killed9")
    assert run["status"] == "interrupted" and run["recovered"] is True
    assert run["error"] == f"the process (pid {proc.pid}) was killed before the run ended"
    assert "run_dir" not in run and "lease_until" not in run
    assert run["params"] == {"lr": 0.1, "model": {"depth": 3}, "width": 4, "chosen": "yes"}
    assert metrics_json(git_repo, "killed9") == {"loss": 1 / flushed}
    history = show(git_repo, "killed9", ".gitexp/history/loss.tsv").splitlines()
    assert len([line for line in history if not line.startswith("#")]) >= flushed
    assert show(git_repo, "killed9", "model.bin") == "weights"
    assert [p.name for p in scratch.iterdir()] == []  # the dead dir and the next run's: gone
    assert run_json(git_repo, "after")["status"] == "succeeded"


def test_a_running_in_process_run_names_its_live_metrics_for_other_readers(
    git_repo: Path,
) -> None:
    proc = _start(git_repo)
    try:
        _wait_for(lambda: _live_lines(git_repo) >= 1, "a flushed point")
        running = run_json(git_repo, "killed9")
        assert running["status"] == "running" and running["pid"] == proc.pid
        commit = git(git_repo, "rev-parse", "refs/experiments/killed9").strip()
        path = live_metrics_file(open_repo(git_repo), commit)
        assert path is not None and path.parent.parent.parent == Path(running["run_dir"])
        assert path.read_text().startswith("loss\t")
    finally:
        os.kill(proc.pid, signal.SIGINT)  # a Ctrl-C: recorded as usual
        proc.wait(timeout=60)
    final = run_json(git_repo, "killed9")
    assert final["status"] == "interrupted" and "run_dir" not in final


def test_a_dead_dir_whose_run_was_recorded_meanwhile_is_only_removed(git_repo: Path) -> None:
    code = textwrap.dedent(
        """\
        import os, gitexp
        run = gitexp.start_run(name="done")
        gitexp.log_metric("acc", 0.5)
        run.end()
        """
    )
    (git_repo / "a.py").write_text(code)
    assert subprocess.run([sys.executable, "a.py"], cwd=git_repo, check=False).returncode == 0
    before = git(git_repo, "rev-parse", "refs/experiments/done")
    stray = git_repo / ".git" / "gitexp" / "inprocess" / "999999999-deadbeef"
    (stray / ".gitexp" / "live").mkdir(parents=True)
    (stray / ".gitexp" / "live" / "metrics.tsv").write_text("acc\t\t0.1\t1.0\n")
    (stray / ".gitexp" / "owner.json").write_text(
        '{"name": "done", "pid": 999999999, "run_dir": "x"}'
    )

    from gitexp.inprocess.recovery import recover_dead

    assert recover_dead(open_repo(git_repo)) == []
    assert git(git_repo, "rev-parse", "refs/experiments/done") == before
    assert not stray.exists()


def test_gc_records_a_killed_run_with_its_flushed_metrics(git_repo: Path) -> None:
    from conftest import run_gitexp

    _proc, flushed = _killed_after_three_points(git_repo)
    dry = run_gitexp("gc", "--dry-run", cwd=git_repo)
    assert dry.returncode == 0, dry.stderr
    assert run_json(git_repo, "killed9")["status"] == "running"  # a dry run records nothing
    done = run_gitexp("gc", cwd=git_repo)
    assert done.returncode == 0, done.stderr
    assert "recorded 1 killed in-process run(s): killed9" in done.stdout + done.stderr
    assert run_json(git_repo, "killed9")["status"] == "interrupted"
    assert metrics_json(git_repo, "killed9") == {"loss": 1 / flushed}
    assert list((git_repo / ".git" / "gitexp" / "inprocess").iterdir()) == []
