"""A `gitexp` killed with SIGKILL while its command runs, as a crash leaves it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# prints its pid, then holds (600 seconds, or as many as its argument says)
HOLDER = """\
import os, sys, time
print("started", os.getpid(), flush=True)
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 600)
"""


def start(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], int]:
    """`gitexp ARGS` until its command printed "started PID": (gitexp, PID)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitexp", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("started "):
            return proc, int(line.split()[1])
    raise AssertionError(f"gitexp ended before its command started: {proc.wait()}")


def kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL to gitexp alone (its command lives on), and reap it."""
    proc.kill()
    proc.wait(timeout=30)


def wait_for(condition: Callable[[], object], timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def stop_group(pid: int) -> None:
    """The orphaned command's process group (the local executor gives it its own)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
