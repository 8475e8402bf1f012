"""The notebook API (`gitexp.experiments`, `history`, `load`) over real runs.

One repository per module, made with the real `gitexp run` (a script that logs
integer and decimal steps, a nested metric, a printed one, and one failing
run); the API is then called in-process, from inside and outside the repo,
and its answers are checked against git and against `gitexp show`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import GIT_ENV, git, make_repo, run_gitexp

import gitexp
from gitexp.common import errors

TRAIN = """\
import sys
import gitexp
p = gitexp.params()
if p.get("fail"):
    sys.exit(1)
for step in range(4):
    gitexp.log_metric("loss", p["lr"] / (step + 1), step=step)
gitexp.log_metric("val/acc", p["model"]["depth"] / 10)
for step in (0.5, 1.5):
    gitexp.log_metric("epoch.frac", step * p["lr"], step=step)
print("printed: 0.25")
"""

RUNS: dict[str, list[str]] = {
    "alpha": ["lr=0.1", "model.depth=3"],
    "beta": ["lr=0.2", "model.depth=6"],
    "gamma": ["lr=0.2", "model.depth=9"],
    "broken": ["+fail=true"],
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The runs above, in order; read-only for the tests (the cache is derived data)."""
    base = tmp_path_factory.mktemp("notebook")
    root = make_repo(
        base / "repo",
        {
            "params.yaml": "lr: 0.1\nmodel:\n  depth: 3\n",
            "train.py": TRAIN,
            "src/util.txt": "helper\n",
        },
    )
    env = {**GIT_ENV, "HOME": str(base), "XDG_CONFIG_HOME": str(base / ".config")}
    for name, overrides in RUNS.items():
        args = [a for o in overrides for a in ("-p", o)]
        proc = run_gitexp(
            "run", "-q", "-n", name, *args, "--", "python", "train.py", cwd=root, env=env
        )
        assert proc.returncode == (1 if name == "broken" else 0), proc.stderr
    return root


def show_json(root: Path, *args: str) -> list[dict[str, Any]]:
    proc = run_gitexp("show", "--format", "json", *args, cwd=root)
    assert proc.returncode == 0, proc.stderr
    rows: list[dict[str, Any]] = json.loads(proc.stdout)
    return rows


def commit_of(root: Path, name: str) -> str:
    return git(root, "rev-parse", f"refs/experiments/{name}").strip()


# experiments()


def test_experiments_from_a_subdirectory(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo / "src")
    exps = gitexp.experiments()
    assert exps.names == ["broken", "gamma", "beta", "alpha"]  # newest first, as `show`
    assert exps.names == [r["name"] for r in show_json(repo)]
    beta = exps["beta"]
    assert beta.commit == commit_of(repo, "beta")
    assert beta.ref == "refs/experiments/beta"
    assert beta.baseline == git(repo, "rev-parse", "HEAD").strip()
    assert beta.status == "succeeded" and exps["broken"].status == "failed"
    assert beta.params == {"lr": 0.2, "model": {"depth": 6}}
    assert beta.metrics == {
        "loss": 0.05,
        "val/acc": 0.6,
        "epoch": {"frac": 0.30000000000000004},
        "printed": 0.25,
    }
    assert isinstance(beta.seed, int)
    assert beta.created.startswith(str(pd.Timestamp.now(tz="UTC").year))


def test_repo_argument_from_outside(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(errors.NotARepositoryError):
        gitexp.experiments()
    assert gitexp.experiments(repo=repo / "src").names == ["broken", "gamma", "beta", "alpha"]
    assert gitexp.load("alpha", repo=str(repo)).params["lr"] == 0.1
    assert list(gitexp.history("alpha", "loss", repo=repo)["step"]) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("kwargs", "cli", "expected"),
    [
        (
            {"filter": "status=succeeded", "sort_by": "val/acc"},
            ["-f", "status=succeeded", "-s", "val/acc"],
            ["alpha", "beta", "gamma"],
        ),
        ({"filter": ["lr>=0.2", "val/acc>0.7"]}, ["-f", "lr>=0.2", "-f", "val/acc>0.7"], ["gamma"]),
        (
            {"sort_by": "loss", "descending": True},
            ["-s", "loss", "--desc"],
            ["gamma", "beta", "alpha", "broken"],  # ties keep newest first
        ),
        (
            {"sort_by": "metrics.val/acc", "descending": True, "limit": 2},
            ["-s", "metrics.val/acc", "--desc", "-n", "2"],
            ["gamma", "beta"],
        ),
        ({"descending": False}, ["--asc"], ["alpha", "beta", "gamma", "broken"]),
        ({"filter": "name~^b"}, ["-f", "name~^b"], ["broken", "beta"]),
        ({"limit": 0}, ["-n", "0"], []),
    ],
)
def test_filters_and_sort_as_show(
    repo: Path, kwargs: dict[str, Any], cli: list[str], expected: list[str]
) -> None:
    assert gitexp.experiments(repo=repo, **kwargs).names == expected
    assert [r["name"] for r in show_json(repo, *cli)] == expected


