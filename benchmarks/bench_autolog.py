"""What `gitexp.autolog()` adds to training (bar: under 5 % for each framework).

- xgboost: a 500-round `xgb.train` (20,000 rows, a validation set evaluated
  every round, one thread so a busy machine disturbs it less);
- keras: a 200-epoch `Model.fit` of a small network (Keras 3 on the PyTorch
  backend unless KERAS_BACKEND says otherwise, CPU, one thread; 2,048 rows,
  validation every epoch).

Each is timed with autolog on and off, alternately, inside a run directory:
autolog really records every evaluation or epoch, the params and the model
file. Figure: the median CPU time of the process (all its threads, the
recorder's included) with autolog over the median without, minus one: on
a machine others share, wall time swings by more than the bar, CPU time
much less (the wall-time medians are reported beside it). A framework that
is not installed is reported as skipped.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report

BAR = 0.05


class _Timer:
    """Wall and CPU seconds of the block it wraps."""

    def __enter__(self) -> _Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


ROUNDS = 500
EPOCHS = 200


def _xgboost() -> tuple[Callable[[], _Timer], int]:
    """A timed train, and the points autolog records per train (two sets)."""
    import numpy as np
    import xgboost as xgb

    rng = np.random.RandomState(0)
    x = rng.rand(25_000, 20)
    y = (x[:, :5].sum(axis=1) + rng.rand(25_000) > 3.0).astype(int)
    train = xgb.DMatrix(x[:20_000], label=y[:20_000])
    valid = xgb.DMatrix(x[20_000:], label=y[20_000:])
    params = {"max_depth": 4, "eta": 0.1, "objective": "binary:logistic", "nthread": 1}

    def run() -> float:
        with _Timer() as timer:
            xgb.train(
                params, train, ROUNDS, evals=[(train, "train"), (valid, "valid")], verbose_eval=0
            )
        return timer

    return run, 2 * ROUNDS


def _keras() -> tuple[Callable[[], _Timer], int]:
    """A timed 200-epoch fit, and the points autolog records per fit (loss, val_loss)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    import numpy as np

    if keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(1)
    rng = np.random.RandomState(0)
    x = rng.rand(2_560, 8).astype("float32")
    y = (x[:, :3].sum(axis=1) > 1.5).astype("float32")

    def run() -> float:
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)]
        )
        model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
        with _Timer() as timer:
            model.fit(x[:2_048], y[:2_048], batch_size=128, epochs=EPOCHS, verbose=0,
                      validation_data=(x[2_048:], y[2_048:]))  # fmt: skip
        return timer

    return run, 2 * EPOCHS


FRAMEWORKS: dict[str, Callable[[], tuple[Callable[[], _Timer], int]]] = {
    "xgboost": _xgboost,
    "keras": _keras,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--framework", choices=[*FRAMEWORKS, "all"], default="all")
    args = parser.parse_args(argv)
    if args.framework != "all":
        return 0 if _bench(args.framework, args.repeats) else 1
    codes = [  # one process each: a fresh recorder and run dir, no framework's threads left
        subprocess.run(
            [sys.executable, __file__, "--framework", name, "--repeats", str(args.repeats)],
            check=False,
        ).returncode
        for name in FRAMEWORKS
    ]
    return max(codes)


def _bench(name: str, repeats: int) -> bool:
    if importlib.util.find_spec(name) is None:
        report(f"autolog_{name}_overhead", 0.0, BAR, "fraction", skipped="not installed")
        return True
    with tempfile.TemporaryDirectory(prefix=f"gitexp-bench-autolog-{name}-") as tmp:
        os.environ["GITEXP_RUN_DIR"] = tmp
        import gitexp

        run, per_call = FRAMEWORKS[name]()
        run()  # warm up: first-call costs are the framework's, not ours
        plain, logged = [], []
        for i in range(repeats):  # on-off, off-on, ...: a drift in speed cancels out
            for on in (True, False) if i % 2 == 0 else (False, True):
                gitexp.autolog(frameworks=[name], disable=not on)
                (logged if on else plain).append(run())
        gitexp.autolog(disable=True)
        points = _points(Path(tmp))

    def median(timers: list[_Timer], kind: str) -> float:
        return statistics.median(getattr(t, kind) for t in timers)

    overhead = median(logged, "cpu") / median(plain, "cpu") - 1
    ok = report(
        f"autolog_{name}_overhead",
        overhead,
        BAR,
        "fraction of CPU time",
        plain_cpu_s=round(median(plain, "cpu"), 3),
        autolog_cpu_s=round(median(logged, "cpu"), 3),
        plain_wall_s=round(median(plain, "wall"), 3),
        autolog_wall_s=round(median(logged, "wall"), 3),
        points_recorded=points,
    )
    if points != per_call * repeats:
        print(f"{name}: recorded {points} points, expected {per_call * repeats}", file=sys.stderr)
        return False
    return ok


def _points(run_dir: Path) -> int:
    """Flush and count the points autolog recorded (proof it did the work)."""
    import gitexp.tracking.recorder as tracking

    tracking._shutdown()
    live = run_dir / ".gitexp" / "live" / "metrics.tsv"
    return sum(1 for _ in live.open()) if live.exists() else 0


if __name__ == "__main__":
    sys.exit(main())
