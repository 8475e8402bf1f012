"""MLflow's tracking and artifact stores for ``gitexp:``: an MLflow script records into its run.

``gitexp run`` sets ``MLFLOW_TRACKING_URI=gitexp:``; MLflow finds these stores
through the entry points in pyproject.toml (``mlflow.tracking_store``,
``mlflow.artifact_repository``), so a script written for MLflow runs
unchanged, ``mlflow.autolog()`` included. Nothing goes to ``mlruns/``,
``mlflow.db`` or the user's work tree: experiments, runs and logged models
live in this process's memory (``mlflow.get_run`` reads them back), and every
write goes on to the tracking library (gitexp/tracking/recorder.py):

- params as params, values parsed back from MLflow's strings (``"0.5"`` is
  0.5, ``"True"`` true, ``"007"`` text: see ``typed``); metrics at MLflow's
  step (0 when the script gives none); user tags as params ``mlflow.tags.<key>``
  (MLflow's own ``mlflow.*`` tags repeat run.json and stay in memory);
- artifacts land in ``mlartifacts/`` of the run dir, marked with
  ``log_artifact`` (DVC stores the large ones); a model from ``log_model``
  is one folder, ``mlartifacts/models/<name>/``.

The process's first MLflow run is the experiment's; any other (a nested
child, a second ``start_run``) records as ``<run name>.<key>`` with its files
in ``mlartifacts/<run name>/``. MLflow imports this module at ``import
mlflow`` (it loads every store entry point then): it imports only MLflow's
own store classes. docs/integrations.md lists what is supported.
"""
# ruff: noqa: E402 (MLflow's imports follow the entry points, see there)

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from gitexp.integrations.mlflow_logging import TAG_PREFIX as TAG_PREFIX
from gitexp.integrations.mlflow_logging import record, safe_name
from gitexp.integrations.mlflow_logging import typed as typed

_store: GitexpStore | None = None
_store_lock = threading.Lock()


# The entry points come before MLflow's imports: a process that imports this module
# first has MLflow load its entry points (this module, half run) from those imports.
def tracking_store(store_uri: Any = None, artifact_uri: Any = None) -> GitexpStore:
    """The ``mlflow.tracking_store`` entry point: one store per process."""
    global _store
    with _store_lock:
        if _store is None:
            _store = GitexpStore()
        return _store


def artifact_repository(
    artifact_uri: str, tracking_uri: Any = None, registry_uri: Any = None
) -> Any:
    """The ``mlflow.artifact_repository`` entry point (gitexp/integrations/mlflow_artifacts.py)."""
    from gitexp.integrations.mlflow_artifacts import GitexpArtifactRepository

    return GitexpArtifactRepository(artifact_uri, tracking_uri, registry_uri)


def current_store() -> GitexpStore | None:
    """The process's store, once MLflow asked for it."""
    return _store


from mlflow import entities as E
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, RESOURCE_DOES_NOT_EXIST
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.tracking.abstract_store import AbstractStore
from mlflow.utils.search_utils import SearchExperimentsUtils, SearchLoggedModelsUtils, SearchUtils

SCHEME = "gitexp"
TRACKING_URI = f"{SCHEME}:"
ARTIFACTS_DIR = "mlartifacts"  # in the run dir: MLflow's own name for an artifact folder
RUN_NAME = "mlflow.runName"
_ACTIVE = E.LifecycleStage.ACTIVE
# MLflow's search helpers are untyped: called through Any
_RUNS: Any = SearchUtils
_EXPERIMENTS: Any = SearchExperimentsUtils
_MODELS: Any = SearchLoggedModelsUtils


def folder_uri(folder: str) -> str:
    """The artifact URI of a folder of the run dir (resolved where it is used)."""
    return f"{SCHEME}:/{folder}"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _missing(what: str) -> MlflowException:
    return MlflowException(f"{what} not found", error_code=RESOURCE_DOES_NOT_EXIST)


def _experiment(exp_id: str, name: str, tags: list[Any]) -> E.Experiment:
    """An experiment whose artifacts go to the run dir (never where the script says)."""
    now = _now_ms()
    return E.Experiment(exp_id, name, folder_uri(ARTIFACTS_DIR), _ACTIVE, tags, now, now)


