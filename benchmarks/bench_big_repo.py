"""A run's cost in a big repository: overhead of `gitexp run` over the script, by size.

Bar (issue 17, docs/benchmarks.md): under 0.5 s over the script with 20,000
tracked files, the same for later runs as for the second (the first run
fills a reusable run directory once); above 20,000 files the bar grows with
the file count (a stat per file is the floor: `git status`, printed beside
it, pays it too).

python benchmarks/bench_big_repo.py                  # 1,000 / 20,000 / 100,000 files
python benchmarks/bench_big_repo.py --sizes 20000 --runs 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from common import GITEXP, median_of, report, timed

sys.path.insert(0, str(Path(__file__).resolve().parent))

BAR = 0.5
FILES_PER_DIR = 100


def make_repo(root: Path, files: int) -> None:
    """``files`` small tracked files (2 KB, 100 a folder), committed."""
    root.mkdir(parents=True)
    timed(["git", "init", "-q", "-b", "main"], root)
    for i in range(files):
        folder = root / "data" / f"d{i // FILES_PER_DIR:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"s{i % FILES_PER_DIR:03d}.txt").write_text(f"sample {i}\n" * 200)
    timed(["git", "add", "-A"], root)
    timed(["git", "commit", "-q", "-m", "data"], root)


def one_size(files: int, runs: int) -> bool:
    with tempfile.TemporaryDirectory(prefix="gitexp-bench-big-") as tmp:
        root = Path(tmp) / "repo"
        make_repo(root, files)
        status = median_of(["git", "status", "--porcelain"], root, 3)
        direct = median_of([sys.executable, "-c", "pass"], root, 3)
        cmd = [*GITEXP, "run", "-q", "--", sys.executable, "-c", "pass"]
        first = timed(cmd, root) - direct
        later = [timed(cmd, root) - direct for _ in range(runs)]
        return report(
            f"big_repo_run_overhead_{files}",
            statistics.median(later),
            round(BAR * max(1.0, files / 20_000), 3),
            "s",
            files=files,
            first_run_s=round(first, 3),
            last_run_s=round(later[-1], 3),
            git_status_s=round(status, 3),
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,20000,100000", help="tracked files, comma list")
    parser.add_argument("--runs", type=int, default=5, help="runs after the first, per size")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results = [one_size(n, args.runs) for n in sizes]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
