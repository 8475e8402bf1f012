"""`gitexp.log_metric` calls per second inside a run (bar: > 500,000)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report

BAR = 500_000


def calls_per_second(n: int) -> float:
    import gitexp

    log_metric = gitexp.log_metric
    t0 = time.perf_counter()
    for i in range(n):
        log_metric("loss", 0.5, i)
    elapsed = time.perf_counter() - t0
    return n / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2_000_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gitexp-bench-log-") as tmp:
        os.environ["GITEXP_RUN_DIR"] = tmp
        rate = max(calls_per_second(args.n) for _ in range(3))
        import gitexp.tracking.recorder as tracking

        tracking._shutdown()  # flush, so the file holds every call
        lines = sum(1 for _ in (Path(tmp) / ".gitexp" / "live" / "metrics.tsv").open())
    ok = report("log_metric_rate", rate, BAR, "calls/s", higher_is_better=True, written=lines)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
