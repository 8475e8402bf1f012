"""`gitexp ui`: the experiments table's first page over N synthetic experiments.

The real server (`gitexp ui --port 0`) over a repository made by generate.py
with 20 sweeps of 50 trials among the N (``--sweeps``; fewer when they would
be over a tenth of the N: 2 at 1,000), its summary cache warm (`gitexp show`
ran once, as it would have); each figure is the wall time of one HTTP
request for the first 50 rows, JSON included:

- ``ui_first_page``: newest first, each sweep folded into one row, as the page
  opens (median of 20) — bar 0.3 s;
- ``ui_first_page_trials``: the same with every trial listed (median of 20) —
  bar 0.3 s;
- ``ui_first_page_sorted``: sorted by a metric and filtered, each request a
  query the server has not seen (median of 10) — bar 0.3 s;
- ``ui_page_after_new``: the first page right after a new experiment's ref
  appeared (the refs read again, the new summary read, the rows rebuilt) —
  bar 1 s, that of `gitexp show`;
- ``ui_first_request``: the very first request after the server printed its
  URL (the server may still be reading every summary once) — bar 3 s;
- ``ui_sweep_page``: a sweep's page (/sweeps/NAME, HTML), each sweep's first
  request (median over 5 sweeps) — bar 0.3 s;
- ``ui_sweep_importances``: the first /api/sweeps/NAME with Optuna's
  importances, which the sweep page's script asks for (the server imports
  Optuna's importance module, with scikit-learn and SciPy, once) — bar 3 s.
"""

from __future__ import annotations

import argparse
import json
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
SWEEPS, TRIALS = 20, 50  # 1,000 of the 10,000 experiments are trials


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


def measure(base: str, n: int, sweeps: int) -> list[bool]:
    page = base + "/api/experiments?limit=50"
    first = fetch(page)
    warm = statistics.median(fetch(page) for _ in range(20))
    trials = statistics.median(fetch(page + "&trials=1") for _ in range(20))
    query = "limit=50&sort=loss&order=desc&filter=val.acc>"
    sorted_times = [fetch(f"{base}/api/experiments?{query}{i / 100}") for i in range(10)]
    return [
        report("ui_first_request", first, 3.0, "s", experiments=n),
        report("ui_first_page", warm, BAR, "s", experiments=n, sweeps=sweeps, folded=True),
        report("ui_first_page_trials", trials, BAR, "s", experiments=n, sweeps=sweeps),
        report("ui_first_page_sorted", statistics.median(sorted_times), BAR, "s", experiments=n),
    ]


def sweep_pages(base: str, n: int, sweeps: int) -> list[bool]:
    """Each of 5 sweeps' pages asked for the first time, then one's importances."""
    if not sweeps:
        return []
    names = [f"sweep-{s:02d}" for s in range(min(sweeps, 5))]
    firsts = [fetch(f"{base}/sweeps/{name}") for name in names]
    importances = fetch(f"{base}/api/sweeps/{names[0]}")
    page = statistics.median(firsts)
    return [
        report("ui_sweep_page", page, BAR, "s", experiments=n, trials=TRIALS, worst=max(firsts)),
        report("ui_sweep_importances", importances, 3.0, "s", experiments=n, trials=TRIALS),
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
    parser.add_argument("--sweeps", type=int, default=SWEEPS, help="sweeps among the N")
    args = parser.parse_args(argv)
    sweeps = min(args.sweeps, args.n // (10 * TRIALS))  # trials: a tenth of the N at most
    with tempfile.TemporaryDirectory(prefix="gitexp-bench-ui-") as tmp:
        repo = Path(tmp) / "repo"
        seconds = generate(repo, args.n, sweeps=sweeps, trials=TRIALS)
        made = {"bench": "generate", "experiments": args.n, "sweeps": sweeps}
        print(json.dumps({**made, "seconds": round(seconds, 2)}), flush=True)
        timed([*GITEXP, "show", "--format", "json"], repo)  # the summary cache, warm
        proc, base = start(repo)
        try:
            ok = measure(base, args.n, sweeps)
            ok += sweep_pages(base, args.n, sweeps)
            ok.append(after_new(repo, base, args.n))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
