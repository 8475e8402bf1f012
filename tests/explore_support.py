"""A small real study for the show/compare/manage tests.

Four experiments made with the real `gitexp run` once per test session (a
template repository), then copied for every test that needs one, so the
tests that remove, rename or apply never see each other's changes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import GIT_ENV, make_repo, run_gitexp

STUDY_TRAIN = """\
import sys
import gitexp
p = gitexp.params()
if p.get("fail"):
    sys.exit(1)
for step in range(4):
    gitexp.log_metric("loss", p["lr"] / (step + 1), step=step)
gitexp.log_metric("val/acc", p["model"]["depth"] / 10)
"""

# name -> -p overrides; "broken" fails before logging any metric
STUDY: dict[str, list[str]] = {
    "alpha": ["lr=0.1", "model.depth=3"],
    "beta": ["lr=0.2", "model.depth=6"],
    "gamma": ["lr=0.2", "model.depth=9"],
    "broken": ["+fail=true"],
}


def gitexp_ok(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = run_gitexp(*args, cwd=cwd)
    assert proc.returncode == 0, f"gitexp {' '.join(args)} failed:\n{proc.stderr}"
    return proc


def gitexp_json(*args: str, cwd: Path) -> Any:
    return json.loads(gitexp_ok(*args, "--format", "json", cwd=cwd).stdout)


def _build(root: Path, home: Path) -> Path:
    make_repo(
        root,
        {
            "params.yaml": "lr: 0.1\nepochs: 4\nmodel:\n  depth: 3\n",
            "train.py": STUDY_TRAIN,
            ".gitignore": "*.ignored\n",
        },
    )
    env = {**GIT_ENV, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    for name, overrides in STUDY.items():
        args = ["run", "-q", "-n", name]
        for override in overrides:
            args += ["-p", override]
        subprocess.run(
            [sys.executable, "-m", "gitexp", *args, "--", "python", "train.py"],
            cwd=root,
            env={**os.environ, **env},
            capture_output=True,
            check=False,
            timeout=120,
        )
    return root


@pytest.fixture(scope="session")
def study_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("study")
    return _build(base / "repo", base / "home")


@pytest.fixture
def study(study_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the study repository; cwd is its root."""
    root = tmp_path / "study"
    shutil.copytree(study_template, root, symlinks=True)
    monkeypatch.chdir(root)
    return root


def names(rows: list[dict[str, Any]]) -> list[str]:
    return [row["name"] for row in rows]
