"""When a reproduction fails, it says why: drift, nondeterminism, or a failure."""

from __future__ import annotations

import json
from pathlib import Path

import pygit2
import pytest
from conftest import last_line, run_gitexp, write_files
from run_support import run_json

SEEDED = """\
import random, gitexp
gitexp.seed_everything()
print("score:", random.random())
"""
UNSEEDED = """\
import random
print("score:", random.SystemRandom().random())
"""
THREADS = """\
import os
print("threads:", int(os.environ.get("OMP_NUM_THREADS", "0")))
"""
YAML_MAJOR = """\
import yaml
print("yaml_major:", int(yaml.__version__.split(".")[0]))
"""


def _reproduce(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict, str]:
    proc = run_gitexp("reproduce", *args, "--format", "json", env=env)
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def _rewrite_record(root: Path, name: str, files: dict[str, bytes]) -> None:
    """The experiment as if its environment had been recorded differently (pygit2)."""
    repo = pygit2.Repository(str(root))
    ref = repo.references[f"refs/experiments/{name}"]
    commit = repo[ref.target]
    index = pygit2.Index()
    index.read_tree(commit.tree)
    for path, data in files.items():
        index.add(pygit2.IndexEntry(path, repo.create_blob(data), pygit2.GIT_FILEMODE_BLOB))
    new = repo.create_commit(
        None, commit.author, commit.committer, commit.message, index.write_tree(repo),
        commit.parent_ids,
    )  # fmt: skip
    ref.set_target(new)


def test_a_seeded_script_matches_with_nothing_different(git_repo: Path) -> None:
    write_files(git_repo, {"s.py": SEEDED})
    assert run_gitexp("run", "-n", "seeded", "--", "python", "s.py").returncode == 0
    code, report, stderr = _reproduce("seeded")
    assert code == 0 and report["diagnosis"] == "match"
    assert not any(report["environment_diff"].values())
    assert last_line(stderr) == "gitexp: seeded: metrics match"


def test_a_changed_variable_is_drift_and_named(git_repo: Path) -> None:
    write_files(git_repo, {"t.py": THREADS})
    first = run_gitexp("run", "-n", "threads", "--", "python", "t.py", env={"OMP_NUM_THREADS": "1"})
    assert first.returncode == 0, first.stderr
    assert run_json(git_repo, "threads")["numerics_env"]["OMP_NUM_THREADS"] == "1"
    code, report, stderr = _reproduce("threads", env={"OMP_NUM_THREADS": "2"})
    assert code == 3 and report["diagnosis"] == "drift"
    assert report["environment_diff"]["env"]["OMP_NUM_THREADS"] == ["1", "2"]
    assert last_line(stderr) == "gitexp: threads: metrics differ; the environment changed"
    table = run_gitexp("reproduce", "threads", env={"OMP_NUM_THREADS": "2"})
    assert "environment (original -> rerun):\n  env OMP_NUM_THREADS: 1 -> 2" in table.stdout


def test_a_package_that_changed_since_the_run_is_named(git_repo: Path) -> None:
    import yaml

    write_files(git_repo, {"y.py": YAML_MAJOR})
    assert run_gitexp("run", "-n", "pkg", "--", "python", "y.py").returncode == 0
    # as if the run had happened with PyYAML 5: its package list and its metric say so
    _rewrite_record(
        git_repo,
        "pkg",
        {
            ".gitexp/env/requirements.txt": b"PyYAML==5.4.1\n",
            ".gitexp/metrics.json": b'{"yaml_major": 5}\n',
        },
    )
    code, report, _ = _reproduce("pkg")
    assert code == 3 and report["diagnosis"] == "drift"
    assert ["pyyaml", "5.4.1", yaml.__version__] in report["environment_diff"]["packages_changed"]


def test_an_unseeded_script_is_nondeterministic_and_repeat_shows_it(git_repo: Path) -> None:
    write_files(git_repo, {"u.py": UNSEEDED})
    assert run_gitexp("run", "-n", "noisy", "--", "python", "u.py").returncode == 0
    code, report, stderr = _reproduce("noisy")
    assert code == 3 and report["diagnosis"] == "nondeterministic"
    assert not any(report["environment_diff"].values())
    code, report, stderr = _reproduce("noisy", "--repeat", "2")
    assert code == 3 and report["diagnosis"] == "nondeterministic"
    assert len(report["repeats"]) == 1 and not report["repeats"][0][0]["ok"]
    assert "the reruns disagree with each other" in last_line(stderr)
    assert report["hints"] == [
        "random is imported: seed it (random.seed(...), or gitexp.seed_everything())"
    ]  # numpy is installed here, but the script never imports it


