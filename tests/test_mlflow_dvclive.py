"""Scripts written for MLflow or DVCLive run unchanged under `gitexp run` and are recorded:
MLflow through gitexp's tracking store (MLFLOW_TRACKING_URI=gitexp:), DVCLive from its files."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import git, make_repo, run_gitexp
from run_support import metrics_json, only_experiment, repo_state, run_json, show, tree_files

REPO_ROOT = Path(__file__).resolve().parents[1]

# written as MLflow's own examples are (sklearn_elasticnet_diabetes, autolog)
MLFLOW_SCRIPT = """\
import numpy as np
import mlflow
import mlflow.sklearn
from sklearn.linear_model import ElasticNet, LinearRegression
from sklearn.metrics import r2_score

rng = np.random.default_rng(0)
X = rng.normal(size=(60, 3))
y = X @ np.array([1.5, -2.0, 0.5]) + rng.normal(scale=0.1, size=60)
alpha, l1_ratio = 0.05, 0.2

mlflow.set_experiment("diabetes")
with mlflow.start_run():
    model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, random_state=42).fit(X, y)
    mlflow.log_param("alpha", alpha)
    mlflow.log_params({"l1_ratio": l1_ratio, "solver": "coordinate descent"})
    for epoch in range(3):
        mlflow.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
    mlflow.log_metric("r2", r2_score(y, model.predict(X)))
    mlflow.set_tag("team", "vision")
    with open("coefficients.txt", "w") as f:
        f.write(" ".join(f"{c:.6f}" for c in model.coef_))
    mlflow.log_artifact("coefficients.txt")
    mlflow.sklearn.log_model(model, name="model")

mlflow.autolog()
LinearRegression().fit(X, y)
"""

DVCLIVE_SCRIPT = """\
from dvclive import Live

with Live() as live:
    live.log_param("epochs", 3)
    live.log_params({"lr": 0.01, "model": {"depth": 4}})
    for epoch in range(3):
        live.log_metric("train/loss", 1.0 / (epoch + 1))
        live.log_metric("acc", 0.5 + epoch / 10)
        live.next_step()
"""


def _dvc_repo(root: Path, files: dict[str, str]) -> Path:
    make_repo(root, files)
    proc = run_gitexp("init", "--no-hooks", "--dvc", cwd=root)
    assert proc.returncode == 0, proc.stderr
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "dvc")
    return root


def _work_tree(root: Path) -> dict[str, object]:
    """What the user sees (tests/run_support.py), less DVC's cache, where artifacts go."""
    state = repo_state(root)
    state["files"] = {k: v for k, v in state["files"].items() if not k.startswith(_DVC_OWN)}
    lines = state["status"].splitlines()
    state["status"] = [line for line in lines if not line[3:].startswith(_DVC_OWN)]
    return state


_DVC_OWN = (".dvc/cache/", ".dvc/tmp/")


def _history(root: Path, name: str, metric: str) -> list[tuple[str, str]]:
    rows = show(root, name, f".gitexp/history/{metric}.tsv").splitlines()[1:]
    return [tuple(row.split("\t")[:2]) for row in rows]  # type: ignore[misc]


@pytest.mark.slow
@pytest.mark.dvc
def test_an_mlflow_example_runs_unchanged_and_is_recorded(
    tmp_path: Path, isolated_env: Path
) -> None:
    root = _dvc_repo(tmp_path / "repo", {"train.py": MLFLOW_SCRIPT})
    before = _work_tree(root)
    proc = run_gitexp("run", "-n", "ml", "--", sys.executable, "train.py", cwd=root, timeout=300)
    assert proc.returncode == 0, proc.stderr
    record = run_json(root, "ml")
    params = record["params"]
    assert {k: params[k] for k in ("alpha", "l1_ratio", "solver")} == {
        "alpha": 0.05,
        "l1_ratio": 0.2,
        "solver": "coordinate descent",
    }
    assert params["mlflow.tags.team"] == "vision"
    assert not any(k.startswith("mlflow.tags.mlflow.") for k in params)  # MLflow's own tags
    # mlflow.autolog(): its run is the script's second, recorded under its name
    assert params["run-2.fit_intercept"] is True
    assert _history(root, "ml", "loss") == [("0", "1.0"), ("1", "0.5"), ("2", "0.3333333333333333")]
    metrics = metrics_json(root, "ml")
    assert metrics["loss"] == pytest.approx(1 / 3) and 0.9 < metrics["r2"] <= 1
    assert metrics["run-2"]["training_r2_score"] > 0.9
    stored = {a["path"]: a["reason"] for a in record["artifacts"]}
    assert stored["mlartifacts/coefficients.txt"] == "logged"
    assert stored["mlartifacts/models/model"] == "logged"  # the MLmodel folder, as one
    assert "mlartifacts/run-2/models/model" in stored
    files = tree_files(root, "ml")
    assert "mlartifacts/models/model.dvc" in files
    assert not [f for f in files if f.split("/")[0] in ("mlruns", "mlflow.db", "mlartifacts")
                and not f.endswith(".dvc")]  # fmt: skip
    # nothing in the work tree, nothing in ~/mlruns
    assert _work_tree(root) == before
    assert not (isolated_env / "mlruns").exists()
    _model_predicts_as_recorded(root, metrics["r2"])


