"""`gitexp model register m --from SWEEP/`: a sweep's name means its best trial.

The best is the one `gitexp sweep show` names (by the trials' recorded
objective), and the output line says which trial was taken. A group that is no
sweep stays ambiguous, naming a few of its experiments; so does a sweep whose
Pareto front holds several trials.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import git, last_line, make_repo, run_gitexp
from sweep_support import sweep, sweep_json

# loss = (x - 0.3)^2, and a model file that says which x made it
SCRIPT = """\
import gitexp
x = float(gitexp.params()["x"])
open("model.txt", "w").write("x=%s" % x)
gitexp.log_metric("loss", (x - 0.3) ** 2)
gitexp.log_metric("gain", x)
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "r", {"params.yaml": "x: 0.0\n", "fit.py": SCRIPT})
    proc = sweep(
        root, "-n", "prune", "-p", "x=choice(0.0,0.3,0.9)", "--sampler", "grid",
        "--objective", "loss:min", "--", sys.executable, "fit.py",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return root


def _best(root: Path, name: str) -> str:
    best = sweep_json(root, name)["best"]
    assert len(best) == 1
    return str(best[0] if isinstance(best[0], str) else best[0]["name"])


@pytest.mark.parametrize("spec", ["prune/", "prune"])
def test_a_sweeps_name_registers_its_best_trial_and_says_which(repo: Path, spec: str) -> None:
    best = _best(repo, "prune")
    proc = run_gitexp("model", "register", "m", "--from", spec, "--path", "model.txt", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        f"registered m v0.0.1 (m@v0.0.1) from {best} "
        f"(best trial of sweep 'prune' by loss:min = 0.0), git: model.txt"
    )
    tagged = git(repo, "rev-parse", "m@v0.0.1^{commit}").strip()
    assert tagged == git(repo, "rev-parse", f"refs/experiments/{best}").strip()
    assert git(repo, "show", "m@v0.0.1:model.txt") == "x=0.3"


def test_a_group_that_is_no_sweep_stays_ambiguous_and_names_some(repo: Path) -> None:
    for name in ("team/a", "team/b", "team/c"):
        ran = run_gitexp("run", "-n", name, "--", sys.executable, "fit.py", cwd=repo)
        assert ran.returncode == 0, ran.stderr
    proc = run_gitexp("model", "register", "m", "--from", "team/", "--path", "model.txt", cwd=repo)
    assert proc.returncode == 2
    assert last_line(proc.stderr) == "gitexp: error: 'team/' is ambiguous: team/a, team/b, team/c"
    assert git(repo, "tag", "--list") == ""


def test_a_sweep_with_several_pareto_optimal_trials_is_not_guessed(repo: Path) -> None:
    proc = sweep(
        repo, "-n", "front", "-p", "x=choice(0.0,0.3)", "--sampler", "grid",
        "--objective", "loss:min", "--objective", "gain:min", "--", sys.executable, "fit.py",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = run_gitexp("model", "register", "m", "--from", "front/", "--path", "model.txt", cwd=repo)
    assert out.returncode == 2
    assert last_line(out.stderr) == (
        "gitexp: error: sweep 'front' has 2 best trials (front/trial-0000, front/trial-0001) "
        "by loss:min, gain:min (hint: name one: `--from front/trial-0000`; "
        "`gitexp sweep show front` lists them)"
    )
    assert git(repo, "tag", "--list") == ""
