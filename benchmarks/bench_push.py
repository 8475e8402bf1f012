"""`gitexp push --all` of N synthetic experiments against `git push` of the same refs.

Bar (DESIGN.md): `gitexp push` of 1,000 experiments within 1.5x of `git push`.
Both push the same repository to a fresh bare remote over file:// each round;
gitexp skips DVC (`--no-artifacts`: the generated experiments have none).
Median of --runs rounds; the order of the two alternates between rounds.
One untimed push first, with bytecode caching on (in the temp dir): an
installed gitexp has its .pyc files, so compiling gitexp's sources on every
start (PYTHONDONTWRITEBYTECODE) is not part of what users wait for.

    python benchmarks/bench_push.py [-n 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import GITEXP, env, timed
from generate import generate

BAR = 1.5
REFSPEC = "refs/experiments/*:refs/experiments/*"


def bare(path: Path) -> str:
    """A fresh, empty bare repository; its file:// URL."""
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True, env=env())
    return path.as_uri()


def pushed_refs(url_path: Path) -> int:
    out = subprocess.run(
        ["git", "-C", str(url_path), "for-each-ref", "--format=%(refname)", "refs/experiments/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return len(out.split())


def one_round(repo: Path, tmp: Path, i: int, n: int) -> tuple[float, float]:
    """(gitexp seconds, git seconds) for one round, each into its own new bare remote."""
    mine, theirs = tmp / f"gitexp-{i}.git", tmp / f"git-{i}.git"
    gitexp_cmd = [*GITEXP, "push", bare(mine), "--all", "--no-artifacts"]
    git_cmd = ["git", "push", "-q", bare(theirs), REFSPEC]
    if i % 2:
        git_s, gitexp_s = timed(git_cmd, repo), timed(gitexp_cmd, repo)
    else:
        gitexp_s, git_s = timed(gitexp_cmd, repo), timed(git_cmd, repo)
    for remote in (mine, theirs):
        if pushed_refs(remote) != n:
            sys.exit(f"{remote} got {pushed_refs(remote)} experiments, expected {n}")
    return gitexp_s, git_s


def warm_up(repo: Path, tmp: Path) -> None:
    """Write gitexp's bytecode once (under tmp, not in the source tree)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    timed([*GITEXP, "push", bare(tmp / "warm-up.git"), "--all", "--no-artifacts"], repo)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="experiments")
    parser.add_argument("--runs", type=int, default=3, help="rounds (median)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gitexp-bench-push-") as name:
        tmp = Path(name)
        generate(tmp / "repo", args.n)
        warm_up(tmp / "repo", tmp)
        rounds = [one_round(tmp / "repo", tmp, i, args.n) for i in range(args.runs)]
    gitexp_s = statistics.median(r[0] for r in rounds)
    git_s = statistics.median(r[1] for r in rounds)
    ratio = gitexp_s / git_s
    ok = ratio <= BAR
    line = {
        "bench": "push",
        "n": args.n,
        "gitexp_s": round(gitexp_s, 3),
        "git_s": round(git_s, 3),
        "ratio": round(ratio, 2),
        "bar": BAR,
        "ok": ok,
    }
    print(json.dumps(line), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
