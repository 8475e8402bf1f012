"""Zero-code mode in notebook runs: `gitexp run nb.ipynb --autolog` seeds and autologs
in the Jupyter kernel that runs the cells (the hook used to stop at the process that
starts papermill, so the kernel got nothing while run.json said zero_code)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
from conftest import git, run_gitexp
from run_support import metrics_json, run_json, show, tree_files
from test_notebook_runs import notebook

AUTO = notebook(
    ("parameters", "C = 1.0\n"),
    (
        "",
        "import random, sys\n"
        "import numpy as np\n"
        "from sklearn.datasets import make_classification\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "X, y = make_classification(random_state=0)\n"
        "LogisticRegression(C=C).fit(X, y)\n"
        "print('draws', np.random.rand(), random.random())\n"
        "print('loaded', 'gitexp' in sys.modules)\n",
    ),
)


def _draws(root: Path, name: str) -> list[float]:
    nb = json.loads(show(root, name, "auto.ipynb"))
    text = "".join("".join(o.get("text", "")) for o in nb["cells"][-1]["outputs"])
    line = next(ln for ln in text.splitlines() if ln.startswith("draws "))
    return [float(v) for v in line.split()[1:]]


def test_autolog_and_seeding_reach_the_notebooks_kernel(git_repo: Path) -> None:
    (git_repo / "auto.ipynb").write_text(AUTO)
    git(git_repo, "add", "auto.ipynb")
    git(git_repo, "commit", "-q", "-m", "notebook")
    args = ("run", "auto.ipynb", "--autolog", "--seed", "7", "-p", "C=0.5")
    for name in ("nbauto", "again"):
        done = run_gitexp(*args, "-n", name, timeout=300)
        assert done.returncode == 0, done.stderr
    run = run_json(git_repo, "nbauto")
    assert run["zero_code"]["autolog"] == "all"
    assert run["params"]["sklearn.C"] == 0.5  # autolog's record of the fit, in the kernel
    assert "autolog/sklearn-LogisticRegression.pkl" in tree_files(git_repo, "nbauto")
    assert metrics_json(git_repo, "nbauto")["training"]["score"] > 0.5
    numpy_draw, random_draw = _draws(git_repo, "nbauto")
    assert numpy_draw == np.random.RandomState(7).rand()  # seeded before the cell ran
    assert [numpy_draw, random_draw] == _draws(git_repo, "again")  # same seed, same draws
    assert random_draw != random.Random(8).random()


def test_without_autolog_the_kernel_is_left_alone(git_repo: Path) -> None:
    (git_repo / "auto.ipynb").write_text(AUTO)
    git(git_repo, "add", "auto.ipynb")
    git(git_repo, "commit", "-q", "-m", "notebook")
    done = run_gitexp("run", "auto.ipynb", "-n", "plain", "-p", "C=0.5", timeout=300)
    assert done.returncode == 0, done.stderr
    run = run_json(git_repo, "plain")
    assert "zero_code" not in run and "sklearn.C" not in run["params"]
    nb = json.loads(show(git_repo, "plain", "auto.ipynb"))
    assert "loaded False" in "".join("".join(o.get("text", "")) for o in nb["cells"][-1]["outputs"])
