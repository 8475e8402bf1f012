"""start_run's ``params=`` are defaults: the same script records what it ran with,
whether it runs alone, under `gitexp run -p` (a params file or none) or in a sweep."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import make_repo, run_gitexp
from run_support import run_json

SCRIPT = """\
import gitexp
with gitexp.start_run(params={"lr": 0.1, "opt": {"name": "sgd", "mom": 0.9}}) as run:
    p = gitexp.params()
    print("TRAINS", p["lr"], p["opt"]["name"], p["opt"]["mom"], run.params == p)
    gitexp.log_metric("lr_used", p["lr"])
"""


def _repo(tmp_path: Path, files: dict[str, str]) -> Path:
    return make_repo(tmp_path / "repo", {"t.py": SCRIPT, **files})


def _run(root: Path, name: str, *args: str) -> str:
    proc = run_gitexp("run", "-n", name, *args, "--", "python", "t.py", cwd=root)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


def test_the_cli_params_win_over_start_run_defaults_and_are_recorded(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"params.yaml": "lr: 0.01\nbatch: 32\nopt:\n  name: adam\n"})
    out = _run(root, "j3", "-p", "lr=0.5")
    assert "TRAINS 0.5 adam 0.9 True" in out
    run = run_json(root, "j3")
    assert run["params"] == {"lr": 0.5, "batch": 32, "opt": {"name": "adam", "mom": 0.9}}
    assert run["logged_params"] == {"opt": {"mom": 0.9}}  # only the defaults the CLI lacks
    assert run["overrides"] == ["lr=0.5"]
    show = run_gitexp("show", "j3", cwd=root)
    shown = [line.split() for line in show.stdout.splitlines()]
    assert ["lr", "*", "0.5"] in shown and ["lr", "*", "0.1"] not in shown


def test_without_a_params_file_the_defaults_hold_and_p_overrides_them(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"README.md": "no params file\n"})
    assert "TRAINS 0.1 sgd 0.9 True" in _run(root, "plain")
    assert run_json(root, "plain")["params"] == {"lr": 0.1, "opt": {"name": "sgd", "mom": 0.9}}

    out = _run(root, "over", "-p", "lr=0.3", "-p", "opt.name=adam")
    assert "TRAINS 0.3 adam 0.9 True" in out
    run = run_json(root, "over")
    assert run["params"] == {"lr": 0.3, "opt": {"name": "adam", "mom": 0.9}}
    assert run["params_files"] == [] and run["overrides"] == ["lr=0.3", "opt.name=adam"]


def test_a_passed_through_key_the_defaults_lack_is_warned_about(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"README.md": "no params file\n"})
    out = _run(root, "typo", "-p", "lrr=0.3")
    assert "gitexp: warning: -p sets 'lrr', which start_run(params=...) does not have;" in out
    assert "did you mean `lr`?" in out
    assert run_json(root, "typo")["params"]["lrr"] == 0.3


def test_p_values_a_command_never_reads_are_warned_about(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"plain.py": "print('acc: 1')\n"})
    proc = run_gitexp("run", "-n", "unread", "-p", "lr=0.3", "--", "python", "plain.py", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "lr=0.3: there is no params file, and the command never read these values" in (
        proc.stderr
    )
    assert "never read" not in _run(root, "read", "-p", "lr=0.3")  # start_run read them


def test_a_sweep_without_params_file_gives_each_trial_its_value(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"README.md": "no params file\n"})
    proc = run_gitexp(
        "sweep", "-n", "sw", "-p", "lr=float(0.2,0.9)", "--trials", "2",
        "--objective", "lr_used:max", "--", "python", "t.py", cwd=root,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for trial in ("sw/trial-0000", "sw/trial-0001"):
        run = run_json(root, trial)
        lr = run["params"]["lr"]
        assert 0.2 <= lr <= 0.9 and run["params"]["opt"] == {"name": "sgd", "mom": 0.9}
        shown = subprocess.run(
            ["git", "show", f"refs/experiments/{trial}:.gitexp/metrics.json"],
            cwd=root, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert json.loads(shown) == {"lr_used": lr}


def test_standalone_the_values_given_to_start_run_win_over_the_params_file(
    tmp_path: Path,
) -> None:
    """No CLI: start_run's values are the run's (a notebook's loop passes each run's)."""
    root = _repo(tmp_path, {"params.yaml": "lr: 0.01\nbatch: 8\n"})
    proc = subprocess.run(
        [sys.executable, "t.py"], cwd=root, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "TRAINS 0.1 sgd 0.9 True" in proc.stdout
