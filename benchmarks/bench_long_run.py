"""Long trainings: `gitexp run` of a script logging 1, 10 (and 50) million points.

For each size it reports, one JSON line per figure:

- ``long_run_overhead``: wall time of ``gitexp run`` minus that of the same
  script run alone (its own logging included, as ``GITEXP_RUN_DIR`` is set),
  as a fraction of the script's time. Bar: under 1x.
- ``long_run_peak_mb``: the high-water mark of the ``gitexp`` process's memory
  (``VmHWM`` of /proc/<pid>/status, read every 20 ms until it exits). Bar:
  under 200 MB at 10 million points.
- ``long_run_bytes_per_point``: the history's objects in the repository after
  ``git gc``, divided by the points. Bar: under 8.
- ``long_run_show_s``: ``gitexp show NAME`` (a new interpreter). Bar: 0.5 s.
- ``long_run_push``: ``gitexp push`` of the experiment against ``git push`` of
  the same ref, and ``gitexp pull`` against ``git fetch``, each into a fresh
  repository (no bar: measured).

The script logs one smooth series, ``loss = 2 exp(-i/n) + 0.1`` at step i
(``--noise`` adds Gaussian noise, the worst case for compression).

    python benchmarks/bench_long_run.py                 # 1 and 10 million
    python benchmarks/bench_long_run.py --huge          # and 50 million
    python benchmarks/bench_long_run.py --points 200000 # quick
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import GITEXP, env, report, timed

PEAK_BAR_MB = 200.0
SHOW_BAR_S = 0.5
BYTES_BAR = 8.0
SCRIPT = """\
import math, random, sys
import gitexp

n, noise = int(sys.argv[1]), float(sys.argv[2])
log, exp, gauss = gitexp.log_metric, math.exp, random.Random(0).gauss
for i in range(n):
    log("loss", 2.0 * exp(-i / n) + 0.1 + (noise * gauss(0.0, 1.0) if noise else 0.0), i)
"""


def make_repo(root: Path) -> None:
    root.mkdir()
    (root / "train.py").write_text(SCRIPT)
    for argv in (["init", "-q", "-b", "main"], ["add", "train.py"], ["commit", "-qm", "base"]):
        subprocess.run(["git", *argv], cwd=root, env=env(), check=True)


def script_alone(root: Path, tmp: Path, n: int, noise: float) -> float:
    """The script on its own, logging into a scratch run dir (as inside a run)."""
    run_dir = tmp / "alone"
    run_dir.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "train.py", str(n), str(noise)],
        cwd=root,
        env={**env(), "GITEXP_RUN_DIR": str(run_dir)},
        check=True,
    )
    elapsed = time.perf_counter() - t0
    (run_dir / ".gitexp" / "live" / "metrics.tsv").unlink()
    return elapsed


def peak_kb(pid: int, done: threading.Event, out: list[int]) -> None:
    """Follow VmHWM of ``pid`` until ``done`` (the last value read is kept)."""
    while not done.is_set():
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return
        for line in text.splitlines():
            if line.startswith("VmHWM:"):
                out.append(int(line.split()[1]))
        done.wait(0.02)


def gitexp_run(root: Path, n: int, noise: float) -> tuple[float, float]:
    """(wall seconds, peak MB of the gitexp process) of one `gitexp run`."""
    argv = [*GITEXP, "run", "-q", "-n", "long", "--", sys.executable, "train.py", str(n)]
    t0 = time.perf_counter()
    proc = subprocess.Popen([*argv, str(noise)], cwd=root, env=env(), stderr=subprocess.PIPE)
    done, seen = threading.Event(), [0]
    watcher = threading.Thread(target=peak_kb, args=(proc.pid, done, seen))
    watcher.start()
    _, err = proc.communicate()
    elapsed = time.perf_counter() - t0
    done.set()
    watcher.join()
    if proc.returncode != 0:
        sys.exit(f"gitexp run failed ({proc.returncode}): {err.decode()[-800:]}")
    return elapsed, max(seen) / 1024


def history_bytes(root: Path) -> int:
    """Bytes on disk of the objects under .gitexp/history of the experiment, after gc."""
    subprocess.run(["git", "gc", "-q"], cwd=root, env=env(), check=True)
    listing = subprocess.run(
        ["git", "ls-tree", "-r", "-t", "refs/experiments/long", ".gitexp/history"],
        cwd=root,
        env=env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    oids = "".join(line.split()[2] + "\n" for line in listing.splitlines())
    sizes = subprocess.run(
        ["git", "cat-file", "--batch-check=%(objectsize:disk)"],
        cwd=root,
        env=env(),
        input=oids,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sum(int(s) for s in sizes.split())


def transfer(root: Path, tmp: Path) -> dict[str, float]:
    """Seconds of gitexp push/pull against git push/fetch of the same ref."""
    out = {}
    for tool in ("git", "gitexp"):
        remote = tmp / f"{tool}-remote.git"
        subprocess.run(["git", "init", "-q", "--bare", str(remote)], env=env(), check=True)
        if tool == "git":
            push = ["git", "push", "-q", remote.as_uri(), "refs/experiments/long"]
        else:
            push = [*GITEXP, "push", remote.as_uri(), "long", "--no-artifacts"]
        out[f"{tool}_push_s"] = timed(push, root)
        clone = tmp / f"{tool}-clone"
        argv = ["git", "clone", "-q", "--no-local", str(root), str(clone)]
        subprocess.run(argv, env=env(), check=True)
        if tool == "git":
            pull = ["git", "fetch", "-q", remote.as_uri(), "refs/experiments/*:refs/experiments/*"]
        else:
            pull = [*GITEXP, "pull", remote.as_uri()]
        out[f"{tool}_pull_s"] = timed(pull, clone)
    return {k: round(v, 3) for k, v in out.items()}


def measure(n: int, noise: float, tmp: Path) -> bool:
    root = tmp / f"repo-{n}"
    make_repo(root)
    alone = script_alone(root, tmp, n, noise)
    wall, peak = gitexp_run(root, n, noise)
    overhead = (wall - alone) / alone
    size = history_bytes(root)
    show = timed([*GITEXP, "show", "long"], root)
    common = {"points": n, "noise": noise}
    ok = report("long_run_overhead", overhead, 1.0, "x script", script_s=round(alone, 2),
                run_s=round(wall, 2), **common)  # fmt: skip
    ok &= report("long_run_peak_mb", peak, PEAK_BAR_MB, "MB", **common)
    ok &= report("long_run_bytes_per_point", size / n, BYTES_BAR, "B", bytes=size, **common)
    ok &= report("long_run_show_s", show, SHOW_BAR_S, "s", **common)
    print(json.dumps({"bench": "long_run_push", **common, **transfer(root, tmp)}), flush=True)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default="1000000,10000000", help="comma-separated sizes")
    parser.add_argument("--huge", action="store_true", help="also 50,000,000 points")
    parser.add_argument("--noise", type=float, default=0.0, help="std of noise on the series")
    args = parser.parse_args(argv)
    sizes = [int(p) for p in args.points.split(",") if p]
    sizes += [50_000_000] if args.huge else []
    ok = True
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="gitexp-bench-long-") as name:
            ok &= measure(n, args.noise, Path(name))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