def _point(metric: E.Metric) -> tuple[str, float, int, int]:
    return metric.key, metric.value, metric.step, metric.timestamp


@dataclass
class _Run:
    """One MLflow run: what ``get_run`` returns, and the prefix its records take."""

    info: E.RunInfo
    prefix: str  # "" for the experiment's own run, else "<name>."
    folder: str  # of its artifacts, in the run dir
    params: dict[str, E.Param] = field(default_factory=dict)
    metrics: dict[str, list[E.Metric]] = field(default_factory=dict)
    tags: dict[str, E.RunTag] = field(default_factory=dict)
    inputs: tuple[list[Any], list[Any], list[Any]] = field(default_factory=lambda: ([], [], []))
    points: set[tuple[str, float, int, int]] = field(default_factory=set)

    def entity(self) -> E.Run:
        latest = [points[-1] for points in self.metrics.values()]
        data = E.RunData(latest, list(self.params.values()), list(self.tags.values()))
        datasets, models, outputs = (list(x) for x in self.inputs)
        return E.Run(self.info, data, E.RunInputs(datasets, models), E.RunOutputs(outputs))

    def update(self, **changes: Any) -> E.RunInfo:
        keys = ("run_id", "experiment_id", "user_id", "status", "start_time", "end_time")
        now = {k: getattr(self.info, k) for k in (*keys, "lifecycle_stage", "artifact_uri")}
        self.info = E.RunInfo(**{**now, "run_name": self.info.run_name, **changes})
        return self.info


