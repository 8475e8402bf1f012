"""Autolog (issue 20): scikit-learn, XGBoost and LightGBM recorded without glue code.

Every test trains on a tiny dataset made in the script, inside a real
`gitexp run`, and compares what the experiment recorded with the
framework's own record, which the script writes to `truth.json`
(tests/autolog_support.py). Zero-code mode and seeding: tests/test_zero_code.py.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from autolog_support import (
    blob,
    history,
    logged_params,
    model_file,
    read_truth,
    run_script,
    validation,
)
from conftest import run_gitexp
from run_support import metrics_json, run_json, show, tree_files

import gitexp
from gitexp.common.mappings import flatten

pytest.importorskip("sklearn")

# --- scikit-learn -----------------------------------------------------------------


def test_sklearn_fit_records_params_training_score_and_a_model_that_predicts_the_same(
    git_repo: Path, tmp_path: Path
) -> None:
    name = run_script(
        git_repo,
        """
        import gitexp
        gitexp.autolog()
        from sklearn.linear_model import LogisticRegression
        clf = LogisticRegression(C=0.5, max_iter=200).fit(X, y)
        save(params=clf.get_params(), score=clf.score(X, y), pred=clf.predict_proba(Xv))
        """,
    )
    truth = read_truth(git_repo, name)
    logged = logged_params(git_repo, name)
    assert {k: v for k, v in logged.items() if k.startswith("sklearn.")} == {
        f"sklearn.{k}": v for k, v in truth["params"].items()
    }
    assert logged["sklearn.C"] == 0.5
    assert metrics_json(git_repo, name)["training"]["score"] == pytest.approx(truth["score"])
    path = "autolog/sklearn-LogisticRegression.pkl"
    assert path in tree_files(git_repo, name)  # in git: no DVC here (see the dvc test)
    model = pickle.loads(blob(git_repo, name, path))
    from sklearn.linear_model import LogisticRegression

    assert isinstance(model, LogisticRegression)
    assert model.predict_proba(validation()).tolist() == truth["pred"]


def test_a_pipeline_is_one_record_with_its_steps_params(git_repo: Path) -> None:
    name = run_script(
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
    logged = logged_params(git_repo, name)
    assert logged["sklearn.svc__C"] == 2.0 and logged["sklearn.scale__with_mean"] is True
    assert "sklearn.C" not in logged and "sklearn.with_mean" not in logged  # steps not alone
    assert history(git_repo, name, "training.score") == [
        (0, pytest.approx(read_truth(git_repo, name)["score"]))
    ]
    files = tree_files(git_repo, name)
    assert "autolog/sklearn-Pipeline.pkl" in files
    assert not any(f.startswith("autolog/sklearn-SVC") for f in files)


def test_grid_search_records_best_params_best_score_and_the_candidates_table(
    git_repo: Path,
) -> None:
    name = run_script(
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
    truth = read_truth(git_repo, name)
    logged = logged_params(git_repo, name)
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
    name = run_script(
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
    truth = read_truth(git_repo, name)
    logged = logged_params(git_repo, name)
    assert logged["xgboost.max_depth"] == int(truth["config"]["max_depth"]) == 3
    assert logged["xgboost.eta"] == pytest.approx(float(truth["config"]["eta"]))
    assert logged["xgboost.num_boost_round"] == 50
    assert logged["xgboost.early_stopping_rounds"] == 3
    for data in ("train", "valid"):
        series = history(git_repo, name, f"{data}.logloss")
        assert len(series) == truth["rounds"] < 50  # early stopping cut it short
        assert [s for s, _ in series] == list(range(truth["rounds"]))
        assert [v for _, v in series] == pytest.approx(truth["evals"][data]["logloss"])
    metrics = metrics_json(git_repo, name)
    assert metrics["best_iteration"] == truth["best"]
    assert metrics["best_score"] == pytest.approx(truth["score"])
    import xgboost as xgb

    booster = xgb.Booster(
        model_file=str(model_file(git_repo, name, "autolog/xgboost-Booster.json", tmp_path))
    )
    assert booster.predict(xgb.DMatrix(validation())).tolist() == pytest.approx(truth["pred"])


def test_xgb_sklearn_api_records_get_params_and_evals_result(
    git_repo: Path, tmp_path: Path
) -> None:
    pytest.importorskip("xgboost")
    name = run_script(
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
    truth = read_truth(git_repo, name)
    logged = logged_params(git_repo, name)
    xgb_params = {k[len("xgboost.") :]: v for k, v in logged.items() if k.startswith("xgboost.")}
    assert xgb_params.keys() == truth["params"].keys()
    assert xgb_params["max_depth"] == 2 and xgb_params["n_estimators"] == 20
    assert not any(k.startswith("sklearn.") for k in logged)
    for data in ("validation_0", "validation_1"):
        series = history(git_repo, name, f"{data}.logloss")
        assert [v for _, v in series] == pytest.approx(truth["evals"][data]["logloss"])
        assert len(series) == 20
    import xgboost as xgb

    loaded = xgb.XGBClassifier()
    loaded.load_model(model_file(git_repo, name, "autolog/xgboost-XGBClassifier.json", tmp_path))
    assert loaded.predict_proba(validation()).ravel().tolist() == pytest.approx(
        [p for row in truth["pred"] for p in row]
    )


def test_a_search_over_xgboost_is_recorded_once_by_the_search(git_repo: Path) -> None:
    pytest.importorskip("xgboost")
    name = run_script(
        git_repo,
        """
        import gitexp
        gitexp.autolog()
        import xgboost as xgb
        from sklearn.model_selection import GridSearchCV
        GridSearchCV(xgb.XGBClassifier(n_estimators=5), {"max_depth": [1, 2]}, cv=2).fit(X, y)
        """,
    )
    logged = logged_params(git_repo, name)
    assert logged["sklearn.best.max_depth"] in (1, 2)
    assert not any(k.startswith("xgboost.") for k in logged)
    assert not any(".logloss" in f for f in tree_files(git_repo, name))


# --- LightGBM ---------------------------------------------------------------------


def test_lgb_train_records_booster_params_iterations_and_early_stopping(
    git_repo: Path, tmp_path: Path
) -> None:
    pytest.importorskip("lightgbm")
    name = run_script(
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
    truth = read_truth(git_repo, name)
    logged = logged_params(git_repo, name)
    assert {k[len("lightgbm.") :]: v for k, v in logged.items()} == truth["params"]
    assert logged["lightgbm.num_leaves"] == 5
    for data in ("train", "valid"):
        series = history(git_repo, name, f"{data}.binary_logloss")
        expected = truth["evals"][data]["binary_logloss"]
        assert len(series) == len(expected) < 60
        assert [v for _, v in series] == pytest.approx(expected)
    metrics = flatten(metrics_json(git_repo, name))
    assert metrics["best_iteration"] == truth["best"] > 0
    assert metrics["best.valid.binary_logloss"] == pytest.approx(
        truth["best_score"]["valid"]["binary_logloss"]
    )
    import lightgbm as lgb

    model = model_file(git_repo, name, "autolog/lightgbm-Booster.txt", tmp_path)
    assert lgb.Booster(model_file=str(model)).predict(validation()).tolist() == pytest.approx(
        truth["pred"]
    )


def test_lgb_sklearn_api_records_get_params_and_evals_result(
    git_repo: Path, tmp_path: Path
) -> None:
    pytest.importorskip("lightgbm")
    name = run_script(
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
    truth = read_truth(git_repo, name)
    logged = logged_params(git_repo, name)
    assert {k[len("lightgbm.") :] for k in logged if k.startswith("lightgbm.")} == set(
        truth["params"]
    )
    assert logged["lightgbm.num_leaves"] == 4
    series = history(git_repo, name, "valid_0.l2")
    assert [s for s, _ in series] == list(range(15))
    assert [v for _, v in series] == pytest.approx(truth["evals"]["valid_0"]["l2"])
    import lightgbm as lgb

    model = model_file(git_repo, name, "autolog/lightgbm-LGBMRegressor.txt", tmp_path)
    assert lgb.Booster(model_file=str(model)).predict(validation()).tolist() == pytest.approx(
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
    name = run_script(
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
    assert booster.predict(validation()).tolist() == pytest.approx(
        read_truth(git_repo, name)["pred"]
    )


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
        chosen = ["sklearn", "xgboost", "lightgbm"]
        assert gitexp.autolog(frameworks=chosen) == chosen
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
        for typo in ("xgbost", "catboost"):
            try:
                gitexp.autolog(frameworks=[typo])
            except ValueError as exc:
                print(exc)
        """,
    )
    assert proc.stdout.splitlines() == [
        "['sklearn']",
        "autolog: unknown framework 'xgbost' (did you mean 'xgboost'?); known: "
        "sklearn, xgboost, lightgbm, keras, fastai",
        "autolog: unknown framework 'catboost'; known: "  # another library: no suggestion
        "sklearn, xgboost, lightgbm, keras, fastai",
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


def test_the_integrations_import_only_the_stdlib_and_the_tracking_library() -> None:
    """Training code imports them: no framework, nothing above the tracking library
    at import time (a framework arrives as the module the script imported)."""
    import ast

    package = Path(gitexp.__file__).parent / "integrations"
    # the MLflow / DVCLive bridges import their library (MLflow loads them, never the run);
    # the registry bridge reads registry names and the run-start snapshot (no pygit2)
    others = {
        "mlflow_store", "mlflow_artifacts", "dvclive",
        "mlflow_registry", "mlflow_versions", "mlflow_sources",
    }  # fmt: skip
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


def test_the_mlflow_registry_bridge_pulls_in_no_heavy_module() -> None:
    """MLflow loads it in the training script's process: no pygit2, DVC, Optuna, Docker."""
    code = (
        "import sys, gitexp.integrations.mlflow_registry\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'pygit2', 'dvc', 'optuna', 'docker', 'ray'}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
