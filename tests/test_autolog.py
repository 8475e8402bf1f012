"""Autolog (issue 20): scikit-learn, XGBoost and LightGBM recorded without glue code,
zero-code mode (`gitexp run --autolog`) and seeding without code.

Every test trains on a tiny dataset made in the script, inside a real
`gitexp run`, and compares what the experiment recorded with the
framework's own record, which the script writes to `truth.json`.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
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

import gitexp
from gitexp.common.mappings import flatten

pytest.importorskip("sklearn")

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


def _run(repo: Path, script: str, *flags: str, ok: bool = True) -> str:
    write_files(repo, {"train.py": DATA + textwrap.dedent(script)})
    before = set(exp_refs(repo))
    proc = run_gitexp("run", *flags, "--", sys.executable, "train.py", cwd=repo)
    assert (proc.returncode == 0) is ok, proc.stderr
    (name,) = set(exp_refs(repo)) - before
    return name


def _truth(repo: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(show(repo, name, "truth.json"))
    return data


def _logged(repo: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = run_json(repo, name).get("logged_params", {})
    return data


def _history(repo: Path, name: str, metric: str) -> list[tuple[int, float]]:
    lines = show(repo, name, f".gitexp/history/{metric}.tsv").splitlines()[1:]
    return [(int(s), float(v)) for s, v, _ in (line.split("\t") for line in lines)]


def _blob(repo: Path, name: str, path: str) -> bytes:
    return subprocess.run(
        ["git", "show", f"refs/experiments/{name}:{path}"],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout


def _model_file(repo: Path, name: str, path: str, tmp_path: Path) -> Path:
    target = tmp_path / Path(path).name
    target.write_bytes(_blob(repo, name, path))
    return target


# --- scikit-learn -----------------------------------------------------------------


def test_sklearn_fit_records_params_training_score_and_a_model_that_predicts_the_same(
    git_repo: Path, tmp_path: Path
) -> None:
    name = _run(
        git_repo,
        """
        import gitexp
        gitexp.autolog()
        from sklearn.linear_model import LogisticRegression
        clf = LogisticRegression(C=0.5, max_iter=200).fit(X, y)
        save(params=clf.get_params(), score=clf.score(X, y), pred=clf.predict_proba(Xv))
        """,
    )
    truth = _truth(git_repo, name)
    logged = _logged(git_repo, name)
    assert {k: v for k, v in logged.items() if k.startswith("sklearn.")} == {
        f"sklearn.{k}": v for k, v in truth["params"].items()
    }
    assert logged["sklearn.C"] == 0.5
    assert metrics_json(git_repo, name)["training"]["score"] == pytest.approx(truth["score"])
    path = "autolog/sklearn-LogisticRegression.pkl"
    assert path in tree_files(git_repo, name)  # in git: no DVC here (see the dvc test)
    model = pickle.loads(_blob(git_repo, name, path))
    from sklearn.linear_model import LogisticRegression

    assert isinstance(model, LogisticRegression)
    assert model.predict_proba(_validation()).tolist() == truth["pred"]


def _validation() -> Any:
    namespace: dict[str, Any] = {}
    exec(DATA, namespace)
    return namespace["Xv"]


def test_a_pipeline_is_one_record_with_its_steps_params(git_repo: Path) -> None:
    name = _run(
        git_repo,
        """
        import gitexp
        gitexp.autolog()
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC
        pipe = Pipeline([("scale", StandardScaler()), ("svc", SVC(C=2.0))]).fit(X, y)
        save(score=pipe.score(X, y))
        """,
    )
    logged = _logged(git_repo, name)
    assert logged["sklearn.svc__C"] == 2.0 and logged["sklearn.scale__with_mean"] is True
    assert "sklearn.C" not in logged and "sklearn.with_mean" not in logged  # steps not alone
    assert _history(git_repo, name, "training.score") == [
        (0, pytest.approx(_truth(git_repo, name)["score"]))
    ]
    files = tree_files(git_repo, name)
    assert "autolog/sklearn-Pipeline.pkl" in files
    assert not any(f.startswith("autolog/sklearn-SVC") for f in files)


def test_grid_search_records_best_params_best_score_and_the_candidates_table(
    git_repo: Path,
) -> None:
    name = _run(
        git_repo,
        """
        import gitexp
        gitexp.autolog()
        from sklearn.model_selection import GridSearchCV
        from sklearn.tree import DecisionTreeClassifier
        search = GridSearchCV(
            DecisionTreeClassifier(random_state=0),
            {"max_depth": [1, 2, 3], "criterion": ["gini", "entropy"]},
            cv=3,
        ).fit(X, y)
        save(best=search.best_params_, score=search.best_score_,
             mean=search.cv_results_["mean_test_score"], rank=search.cv_results_["rank_test_score"])
        """,
    )
    truth = _truth(git_repo, name)
    logged = _logged(git_repo, name)
    assert {k: v for k, v in logged.items() if k.startswith("sklearn.best.")} == {
        f"sklearn.best.{k}": v for k, v in truth["best"].items()
    }
    assert logged["sklearn.cv"] == 3
    assert "sklearn.max_depth" not in logged  # the six candidates' fits are not recorded
    assert metrics_json(git_repo, name)["best_cv_score"] == pytest.approx(truth["score"])
    import csv
    import io

    table = show(git_repo, name, "autolog/sklearn-GridSearchCV-cv_results.csv")
    rows = list(csv.DictReader(io.StringIO(table)))
    assert len(rows) == 6
    assert [float(r["mean_test_score"]) for r in rows] == pytest.approx(truth["mean"])
    assert [int(r["rank_test_score"]) for r in rows] == truth["rank"]
    assert {r["param_max_depth"] for r in rows} == {"1", "2", "3"}
    assert "autolog/sklearn-GridSearchCV.pkl" in tree_files(git_repo, name)


# --- XGBoost ----------------------------------------------------------------------


def test_xgb_train_records_params_every_iteration_best_iteration_and_the_model(
    git_repo: Path, tmp_path: Path
) -> None:
    pytest.importorskip("xgboost")
    name = _run(
        git_repo,
        """
        import gitexp
        gitexp.autolog()
        import xgboost as xgb
        dtrain, dvalid = xgb.DMatrix(X, label=y), xgb.DMatrix(Xv, label=yv)
        params = {"max_depth": 3, "eta": 0.3, "objective": "binary:logistic",
                  "eval_metric": "logloss"}
        evals = {}
        booster = xgb.train(params, dtrain, 50, evals=[(dtrain, "train"), (dvalid, "valid")],
                            early_stopping_rounds=3, evals_result=evals, verbose_eval=False)
        config = json.loads(booster.save_config())["learner"]["gradient_booster"]
        config = config["tree_train_param"]
        save(evals=evals, best=booster.best_iteration, score=booster.best_score,
             rounds=booster.num_boosted_rounds(), config=config, pred=booster.predict(dvalid))
        """,
    )
    truth = _truth(git_repo, name)
    logged = _logged(git_repo, name)
    assert logged["xgboost.max_depth"] == int(truth["config"]["max_depth"]) == 3
    assert logged["xgboost.eta"] == pytest.approx(float(truth["config"]["eta"]))
    assert logged["xgboost.num_boost_round"] == 50
    assert logged["xgboost.early_stopping_rounds"] == 3
    for data in ("train", "valid"):
        series = _history(git_repo, name, f"{data}.logloss")
        assert len(series) == truth["rounds"] < 50  # early stopping cut it short
        assert [s for s, _ in series] == list(range(truth["rounds"]))
        assert [v for _, v in series] == pytest.approx(truth["evals"][data]["logloss"])
    metrics = metrics_json(git_repo, name)
    assert metrics["best_iteration"] == truth["best"]
    assert metrics["best_score"] == pytest.approx(truth["score"])
    import xgboost as xgb

    booster = xgb.Booster(
        model_file=str(_model_file(git_repo, name, "autolog/xgboost-Booster.json", tmp_path))
    )
    assert booster.predict(xgb.DMatrix(_validation())).tolist() == pytest.approx(truth["pred"])


def test_xgb_sklearn_api_records_get_params_and_evals_result(
    git_repo: Path, tmp_path: Path
) -> None:
    pytest.importorskip("xgboost")
    name = _run(
        git_repo,
        """
        import gitexp
        import xgboost as xgb
        def fit():
            return xgb.XGBClassifier(n_estimators=20, max_depth=2, learning_rate=0.2).fit(
                X, y, eval_set=[(X, y), (Xv, yv)], verbose=False)
        gitexp.autolog()
        model = fit()
        gitexp.autolog(disable=True)
        plain = fit()
        assert (plain.predict_proba(Xv) == model.predict_proba(Xv)).all()  # results unchanged
        save(params={k: v for k, v in model.get_params().items() if v is not None},
             evals=model.evals_result(), pred=model.predict_proba(Xv))
        """,
    )
    truth = _truth(git_repo, name)
    logged = _logged(git_repo, name)
    xgb_params = {k[len("xgboost.") :]: v for k, v in logged.items() if k.startswith("xgboost.")}
    assert xgb_params.keys() == truth["params"].keys()
    assert xgb_params["max_depth"] == 2 and xgb_params["n_estimators"] == 20
    assert not any(k.startswith("sklearn.") for k in logged)
    for data in ("validation_0", "validation_1"):
        series = _history(git_repo, name, f"{data}.logloss")
        assert [v for _, v in series] == pytest.approx(truth["evals"][data]["logloss"])
        assert len(series) == 20
    import xgboost as xgb

    loaded = xgb.XGBClassifier()
    loaded.load_model(_model_file(git_repo, name, "autolog/xgboost-XGBClassifier.json", tmp_path))
    assert loaded.predict_proba(_validation()).ravel().tolist() == pytest.approx(
        [p for row in truth["pred"] for p in row]
    )


def test_a_search_over_xgboost_is_recorded_once_by_the_search(git_repo: Path) -> None:
    pytest.importorskip("xgboost")
    name = _run(
        git_repo,
        """
        import gitexp
        gitexp.autolog()
        import xgboost as xgb
        from sklearn.model_selection import GridSearchCV
        GridSearchCV(xgb.XGBClassifier(n_estimators=5), {"max_depth": [1, 2]}, cv=2).fit(X, y)
        """,
    )
    logged = _logged(git_repo, name)
    assert logged["sklearn.best.max_depth"] in (1, 2)
    assert not any(k.startswith("xgboost.") for k in logged)
    assert not any(".logloss" in f for f in tree_files(git_repo, name))


# --- LightGBM ---------------------------------------------------------------------


def test_lgb_train_records_booster_params_iterations_and_early_stopping(
    git_repo: Path, tmp_path: Path
) -> None:
    pytest.importorskip("lightgbm")
    name = _run(
        git_repo,
        """
        import gitexp
        gitexp.autolog()
        import lightgbm as lgb
        train, valid = lgb.Dataset(X, label=y), lgb.Dataset(Xv, label=yv)
        evals = {}
        params = {"objective": "binary", "num_leaves": 5, "learning_rate": 0.3, "verbose": -1}
        booster = lgb.train(params, train, 60, valid_sets=[train, valid],
                            valid_names=["train", "valid"],
                            callbacks=[lgb.record_evaluation(evals),
                                       lgb.early_stopping(3, verbose=False)])
        save(params=booster.params, evals=evals, best=booster.best_iteration,
             best_score=booster.best_score, pred=booster.predict(Xv))
        """,
    )
    truth = _truth(git_repo, name)
    logged = _logged(git_repo, name)
    assert {k[len("lightgbm.") :]: v for k, v in logged.items()} == truth["params"]
    assert logged["lightgbm.num_leaves"] == 5
    for data in ("train", "valid"):
        series = _history(git_repo, name, f"{data}.binary_logloss")
        expected = truth["evals"][data]["binary_logloss"]
        assert len(series) == len(expected) < 60
        assert [v for _, v in series] == pytest.approx(expected)
    metrics = flatten(metrics_json(git_repo, name))
    assert metrics["best_iteration"] == truth["best"] > 0
    assert metrics["best.valid.binary_logloss"] == pytest.approx(
        truth["best_score"]["valid"]["binary_logloss"]
    )
    import lightgbm as lgb

    model = _model_file(git_repo, name, "autolog/lightgbm-Booster.txt", tmp_path)
    assert lgb.Booster(model_file=str(model)).predict(_validation()).tolist() == pytest.approx(
        truth["pred"]
    )


def test_lgb_sklearn_api_records_get_params_and_evals_result(
    git_repo: Path, tmp_path: Path
) -> None:
    pytest.importorskip("lightgbm")
    name = _run(
        git_repo,
        """
        import gitexp
        gitexp.autolog()
        import lightgbm as lgb
        model = lgb.LGBMRegressor(n_estimators=15, num_leaves=4, verbose=-1).fit(
            X, X[:, 0], eval_set=[(Xv, Xv[:, 0])])
        save(params={k: v for k, v in model.get_params().items() if v is not None},
             evals=model.evals_result_, pred=model.predict(Xv))
        """,
    )
    truth = _truth(git_repo, name)
    logged = _logged(git_repo, name)
    assert {k[len("lightgbm.") :] for k in logged if k.startswith("lightgbm.")} == set(
        truth["params"]
    )
    assert logged["lightgbm.num_leaves"] == 4
    series = _history(git_repo, name, "valid_0.l2")
    assert [s for s, _ in series] == list(range(15))
    assert [v for _, v in series] == pytest.approx(truth["evals"]["valid_0"]["l2"])
    import lightgbm as lgb

    model = _model_file(git_repo, name, "autolog/lightgbm-LGBMRegressor.txt", tmp_path)
    assert lgb.Booster(model_file=str(model)).predict(_validation()).tolist() == pytest.approx(
        truth["pred"]
    )


@pytest.mark.dvc
def test_with_dvc_the_model_is_a_dvc_artifact_that_pulls_back(
    git_repo: Path, tmp_path: Path
) -> None:
    pytest.importorskip("lightgbm")
    store = tmp_path / "dvc-store"
    init = run_gitexp("init", "--no-hooks", "--dvc", "--dvc-remote", str(store), cwd=git_repo)
    assert init.returncode == 0, init.stderr
    name = _run(
        git_repo,
        """
        import gitexp
        gitexp.autolog()
        import lightgbm as lgb
        model = lgb.LGBMClassifier(n_estimators=10, verbose=-1).fit(X, y)
        save(pred=model.predict_proba(Xv)[:, 1])
        """,
    )
    path = "autolog/lightgbm-LGBMClassifier.txt"
    (artifact,) = run_json(git_repo, name)["artifacts"]
    assert (artifact["path"], artifact["reason"]) == (path, "logged")
    assert path + ".dvc" in tree_files(git_repo, name) and path not in tree_files(git_repo, name)
    out = tmp_path / "out"
    proc = run_gitexp("artifacts", "pull", name, "-o", str(out), "--path", path, cwd=git_repo)
    assert proc.returncode == 0, proc.stderr
    import lightgbm as lgb

    booster = lgb.Booster(model_file=str(out / path))
    assert booster.predict(_validation()).tolist() == pytest.approx(_truth(git_repo, name)["pred"])


# --- switching on and off ---------------------------------------------------------


def test_disable_restores_every_original_function() -> None:
    pytest.importorskip("xgboost")
    pytest.importorskip("lightgbm")
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    originals = {
        "lr": LogisticRegression.__dict__["fit"],
        "search": GridSearchCV.fit,
        "xgb": xgb.train,
        "xgb.sklearn": xgb.sklearn.train,
        "xgbc": xgb.XGBClassifier.__dict__["fit"],
        "lgb": lgb.train,
        "lgbm": lgb.LGBMClassifier.__dict__["fit"],
    }
    finders = list(sys.meta_path)

    def now() -> dict[str, Any]:
        return {
            "lr": LogisticRegression.__dict__["fit"],
            "search": GridSearchCV.fit,
            "xgb": xgb.train,
            "xgb.sklearn": xgb.sklearn.train,
            "xgbc": xgb.XGBClassifier.__dict__["fit"],
            "lgb": lgb.train,
            "lgbm": lgb.LGBMClassifier.__dict__["fit"],
        }

    try:
        assert gitexp.autolog() == ["sklearn", "xgboost", "lightgbm"]
        patched = now()
        assert all(patched[k] is not originals[k] for k in originals), patched
        assert xgb.training.train is xgb.train  # every reference, not one
    finally:
        gitexp.autolog(disable=True)
    assert now() == originals
    assert sys.meta_path == finders


def test_autolog_imports_no_framework_and_hooks_it_when_the_script_does(tmp_path: Path) -> None:
    pytest.importorskip("xgboost")
    proc = _python(
        tmp_path,
        """
        import sys, gitexp
        print(gitexp.autolog(frameworks=["xgboost", "lightgbm"]))
        print(sorted(m for m in ("xgboost", "lightgbm", "sklearn") if m in sys.modules))
        import xgboost
        print(getattr(xgboost.train, "__gitexp_autolog__", False), xgboost.train.__module__)
        gitexp.autolog(disable=True)
        print(getattr(xgboost.train, "__gitexp_autolog__", False))
        """,
    )
    assert proc.stdout.splitlines() == [
        "['xgboost', 'lightgbm']",
        "[]",
        "True xgboost.training",
        "False",
    ]


def test_an_unsupported_version_is_one_warning_and_no_hook(tmp_path: Path) -> None:
    pytest.importorskip("xgboost")
    proc = _python(
        tmp_path,
        """
        import xgboost, gitexp
        xgboost.__version__ = "1.3.0"
        gitexp.autolog()
        print(getattr(xgboost.train, "__gitexp_autolog__", False))
        """,
    )
    assert proc.stdout.strip() == "False"
    warnings = [line for line in proc.stderr.splitlines() if "autolog" in line]
    assert warnings == [
        "gitexp: warning: autolog: xgboost 1.3.0 (needs >= 1.6) is not supported; not recorded"
    ]


def test_a_framework_named_but_missing_is_skipped_and_a_typo_is_refused(tmp_path: Path) -> None:
    proc = _python(
        tmp_path,
        """
        import sys, gitexp
        sys.modules["lightgbm"] = None  # what Python does for a module that cannot import
        print(gitexp.autolog(frameworks=["lightgbm", "sklearn"]))
        try:
            gitexp.autolog(frameworks=["xgbost"])
        except ValueError as exc:
            print(exc)
        """,
    )
    assert proc.stdout.splitlines() == [
        "['sklearn']",
        "autolog: unknown framework 'xgbost' (did you mean 'xgboost'?); known: "
        "sklearn, xgboost, lightgbm",
    ]
    assert "gitexp: warning: autolog: lightgbm is not installed; skipped" in proc.stderr


def _python(cwd: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )


# --- zero-code mode and seeding -----------------------------------------------------

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
    first = _run(git_repo, UNMODIFIED, "--autolog", "--seed", "7")
    again = _run(git_repo, UNMODIFIED, "--autolog", "--seed", "7")
    other = _run(git_repo, UNMODIFIED, "--autolog", "--seed", "8")
    metrics = [metrics_json(git_repo, n) for n in (first, again, other)]
    assert metrics[0] == metrics[1]
    assert metrics[0]["noise"] != metrics[2]["noise"]
    assert metrics[0]["pyrandom"] != metrics[2]["pyrandom"]
    assert set(flatten(metrics[0])) == {"noise", "pyrandom", "training.score"}  # autologged
    assert _logged(git_repo, first)["sklearn.max_iter"] == 5
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
    name = _run(git_repo, UNMODIFIED, "--deterministic", "--seed", "3")
    seen = json.loads(show(git_repo, name, "seen.json"))
    assert seen["env"] == {"TF_DETERMINISTIC_OPS": "1", "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    assert run_json(git_repo, name)["zero_code"] == {"seed": True, "deterministic": True}
    assert "sklearn.max_iter" not in _logged(git_repo, name)  # seeding only, no autolog
    again = _run(git_repo, UNMODIFIED, "--deterministic", "--seed", "3")
    assert metrics_json(git_repo, name) == metrics_json(git_repo, again)


def test_config_autolog_and_seed_auto_and_the_flag_over_them(git_repo: Path) -> None:
    write_gitexp_yaml(
        git_repo,
        "seed: {value: 11, auto: true}\nautolog: {frameworks: [sklearn], log_models: false}\n",
    )
    name = _run(git_repo, UNMODIFIED)
    record = run_json(git_repo, name)
    assert record["seed"] == 11
    assert record["zero_code"]["autolog"] == ["sklearn"] and not record["zero_code"]["log_models"]
    assert "sklearn.max_iter" in _logged(git_repo, name)
    assert not any(f.startswith("autolog/") for f in tree_files(git_repo, name))
    seeded_only = _run(git_repo, UNMODIFIED, "--no-autolog")
    assert "sklearn.max_iter" not in _logged(git_repo, seeded_only)
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
    first = _run(git_repo, script, "--deterministic", "--seed", "5")
    again = _run(git_repo, script, "--deterministic", "--seed", "5")
    metrics = metrics_json(git_repo, first)
    assert metrics == metrics_json(git_repo, again) and metrics["deterministic"] == 1


def test_the_integrations_import_only_the_stdlib_and_the_tracking_library() -> None:
    """Training code imports them: no framework, nothing above the tracking library
    at import time (a framework arrives as the module the script imported)."""
    import ast

    package = Path(gitexp.__file__).parent / "integrations"
    others = {"mlflow_store", "dvclive"}  # the MLflow / DVCLive bridges import their library
    for path in package.rglob("*.py"):
        if path.stem in others:
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            for name in names:
                parts = name.split(".")
                if parts[0] == "gitexp":
                    assert parts[1:2] in (["integrations"], ["tracking"], ["common"]), (path, name)
                else:
                    assert parts[0] in sys.stdlib_module_names | {"__future__"}, (path, name)
