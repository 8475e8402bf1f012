"""MLflow's model registry calls under `gitexp run` become gitexp's registry tags.

Real MLflow scripts run by the real `gitexp` CLI in real repositories; the
versions are read back from the git tags, `gitexp model` and GTO itself.
A scikit-learn LinearRegression on six rows keeps each run short.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import git, make_repo, run_gitexp
from run_support import exp_refs, tree_files

# written as MLflow's examples are (sklearn_elasticnet_wine passes registered_model_name)
LOG_MODEL = """\
import numpy as np
import mlflow
import mlflow.sklearn
from sklearn.linear_model import LinearRegression

X = np.arange(12.0).reshape(6, 2)
y = X @ np.array([1.0, 2.0]) + 0.5
with mlflow.start_run():
    model = LinearRegression().fit(X, y)
    mlflow.log_metric("r2", model.score(X, y))
    info = mlflow.sklearn.log_model(
        model, name="model", registered_model_name="wine",
        pip_requirements=["scikit-learn"], serialization_format="pickle",
    )
    print("registered version", info.registered_model_version)
"""

CLIENT = """\
import numpy as np
import mlflow
import mlflow.sklearn
from mlflow import MlflowClient
from sklearn.linear_model import LinearRegression

X = np.arange(12.0).reshape(6, 2)
y = X @ np.array([1.0, 2.0]) + 0.5
client = MlflowClient()
before = client.get_model_version("wine", "1")
print("before", before.version, before.tags["gitexp.experiment"])
with mlflow.start_run() as run:
    model = LinearRegression().fit(X, y)
    mlflow.sklearn.log_model(
        model, name="model", pip_requirements=["scikit-learn"], serialization_format="pickle"
    )
    mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", "wine")
    client.set_registered_model_alias("wine", "champion", mv.version)
    champion = client.get_model_version_by_alias("wine", "champion")
    loaded = mlflow.pyfunc.load_model("models:/wine@champion")
    print("champion", champion.version, round(float(loaded.predict(X[:1])[0]), 6))
    client.create_registered_model("scorer")
    made = client.create_model_version("scorer", f"runs:/{run.info.run_id}/model", run.info.run_id)
    found = client.search_model_versions("name = 'wine'")
    print("scorer", made.version, "wine", sorted(v.version for v in found))
"""

# no scikit-learn: a folder of weights logged as artifacts is the model
WEIGHTS = """\
import os
import sys
import time
import mlflow
from mlflow import MlflowClient

client = MlflowClient()
with mlflow.start_run() as run:
    os.makedirs("weights", exist_ok=True)
    with open("weights/w.txt", "w") as f:
        f.write("0.5\\n")
    mlflow.log_artifacts("weights", "weights")
    source = f"runs:/{run.info.run_id}/weights"
"""

FAILING = (
    WEIGHTS
    + """\
    mv = client.create_model_version("wine", source, run.info.run_id)
    client.set_registered_model_alias("wine", "champion", mv.version)
    sys.exit(3)
"""
)

MISTAKES = (
    WEIGHTS
    + """\
    from mlflow.exceptions import MlflowException

    def attempt(what, call):
        try:
            call()
        except MlflowException as exc:
            print(f"{what}: {type(exc).__name__}: {exc.message}")

    attempt("name", lambda: client.create_registered_model("bad name"))
    attempt("version", lambda: client.create_model_version("-wine", source, run.info.run_id))
    attempt("bucket", lambda: client.create_model_version("wine", "s3://bucket/model"))
    attempt("nothing", lambda: client.create_model_version("wine", source + "/nope"))
    mv = client.create_model_version(
        "wine", source, run.info.run_id, description="weights of the day\\nsecond line"
    )
    attempt("twice", lambda: client.create_model_version("wine", source, run.info.run_id))
    attempt("alias", lambda: client.set_registered_model_alias("wine", "_x", mv.version))
    attempt("stage", lambda: client.transition_model_version_stage("wine", "1", "Production"))
    print("registered", mv.version)