class GitexpStore(AbstractStore):
    """MLflow's tracking store API over one process's memory, recording into gitexp."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._lock = threading.RLock()
        self._experiments = {"0": _experiment("0", "Default", [])}
        self._runs: dict[str, _Run] = {}
        self._models: dict[str, E.LoggedModel] = {}
        self._taken = {"models"}  # run prefixes and model folders in use

    def create_experiment(self, name: str, artifact_location: Any = None, tags: Any = None) -> str:
        with self._lock:
            if self.get_experiment_by_name(name) is not None:
                message = f"Experiment '{name}' already exists."
                raise MlflowException(message, error_code=RESOURCE_ALREADY_EXISTS)
            exp = _experiment(str(len(self._experiments)), name, list(tags or []))
            self._experiments[exp.experiment_id] = exp
            return exp.experiment_id

    def get_experiment(self, experiment_id: Any) -> E.Experiment:
        exp = self._experiments.get(str(experiment_id))
        if exp is None:
            raise _missing(f"Experiment '{experiment_id}'")
        return exp

    def get_experiment_by_name(self, experiment_name: str) -> E.Experiment | None:
        return next((e for e in self._experiments.values() if e.name == experiment_name), None)

    def search_experiments(
        self, view_type: int = E.ViewType.ACTIVE_ONLY, max_results: int = 1000,
        filter_string: Any = None, order_by: Any = None, page_token: Any = None,
    ) -> PagedList[E.Experiment]:  # fmt: skip
        found = [e for e in self._experiments.values() if _in_view(e.lifecycle_stage, view_type)]
        found = _EXPERIMENTS.filter(found, filter_string)
        found = _EXPERIMENTS.sort(found, order_by or ["experiment_id ASC"])
        return PagedList(*_RUNS.paginate(found, page_token, max_results))

    def set_experiment_tag(self, experiment_id: str, tag: Any) -> None:
        self.get_experiment(experiment_id).tags[tag.key] = tag.value

    def delete_experiment(self, *args: Any) -> None:
        """Deleting, restoring, renaming: a tracking server's business, not a run's."""
        raise MlflowException("a gitexp run cannot delete, restore or rename MLflow runs")

    restore_experiment = rename_experiment = delete_run = restore_run = delete_experiment

    def create_run(
        self, experiment_id: Any, user_id: str, start_time: int, tags: Any, run_name: Any
    ) -> E.Run:
        with self._lock:
            exp = self.get_experiment(experiment_id or "0")
            tags = list(tags or [])
            given = run_name or next((t.value for t in tags if t.key == RUN_NAME), None)
            name, prefix = self._name(given)
            folder = f"{ARTIFACTS_DIR}/{prefix}" if prefix else ARTIFACTS_DIR
            running = E.RunStatus.to_string(E.RunStatus.RUNNING)
            info = E.RunInfo(
                uuid.uuid4().hex, exp.experiment_id, user_id, running, start_time, None, _ACTIVE,
                folder_uri(folder), name,
            )  # fmt: skip
            self._runs[info.run_id] = _Run(info, f"{prefix}." if prefix else "", folder)
            tags = [t for t in tags if t.key != RUN_NAME] + [E.RunTag(RUN_NAME, name)]
            self.log_batch(info.run_id, [], [], tags)
            return self._runs[info.run_id].entity()

    def _name(self, given: str | None) -> tuple[str, str]:
        """(run name, prefix): the first run has none; others their name, made unique."""
        if not self._runs:
            return given or os.environ.get("GITEXP_RUN_NAME") or "run", ""
        name = given or f"run-{len(self._runs) + 1}"
        return name, self._unique(safe_name(name))

    def _unique(self, name: str) -> str:
        candidate, n = name, 1
        while candidate in self._taken:
            n += 1
            candidate = f"{name}-{n}"
        self._taken.add(candidate)
        return candidate

    def _run(self, run_id: str) -> _Run:
        run = self._runs.get(run_id)
        if run is None:
            raise _missing(f"Run '{run_id}'")
        return run

    def get_run(self, run_id: str) -> E.Run:
        return self._run(run_id).entity()

    def update_run_info(self, run_id: str, run_status: Any, end_time: Any, run_name: Any) -> Any:
        with self._lock:
            run = self._run(run_id)
            status = E.RunStatus.to_string(run_status) if isinstance(run_status, int) else None
            changes: dict[str, Any] = {"status": status or run_status, "end_time": end_time}
            if run_name:
                changes["run_name"] = run_name
                run.tags[RUN_NAME] = E.RunTag(RUN_NAME, run_name)
            return run.update(**changes)

    def _search_runs(
        self, experiment_ids: Any, filter_string: Any, run_view_type: int, max_results: int,
        order_by: Any, page_token: Any,
    ) -> tuple[list[E.Run], str | None]:  # fmt: skip
        ids = {str(i) for i in experiment_ids}
        runs = [
            r.entity()
            for r in list(self._runs.values())
            if r.info.experiment_id in ids and _in_view(r.info.lifecycle_stage, run_view_type)
        ]
        runs = _RUNS.sort(_RUNS.filter(runs, filter_string), order_by)
        page, token = _RUNS.paginate(runs, page_token, max_results)
        return page, token

    def get_metric_history(
        self, run_id: str, metric_key: str, max_results: Any = None, page_token: Any = None
    ) -> PagedList[E.Metric]:
        points = list(self._run(run_id).metrics.get(metric_key, []))
        return PagedList(points[:max_results] if max_results else points, None)

    def log_batch(self, run_id: str, metrics: Any, params: Any, tags: Any) -> None:
        """Keep what a run logged, and hand it on to the tracking library.

        A point logged again unchanged (key, value, step, time: ``log_model``
        links the run's metrics to the model that way) is one point, as in
        MLflow's SQL store.
        """
        with self._lock:
            run = self._run(run_id)
            run.params.update({p.key: p for p in params})
            run.tags.update({t.key: t for t in tags})
            new = [m for m in metrics if _point(m) not in run.points]
            run.points.update(_point(m) for m in new)
            for metric in new:
                run.metrics.setdefault(metric.key, []).append(metric)
        record(run.prefix, new, params, tags)

    def log_batch_async(self, run_id: str, metrics: Any, params: Any, tags: Any) -> Any:
        """At once: a write is an append in memory, and MLflow's queue, flushed at
        exit, could come after the tracking library's last flush and be lost."""
        from mlflow.utils.async_logging.run_operations import RunOperations

        self.log_batch(run_id, metrics, params, tags)
        return RunOperations([])  # type: ignore[no-untyped-call]

    def delete_tag(self, run_id: str, key: str) -> None:
        with self._lock:
            if self._run(run_id).tags.pop(key, None) is None:
                raise _missing(f"Tag '{key}' of run '{run_id}'")

    def log_inputs(self, run_id: str, datasets: Any = None, models: Any = None) -> None:
        with self._lock:
            self._run(run_id).inputs[0].extend(datasets or [])
            self._run(run_id).inputs[1].extend(models or [])

    def log_outputs(self, run_id: str, models: Any) -> None:
        with self._lock:
            self._run(run_id).inputs[2].extend(models)

    def record_logged_model(self, run_id: str, mlflow_model: Any) -> None:
        """MLflow 2's model history tag; the model's files come as artifacts."""
        tag = E.RunTag("mlflow.log-model.history", mlflow_model.to_json())
        self.log_batch(run_id, [], [], [tag])

    def create_logged_model(
        self, experiment_id: str = "0", name: str | None = None, source_run_id: Any = None,
        tags: Any = None, params: Any = None, model_type: Any = None,
    ) -> E.LoggedModel:  # fmt: skip
        """MLflow 3's ``log_model``: its folder is below its run's, made unique."""
        with self._lock:
            run = self._runs.get(source_run_id or "")
            root = run.folder if run is not None else ARTIFACTS_DIR
            where = folder_uri(self._unique(f"{root}/models/{safe_name(name or 'model')}"))
            model_id, now, pending = f"m-{uuid.uuid4().hex}", _now_ms(), E.LoggedModelStatus.PENDING
            self._models[model_id] = E.LoggedModel(
                str(experiment_id), model_id, name or "model", where, now, now, model_type,
                source_run_id, pending, tags=list(tags or []), params=list(params or []),
            )  # fmt: skip
            return self._models[model_id]

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> E.LoggedModel:
        model = self._models.get(model_id)
        if model is None:
            raise _missing(f"Logged model '{model_id}'")
        return model

    def is_model_folder(self, folder: str) -> bool:
        return folder_uri(folder) in {m.artifact_location for m in list(self._models.values())}

    def finalize_logged_model(self, model_id: str, status: Any) -> E.LoggedModel:
        model = self.get_logged_model(model_id)
        model.status, model.last_updated_timestamp = status, _now_ms()
        return model

    def log_logged_model_params(self, model_id: str, params: Any) -> None:
        self.get_logged_model(model_id).params.update({p.key: p.value for p in params})

    def set_logged_model_tags(self, model_id: str, tags: Any) -> None:
        self.get_logged_model(model_id).tags.update({t.key: t.value for t in tags})

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self.get_logged_model(model_id).tags.pop(key, None)

    def delete_logged_model(self, model_id: str) -> None:
        self._models.pop(model_id, None)

    def search_logged_models(
        self, experiment_ids: Any, filter_string: Any = None, datasets: Any = None,
        max_results: Any = None, order_by: Any = None, page_token: Any = None,
    ) -> PagedList[E.LoggedModel]:  # fmt: skip
        ids = {str(i) for i in experiment_ids}
        models = [m for m in self._models.values() if m.experiment_id in ids]
        models = _MODELS.filter_logged_models(models, filter_string, datasets)
        models = _MODELS.sort(models, order_by)
        return PagedList(*_MODELS.paginate(models, page_token, max_results or 100))

    def link_traces_to_run(self, trace_ids: list[str], run_id: str) -> None:
        raise MlflowException("MLflow traces are not recorded under `gitexp run`")


def _in_view(stage: str, view_type: int) -> bool:
    if view_type == E.ViewType.ALL:
        return True
    return (stage == _ACTIVE) == (view_type == E.ViewType.ACTIVE_ONLY)


def _warn_if_redirected() -> None:
    """At exit: a script that set its own tracking URI recorded nothing here; say so."""
    import mlflow

    uri = mlflow.get_tracking_uri()
    if not str(uri).startswith(TRACKING_URI):
        print(
            f"gitexp: warning: the script set MLflow's tracking URI to {uri!r}; its MLflow "
            "runs went there, not into this experiment (see docs/integrations.md)",
            file=sys.stderr,
        )


if os.environ.get("GITEXP_RUN_DIR") and os.environ.get("MLFLOW_TRACKING_URI") == TRACKING_URI:
    atexit.register(_warn_if_redirected)
