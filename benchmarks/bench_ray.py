"""Per-trial overhead of a sweep on Ray vs the same sweep run locally.

A loopback Ray cluster (`ray start --head`, 2 CPUs, its own ports and temp
dir, stopped by process id afterwards) runs a 30-trial `gitexp sweep` of a
trivial script with -j 2; the same sweep runs with the local executor. Figure:
the extra seconds per trial on Ray (archive through the object store, a task
per trial, output and metrics streamed back), with both times per trial.
Joining the cluster (once per sweep) is inside the Ray time.

Bar: under 1 s extra per trial (an experiment on a cluster pays for the
network hops; a trial that trains for minutes does not notice it).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # its Ray cluster
from common import GITEXP, env, report
from ray_support import CLIENT_ENV, running_cluster

BAR = 1.0
SCRIPT = """\
import gitexp
x = float(gitexp.params()["x"])
gitexp.log_metric("loss", (x - 0.3) ** 2)
"""


def make_repo(root: Path) -> None:
    root.mkdir()
    (root / "train.py").write_text(SCRIPT)
    (root / "params.yaml").write_text("x: 0.0\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=root, env=env(), check=True)


def sweep(root: Path, name: str, trials: int, *extra: str) -> float:
    """Seconds per trial of one `gitexp sweep` (start-up included)."""
    argv = [*GITEXP, "sweep", "-n", name, "-p", "x=float(0,1)", "-o", "loss", "--seed", "1"]
    argv += ["--trials", str(trials), "-j", "2", *extra, "--", "python", "train.py"]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=root, env={**env(), **CLIENT_ENV}, capture_output=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"gitexp sweep failed: {proc.stderr.decode()[-800:]}")
    return elapsed / trials


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    args = parser.parse_args(argv)
    os.environ.update(CLIENT_ENV)
    with tempfile.TemporaryDirectory(prefix="gitexp-bench-ray-") as tmp:
        root = Path(tmp) / "repo"
        make_repo(root)
        local = sweep(root, "local", args.trials)
        with running_cluster(num_cpus=2) as cluster:
            sweep(root, "warm", 2, "--executor", "ray", "--address", cluster.address)
            on_ray = sweep(
                root, "ray", args.trials, "--executor", "ray", "--address", cluster.address
            )
    ok = report(
        "ray_trial_overhead",
        on_ray - local,
        BAR,
        "s",
        trials=args.trials,
        ray_s_per_trial=round(on_ray, 4),
        local_s_per_trial=round(local, 4),
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
