"""gitexp at 100,000 experiments, in each state git leaves refs and objects in.

N experiments are written in the real storage format with plumbing
(generate.py), then measured three times: with loose refs and objects (as
after many local runs), after `git pack-refs --all`, and after `git gc`.
In each state, beside git's own figure for the same work:

- `show --format json` warm (the cache complete) against `git for-each-ref`;
  bars: max(1 s, 2x) with loose refs, max(1 s, 3x) packed;
- `show` cold (no cache) against `git cat-file --batch` reading the same
  objects (5 per experiment); bar: max(5 s, git's figure);
- `show NAME` and a named `run -n NAME -- true` against the same in a
  repository of 10 experiments; bar: 1.25x + 0.05 s;
- an incremental `push --all` of 5 new experiments to a remote holding the N,
  and `pull` of 5 from it, against plain `git push` / `git fetch` of the same
  refspec; bar: max(1 s, 1.5x).

    python benchmarks/bench_scale.py [-n 100000] [--runs 3] [--states loose,packed,gc]

One JSON line per figure, a table at the end; exit 1 when a bar is missed.
At 100,000 the whole takes about 15 minutes on 2 cores (generating, pushing
the remote and `git gc` are most of it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import GITEXP, env, report, timed
from generate import Generator, generate

EXP_GLOB = "refs/experiments/*:refs/experiments/*"
SHOW = [*GITEXP, "show", "--format", "json"]
ROWS: list[tuple[str, str, float, float, bool]] = []  # state, figure, gitexp, git, ok
SMALL_N = 10  # the repository single-name figures are compared with
QUIET = {"gc.auto": "0", "maintenance.auto": "false", "receive.autogc": "false"}
SMALL = f"{SMALL_N} experiments"


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, env=env(), capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"git {' '.join(args)} failed: {proc.stderr[-500:]}")
    return proc.stdout


def median(
    argv: list[str], cwd: Path, runs: int, before: Callable[[], None] | None = None
) -> float:
    times = []
    for _ in range(runs):
        if before is not None:
            before()
        times.append(timed(argv, cwd))
    return statistics.median(times)


def figure(state: str, name: str, mine: float, theirs: float, bar: float, vs: str) -> None:
    ok = report(f"scale_{name}_{state}", mine, round(bar, 3), "s", False, vs=vs, vs_s=theirs)
    ROWS.append((state, name, mine, theirs, ok))


def add(repo: Path, count: int, prefix: str, seed: int) -> None:
    """``count`` new experiments named ``prefix-NNNN`` (plumbing, loose)."""
    import pygit2

    handle = pygit2.Repository(str(repo))
    gen = Generator(handle, handle.head.peel(pygit2.Commit).id, seed=seed)
    for i in range(count):
        gen.experiment(i, name=f"{prefix}-{i:04d}")


def objects_of(repo: Path) -> str:
    """The ids `show` reads cold: commit, tree, .gitexp/, run.json, metrics.json."""
    out = git(repo, "for-each-ref", "--format=%(objectname)", "refs/experiments/")
    commits = out.split()
    paths = ("^{tree}", ":.gitexp", ":.gitexp/run.json", ":.gitexp/metrics.json")
    specs = "\n".join(f"{c}{p}" for c in commits for p in ("", *paths)) + "\n"
    proc = subprocess.run(
        ["git", "cat-file", "--batch-check=%(objectname)"],
        cwd=repo,
        input=specs,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout


def git_reads(repo: Path, ids: str) -> float:
    import time

    t0 = time.perf_counter()
    subprocess.run(
        ["git", "cat-file", "--batch"], cwd=repo, input=ids.encode(), capture_output=True
    )
    return time.perf_counter() - t0


def shows(repo: Path, small: Path, state: str, runs: int) -> None:
    fer = ["git", "for-each-ref", "--format=%(objectname) %(refname)", "refs/experiments/"]
    cache = repo / ".git" / "gitexp" / "index.sqlite"
    reads = git_reads(repo, objects_of(repo))
    cold = median(SHOW, repo, 1, lambda: cache.unlink(missing_ok=True))
    figure(state, "show_cold", cold, reads, max(5.0, reads), "git cat-file --batch")
    git_s = median(fer, repo, runs)
    times = 2.0 if state == "loose" else 3.0
    warm = median(SHOW, repo, runs)
    figure(state, "show_warm", warm, git_s, max(1.0, times * git_s), "git for-each-ref")
    one = [*GITEXP, "show", "exp-00007", "--format", "json"]
    base = median(one, small, runs)
    figure(state, "show_one", median(one, repo, runs), base, 1.25 * base + 0.05, SMALL)


def named_runs(repo: Path, small: Path, state: str, runs: int) -> None:
    counter = iter(range(10**6))

    def run_argv() -> list[str]:
        return [*GITEXP, "run", "-q", "-n", f"named-{state}-{next(counter)}", "--", "true"]

    def med(where: Path) -> float:
        return statistics.median(timed(run_argv(), where) for _ in range(runs))

    base = med(small)
    figure(state, "named_run", med(repo), base, 1.25 * base + 0.05, SMALL)


def sharing(repo: Path, peer: Path, remote: str, state: str, runs: int) -> None:
    """Incremental push from ``repo`` and pull into ``peer``: 5 experiments each time,
    gitexp and git alternating on equal work."""
    push, plain_push, pull, plain_fetch = [], [], [], []
    for r in range(runs):
        add(repo, 5, f"{state}-{r}-a", seed=r)
        push.append(timed([*GITEXP, "push", remote, "--all", "--no-artifacts"], repo))
        pull.append(timed([*GITEXP, "pull", remote], peer))
        add(repo, 5, f"{state}-{r}-b", seed=r + 100)
        plain_push.append(timed(["git", "push", "-q", remote, EXP_GLOB], repo))
        plain_fetch.append(timed(["git", "fetch", "-q", remote, EXP_GLOB], peer))
    mine, theirs = statistics.median(push), statistics.median(plain_push)
    figure(state, "push_5", mine, theirs, max(1.0, 1.5 * theirs), "git push")
    mine, theirs = statistics.median(pull), statistics.median(plain_fetch)
    figure(state, "pull_5", mine, theirs, max(1.0, 1.5 * theirs), "git fetch")


def into_state(repo: Path, state: str) -> None:
    if state == "packed":
        git(repo, "pack-refs", "--all")
    elif state == "gc":
        git(repo, "gc", "-q")


def setup(tmp: Path, n: int) -> tuple[Path, Path, str]:
    repo, small = tmp / "repo", tmp / "small"
    seconds = generate(repo, n)
    print(json.dumps({"bench": "generate", "experiments": n, "seconds": round(seconds, 1)}))
    generate(small, SMALL_N)  # exp-00007 exists in both
    for where in (repo, small):
        timed(SHOW, where)  # warm caches, bytecode
    remote = tmp / "remote.git"
    git(tmp, "init", "-q", "--bare", str(remote))
    for where in (repo, small, remote):  # the states are the bench's: no gc --auto meanwhile
        for key, value in QUIET.items():
            git(where, "config", key, value)
    git(repo, "push", "-q", remote.as_uri(), EXP_GLOB, "refs/heads/main:refs/heads/main")
    return repo, small, remote.as_uri()


def table() -> str:
    lines = ["| state | figure | gitexp | git | ok |", "|---|---|---|---|---|"]
    for state, name, mine, theirs, ok in ROWS:
        lines.append(
            f"| {state} | {name} | {mine:.2f} s | {theirs:.2f} s | {'ok' if ok else 'MISSED'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="experiments")
    parser.add_argument("--runs", type=int, default=3, help="repetitions (median)")
    parser.add_argument("--states", default="loose,packed,gc")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gitexp-bench-scale-") as name:
        tmp = Path(name)
        repo, small, remote = setup(tmp, args.n)
        for state in args.states.split(","):
            into_state(repo, state)
            peer = tmp / f"peer-{state}"
            shutil.copytree(repo, peer, symlinks=True, copy_function=_link)
            shows(repo, small, state, args.runs)
            named_runs(repo, small, state, args.runs)
            sharing(repo, peer, remote, state, args.runs)
    print(table(), file=sys.stderr)
    return 0 if all(row[4] for row in ROWS) else 1


def _link(src: str, dst: str) -> None:
    """Objects are immutable: a hard link copies a repository of 100,000 in seconds;
    the index and caches are copied (they are written in place)."""
    import os

    if "/objects/" in src:
        os.link(src, dst)
    else:
        shutil.copy2(src, dst)


if __name__ == "__main__":
    sys.exit(main())
