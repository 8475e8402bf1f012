"""What an in-process run says is said in Python's words: a taken name asks for
``name=``, the no-metrics advice names log_metric (not gitexp.yaml), autolog's model
is named by its path in the commit; and nothing of gitexp's bookkeeping is committed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from run_support import tree_files


def _script(root: Path, code: str) -> subprocess.CompletedProcess[str]:
    (root / "exp.py").write_text(code)
    return subprocess.run(
        [sys.executable, "exp.py"], cwd=root, capture_output=True, text=True, check=False
    )


def test_a_taken_name_hints_name_none_or_remove(git_repo: Path) -> None:
    code = "import gitexp\nwith gitexp.start_run(name='twice'):\n    gitexp.log_metric('m', 1)\n"
    assert _script(git_repo, code).returncode == 0
    proc = _script(git_repo, code)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (
        "gitexp.common.errors.ExperimentNameError: experiment name 'twice' is taken "
        "(hint: pass another name=, or name=None for a generated one, "
        "or remove it first: gitexp remove twice)"
    )


def test_no_metrics_advice_fits_a_run_started_from_python(git_repo: Path) -> None:
    proc = _script(git_repo, "import gitexp\nwith gitexp.start_run(name='quiet'):\n    pass\n")
    assert proc.returncode == 0, proc.stderr
    assert (
        "gitexp: warning: no metrics were recorded; call gitexp.log_metric(name, value) "
        "inside the run to capture them"
    ) in proc.stderr
    assert "gitexp.yaml" not in proc.stderr


def test_autolog_model_is_named_by_its_committed_path(git_repo: Path) -> None:
    code = """\
import gitexp
gitexp.autolog()
from sklearn.linear_model import LogisticRegression
with gitexp.start_run(name="auto1"):
    LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
"""
    proc = _script(git_repo, code)
    assert proc.returncode == 0, proc.stderr
    assert "gitexp: warning: autolog/sklearn-LogisticRegression.pkl (" in proc.stderr
    assert ".git/gitexp" not in proc.stderr
    files = tree_files(git_repo, "auto1")
    assert "autolog/sklearn-LogisticRegression.pkl" in files
    assert not [f for f in files if f.startswith(".git/") or f.endswith("owner.json")]
