"""Autolog for deep-learning frameworks (issue 20): Keras 3 and fastai.

As in tests/test_autolog.py, every test trains on a tiny dataset made in
the script, inside a real `gitexp run`, and compares what the experiment
recorded with the framework's own record (Keras's `History`, fastai's
`learn.recorder`), which the script writes to `truth.json`. Keras runs on
the PyTorch backend on the CPU, and on TensorFlow. A recorded model is
loaded back in a fresh Python (a Keras backend is chosen once per process)
and must predict what the trained one did.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from autolog_support import DATA, history, logged_params, model_file, read_truth, run_script
from conftest import require_backend
from run_support import metrics_json, tree_files

from gitexp.common.mappings import flatten

BACKENDS = {"torch": "torch", "tensorflow": "tensorflow"}  # Keras backend: its module


def _python(cwd: Path, code: str, env: dict[str, str] | None = None) -> Any:
    """``code`` after the test dataset, in a fresh Python; its last line, as JSON."""
    return _python_run(cwd, code, env)[0]


def _python_run(cwd: Path, code: str, env: dict[str, str] | None = None) -> tuple[Any, str]:
    """The last line of ``code``'s output as JSON, and its stderr."""
    proc = subprocess.run(
        [sys.executable, "-c", DATA + textwrap.dedent(code)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def _script(*parts: str) -> str:
    """Script pieces, each dedented on its own, one after the other."""
    return "".join(textwrap.dedent(part) for part in parts)


def _needs(*modules: str) -> None:
    """Skip unless installed (found without importing: Keras imports TensorFlow);
    with GITEXP_REQUIRE_DEEP=1 (scripts/test.sh installs them) a missing one fails."""
    for module in modules:
        missing = importlib.util.find_spec(module) is None
        require_backend("GITEXP_REQUIRE_DEEP", f"{module} is not installed" if missing else None)


def _keras_params(repo: Path, name: str) -> dict[str, Any]:
    return {k[len("keras.") :]: v for k, v in logged_params(repo, name).items()}


# --- Keras ------------------------------------------------------------------------

KERAS_MODEL = """
import keras
keras.utils.set_random_seed(0)
def build():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(learning_rate=0.05), "binary_crossentropy",
                  metrics=["accuracy"])
    return model
"""


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_keras_fit_records_params_every_epoch_and_a_model_that_predicts_the_same(
    git_repo: Path, tmp_path: Path, backend: str
) -> None:
    _needs("keras", BACKENDS[backend])
    name = run_script(
        git_repo,
        _script(
            f"""
        import os
        os.environ["KERAS_BACKEND"] = "{backend}"
        import gitexp
        gitexp.autolog()
        """,
            KERAS_MODEL,
            """
        model = build()
        h = model.fit(X, y, batch_size=16, epochs=6, validation_data=(Xv, yv), verbose=0)
        save(history=h.history, epoch=h.epoch, params=h.params, backend=keras.backend.backend(),
             config=model.optimizer.get_config(), pred=model.predict(Xv, verbose=0))
        """,
        ),
    )
    truth = read_truth(git_repo, name)
    assert truth["backend"] == backend
    params = _keras_params(git_repo, name)
    assert (params["epochs"], params["batch_size"]) == (6, 16) == (truth["params"]["epochs"], 16)
    assert params["steps_per_epoch"] == truth["params"]["steps"] == 8  # 120 rows / 16
    assert params["loss"] == "binary_crossentropy"
    assert params["optimizer.class"] == "Adam"
    config = {f"optimizer.{k}": v for k, v in flatten(truth["config"]).items() if v is not None}
    assert {
        k: v for k, v in params.items() if k.startswith("optimizer.") and k != "optimizer.class"
    } == config
    assert params["optimizer.learning_rate"] == pytest.approx(0.05)
    assert set(truth["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for metric, values in truth["history"].items():
        series = history(git_repo, name, metric)
        assert [s for s, _ in series] == truth["epoch"] == list(range(6))
        assert [v for _, v in series] == pytest.approx(values, rel=1e-6)
    assert metrics_json(git_repo, name)["val_loss"] == pytest.approx(
        truth["history"]["val_loss"][-1]
    )
    path = model_file(git_repo, name, "autolog/keras-Sequential.keras", tmp_path)
    pred = _python(
        tmp_path,
        f"""
        import keras
        model = keras.saving.load_model({str(path)!r})
        print(json.dumps(model.predict(Xv, verbose=0).tolist()))
        """,
        env={"KERAS_BACKEND": backend},
    )
    assert pred == truth["pred"]


def test_keras_results_and_the_callers_callbacks_are_unchanged_and_early_stopping_is_followed(
    git_repo: Path,
) -> None:
    _needs("keras", "torch")
    name = run_script(
        git_repo,
        _script(
            """
        import os
        os.environ["KERAS_BACKEND"] = "torch"
        import gitexp
        """,
            KERAS_MODEL,
            """
        def train():
            keras.utils.set_random_seed(1)
            model = build()
            stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1,
                                                 min_delta=0.05)
            callbacks = [stop]
            h = model.fit(X, y, None, 40, 0, callbacks, validation_split=0.25)  # positional
            assert callbacks == [stop]  # the caller's list is not touched
            return model, h
        gitexp.autolog()
        model, h = train()
        assert "fit" in vars(keras.Model)
        gitexp.autolog(disable=True)
        assert "fit" not in vars(keras.Model)  # the backend trainer's own fit again
        plain, h2 = train()
        assert (plain.predict(Xv, verbose=0) == model.predict(Xv, verbose=0)).all()
        assert h2.history == h.history
        save(history=h.history, stopped=h.model.stop_training)
        """,
        ),
    )
    truth = read_truth(git_repo, name)
    losses = truth["history"]["val_loss"]
    assert len(losses) < 40  # EarlyStopping stopped it: the record stops with it
    assert [v for _, v in history(git_repo, name, "val_loss")] == pytest.approx(losses, rel=1e-6)
    params = _keras_params(git_repo, name)
    assert (params["epochs"], params["batch_size"], params["validation_split"]) == (40, 32, 0.25)


def test_an_unmodified_keras_script_is_recorded_in_zero_code_mode(git_repo: Path) -> None:
    _needs("keras", "torch")
    name = run_script(
        git_repo,
        """
        import os
        os.environ["KERAS_BACKEND"] = "torch"
        import keras
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
        model.compile("rmsprop", "binary_crossentropy")
        h = model.fit(X, y, epochs=3, verbose=0)
        save(loss=h.history["loss"])
        """,
        "--autolog",
    )
    truth = read_truth(git_repo, name)
    assert [v for _, v in history(git_repo, name, "loss")] == pytest.approx(truth["loss"])
    params = _keras_params(git_repo, name)
    assert (params["optimizer.class"], params["epochs"]) == ("RMSprop", 3)
    assert "autolog/keras-Sequential.keras" in tree_files(git_repo, name)


def test_a_keras_model_that_fails_to_save_is_one_warning_and_leaves_no_file(
    tmp_path: Path,
) -> None:
    _needs("keras", "torch")
    out, stderr = _python_run(
        tmp_path,
        _script(
            """
            import os
            import gitexp
            gitexp.autolog()
            """,
            KERAS_MODEL,
            """
            class Broken(keras.Sequential):
                def save(self, filepath, *args, **kwargs):
                    with open(filepath, "wb") as f:
                        f.write(b"half a model")
                    raise OSError("No space left on device")
            model = Broken(build().layers)
            model.compile("sgd", "binary_crossentropy")
            h = model.fit(X, y, epochs=2, verbose=0)
            print(json.dumps([len(h.history["loss"]), os.listdir("run/autolog")]))
            """,
        ),
        env={"GITEXP_RUN_DIR": str(tmp_path / "run"), "KERAS_BACKEND": "torch"},
    )
    assert out == [2, []]  # training went on; no half-written model is left to commit
    warnings = [line for line in stderr.splitlines() if line.startswith("gitexp: warning")]
    assert warnings == [
        "gitexp: warning: autolog: could not record the Keras model Broken: "
        "OSError: No space left on device"
    ]


# --- fastai -----------------------------------------------------------------------

FASTAI_DATA = """
import pandas as pd
from fastai.tabular.all import (CategoryBlock, Normalize, TabularDataLoaders, accuracy,
                                error_rate, set_seed, tabular_learner)
df = pd.DataFrame(np.vstack([X, Xv]), columns=list("abcd"))
df["y"] = np.concatenate([y, yv])
dls = TabularDataLoaders.from_df(df, y_names="y", cont_names=list("abcd"), procs=[Normalize],
                                 y_block=CategoryBlock(), valid_idx=list(range(120, 160)), bs=16)
def learner(seed):
    set_seed(seed)
    return tabular_learner(dls, layers=[8], metrics=[accuracy, error_rate])
def predictions(learn):
    return learn.get_preds(dl=learn.dls.test_dl(pd.DataFrame(Xv, columns=list("abcd"))))[0]
"""


def test_fastai_fit_records_hyperparameters_recorder_values_and_an_export_that_predicts_the_same(
    git_repo: Path, tmp_path: Path
) -> None:
    _needs("fastai")
    name = run_script(
        git_repo,
        _script(
            """
        import gitexp
        gitexp.autolog()
        """,
            FASTAI_DATA,
            """
        learn = learner(0)
        with learn.no_bar(), learn.no_logging():
            learn.fit(4, lr=0.01)
        save(values=[list(row) for row in learn.recorder.values],
             names=list(learn.recorder.metric_names), hypers=learn.opt.hypers[-1],
             bs=learn.dls.bs, opt=learn.opt_func.__name__, pred=predictions(learn))
        """,
        ),
    )
    truth = read_truth(git_repo, name)
    logged = {k[len("fastai.") :]: v for k, v in logged_params(git_repo, name).items()}
    assert (logged["method"], logged["n_epoch"], logged["lr"]) == ("fit", 4, 0.01)
    assert logged["batch_size"] == truth["bs"] == 16
    assert logged["opt_func"] == truth["opt"] == "Adam"
    assert {k: logged[f"opt.{k}"] for k in truth["hypers"]} == truth["hypers"]
    assert logged["opt.lr"] == 0.01
    names = truth["names"][1 : 1 + len(truth["values"][0])]
    assert names == ["train_loss", "valid_loss", "accuracy", "error_rate"]
    for column, metric in enumerate(names):
        series = history(git_repo, name, metric)
        assert [s for s, _ in series] == list(range(4))
        assert [v for _, v in series] == pytest.approx([row[column] for row in truth["values"]])
    path = model_file(git_repo, name, "autolog/fastai-TabularLearner.pkl", tmp_path)
    pred = _python(
        tmp_path,
        _script(
            FASTAI_DATA,
            f"""
        from fastai.learner import load_learner
        print(json.dumps(predictions(load_learner({str(path)!r})).tolist()))
        """,
        ),
    )
    assert pred == truth["pred"]


def test_fastai_fine_tune_is_one_record_over_both_fits_and_lr_find_is_not_recorded(
    git_repo: Path,
) -> None:
    _needs("fastai")
    name = run_script(
        git_repo,
        _script(
            """
        import gitexp
        """,
            FASTAI_DATA,
            """
        def train(probe):
            learn = learner(3)
            with learn.no_bar(), learn.no_logging():
                if probe:
                    learn.lr_find(num_it=10, show_plot=False)
                    learn = learner(3)  # the same start as without the probe
                learn.fine_tune(2, base_lr=0.01, freeze_epochs=1)
            return learn
        gitexp.autolog()
        learn = train(probe=True)
        values = [list(row) for row in learn.recorder.values]  # before get_preds resets them
        assert not [cb for cb in learn.cbs if "Gitexp" in type(cb).__name__]
        gitexp.autolog(disable=True)
        plain = train(probe=False)
        assert (predictions(plain) == predictions(learn)).all()  # results unchanged
        save(values=values, hypers=learn.opt.hypers[-1])
        """,
        ),
    )
    truth = read_truth(git_repo, name)
    logged = {k[len("fastai.") :]: v for k, v in logged_params(git_repo, name).items()}
    assert logged["method"] == "fine_tune"
    assert (logged["epochs"], logged["base_lr"], logged["freeze_epochs"]) == (2, 0.01, 1)
    assert "lr_max" not in logged and "n_epoch" not in logged  # fit_one_cycle's, not given
    assert "opt.lr" not in logged and "opt.mom" not in logged  # scheduled by the one-cycle
    assert logged["opt.eps"] == truth["hypers"]["eps"]
    series = history(git_repo, name, "valid_loss")
    assert [s for s, _ in series] == [0, 1, 2]  # the frozen epoch, then two: no lr_find steps
    # the Recorder keeps the last fit's epochs; they are the last two points
    assert [v for _, v in series[1:]] == pytest.approx([row[1] for row in truth["values"]])
    assert "autolog/fastai-TabularLearner.pkl" in tree_files(git_repo, name)


def test_a_fastai_export_that_fails_is_one_warning_and_leaves_the_learner_as_it_was(
    tmp_path: Path,
) -> None:
    _needs("fastai")
    out, stderr = _python_run(
        tmp_path,
        _script(
            """
            import gitexp
            """,
            FASTAI_DATA,
            """
            def train(autolog):
                gitexp.autolog(disable=not autolog)
                learn = learner(5)
                learn.not_picklable = (i for i in range(3))  # export cannot pickle the learner
                dls = learn.dls
                with learn.no_bar(), learn.no_logging():
                    learn.fit(1, lr=0.01)
                    opt = learn.opt
                    learn.fit(1, lr=0.01)  # after the failed export: the same optimizer
                return learn, [learn.dls is dls, learn.opt is opt]
            learn, same = train(autolog=True)
            plain, _ = train(autolog=False)
            unchanged = bool((predictions(plain) == predictions(learn)).all())
            print(json.dumps([same, unchanged, __import__("os").listdir("run/autolog")]))
            """,
        ),
        env={"GITEXP_RUN_DIR": str(tmp_path / "run")},
    )
    assert out == [[True, True], True, []]
    warnings = [line for line in stderr.splitlines() if line.startswith("gitexp: warning")]
    assert warnings == [
        "gitexp: warning: autolog: could not record the fastai learner TabularLearner: "
        "TypeError: cannot pickle 'generator' object"
    ]


# --- switching on and off ---------------------------------------------------------


def test_autolog_imports_neither_framework_and_disable_restores_both(tmp_path: Path) -> None:
    _needs("keras", "fastai")
    out = _python(
        tmp_path,
        """
        import os, sys
        os.environ["KERAS_BACKEND"] = "torch"
        import gitexp
        enabled = gitexp.autolog(frameworks=["keras", "fastai"])
        heavy = sorted(m for m in ("keras", "fastai", "torch", "tensorflow") if m in sys.modules)
        import keras
        from fastai.learner import Learner
        import fastai.callback.schedule
        methods = ("fit", "fit_one_cycle", "fine_tune", "lr_find")
        hooked = [getattr(getattr(Learner, m), "__gitexp_autolog__", False) for m in methods]
        hooked.append(getattr(keras.Model.fit, "__gitexp_autolog__", False))
        gitexp.autolog(disable=True)
        restored = [getattr(getattr(Learner, m), "__gitexp_autolog__", False) for m in methods]
        restored.append("fit" in vars(keras.Model))
        print(json.dumps([enabled, heavy, hooked, restored]))
        """,
    )
    assert out == [["keras", "fastai"], [], [True] * 5, [False] * 5]
