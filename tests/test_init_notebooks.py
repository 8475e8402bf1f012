"""`gitexp init` in a notebook-only project: the notebook is the command.

A notebook with a ``parameters`` cell runs as `gitexp run analysis.ipynb`, that
cell being its params file (docs/notebooks.md), so init writes it as
`command:` and does not send the user to params.yaml. Several notebooks and no
script: init picks none and names the candidates.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from conftest import git, make_repo, run_gitexp
from run_support import run_json
from test_notebook_runs import notebook

ANALYSIS = notebook(
    ("parameters", "lr = 0.01\n"),
    ("", "print(f'accuracy: {lr * 10}')\n"),
)
PLAIN = notebook(("", "print('accuracy: 0.5')\n"))


def _config(root: Path) -> dict[str, object]:
    loaded = yaml.safe_load((root / "gitexp.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_a_notebook_with_a_parameters_cell_is_the_command_and_runs(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"analysis.ipynb": ANALYSIS, "README.md": "demo\n"})
    proc = run_gitexp("init", cwd=root)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == "command: analysis.ipynb (found analysis.ipynb)"
    assert lines[-1] == (
        "next: commit it, then `gitexp run -p key=value` (sets analysis.ipynb's parameters cell)"
    )
    assert "params.yaml" not in proc.stderr
    assert _config(root)["command"] == "analysis.ipynb"

    git(root, "add", "gitexp.yaml")
    git(root, "commit", "-q", "-m", "config")
    ran = run_gitexp("run", "-n", "nb", "-p", "lr=0.05", cwd=root, timeout=300)
    assert ran.returncode == 0, ran.stderr
    record = run_json(root, "nb")
    assert record["params"]["lr"] == 0.05 and record["status"] == "succeeded"


def test_a_tagged_notebook_beats_a_lone_helper_module(tmp_path: Path) -> None:
    files = {"analysis.ipynb": ANALYSIS, "scratch.ipynb": PLAIN, "helpers.py": "X = 1\n"}
    root = make_repo(tmp_path / "r", files)
    proc = run_gitexp("init", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert _config(root)["command"] == "analysis.ipynb"


def test_a_sole_notebook_without_parameters_is_the_command_with_a_hint(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"explore.ipynb": PLAIN})
    proc = run_gitexp("init", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert _config(root)["command"] == "explore.ipynb"
    assert proc.stderr.splitlines()[-1] == (
        "next: commit it, then `gitexp run` (tag a cell of explore.ipynb `parameters` for -p)"
    )


def test_several_notebooks_and_no_script_pick_none_but_name_them(tmp_path: Path) -> None:
    files = {"a.ipynb": PLAIN, "nb/b.ipynb": PLAIN, ".ipynb_checkpoints/a-checkpoint.ipynb": PLAIN}
    root = make_repo(tmp_path / "r", files)
    proc = run_gitexp("init", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0] == (
        "command: none picked; one of the notebooks could be: a.ipynb, nb/b.ipynb "
        "(set `command:` to one, or run `gitexp run NOTEBOOK`)"
    )
    assert _config(root)["command"] is None


def test_a_training_script_still_wins_over_notebooks(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"train.py": "print(1)\n", "analysis.ipynb": ANALYSIS})
    proc = run_gitexp("init", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert _config(root)["command"] == "python train.py"
