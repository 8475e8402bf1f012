"""`gitexp run` of a trivial script vs running it directly (median of several).

Bar: gitexp adds < 0.3 s. On a miss, a profile of one `gitexp run` is
written next to the figure (top functions by cumulative time).
"""

from __future__ import annotations

import argparse
import io
import os
import pstats
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import GITEXP, env, median_of, report

BAR = 0.3
SCRIPT = "import gitexp\ngitexp.log_metric('x', 1.0)\nprint('done')\n"


def make_repo(root: Path) -> None:
    root.mkdir()
    (root / "train.py").write_text(SCRIPT)
    (root / "params.yaml").write_text("lr: 0.1\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=root, env=env(), check=True)


def profile_summary(root: Path, top: int = 15) -> str:
    """Top functions of one in-process `gitexp run`, by cumulative time."""
    code = (
        "import cProfile, pstats, sys; from gitexp.cli.app import main; "
        'cProfile.run(\'main(["run", "-q", "--", "python", "train.py"])\', \'prof.out\')'
    )
    subprocess.run([sys.executable, "-c", code], cwd=root, env=env(), capture_output=True)
    out = io.StringIO()
    pstats.Stats(str(root / "prof.out"), stream=out).sort_stats("cumulative").print_stats(top)
    os.unlink(root / "prof.out")
    return out.getvalue() + "\nslowest imports (cumulative us):\n" + import_times(root)


def import_times(root: Path, top: int = 12) -> str:
    """Top-level imports of one `gitexp run` by cumulative time (python -X importtime)."""
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "gitexp",
            "run",
            "-q",
            "--",
            "python",
            "train.py",
        ],
        cwd=root,
        env=env(),
        capture_output=True,
        text=True,
        check=False,
    )
    rows = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    rows.sort(reverse=True)
    return "\n".join(f"{us:>9}  {name.strip()}" for us, name in rows[:top])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="print a profile even on a pass")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gitexp-bench-run-") as tmp:
        root = Path(tmp) / "repo"
        make_repo(root)
        direct = median_of([sys.executable, "train.py"], root, args.runs)
        with_gitexp = median_of(
            [*GITEXP, "run", "-q", "--", sys.executable, "train.py"], root, args.runs
        )
        ok = report(
            "run_overhead",
            with_gitexp - direct,
            BAR,
            "s",
            direct_s=round(direct, 4),
            gitexp_run_s=round(with_gitexp, 4),
        )
        if not ok or args.profile:
            print(profile_summary(root), file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
