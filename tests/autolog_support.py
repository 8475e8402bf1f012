"""Helpers for the autolog and zero-code tests: a tiny dataset made in the script,
a run of it, and what the experiment recorded, read back with plain git."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from conftest import run_gitexp, write_files
from run_support import exp_refs, run_json, show

DATA = """
import json
import numpy as np
rng = np.random.RandomState(0)
X = rng.rand(120, 4)
y = (X[:, 0] + X[:, 1] + 0.2 * rng.rand(120) > 1.1).astype(int)
Xv = rng.rand(40, 4)
yv = (Xv[:, 0] + Xv[:, 1] > 1.1).astype(int)

def save(**values):
    with open("truth.json", "w") as f:
        json.dump(values, f, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v))
"""


def run_script(repo: Path, script: str, *flags: str, ok: bool = True) -> str:
    write_files(repo, {"train.py": DATA + textwrap.dedent(script)})
    before = set(exp_refs(repo))
    proc = run_gitexp("run", *flags, "--", sys.executable, "train.py", cwd=repo)
    assert (proc.returncode == 0) is ok, proc.stderr
    (name,) = set(exp_refs(repo)) - before
    return name


def read_truth(repo: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(show(repo, name, "truth.json"))
    return data


def logged_params(repo: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = run_json(repo, name).get("logged_params", {})
    return data


def history(repo: Path, name: str, metric: str) -> list[tuple[int, float]]:
    lines = show(repo, name, f".gitexp/history/{metric}.tsv").splitlines()[1:]
    return [(int(s), float(v)) for s, v, _ in (line.split("\t") for line in lines)]


def blob(repo: Path, name: str, path: str) -> bytes:
    return subprocess.run(
        ["git", "show", f"refs/experiments/{name}:{path}"],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout


def model_file(repo: Path, name: str, path: str, tmp_path: Path) -> Path:
    target = tmp_path / Path(path).name
    target.write_bytes(blob(repo, name, path))
    return target


def validation() -> Any:
    namespace: dict[str, Any] = {}
    exec(DATA, namespace)
    return namespace["Xv"]
