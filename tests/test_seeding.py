"""Every run has a recorded seed; seed_everything seeds what is installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import last_line, run_gitexp, write_files
from run_support import exp_refs, run_json, show

SEEDED = """\
import json, os, random, gitexp
seed = gitexp.seed_everything()
out = {"seed": seed, "env": os.environ["GITEXP_SEED"], "hash": os.environ["PYTHONHASHSEED"],
       "random": random.random()}
try:
    import numpy
    out["numpy"] = float(numpy.random.rand())
except ImportError:
    pass
json.dump(out, open("seeded.json", "w"))
"""


def _seeded(root: Path, name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(show(root, name, "seeded.json"))
    return data


def test_seed_flag_wins_and_reaches_every_generator(git_repo: Path) -> None:
    write_files(git_repo, {"s.py": SEEDED, "gitexp.yaml": "seed: 5\n"})
    for name in ("a", "b"):
        assert run_gitexp("run", "-n", name, "--seed", "42", "--", "python", "s.py").returncode == 0
    a, b = _seeded(git_repo, "a"), _seeded(git_repo, "b")
    assert a == b  # same seed, same numbers
    assert a["seed"] == 42 and a["env"] == a["hash"] == "42"
    assert run_json(git_repo, "a")["seed"] == 42
    pytest.importorskip("numpy")
    assert "numpy" in a


def test_config_seed_is_used_when_no_flag(git_repo: Path) -> None:
    write_files(git_repo, {"s.py": SEEDED, "gitexp.yaml": "seed: 5\n"})
    assert run_gitexp("run", "-n", "c", "--", "python", "s.py").returncode == 0
    assert run_json(git_repo, "c")["seed"] == 5
    assert _seeded(git_repo, "c")["seed"] == 5


def test_random_seed_is_fresh_and_recorded(git_repo: Path) -> None:
    write_files(git_repo, {"s.py": SEEDED, "gitexp.yaml": "seed: random\n"})
    for name in ("r1", "r2"):
        assert run_gitexp("run", "-n", name, "--", "python", "s.py").returncode == 0
    seeds = [run_json(git_repo, n)["seed"] for n in ("r1", "r2")]
    assert seeds[0] != seeds[1]
    for name, seed in zip(("r1", "r2"), seeds, strict=True):
        assert _seeded(git_repo, name)["seed"] == seed
        message = subprocess.run(
            ["git", "log", "-1", "--format=%b", f"refs/experiments/{name}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f"seed={seed}" in message


def test_rerun_with_recorded_seed_reproduces(git_repo: Path) -> None:
    write_files(git_repo, {"s.py": SEEDED})
    assert run_gitexp("run", "-n", "orig", "--", "python", "s.py").returncode == 0
    seed = run_json(git_repo, "orig")["seed"]
    assert (
        run_gitexp("run", "-n", "again", "--seed", str(seed), "--", "python", "s.py").returncode
        == 0
    )
    assert _seeded(git_repo, "orig") == _seeded(git_repo, "again")


@pytest.mark.parametrize("bad", ["-1", "abc", "1.5"])
def test_bad_seed_flag_is_a_usage_error(git_repo: Path, bad: str) -> None:
    proc = run_gitexp("run", "--seed", bad, "--", "python", "train.py")
    assert proc.returncode == 2
    assert last_line(proc.stderr).startswith("gitexp: error:")
    assert "Traceback" not in proc.stderr
    assert exp_refs(git_repo) == {}


@pytest.mark.parametrize("bad", ["-3", "1.5", "yes", "[1]"])
def test_bad_seed_in_config_is_refused(git_repo: Path, bad: str) -> None:
    write_files(git_repo, {"gitexp.yaml": f"seed: {bad}\n"})
    proc = run_gitexp("run", "--", "python", "train.py")
    assert proc.returncode == 2
    assert last_line(proc.stderr) == (
        "gitexp: error: gitexp.yaml: `seed` must be a non-negative integer or `random`"
    )
    assert exp_refs(git_repo) == {}


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "GITEXP_SEED"}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**base, **env},
        check=False,
    )


def test_seed_everything_api() -> None:
    code = """
import random, sys, gitexp
a = gitexp.seed_everything(3); x = random.random()
b = gitexp.seed_everything(3); y = random.random()
c = gitexp.seed_everything(2**40 + 3)
print(a, b, x == y, c, "torch" in sys.modules, "tensorflow" in sys.modules)
"""
    proc = _python(code, {})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["3", "3", "True", "3", "False", "False"]
    assert proc.stderr == ""


def test_seed_everything_uses_the_run_seed_or_announces_a_fresh_one() -> None:
    code = "import gitexp; print(gitexp.seed_everything())"
    inside = _python(code, {"GITEXP_SEED": "77"})
    assert inside.stdout.strip() == "77" and inside.stderr == ""
    outside = _python(code, {})
    seed = outside.stdout.strip()
    assert seed.isdigit()
    assert f"gitexp: no run seed; seeding with {seed}" in outside.stderr


def test_seed_everything_seeds_numpy() -> None:
    pytest.importorskip("numpy")
    code = """
import numpy, gitexp
gitexp.seed_everything(9); a = numpy.random.rand()
gitexp.seed_everything(9); b = numpy.random.rand()
print(a == b)
"""
    assert _python(code, {}).stdout.strip() == "True"


def test_seed_everything_without_numpy_installed(tmp_path: Path) -> None:
    """`python -S` hides site-packages (numpy, torch): seeding still works."""
    import gitexp

    package_root = str(Path(gitexp.__file__).parent.parent)
    code = "import sys, gitexp; print(gitexp.seed_everything(1), 'numpy' in sys.modules)"
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": package_root},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "False"]