def _model_predicts_as_recorded(root: Path, r2: float) -> None:
    """The logged model, fetched from DVC, loads with MLflow and scores what was recorded."""
    assert run_gitexp("apply", "ml", cwd=root).returncode == 0
    subprocess.run(["dvc", "checkout", "-q", "mlartifacts/models/model.dvc"], cwd=root, check=True)
    assert (root / "mlartifacts/models/model/MLmodel").is_file()
    check = (
        "import sys, numpy as np, mlflow.sklearn\n"
        "from sklearn.metrics import r2_score\n"
        "rng = np.random.default_rng(0)\n"
        "X = rng.normal(size=(60, 3))\n"
        "y = X @ np.array([1.5, -2.0, 0.5]) + rng.normal(scale=0.1, size=60)\n"
        "model = mlflow.sklearn.load_model(sys.argv[1])\n"
        "print(repr(r2_score(y, model.predict(X))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", check, str(root / "mlartifacts/models/model")],
        capture_output=True, text=True, check=True, cwd=root,
    )  # fmt: skip
    assert float(out.stdout) == r2


NESTED = """\
import mlflow

with mlflow.start_run():
    mlflow.log_param("lr", 0.1)
    mlflow.log_metric("acc", 0.5)
    for fold in range(2):
        with mlflow.start_run(run_name="fold", nested=True) as child:
            mlflow.log_param("lr", 0.2 + fold)
            mlflow.log_metric("acc", 0.6 + fold / 10, step=fold)
    run = mlflow.get_run(mlflow.active_run().info.run_id)
    print("read back", run.data.params["lr"], run.data.metrics["acc"])
"""


def test_nested_mlflow_runs_record_under_their_names(git_repo: Path) -> None:
    (git_repo / "nested.py").write_text(NESTED)
    proc = run_gitexp("run", "-n", "nest", "--", sys.executable, "nested.py", cwd=git_repo)
    assert proc.returncode == 0, proc.stderr
    params = run_json(git_repo, "nest")["params"]
    assert (params["lr"], params["fold.lr"], params["fold-2.lr"]) == (0.1, 0.2, 1.2)
    metrics = metrics_json(git_repo, "nest")
    assert (metrics["acc"], metrics["fold"]["acc"], metrics["fold-2"]["acc"]) == (0.5, 0.6, 0.7)
    assert _history(git_repo, "nest", "fold-2.acc") == [("1", "0.7")]
    assert "read back 0.1 0.5" in show(git_repo, "nest", ".gitexp/output.log")
    assert not any(f.startswith(("mlruns", "mlartifacts")) for f in tree_files(git_repo, "nest"))


def test_mlflow_async_logging_loses_nothing_at_exit(git_repo: Path) -> None:
    """MLflow flushes its async queue at exit, after the tracking library's last flush
    would have run: the store logs at once instead."""
    (git_repo / "fast.py").write_text(
        "import mlflow\nmlflow.config.enable_async_logging()\nwith mlflow.start_run():\n"
        "    for i in range(2000):\n        mlflow.log_metric('x', i, step=i)\n"
    )
    proc = run_gitexp("run", "-n", "fast", "--", sys.executable, "fast.py", cwd=git_repo)
    assert proc.returncode == 0, proc.stderr
    assert len(_history(git_repo, "fast", "x")) == 2000
    assert metrics_json(git_repo, "fast") == {"x": 1999.0}


def test_a_script_that_sets_its_own_tracking_uri_is_honoured_and_told(git_repo: Path) -> None:
    (git_repo / "own.py").write_text(
        "import mlflow\nmlflow.set_tracking_uri('http://127.0.0.1:9')\nprint('set')\n"
    )
    proc = run_gitexp("run", "-n", "own", "--", sys.executable, "own.py", cwd=git_repo)
    assert proc.returncode == 0, proc.stderr
    assert (
        "gitexp: warning: the script set MLflow's tracking URI to 'http://127.0.0.1:9'; its "
        "MLflow runs went there, not into this experiment (see docs/integrations.md)"
    ) in proc.stderr


def test_mlflow_finds_the_stores_whichever_is_imported_first() -> None:
    """MLflow loads the entry points while it is imported; importing the store module
    first must not leave it half-loaded and unregistered. `import gitexp` loads no MLflow."""
    check = (
        "import sys, gitexp, gitexp.integrations\n"
        "assert 'mlflow' not in sys.modules\n"
        "import gitexp.integrations.mlflow_store\n"
        "from mlflow.tracking._tracking_service.utils import _get_store\n"
        "from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository\n"
        "print(type(_get_store('gitexp:')).__name__, "
        "type(get_artifact_repository('gitexp:/mlartifacts')).__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", check], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["GitexpStore", "GitexpArtifactRepository"]