def test_list_indexing_and_frozen_records(repo: Path) -> None:
    exps = gitexp.experiments(repo=repo, sort_by="val/acc")
    assert len(exps) == 4 and exps[0].name == "alpha" and exps[-1] is exps["broken"]
    sliced = exps[1:3]
    assert isinstance(sliced, type(exps)) and sliced.names == ["beta", "gamma"]
    assert "beta" in exps and "zeta" not in exps and exps[0] in exps
    assert [e.name for e in exps] == exps.names
    assert "4 experiments" in repr(exps)
    with pytest.raises(dataclasses.FrozenInstanceError):
        exps[0].status = "succeeded"  # type: ignore[misc]
    with pytest.raises(KeyError) as info:
        sliced["alpha"]
    assert (
        str(info.value) == "no experiment named 'alpha' in this list (hint: it holds beta, gamma)"
    )
    with pytest.raises(errors.ExperimentNameError, match=r"did you mean 'gamma'\?"):
        sliced["gama"]
    assert exps["gamma"].load().read_text("params.yaml") == "lr: 0.2\nmodel:\n  depth: 9\n"
    assert list(exps["gamma"].history("loss")["value"]) == [0.2, 0.1, 0.2 / 3, 0.05]


def test_to_pandas_columns_and_dtypes(repo: Path) -> None:
    df = gitexp.experiments(repo=repo).to_pandas()
    assert list(df.columns) == [
        "name", "commit", "created", "status", "baseline", "seed",
        "params.lr", "params.model.depth", "params.fail",
        "metrics.loss", "metrics.val/acc", "metrics.printed", "metrics.epoch.frac",
    ]  # fmt: skip
    assert list(df["name"]) == ["broken", "gamma", "beta", "alpha"]
    assert str(df["created"].dt.tz) == "UTC"
    assert df["created"].is_monotonic_decreasing
    assert pd.api.types.is_float_dtype(df["params.lr"])
    assert pd.api.types.is_integer_dtype(df["params.model.depth"])
    assert pd.api.types.is_float_dtype(df["metrics.loss"])
    assert pd.api.types.is_integer_dtype(df["seed"])
    by_name = df.set_index("name")
    assert by_name.loc["beta", "metrics.loss"] == 0.05
    assert by_name.loc["gamma", "metrics.val/acc"] == 0.9
    assert pd.isna(by_name.loc["broken", "metrics.loss"])
    assert by_name.loc["beta", "commit"] == commit_of(repo, "beta")
    assert by_name.loc["broken", "params.fail"] is True
    first_run = json.loads(git(repo, "show", "refs/experiments/alpha:.gitexp/run.json"))
    assert by_name.loc["alpha", "created"] == pd.Timestamp(first_run["started"])


def test_to_pandas_of_nothing_has_the_fixed_columns(repo: Path) -> None:
    df = gitexp.experiments("status=running", repo=repo).to_pandas()
    assert len(df) == 0
    assert list(df.columns) == ["name", "commit", "created", "status", "baseline", "seed"]


def test_bad_queries_fail_with_a_hint(repo: Path) -> None:
    with pytest.raises(errors.UsageError) as info:
        gitexp.experiments(repo=repo, sort_by="los")
    assert str(info.value) == "unknown column 'los' (hint: did you mean 'loss'?)"
    with pytest.raises(errors.UsageError, match="bad filter 'lr'"):
        gitexp.experiments("lr", repo=repo)
    with pytest.raises(errors.UsageError, match="limit must be 0 or more"):
        gitexp.experiments(repo=repo, limit=-1)


