"""`gitexp show --format json` over N synthetic experiments: cold and warm cache.

Bars (docs/benchmarks.md): warm < 1 s, cold (no cache at all) < 3 s at 10,000.
Also reports the realistic "a few new experiments arrived" case and a
repository whose objects and refs are packed (as after `git fetch`/`git gc`).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import GITEXP, median_of, report, timed
from generate import Generator, generate

SHOW = [*GITEXP, "show", "--format", "json"]
WARM_BAR, COLD_BAR = 1.0, 3.0


def cold(repo: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        (repo / ".git" / "gitexp" / "index.sqlite").unlink(missing_ok=True)
        times.append(timed(SHOW, repo))
    return sorted(times)[len(times) // 2]


def add_experiments(repo: Path, count: int) -> None:
    import pygit2

    git = pygit2.Repository(str(repo))
    gen = Generator(git, git.head.target, seed=count)
    for i in range(count):
        gen.experiment(i, name=f"new-{i:04d}")


def measure(repo: Path, n: int, label: str, runs: int) -> list[bool]:
    results = [
        report(f"show_json_cold{label}", cold(repo, 3), COLD_BAR, "s", experiments=n),
        report(f"show_json_warm{label}", median_of(SHOW, repo, runs), WARM_BAR, "s", experiments=n),
    ]
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5, help="warm runs (median)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gitexp-bench-show-") as tmp:
        repo = Path(tmp) / "loose"
        seconds = generate(repo, args.n)
        print(f'{{"bench": "generate", "experiments": {args.n}, "seconds": {seconds:.2f}}}')
        ok = measure(repo, args.n, "", args.runs)
        timed(SHOW, repo)
        add_experiments(repo, 50)
        ok.append(
            report("show_json_50_new", timed(SHOW, repo), COLD_BAR, "s", experiments=args.n + 50)
        )
        packed = Path(tmp) / "packed"
        shutil.copytree(repo, packed, symlinks=True)
        subprocess.run(["git", "-C", str(packed), "repack", "-adq"], check=True)
        subprocess.run(["git", "-C", str(packed), "pack-refs", "--all"], check=True)
        ok += measure(packed, args.n + 50, "_packed", args.runs)
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