def test_the_container_wheel_lets_mlflow_find_the_stores(tmp_path: Path) -> None:
    """The Docker image installs this wheel: its entry points are pyproject's, and an
    installed copy lists them where MLflow looks (importlib.metadata)."""
    from gitexp.running.executors.wheel import gitexp_wheel

    filename, data = gitexp_wheel()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        [path] = [n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt")]
        text = zf.read(path).decode()
    groups = _declared_entry_points(REPO_ROOT / "pyproject.toml")
    assert groups == {
        "mlflow.tracking_store": {"gitexp": "gitexp.integrations.mlflow_store:tracking_store"},
        "mlflow.artifact_repository": {
            "gitexp": "gitexp.integrations.mlflow_store:artifact_repository"
        },
        "mlflow.model_registry_store": {
            "gitexp": "gitexp.integrations.mlflow_registry:registry_store"
        },
    }
    wheel = tmp_path / filename
    wheel.write_bytes(data)
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
    subprocess.run([*pip, "--target", str(target), str(wheel)], check=True)
    from importlib import metadata

    [dist] = [d for d in metadata.distributions(path=[str(target)]) if d.name == "gitexp"]
    listed = sorted((e.group, e.name, e.value) for e in dist.entry_points)
    assert listed == sorted((g, n, v) for g, eps in groups.items() for n, v in eps.items())
    assert text == dist.read_text("entry_points.txt")


def test_a_dvclive_script_runs_unchanged_and_is_recorded(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"train.py": DVCLIVE_SCRIPT})
    before = repo_state(root)
    proc = run_gitexp("run", "-n", "live", "--", sys.executable, "train.py", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert _history(root, "live", "train/loss") == [
        ("0", "1.0"), ("1", "0.5"), ("2", "0.3333333333333333"),
    ]  # fmt: skip
    assert _history(root, "live", "acc") == [("0", "0.5"), ("1", "0.6"), ("2", "0.7")]
    metrics = metrics_json(root, "live")
    assert metrics == {"train/loss": pytest.approx(1 / 3), "acc": 0.7}  # not DVCLive's "step"
    params = run_json(root, "live")["params"]
    assert (params["epochs"], params["lr"], params["model"]) == (3, 0.01, {"depth": 4})
    assert repo_state(root) == before


def test_a_dvclive_folder_of_its_own_name_is_found(tmp_path: Path) -> None:
    script = DVCLIVE_SCRIPT.replace("Live()", 'Live(dir="results/live")')
    root = make_repo(tmp_path / "repo", {"src/train.py": script})
    proc = run_gitexp("run", "-n", "own", "--", sys.executable, "src/train.py", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "results/live/plots/metrics/acc.tsv" in tree_files(root, "own")
    assert _history(root, "own", "acc")[-1] == ("2", "0.7")


def test_dvclive_output_committed_with_the_code_is_not_this_runs(tmp_path: Path) -> None:
    """A DVC project commits dvclive/ with its code: a run that does not write it again
    does not report the old numbers as its own."""
    stale = {
        "dvclive/metrics.json": json.dumps({"acc": 0.99, "step": 9}),
        "dvclive/params.yaml": "lr: 9\n",
        "dvclive/plots/metrics/acc.tsv": "step\tacc\n9\t0.99\n",
        "train.py": "import gitexp\ngitexp.log_metric('acc', 0.5)\n",
    }
    root = make_repo(tmp_path / "repo", stale)
    proc = run_gitexp("run", "-n", "plain", "--", sys.executable, "train.py", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert metrics_json(root, "plain") == {"acc": 0.5}
    assert "lr" not in run_json(root, "plain")["params"]


def test_dvclive_series_win_over_the_librarys_of_the_same_name(tmp_path: Path) -> None:
    script = "import gitexp\ngitexp.log_metric('acc', 0.1, step=0)\n" + DVCLIVE_SCRIPT
    root = make_repo(tmp_path / "repo", {"train.py": script})
    proc = run_gitexp("run", "-n", "both", "--", sys.executable, "train.py", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert _history(root, "both", "acc") == [("0", "0.5"), ("1", "0.6"), ("2", "0.7")]


def test_dvclive_in_the_default_run_dir_leaves_the_repository_alone(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"train.py": DVCLIVE_SCRIPT})
    before = _git_dir(root)
    proc = run_gitexp("run", "-n", "live", "--", sys.executable, "train.py", cwd=root)
    assert _git_dir(root) == before  # DVCLive ran `dvc init` in .git/: .dvc, .dvcignore
    assert proc.returncode == 0, proc.stderr
    assert only_experiment(root) == "live"


def _git_dir(root: Path) -> list[str]:
    return sorted(p.name for p in (root / ".git").iterdir() if p.name != "gitexp")


def _declared_entry_points(pyproject: Path) -> dict[str, dict[str, str]]:
    """pyproject.toml's ``[project.entry-points."mlflow.*"]`` tables (tomllib is 3.11+)."""
    tables = re.findall(r'^\[project\.entry-points\."(mlflow\.[\w.]+)"\]\n((?:.+\n)+)',
                        pyproject.read_text(), re.M)  # fmt: skip
    pairs = {g: re.findall(r'^(\S+) = "(.+)"$', body, re.M) for g, body in tables}
    return {g: dict(p) for g, p in pairs.items()}
