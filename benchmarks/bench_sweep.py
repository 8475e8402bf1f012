"""A 100-trial `gitexp sweep` of a trivial script vs a plain Optuna loop that
calls the same script in subprocesses, with -j 1 and -j 2.

Bar: gitexp's time per trial within 2x of the plain loop's (every gitexp trial
is a recorded experiment: a commit, a ref, a run directory). Figures: seconds
per trial of each, and their ratio.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import GITEXP, env, report

BAR = 2.0
SCRIPT = """\
import sys
import gitexp
x = float(sys.argv[1]) if len(sys.argv) > 1 else float(gitexp.params()["x"])
loss = (x - 0.3) ** 2
gitexp.log_metric("loss", loss)
print(loss)
"""


def make_repo(root: Path) -> None:
    root.mkdir()
    (root / "train.py").write_text(SCRIPT)
    (root / "params.yaml").write_text("x: 0.0\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=root, env=env(), check=True)


def plain_loop(root: Path, trials: int, jobs: int) -> float:
    """Seconds per trial of Optuna calling the script itself, no gitexp."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        out = subprocess.run(
            [sys.executable, "train.py", repr(x)], cwd=root, env=env(), capture_output=True,
            text=True, check=True,
        )  # fmt: skip
        return float(out.stdout.split()[-1])

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=trials, n_jobs=jobs)
    return (time.perf_counter() - t0) / trials


def gitexp_sweep(root: Path, trials: int, jobs: int) -> float:
    """Seconds per trial of `gitexp sweep` (start-up included, as a user waits for it)."""
    argv = [*GITEXP, "sweep", "-n", f"bench-j{jobs}", "-p", "x=float(0,1)", "-o", "loss"]
    argv += ["--trials", str(trials), "-j", str(jobs), "--seed", "1"]
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*argv, "--", sys.executable, "train.py"], cwd=root, env=env(), capture_output=True
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"gitexp sweep failed: {proc.stderr.decode()[-800:]}")
    return elapsed / trials


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    args = parser.parse_args(argv)
    ok = True
    with tempfile.TemporaryDirectory(prefix="gitexp-bench-sweep-") as tmp:
        root = Path(tmp) / "repo"
        make_repo(root)
        for jobs in (1, 2):
            plain = plain_loop(root, args.trials, jobs)
            ours = gitexp_sweep(root, args.trials, jobs)
            ok &= report(
                f"sweep_overhead_j{jobs}",
                ours / plain,
                BAR,
                "x",
                trials=args.trials,
                gitexp_s_per_trial=round(ours, 4),
                optuna_loop_s_per_trial=round(plain, 4),
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
