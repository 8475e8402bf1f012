"""`gitexp ui`: the experiments table's first page over N synthetic experiments.

The real server (`gitexp ui --port 0`) over a repository made by generate.py,
its summary cache warm (`gitexp show` ran once, as it would have); each figure
is the wall time of one HTTP request for the first 50 rows, JSON included:

- ``ui_first_page``: newest first, as the page opens (median of 20) — bar 0.3 s;
- ``ui_first_page_sorted``: sorted by a metric and filtered, each request a
  query the server has not seen (median of 10) — bar 0.3 s;
- ``ui_page_after_new``: the first page right after a new experiment's ref
  appeared (the refs read again, the new summary read, the rows rebuilt) —
  bar 1 s, that of `gitexp show`;
- ``ui_first_request``: the very first request after the server printed its
  URL (the server may still be reading every summary once) — bar 3 s.
"""

from __future__ import annotations

import argparse
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import GITEXP, env, report, timed
from generate import Generator, generate

BAR = 0.3


def fetch(url: str) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        response.read()
    return time.perf_counter() - t0


def start(repo: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [*GITEXP, "ui", "--port", "0"],
        cwd=repo,
        env={**env(), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        found = re.search(r"(http://\S+)", line)
        if found:
            return proc, found.group(1).rstrip("/")
    sys.exit(f"gitexp ui did not start: {proc.stderr.read() if proc.stderr else ''}")


def measure(base: str, n: int) -> list[bool]:
    page = base + "/api/experiments?limit=50"
    first = fetch(page)
    warm = statistics.median(fetch(page) for _ in range(20))
    query = "limit=50&sort=loss&order=desc&filter=val.acc>"
    sorted_times = [fetch(f"{base}/api/experiments?{query}{i / 100}") for i in range(10)]
    return [
        report("ui_first_request", first, 3.0, "s", experiments=n),
        report("ui_first_page", warm, BAR, "s", experiments=n),
        report("ui_first_page_sorted", statistics.median(sorted_times), BAR, "s", experiments=n),
    ]


def after_new(repo: Path, base: str, n: int, runs: int = 5) -> bool:
    """A new experiment's ref appears, then the first page is asked for."""
    import pygit2

    git = pygit2.Repository(str(repo))
    gen = Generator(git, git.head.target, seed=n)
    times = []
    for i in range(runs):
        gen.experiment(i, name=f"new-{i:04d}")
        times.append(fetch(base + "/api/experiments?limit=50"))
    return report("ui_page_after_new", statistics.median(times), 1.0, "s", experiments=n + runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gitexp-bench-ui-") as tmp:
        repo = Path(tmp) / "repo"
        seconds = generate(repo, args.n)
        print(f'{{"bench": "generate", "experiments": {args.n}, "seconds": {seconds:.2f}}}')
        timed([*GITEXP, "show", "--format", "json"], repo)  # the summary cache, warm
        proc, base = start(repo)
        try:
            ok = measure(base, args.n)
            ok.append(after_new(repo, base, args.n))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