def test_missing_pandas_names_the_extra(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` raises ImportError
    exps = gitexp.experiments(repo=repo)
    assert len(exps) == 4  # records need no pandas
    for call in (exps.to_pandas, lambda: gitexp.history("beta", "loss", repo=repo)):
        with pytest.raises(errors.BackendError) as info:
            call()
        assert "pip install 'gitexp[notebook]'" in str(info.value)


# history()


def _tsv(repo: Path, name: str, metric_path: str) -> list[list[str]]:
    text = git(repo, "show", f"refs/experiments/{name}:.gitexp/history/{metric_path}.tsv")
    return [line.split("\t") for line in text.splitlines()[1:]]


def test_history_steps_values_and_times(repo: Path) -> None:
    h = gitexp.history("beta", "loss", repo=repo)
    assert list(h.columns) == ["step", "value", "time"]
    assert str(h["step"].dtype) == "int64" and str(h["value"].dtype) == "float64"
    rows = _tsv(repo, "beta", "loss")
    assert list(h["step"]) == [int(r[0]) for r in rows] == [0, 1, 2, 3]
    assert list(h["value"]) == [float(r[1]) for r in rows]
    assert str(h["time"].dt.tz) == "UTC"
    assert [t.timestamp() for t in h["time"]] == pytest.approx(
        [float(r[2]) for r in rows], abs=1e-3
    )
    run = json.loads(git(repo, "show", "refs/experiments/beta:.gitexp/run.json"))
    assert (
        pd.Timestamp(run["started"])
        <= h["time"].iloc[0]
        <= pd.Timestamp(run["ended"]) + pd.Timedelta("2s")
    )


def test_history_decimal_steps_and_empty_times(repo: Path) -> None:
    frac = gitexp.history("beta", "epoch.frac", repo=repo)
    assert str(frac["step"].dtype) == "float64" and list(frac["step"]) == [0.5, 1.5]
    assert list(frac["value"]) == [0.1, 0.30000000000000004]
    assert gitexp.history("beta", "metrics.epoch.frac", repo=repo).equals(frac)
    printed = gitexp.history("beta", "printed", repo=repo)  # printed lines carry no time
    assert list(printed["value"]) == [0.25] and printed["time"].isna().all()
    nested = gitexp.history("beta", "val/acc", repo=repo)  # a folder in history/
    assert list(nested["value"]) == [0.6]


def test_history_of_every_metric_is_one_long_frame(repo: Path) -> None:
    h = gitexp.history("gamma", repo=repo)
    assert list(h.columns) == ["metric", "step", "value", "time"]
    assert h["metric"].value_counts().to_dict() == {
        "loss": 4,
        "epoch.frac": 2,
        "printed": 1,
        "val/acc": 1,
    }
    assert str(h["step"].dtype) == "float64"  # one series has decimal steps
    loss = h[h["metric"] == "loss"]
    assert list(loss["value"]) == [0.2, 0.1, 0.2 / 3, 0.05]
    empty = gitexp.history("broken", repo=repo)
    assert len(empty) == 0 and list(empty.columns) == ["metric", "step", "value", "time"]


def test_history_by_prefix_ref_and_commit(repo: Path) -> None:
    expected = gitexp.history("alpha", "loss", repo=repo)
    for spec in ("alph", "refs/experiments/alpha", commit_of(repo, "alpha")[:10]):
        assert gitexp.history(spec, "loss", repo=repo).equals(expected)


def test_history_errors_suggest_a_name(repo: Path) -> None:
    with pytest.raises(errors.ExperimentNameError) as info:
        gitexp.history("betta", "loss", repo=repo)
    assert str(info.value) == "no experiment named 'betta' (hint: did you mean 'beta'?)"
    assert info.value.exit_code == errors.EXIT_USAGE
    with pytest.raises(errors.UsageError) as metric:
        gitexp.history("beta", "los", repo=repo)
    assert str(metric.value) == "experiment 'beta' has no metric 'los' (hint: did you mean 'loss'?)"
    with pytest.raises(errors.UsageError, match="'broken' logged no metric series"):
        gitexp.history("broken", "loss", repo=repo)
    with pytest.raises(errors.ExperimentNameError, match="ambiguous: beta, broken"):
        gitexp.history("b", "loss", repo=repo)


# load()


def test_load_record_params_metrics_and_files(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo / "src")
    e = gitexp.load("gamma")
    assert e.run == json.loads(git(repo, "show", "refs/experiments/gamma:.gitexp/run.json"))
    assert e.run["status"] == "succeeded" and e.run["command"] == ["python", "train.py"]
    assert e.params == e.run["params"] == {"lr": 0.2, "model": {"depth": 9}}
    assert e.metrics["loss"] == 0.05 and e.commit == commit_of(repo, "gamma")
    listed = git(repo, "ls-tree", "-r", "--name-only", "refs/experiments/gamma").split()
    assert list(e.files) == sorted(listed)
    assert {"train.py", "src/util.txt", ".gitexp/run.json", ".gitexp/history/val/acc.tsv"} <= set(
        e.files
    )
    assert e.read("src/util.txt") == b"helper\n"
    assert json.loads(e.read("metrics.json")) == e.metrics  # the record's own files by short name
    assert e.read(".gitexp/metrics.json") == e.read("metrics.json")
    assert "printed: 0.25" in e.read_text("output.log")
    assert e.artifacts == () and e.run["artifacts"] == []
    assert gitexp.load(e.commit[:8]) == e


def test_load_errors(repo: Path) -> None:
    e = gitexp.load("beta", repo=repo)
    with pytest.raises(errors.UsageError) as info:
        e.read("trian.py")
    assert (
        str(info.value)
        == "experiment 'beta' has no file 'trian.py' (hint: did you mean 'train.py'?)"
    )
    with pytest.raises(KeyError):
        e.read("src")  # a folder is not a file
    with pytest.raises(errors.ExperimentNameError, match="did you mean 'gamma'"):
        gitexp.load("gama", repo=repo)


@pytest.mark.dvc
def test_load_lists_artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_repo(
        tmp_path / "repo",
        {
            "train.py": """\
                import gitexp
                open("model.pkl", "w").write("w")
                gitexp.log_artifact("model.pkl")
            """
        },
    )
    monkeypatch.chdir(root)
    assert run_gitexp("init", "--dvc").returncode == 0
    git(root, "add", "-A")
    git(root, "commit", "-qm", "dvc")
    proc = run_gitexp("run", "-q", "-n", "art", "--", "python", "train.py")
    assert proc.returncode == 0, proc.stderr
    e = gitexp.load("art")
    assert [a["path"] for a in e.artifacts] == ["model.pkl"]
    assert e.artifacts[0]["md5"] and list(e.artifacts) == e.run["artifacts"]
    assert "model.pkl.dvc" in e.files


# the import stays light


def test_import_gitexp_loads_neither_pandas_nor_pygit2(tmp_path: Path) -> None:
    code = "import sys, gitexp; gitexp.load; print(sorted({'pandas', 'pygit2'} & set(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ),
    )
    assert proc.stdout.strip() == "[]"


# reads from threads (a server): never fork


def _generate(dest: Path, count: int) -> Path:
    """A repository of ``count`` experiments in the real storage format (benchmarks/)."""
    script = Path(__file__).parent.parent / "benchmarks" / "generate.py"
    cmd = [sys.executable, str(script), str(dest), "-n", str(count)]
    subprocess.run(cmd, check=True, capture_output=True)
    return dest


def test_threads_read_serially_and_right(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Six threads, two per repository, all reading 24 uncached commits at once."""

    from gitexp.exploring import summary_cache

    template = _generate(tmp_path / "template", 24)
    expected = show_json(template, "--sort-by", "val.acc")
    shutil.rmtree(template / ".git" / "gitexp")  # `show` warmed it: every read below is cold
    copies = [tmp_path / f"copy{i}" for i in range(3)]
    for copy in copies:
        shutil.copytree(template, copy, symlinks=True)
    monkeypatch.setattr(summary_cache, "PARALLEL_MIN", 8)  # 24 uncached commits: parallel
    forks: list[str] = []

    def no_fork() -> int:
        forks.append(threading.current_thread().name)
        raise OSError("fork refused by the test")

    monkeypatch.setattr(os, "fork", no_fork)
    decided: list[tuple[int, int]] = []
    workers = summary_cache._workers
    monkeypatch.setattr(
        summary_cache, "_workers", lambda n: decided.append((n, workers(n))) or workers(n)
    )
    results: dict[str, Any] = {}
    start = threading.Barrier(6)

    def read(i: int) -> None:
        start.wait()
        root = copies[i % 3]
        exps = gitexp.experiments(repo=root, sort_by="val.acc")
        curve = gitexp.history(exps[0].name, "loss", repo=root)
        results[f"t{i}"] = ([e.name for e in exps], [e.metrics for e in exps], list(curve["step"]))

    threads = [threading.Thread(target=read, args=(i,), name=f"t{i}") for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)  # a deadline only: generous on a loaded machine
    assert forks == []
    assert len([n for n, w in decided if n >= 8]) >= 3 and all(w == 1 for _, w in decided)
    want = ([r["name"] for r in expected], [r["metrics"] for r in expected], list(range(20)))
    assert results == {f"t{i}": want for i in range(6)}


PARALLEL_PROBE = """
import os, sys
from gitexp.exploring import summary_cache
import gitexp
summary_cache.PARALLEL_MIN = 8
forks = []
os.register_at_fork(before=lambda: forks.append(1))
names = gitexp.experiments(repo=sys.argv[1], sort_by="val.acc").names
print(len(forks), names == sys.argv[2].split(","))
"""


def test_the_main_thread_alone_still_forks(tmp_path: Path) -> None:
    """The control for the test above: the same cold read does take the parallel path."""
    root = _generate(tmp_path / "repo", 24)
    expected = ",".join(r["name"] for r in show_json(root, "--sort-by", "val.acc"))
    shutil.rmtree(root / ".git" / "gitexp")
    cmd = [sys.executable, "-c", PARALLEL_PROBE, str(root), expected]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=tmp_path)
    forked, right = proc.stdout.split()
    assert int(forked) >= 2 and right == "True"
