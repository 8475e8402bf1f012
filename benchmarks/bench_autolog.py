"""What `gitexp.autolog()` adds to a 500-round XGBoost train (bar: under 5 %).

The same train (20,000 rows, a validation set evaluated every round, one
thread so a busy machine disturbs it less) timed with autolog on and off,
alternately, inside a run directory: autolog really records the 500
evaluations of both sets, the params and the model file. Figure: the
median with autolog over the median without, minus one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report

BAR = 0.05
ROUNDS = 500


def _data() -> tuple[Any, Any]:
    import numpy as np
    import xgboost as xgb

    rng = np.random.RandomState(0)
    x = rng.rand(25_000, 20)
    y = (x[:, :5].sum(axis=1) + rng.rand(25_000) > 3.0).astype(int)
    return xgb.DMatrix(x[:20_000], label=y[:20_000]), xgb.DMatrix(x[20_000:], label=y[20_000:])


def _train(train: Any, valid: Any) -> float:
    import xgboost as xgb

    params = {"max_depth": 4, "eta": 0.1, "objective": "binary:logistic", "nthread": 1}
    t0 = time.perf_counter()
    xgb.train(params, train, ROUNDS, evals=[(train, "train"), (valid, "valid")], verbose_eval=False)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gitexp-bench-autolog-") as tmp:
        os.environ["GITEXP_RUN_DIR"] = tmp
        import gitexp

        train, valid = _data()
        _train(train, valid)  # warm up: first-call costs are the library's, not ours
        plain, logged = [], []
        for _ in range(args.repeats):
            gitexp.autolog(frameworks=["xgboost"])
            logged.append(_train(train, valid))
            gitexp.autolog(disable=True)
            plain.append(_train(train, valid))
        points = _points(Path(tmp))
    overhead = statistics.median(logged) / statistics.median(plain) - 1
    ok = report(
        "autolog_xgboost_overhead",
        overhead,
        BAR,
        "fraction",
        plain_s=round(statistics.median(plain), 3),
        autolog_s=round(statistics.median(logged), 3),
        points_recorded=points,
    )
    expected = 2 * ROUNDS * args.repeats
    if points != expected:
        print(f"recorded {points} points, expected {expected}", file=sys.stderr)
        return 1
    return 0 if ok else 1


def _points(run_dir: Path) -> int:
    """Flush and count the evaluations autolog recorded (proof it did the work)."""
    import gitexp.tracking.recorder as tracking

    tracking._shutdown()
    live = run_dir / ".gitexp" / "live" / "metrics.tsv"
    return sum(1 for _ in live.open()) if live.exists() else 0


if __name__ == "__main__":
    sys.exit(main())