def test_hints_name_what_the_code_imports_and_leave_out_what_it_seeds(git_repo: Path) -> None:
    """The hints come from the experiment's own sources: imported and unseeded only."""
    noisy_np = (
        "import random\nimport numpy as np\nfrom mylib import draw\n"
        "print('score:', draw() + np.random.default_rng().random())\n"
    )
    write_files(
        git_repo,
        {
            "n.py": noisy_np,
            "mylib/__init__.py": (
                "import random\ndef draw():\n    return random.SystemRandom().random()\n"
            ),
        },
    )
    assert run_gitexp("run", "-n", "np", "--", "python", "n.py").returncode == 0
    code, report, _ = _reproduce("np")
    assert code == 3 and report["diagnosis"] == "nondeterministic"
    assert report["hints"] == [
        "random is imported: seed it (random.seed(...), or gitexp.seed_everything())",
        "numpy is imported: seed it (gitexp.seed_everything(), or `gitexp run --autolog`)",
        "OMP_NUM_THREADS is not set: parallel sums may round differently",
    ]
    # seeded (gitexp.seed_everything() somewhere in the code), still noisy: no seeding hint
    write_files(git_repo, {"n.py": "import gitexp\ngitexp.seed_everything()\n" + noisy_np})
    one = {"OMP_NUM_THREADS": "1"}  # the same for the run and its rerun
    assert run_gitexp("run", "-n", "np2", "--", "python", "n.py", env=one).returncode == 0
    code, report, _ = _reproduce("np2", env=one)
    assert (code, report["diagnosis"], report["hints"]) == (3, "nondeterministic", [])
    # random.seed() seeds random, not NumPy
    write_files(git_repo, {"n.py": "import random\nrandom.seed(1)\n" + noisy_np})
    assert run_gitexp("run", "-n", "np3", "--", "python", "n.py", env=one).returncode == 0
    code, report, _ = _reproduce("np3", env=one)
    assert (code, report["diagnosis"]) == (3, "nondeterministic")
    assert report["hints"] == [
        "numpy is imported: seed it (gitexp.seed_everything(), or `gitexp run --autolog`)"
    ]


def test_a_failed_rerun_says_failed_with_its_error(git_repo: Path) -> None:
    write_files(
        git_repo,
        {"f.py": "import os, sys\nprint('a: 1')\nsys.exit(int(os.environ.get('FAIL', 0)))\n"},
    )
    assert run_gitexp("run", "-n", "flaky", "--", "python", "f.py").returncode == 0
    code, report, stderr = _reproduce("flaky", env={"FAIL": "3"})
    assert code == 1 and report["diagnosis"] == "failed"
    assert last_line(stderr).startswith("gitexp: flaky: rerun failed")


def test_compare_env_shows_the_environment_difference(git_repo: Path) -> None:
    write_files(git_repo, {"t.py": THREADS})
    for name, threads in (("one", "1"), ("two", "2")):
        proc = run_gitexp(
            "run", "-n", name, "--seed", threads, "--", "python", "t.py",
            env={"OMP_NUM_THREADS": threads},
        )  # fmt: skip
        assert proc.returncode == 0
    proc = run_gitexp("compare", "one", "two", "--env")
    assert "environment one -> two\n  env OMP_NUM_THREADS: 1 -> 2" in proc.stdout
    assert "  seed: 1 -> 2" in proc.stdout and "PYTHONHASHSEED" not in proc.stdout  # once
    data = json.loads(run_gitexp("compare", "one", "two", "--env", "--format", "json").stdout)
    assert data["environment_diff"]["two"]["env"]["OMP_NUM_THREADS"] == ["1", "2"]


@pytest.mark.docker
@pytest.mark.slow
def test_a_docker_run_whose_base_image_changed_reports_the_image(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docker_support import BASE_IMAGE, require_docker

    require_docker()
    monkeypatch.setenv("GITEXP_DOCKER_BASE_IMAGE", BASE_IMAGE)
    write_files(git_repo, {"s.py": "print('score: 1')\n"})
    proc = run_gitexp("run", "-n", "boxed", "--docker", "--", "python", "s.py")
    assert proc.returncode == 0, proc.stderr
    record = run_json(git_repo, "boxed")
    real = record["docker"]["base_image_id"]
    record["docker"]["base_image_id"] = "sha256:" + "0" * 64  # as built from an older base
    _rewrite_record(git_repo, "boxed", {".gitexp/run.json": json.dumps(record).encode()})
    code, report, _ = _reproduce("boxed")
    assert code == 0  # same metrics: a different base image is reported, not a failure
    assert report["environment_diff"]["docker"]["base_image_id"] == ["sha256:" + "0" * 64, real]


def test_reruns_that_agree_but_differ_from_the_record_point_at_an_unrecorded_input(
    git_repo: Path,
) -> None:
    """A variable gitexp does not record changed: not the script's randomness."""
    write_files(git_repo, {"s.py": "import os\nprint('score:', float(os.environ['SCALE']))\n"})
    assert (
        run_gitexp("run", "-n", "scaled", "--", "python", "s.py", env={"SCALE": "1"}).returncode
        == 0
    )
    code, report, stderr = _reproduce("scaled", "--repeat", "2", env={"SCALE": "2"})
    assert (code, report["diagnosis"], report["hints"]) == (3, "unrecorded", [])
    assert last_line(stderr) == (
        "gitexp: scaled: metrics differ, but the reruns agree with each other and nothing "
        "recorded changed: an input gitexp does not record changed (an environment variable, "
        "`link:` data, a file outside the repository)"
    )
    code, report, _ = _reproduce("scaled", env={"SCALE": "2"})  # one rerun cannot tell
    assert (code, report["diagnosis"]) == (3, "nondeterministic")


def test_a_seeded_torch_is_asked_for_deterministic_kernels_only(git_repo: Path) -> None:
    script = (
        "import random\nif False:  # read, not run: the hints come from the code\n"
        "    import torch\n    torch.manual_seed(0)\n"
        "print('score:', random.SystemRandom().random())\n"
    )
    write_files(git_repo, {"t.py": script})
    one = {"OMP_NUM_THREADS": "1"}
    assert run_gitexp("run", "-n", "tseed", "--", "python", "t.py", env=one).returncode == 0
    code, report, _ = _reproduce("tseed", env=one)
    assert (code, report["diagnosis"]) == (3, "nondeterministic")
    assert report["hints"] == [
        "random is imported: seed it (random.seed(...), or gitexp.seed_everything())",
        "torch is imported: seeded, but ask for deterministic algorithms "
        "(`gitexp run --deterministic`)",
    ]
