"""Where a model version's files are in the run dir, from the source MLflow names.

``create_model_version`` gets a URI: ``models:/<model id>`` (what
``log_model(registered_model_name=...)`` and ``register_model("runs:/...")``
pass in MLflow 3), ``runs:/<run id>/<path>``, ``gitexp:/mlartifacts/...``, or
a local path. Each is a folder or file of the run dir, which is what the
experiment's commit will hold: the version is registered with that path. A
source elsewhere (another registered version, a bucket, a path outside the
run dir) cannot be in the commit and is refused at the call.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from urllib.parse import urlparse

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from gitexp.integrations import mlflow_store
from gitexp.integrations.mlflow_store import SCHEME


def refuse(message: str) -> MlflowException:
    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


def run_dir() -> str:
    """The run dir; outside `gitexp run` there is no experiment to register."""
    found = os.environ.get("GITEXP_RUN_DIR")
    if not found:
        raise refuse(
            "MLflow's model registry at 'gitexp:' registers the models of a `gitexp run`; "
            "outside one, use `gitexp model register NAME --from EXPERIMENT --path PATH`"
        )
    return found


def resolve(source: str, model_id: str | None = None) -> str:
    """The source's path in the run dir (posix, relative), which must exist."""
    if model_id:
        source = f"models:/{model_id}"
    reader = _SCHEMES.get(urlparse(source).scheme)
    if reader is None:
        raise refuse(f"cannot register {source!r} under `gitexp run`: {_WHERE}")
    path = reader(source)
    where = os.path.join(run_dir(), *path.split("/"))
    if not os.path.exists(where):
        raise refuse(f"cannot register {source!r}: nothing at {path} in the run dir")
    return path


_WHERE = "register a model this run logged (log_model, log_artifact(s), a path in its run dir)"


def _from_gitexp(source: str) -> str:
    parts = [p for p in source.split(":", 1)[1].split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise refuse(f"not a gitexp artifact location: {source!r}")
    return "/".join(parts)


def _from_models(source: str) -> str:
    """``models:/<model id>``: a model logged by this process; ``models:/<name>/<version>``
    (a registered version copied) is not this run's."""
    ident = source.split(":", 1)[1].strip("/")
    store = mlflow_store.current_store()
    if "/" in ident or "@" in ident or store is None:
        raise refuse(f"cannot register {source!r} under `gitexp run`: {_WHERE}")
    return _from_gitexp(str(store.get_logged_model(ident).artifact_location))


def _from_runs(source: str) -> str:
    """``runs:/<run id>/<path>``: that path of the run's artifacts, else the model
    the run logged under that name."""
    run_id, _, path = source.split(":", 1)[1].strip("/").partition("/")
    store = mlflow_store.current_store()
    if store is None:
        raise refuse(f"no MLflow run {run_id!r} in this process: {_WHERE}")
    info = store.get_run(run_id).info
    folder = posixpath.join(_from_gitexp(info.artifact_uri), path.strip("/"))
    if os.path.exists(os.path.join(run_dir(), *folder.split("/"))) or not path:
        return folder.rstrip("/")
    query = f"source_run_id = '{run_id}' AND name = '{path.strip('/')}'"
    models = store.search_logged_models([info.experiment_id], filter_string=query)
    return _from_gitexp(str(models[0].artifact_location)) if models else folder


def _from_path(source: str) -> str:
    local = urlparse(source).path if source.startswith("file:") else source
    base = os.path.realpath(run_dir())
    full = os.path.realpath(local)  # relative: to the script's working directory
    rel = os.path.relpath(full, base)
    if rel == os.curdir or rel.split(os.sep)[0] == os.pardir:
        raise refuse(f"cannot register {source!r}: not inside the run dir ({_WHERE})")
    return rel.replace(os.sep, "/")


_SCHEMES: dict[str, Callable[[str], str]] = {
    SCHEME: _from_gitexp,
    "models": _from_models,
    "runs": _from_runs,
    "file": _from_path,
    "": _from_path,
}