"""
)

WAITING = (
    WEIGHTS
    + """\
    mv = client.create_model_version("wine", source, run.info.run_id)
    signals = sys.argv[1]
    with open(os.path.join(signals, "told.tmp"), "w") as f:
        f.write(mv.version)
    os.rename(os.path.join(signals, "told.tmp"), os.path.join(signals, "told"))  # whole
    while not os.path.exists(os.path.join(signals, "go")):
        time.sleep(0.05)
"""
)

GTO_HINT = (
    "(hint: use letters, digits, '-', '_' and '/', starting and ending with a letter or digit)"
)


def _run(root: Path, name: str, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_gitexp("run", "-n", name, "--", sys.executable, script, *args, cwd=root)


def _tags(root: Path) -> dict[str, str]:
    """Every tag → the commit it is on."""
    names = git(root, "tag", "-l").split()
    return {t: git(root, "rev-parse", f"{t}^{{commit}}").strip() for t in names}


def _models(root: Path) -> dict[str, dict[str, Any]]:
    proc = run_gitexp("model", "list", "--format", "json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    return {m["model"]: m for m in json.loads(proc.stdout)}


def _warnings(stderr: str) -> list[str]:
    """gitexp's warnings about the registry (MLflow's own lines aside)."""
    lines = [line for line in stderr.splitlines() if line.startswith("gitexp: warning: ")]
    return [line for line in lines if "model registry" in line or "model '" in line]


def test_log_model_with_registered_model_name_registers_a_version_per_run(
    tmp_path: Path,
) -> None:
    root = make_repo(tmp_path / "repo", {"train.py": LOG_MODEL})
    first = _run(root, "first", "train.py")
    assert first.returncode == 0, first.stderr
    assert "registered version 1" in first.stdout  # what MLflow told the script
    assert _tags(root) == {"wine@v1.0.0": exp_refs(root)["first"]}
    message = git(root, "tag", "-l", "--format=%(contents)", "wine@v1.0.0")
    assert "experiment: first\npath: mlartifacts/models/model\nstorage: git" in message
    shown = run_gitexp("model", "show", "wine", cwd=root)
    assert "v1.0.0  first  mlartifacts/models/model" in shown.stdout, shown.stdout

    second = _run(root, "second", "train.py")
    assert second.returncode == 0, second.stderr
    assert "registered version 2" in second.stdout
    assert _warnings(second.stderr) == []  # the first run's requests stayed with it
    assert _tags(root)["wine@v2.0.0"] == exp_refs(root)["second"]
    wine = _models(root)["wine"]
    assert (wine["latest"], [v["experiment"] for v in wine["versions"]]) == (
        "v2.0.0",
        ["second", "first"],
    )
    assert not [f for f in tree_files(root, "second") if f.startswith(".gitexp/registry")]
    import gto.api

    assert gto.api.find_latest_version(str(root), "wine").version == "v2.0.0"


@pytest.mark.slow
@pytest.mark.dvc
def test_a_registered_mlflow_model_in_dvc_is_fetched_and_loads(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"train.py": LOG_MODEL})
    assert run_gitexp("init", "--no-hooks", "--dvc", cwd=root).returncode == 0
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "dvc")
    proc = _run(root, "ml", "train.py")
    assert proc.returncode == 0, proc.stderr
    message = git(root, "tag", "-l", "--format=%(contents)", "wine@v1.0.0")
    assert "path: mlartifacts/models/model\nstorage: dvc\nmd5: " in message
    got = run_gitexp("model", "get", "wine", "--version", "v1.0.0", "-o", "fetched", cwd=root)
    assert got.returncode == 0, got.stderr
    check = (
        "import sys, numpy as np, mlflow.sklearn\n"
        "model = mlflow.sklearn.load_model(sys.argv[1])\n"
        "print(round(float(model.predict(np.array([[0.0, 1.0]]))[0]), 6))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", check, str(root / "fetched")],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    assert out.stdout.strip() == "2.5"


def test_register_model_aliases_and_reads_see_the_registry(tmp_path: Path) -> None:
    """A plain script registers nothing; the MLflow script sees the version `gitexp model
    register` made before it, registers the next, and its alias is a gitexp stage."""
    root = make_repo(tmp_path / "repo", {"train.py": CLIENT, "README.md": "weights\n"})
    plain = _run(root, "plain", "-c", "print('plain')")
    assert plain.returncode == 0, plain.stderr
    assert _tags(root) == {}
    assert ".gitexp/registry.json" not in tree_files(root, "plain")
    made = run_gitexp(
        "model", "register", "wine", "--from", "plain", "--path", "README.md",
        "--version", "v1.0.0", cwd=root,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr

    proc = _run(root, "mlf", "train.py")
    assert proc.returncode == 0, proc.stderr
    assert "before 1 plain" in proc.stdout
    assert "champion 2 2.5" in proc.stdout  # models:/wine@champion loaded from the run
    assert "scorer 1 wine ['1', '2']" in proc.stdout
    mlf = exp_refs(root)["mlf"]
    assert _tags(root) == {
        "wine@v1.0.0": exp_refs(root)["plain"],
        "wine@v2.0.0": mlf,
        "wine#champion#1": mlf,
        "scorer@v1.0.0": mlf,
    }
    wine = _models(root)["wine"]
    assert (wine["latest"], wine["stages"]) == ("v2.0.0", {"champion": "v2.0.0"})
    assert _models(root)["scorer"]["versions"][0]["path"] == "mlartifacts/models/model"
    import gto.api

    assert gto.api.find_latest_version(str(root), "wine").version == "v2.0.0"
    assert gto.api.show(str(root))["wine"]["stage"]["champion"] == "v2.0.0"


def test_a_failed_run_registers_nothing_and_says_so(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"train.py": FAILING})
    proc = _run(root, "broken", "train.py")
    assert proc.returncode == 1
    assert _tags(root) == {}
    assert _warnings(proc.stderr) == [
        "gitexp: warning: experiment 'broken' failed: nothing done in the model registry "
        "(register 'wine', set alias 'champion' of 'wine')"
    ]


def test_mistakes_are_refused_at_the_call_with_mlflows_exception(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"train.py": MISTAKES})
    proc = _run(root, "mistakes", "train.py")
    assert proc.returncode == 0, proc.stderr
    hint = GTO_HINT
    said = [line for line in proc.stdout.splitlines() if ": MlflowException: " in line]
    assert said == [
        f"name: MlflowException: invalid model name 'bad name' for gitexp's model registry {hint}",
        f"version: MlflowException: invalid model name '-wine' for gitexp's model registry {hint}",
        "bucket: MlflowException: cannot register 's3://bucket/model' under `gitexp run`: "
        "register a model this run logged (log_model, log_artifact(s), a path in its run dir)",
        f"nothing: MlflowException: cannot register '{_source(proc)}/nope': nothing at "
        "mlartifacts/weights/nope in the run dir",
        "twice: MlflowException: model 'wine' gets a version from this run already: a run "
        "(one commit) holds one version of a model; register another name",
        f"alias: MlflowException: invalid alias '_x' for gitexp's model registry {hint}",
        "stage: MlflowException: MLflow's stages (deprecated by MLflow): not kept by gitexp's "
        "model registry (gitexp: URI); instead, use MlflowClient().set_registered_model_alias("
        "name, alias, version): an alias is a gitexp stage",
    ]
    assert "registered 1" in proc.stdout
    assert list(_tags(root)) == ["wine@v1.0.0"]  # the one good call, and nothing else
    message = git(root, "tag", "-l", "--format=%(contents)", "wine@v1.0.0")
    assert message.startswith("weights of the day\n\ngitexp-model: 1\nexperiment: mistakes\n")
    # a reproduction checks, it does not release: its requests are dropped
    again = run_gitexp("reproduce", "mistakes", "--save", "--allow-empty", cwd=root)
    assert again.returncode == 0, again.stderr
    assert len(exp_refs(root)) == 2
    assert list(_tags(root)) == ["wine@v1.0.0"]


def _source(proc: subprocess.CompletedProcess[str]) -> str:
    """The script's ``runs:/<id>/weights`` (the run id is MLflow's, random)."""
    start = proc.stdout.index("cannot register 'runs:/") + len("cannot register '")
    return proc.stdout[start : proc.stdout.index("/nope", start)]


def test_a_version_taken_meanwhile_goes_to_the_next_number_with_a_warning(
    tmp_path: Path,
) -> None:
    root = make_repo(tmp_path / "repo", {"train.py": WAITING, "README.md": "weights\n"})
    assert _run(root, "plain", "-c", "pass").returncode == 0
    signals = tmp_path / "signals"
    signals.mkdir()
    late = subprocess.Popen(
        [sys.executable, "-m", "gitexp", "run", "-n", "late", "--", sys.executable, "train.py",
         str(signals)],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while not (signals / "told").exists():
            assert late.poll() is None, late.communicate()
            assert time.monotonic() < deadline, "the script never registered"
            time.sleep(0.1)
        assert (signals / "told").read_text() == "1"
        taken = run_gitexp("model", "register", "wine", "--from", "plain", "--path", "README.md",
                           "--bump", "major", cwd=root)  # fmt: skip
        assert taken.returncode == 0, taken.stderr
    finally:
        (signals / "go").touch()
        _, stderr = late.communicate(timeout=240)
    assert late.returncode == 0, stderr
    refs = exp_refs(root)
    assert _tags(root) == {"wine@v1.0.0": refs["plain"], "wine@v2.0.0": refs["late"]}
    assert _warnings(stderr) == [
        "gitexp: warning: model 'wine': v1.0.0, the version the script was told, was taken "
        "meanwhile; experiment 'late' is wine@v2.0.0"
    ]


def test_mlflow_finds_the_registry_store_and_outside_a_run_it_says_what_to_do(
    tmp_path: Path,
) -> None:
    """In a directory of its own: a stale gitexp.egg-info in the cwd would be read first."""
    check = (
        "import gitexp.integrations.mlflow_registry\n"
        "from mlflow import MlflowClient\n"
        "from mlflow.exceptions import MlflowException\n"
        "from mlflow.tracking._model_registry.utils import _get_store\n"
        "print(type(_get_store('gitexp:')).__name__)\n"
        "try:\n"
        "    MlflowClient(registry_uri='gitexp:').create_model_version('wine', 'model')\n"
        "except MlflowException as exc:\n"
        "    print(exc.message)\n"
    )
    run = [sys.executable, "-c", check]
    out = subprocess.run(run, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "GitexpRegistryStore",
        "MLflow's model registry at 'gitexp:' registers the models of a `gitexp run`; "
        "outside one, use `gitexp model register NAME --from EXPERIMENT --path PATH`",
    ]


@pytest.mark.parametrize(
    ("versions", "expected"),
    [([], 1), (["v0.0.1", "v0.3.0"], 1), (["v1.0.0", "v2.1.0"], 3), (["v4.0.0-rc.1"], 5)],
)
def test_mlflows_next_number_is_a_major_bump_of_the_highest_version(
    versions: list[str], expected: int
) -> None:
    from gitexp.integrations import mlflow_versions as V
    from gitexp.registry import tagnames

    assert V.next_number(versions) == expected
    highest = max(versions, key=tagnames.version_key, default=None)
    assert V.semver_of(expected) == tagnames.bump(highest, "major")  # what the runner registers
    assert V.number_of(V.semver_of(expected)) == expected
    assert V.number_of("v1.2.0") is None
