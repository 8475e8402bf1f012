"""Zero-code mode (issue 20): `gitexp run --autolog` autologs and seeds an unmodified
script through a startup hook; `--deterministic`; the `autolog:` and `seed:` keys."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from autolog_support import DATA, logged_params, run_script
from conftest import last_line, run_gitexp, write_files
from run_support import (
    exp_refs,
    metrics_json,
    only_experiment,
    run_json,
    show,
    tree_files,
    write_gitexp_yaml,
)

from gitexp.common.mappings import flatten
from gitexp.integrations.zerocode import ZeroCode, from_record

pytest.importorskip("sklearn")


UNMODIFIED = """
import os, random, sys
from sklearn.linear_model import SGDClassifier
noise = np.random.rand(120)  # the global generator: seeded only by gitexp
clf = SGDClassifier(max_iter=5, tol=None).fit(X, (noise > 0.5).astype(int))
print("noise:", noise[0])
print("pyrandom:", random.random())
with open("seen.json", "w") as f:
    json.dump({"modules": sorted(m for m in ("xgboost", "lightgbm", "torch", "tensorflow")
                                 if m in sys.modules),
               "pythonpath": os.environ.get("PYTHONPATH"),
               "gitexp": "gitexp" in sys.modules,
               "env": {k: os.environ.get(k)
                       for k in ("TF_DETERMINISTIC_OPS", "CUBLAS_WORKSPACE_CONFIG")},
               "marker": os.environ.get("USER_SITECUSTOMIZE")}, f)
