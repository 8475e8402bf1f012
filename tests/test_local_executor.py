"""The local executor: a run ends when its command ends, whatever it left behind."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import run_gitexp, write_files
from run_support import run_json, show


def _alive(pid: int) -> bool:
    """True for a live process (a zombie waiting for its parent counts as dead)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.parametrize("holds_output", [True, False])
def test_a_background_child_does_not_hold_the_run(
    git_repo: Path, tmp_path: Path, holds_output: bool
) -> None:
    pid_file = tmp_path / "child.pid"
    redirect = "" if holds_output else ", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL"
    write_files(
        git_repo,
        {
            "t.py": f"""\
                import subprocess
                child = subprocess.Popen(["sleep", "600"]{redirect})
                open({str(pid_file)!r}, "w").write(str(child.pid))
                print("accuracy: 0.9")
                """
        },
    )
    started = time.monotonic()
    proc = run_gitexp("run", "-n", "bg", "--", "python", "t.py")
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert took < 60, took  # not the child's 600 s (generous: a loaded machine is slow)
    record = run_json(git_repo, "bg")
    assert record["status"] == "succeeded" and record["exit_code"] == 0
    log = show(git_repo, "bg", ".gitexp/output.log")
    assert "accuracy: 0.9" in log
    assert "gitexp: the command exited; stopped the processes it left running" in log
    assert not _alive(int(pid_file.read_text()))


def test_a_command_that_leaves_nothing_behind_gets_no_note(git_repo: Path) -> None:
    write_files(git_repo, {"t.py": "print('hello')\n"})
    proc = run_gitexp("run", "-n", "plain", "--", "python", "t.py")
    assert proc.returncode == 0, proc.stderr
    assert show(git_repo, "plain", ".gitexp/output.log") == "hello\n"
