"""Shared helpers: time a command, print one JSON line, exit non-zero on a missed bar."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

GITEXP = [sys.executable, "-m", "gitexp"]
BENCH_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def env() -> dict[str, str]:
    return {**os.environ, **BENCH_ENV}


def timed(argv: Sequence[str], cwd: Path) -> float:
    """Wall seconds of one command; its output is discarded, failure is fatal."""
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env(), capture_output=True, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed


def median_of(argv: Sequence[str], cwd: Path, runs: int) -> float:
    return statistics.median(timed(argv, cwd) for _ in range(runs))


def report(
    bench: str, value: float, bar: float, unit: str, higher_is_better: bool = False, **extra: object
) -> bool:
    """Print the figure as one JSON line; True when it meets the bar."""
    ok = value >= bar if higher_is_better else value <= bar
    line = {
        "bench": bench,
        "value": round(value, 4),
        "unit": unit,
        "bar": ("> " if higher_is_better else "< ") + str(bar),
        "ok": ok,
        **extra,
    }
    print(json.dumps(line), flush=True)
    return ok