"""


def test_zero_code_same_seed_same_metrics_other_seed_other_metrics(git_repo: Path) -> None:
    first = run_script(git_repo, UNMODIFIED, "--autolog", "--seed", "7")
    again = run_script(git_repo, UNMODIFIED, "--autolog", "--seed", "7")
    other = run_script(git_repo, UNMODIFIED, "--autolog", "--seed", "8")
    metrics = [metrics_json(git_repo, n) for n in (first, again, other)]
    assert metrics[0] == metrics[1]
    assert metrics[0]["noise"] != metrics[2]["noise"]
    assert metrics[0]["pyrandom"] != metrics[2]["pyrandom"]
    assert set(flatten(metrics[0])) == {"noise", "pyrandom", "training.score"}  # autologged
    assert logged_params(git_repo, first)["sklearn.max_iter"] == 5
    assert run_json(git_repo, first)["zero_code"] == {
        "seed": True,
        "autolog": "all",
        "log_models": True,
        "deterministic": False,
    }


def test_zero_code_imports_nothing_the_script_does_not_and_hides_itself(git_repo: Path) -> None:
    extra = git_repo.parent / "extra"
    write_files(
        extra,
        {
            "helper.py": "VALUE = 1\n",
            "sitecustomize.py": "import os\nos.environ['USER_SITECUSTOMIZE'] = 'ran'\n",
        },
    )
    script = "import helper\n" + UNMODIFIED
    write_files(git_repo, {"train.py": DATA + script})
    proc = run_gitexp(
        "run",
        "--autolog",
        "--",
        sys.executable,
        "train.py",
        cwd=git_repo,
        env={"PYTHONPATH": str(extra)},
    )
    assert proc.returncode == 0, proc.stderr
    name = only_experiment(git_repo)
    seen = json.loads(show(git_repo, name, "seen.json"))
    assert seen["modules"] == []  # xgboost, lightgbm are installed but not imported
    assert seen["pythonpath"] == str(extra)  # the user's, merged, and only it
    assert seen["marker"] == "ran"  # the user's own sitecustomize still runs
    assert "zero-code mode is off" not in proc.stderr and "autolog:" not in proc.stderr


def test_deterministic_sets_the_kernels_env_and_is_recorded(git_repo: Path) -> None:
    name = run_script(git_repo, UNMODIFIED, "--deterministic", "--seed", "3")
    seen = json.loads(show(git_repo, name, "seen.json"))
    assert seen["env"] == {"TF_DETERMINISTIC_OPS": "1", "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    assert run_json(git_repo, name)["zero_code"] == {"seed": True, "deterministic": True}
    assert "sklearn.max_iter" not in logged_params(git_repo, name)  # seeding only, no autolog
    again = run_script(git_repo, UNMODIFIED, "--deterministic", "--seed", "3")
    assert metrics_json(git_repo, name) == metrics_json(git_repo, again)


def test_config_autolog_and_seed_auto_and_the_flag_over_them(git_repo: Path) -> None:
    write_gitexp_yaml(
        git_repo,
        "seed: {value: 11, auto: true}\nautolog: {frameworks: [sklearn], log_models: false}\n",
    )
    name = run_script(git_repo, UNMODIFIED)
    record = run_json(git_repo, name)
    assert record["seed"] == 11
    assert record["zero_code"]["autolog"] == ["sklearn"] and not record["zero_code"]["log_models"]
    assert "sklearn.max_iter" in logged_params(git_repo, name)
    assert not any(f.startswith("autolog/") for f in tree_files(git_repo, name))
    seeded_only = run_script(git_repo, UNMODIFIED, "--no-autolog")
    assert "sklearn.max_iter" not in logged_params(git_repo, seeded_only)
    assert metrics_json(git_repo, seeded_only)["noise"] == metrics_json(git_repo, name)["noise"]


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "autolog: [xgbost]\n",
            "gitexp: error: gitexp.yaml: `autolog`: unknown framework `xgbost` "
            "(hint: did you mean `xgboost`?)",
        ),
        (
            "autolog: yes please\n",
            "gitexp: error: gitexp.yaml: `autolog` must be true, false, a list",
        ),
        ("seed: {auto: 1}\n", "gitexp: error: gitexp.yaml: `seed.auto` must be true or false"),
        (
            "seed: {vaule: 3}\n",
            "gitexp: error: gitexp.yaml: unknown key `seed.vaule` "
            "(hint: did you mean `seed.value`?)",
        ),
    ],
)
def test_config_mistakes_are_one_line(git_repo: Path, yaml_text: str, expected: str) -> None:
    write_gitexp_yaml(git_repo, yaml_text)
    proc = run_gitexp("run", "--", sys.executable, "train.py", cwd=git_repo)
    assert proc.returncode == 2, proc.stderr
    assert last_line(proc.stderr).startswith(expected), proc.stderr
    assert exp_refs(git_repo) == {}


def test_zero_code_needs_the_local_executor(git_repo: Path) -> None:
    proc = run_gitexp("run", "--autolog", "--docker", "--", "python", "train.py", cwd=git_repo)
    assert proc.returncode == 2
    assert last_line(proc.stderr) == (
        "gitexp: error: --autolog needs the local executor, not 'docker' (hint: call "
        "gitexp.autolog() and gitexp.seed_everything() in the script instead)"
    )
    assert exp_refs(git_repo) == {}


def test_torch_is_seeded_and_made_deterministic_when_the_script_imports_it(
    git_repo: Path,
) -> None:
    pytest.importorskip("torch")
    script = """
    import torch
    print("draw:", torch.rand(1).item())
    print("deterministic:", int(torch.are_deterministic_algorithms_enabled()))
    """
    first = run_script(git_repo, script, "--deterministic", "--seed", "5")
    again = run_script(git_repo, script, "--deterministic", "--seed", "5")
    metrics = metrics_json(git_repo, first)
    assert metrics == metrics_json(git_repo, again) and metrics["deterministic"] == 1


@pytest.mark.parametrize(
    "setting",
    [
        ZeroCode(seed=True),
        ZeroCode(autolog=True, log_models=False),
        ZeroCode(autolog=True, frameworks=("xgboost",), deterministic=True),
    ],
)
def test_the_recorded_setting_gives_the_same_environment_again(setting: ZeroCode) -> None:
    """What `gitexp reproduce` needs: run.json's `zero_code` back to the same env."""
    again = from_record(json.loads(json.dumps(setting.record())))
    assert again.env({}) == setting.env({}) and again.active
    assert from_record(None) == ZeroCode() and not ZeroCode().env({"PYTHONPATH": "x"})


def test_a_python_without_gitexp_still_gets_zero_code_mode(git_repo: Path, tmp_path: Path) -> None:
    """A project venv without gitexp: the hook loads the gitexp that started the run."""
    import subprocess

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    write_files(git_repo, {"plain.py": "import random\nprint('draw:', random.random())\n"})
    draws = []
    for _ in range(2):
        proc = run_gitexp("run", "--autolog", "--seed", "5", "--", python, "plain.py", cwd=git_repo)
        assert proc.returncode == 0 and "zero-code mode is off" not in proc.stderr, proc.stderr
        draws.append(proc.stdout)
    import random

    assert draws == [f"draw: {random.Random(5).random()}\n"] * 2
