"""Run every benchmark; one JSON line per figure; exit 1 when any bar is missed.

python benchmarks/run_all.py            # 10,000 experiments
python benchmarks/run_all.py -n 1000    # quicker
python benchmarks/run_all.py --scale    # and 100,000 experiments in every ref state
python benchmarks/run_all.py --long     # and runs logging 1 and 10 million points
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="experiments for bench_show")
    parser.add_argument(
        "--big-sizes", default="1000,20000,100000", help="tracked files for bench_big_repo"
    )
    parser.add_argument(
        "--scale",
        type=int,
        nargs="?",
        const=100_000,
        default=None,
        metavar="N",
        help="also bench_scale.py: N (100,000) experiments in every ref state (~15 min)",
    )
    parser.add_argument("--long", action="store_true", help="also bench_long_run.py (~3 min)")
    args = parser.parse_args(argv)
    # An installed gitexp has compiled bytecode; a checkout run with
    # PYTHONDONTWRITEBYTECODE=1 would recompile it at every start (~80 ms).
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(HERE.parent / "gitexp")],
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""},
    )
    benches = [
        ["bench_log_metric.py"],
        ["bench_run_overhead.py"],
        ["bench_show.py", "-n", str(args.n)],
        ["bench_ui.py", "-n", str(args.n)],
        ["bench_push.py"],
        ["bench_big_repo.py", "--sizes", args.big_sizes, "--runs", "3"],
        ["bench_sweep.py"],
        ["bench_autolog.py"],
        ["bench_ray.py"],
    ]
    if args.scale is not None:
        benches.append(["bench_scale.py", "-n", str(args.scale)])
    if args.long:  # 1 and 10 million logged points (issue 27)
        benches.append(["bench_long_run.py"])
    failed = []
    for bench in benches:
        proc = subprocess.run([sys.executable, str(HERE / bench[0]), *bench[1:]], check=False)
        if proc.returncode != 0:
            failed.append(bench[0])
    if failed:
        print("missed bars: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
