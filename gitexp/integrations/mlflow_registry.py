"""MLflow's model registry for ``gitexp:``: a script's registry calls become gitexp's tags.

``gitexp run`` sets ``MLFLOW_TRACKING_URI=gitexp:``, so MLflow's registry URI
is ``gitexp:`` too and MLflow finds this store through the
``mlflow.model_registry_store`` entry point (pyproject.toml). A script
written for MLflow registers unchanged: ``log_model(...,
registered_model_name="wine")``, ``mlflow.register_model("runs:/<id>/model",
"wine")``, ``MlflowClient().create_model_version(...)``,
``set_registered_model_alias(...)``.

The experiment's commit does not exist while the script runs, so nothing is
tagged here: each write is checked at the call (model name and alias in
GTO's grammar, the source a path of the run dir, one version per model and
run) and sent through the tracking library
(``recorder.request_model_action``); gitexp/registry/runrequests.py does it
once the run is recorded, if it succeeded. What the script is told is
predicted from the registry at run start (gitexp/registry/runview.py): the
next version number (version N is the tag ``<model>@vN.0.0``:
gitexp/integrations/mlflow_versions.py), the versions and aliases (gitexp
stages) a model has. Another registration may take the number meanwhile;
the run then gets the next one, and a warning says so.

Reads answer from that view plus this process's writes. Writes gitexp's
registry has no place for (tags, descriptions edited, deletes, renames,
MLflow's deprecated stages) raise MlflowException naming what to do
instead. docs/integrations.md lists what is supported.
"""
# ruff: noqa: E402 (MLflow's imports follow the entry point, see mlflow_store.py)

from __future__ import annotations

import os
import threading
import time
from typing import Any

_store: GitexpRegistryStore | None = None
_store_lock = threading.Lock()


def registry_store(store_uri: Any = None, tracking_uri: Any = None) -> GitexpRegistryStore:
    """The ``mlflow.model_registry_store`` entry point: one store per process."""
    global _store
    with _store_lock:
        if _store is None:
            _store = GitexpRegistryStore()
        return _store


from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.exceptions import MlflowException
from mlflow.prompt.registry_utils import has_prompt_tag
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, RESOURCE_DOES_NOT_EXIST
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry.abstract_store import AbstractStore
from mlflow.utils import validation
from mlflow.utils.search_utils import SearchModelUtils, SearchModelVersionUtils

from gitexp.integrations import mlflow_sources
from gitexp.integrations import mlflow_versions as V
from gitexp.integrations.mlflow_sources import refuse
from gitexp.integrations.mlflow_store import SCHEME, folder_uri
from gitexp.registry import runview, tagnames
from gitexp.registry.errors import RegistryError
from gitexp.tracking import recorder

PAGE = 10_000  # results per page when the caller names no maximum
STAGES = ("None", "Staging", "Production", "Archived")  # MLflow's, for get_latest_versions
_VERSIONS: Any = SearchModelVersionUtils  # MLflow's search helpers are untyped
_MODELS: Any = SearchModelUtils
_VALIDATION: Any = validation


def _now_ms() -> int:
    return int(time.time() * 1000)


def _missing(what: str) -> MlflowException:
    return MlflowException(f"{what} not found", error_code=RESOURCE_DOES_NOT_EXIST)


def _checked(check: Any, value: str, what: str) -> str:
    """``check(value)`` of gitexp's registry (GTO's grammar), its error as MLflow's."""
    try:
        return str(check(value))
    except RegistryError as exc:
        hint = f" (hint: {exc.hint})" if exc.hint else ""
        raise refuse(f"invalid {what} {value!r} for gitexp's model registry{hint}") from None


class GitexpRegistryStore(AbstractStore):
    """MLflow's registry API over the registry at run start and this run's requests."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._lock = threading.RLock()
        self._known: dict[str, V.Model] | None = None
        self._stages: list[str] | None = None

    def _models(self) -> dict[str, V.Model]:
        """The registry as the runner wrote it at run start (read once), with this
        process's writes applied since."""
        with self._lock:
            if self._known is None:
                where = os.environ.get("GITEXP_RUN_DIR")
                found = (runview.read(where) if where else None) or {}
                self._known, self._stages = V.from_snapshot(found), found.get("stages")
            return self._known

    def _model(self, name: str) -> V.Model:
        found = self._models().get(name)
        if found is None:
            raise _missing(f"Registered Model with name={name}")
        return found

    def _version(self, name: str, version: Any) -> V.Version:
        """MLflow's number (``1``, ``"1"``) or gitexp's (``"v1.0.0"``)."""
        text = str(version)
        number = V.number_of(text) if text.startswith("v") else None
        if number is None and text.isdigit():
            number = int(text)
        found = self._model(name).versions.get(number) if number is not None else None
        if found is None:
            raise _missing(f"Model Version (name={name}, version={version})")
        return found

    # registered models

    def create_registered_model(
        self, name: str, tags: Any = None, description: Any = None, deployment_job_id: Any = None
    ) -> RegisteredModel:
        """A name for versions to come: gitexp's registry holds a model once a version
        is registered, so alone this leaves no trace in git."""
        if has_prompt_tag(tags):
            raise refuse("MLflow prompts are not kept by gitexp's model registry")
        _checked(tagnames.check_model, name, "model name")
        with self._lock:
            if name in self._models():
                message = f"Registered Model (name={name}) already exists."
                raise MlflowException(message, error_code=RESOURCE_ALREADY_EXISTS)
            self._models()[name] = V.Model(name, _now_ms(), description=description)
            return self._models()[name].entity()

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self._lock:
            return self._model(name).entity()

    def search_registered_models(
        self, filter_string: Any = None, max_results: Any = None, order_by: Any = None,
        page_token: Any = None,
    ) -> PagedList[RegisteredModel]:  # fmt: skip
        with self._lock:
            found = [m.entity() for m in self._models().values()]
        found = _MODELS.sort(_MODELS.filter(found, filter_string), order_by)
        return PagedList(*_MODELS.paginate(found, page_token, max_results or PAGE))

    def get_latest_versions(self, name: str, stages: Any = None) -> list[ModelVersion]:
        """The highest version in each stage asked (all: MLflow's four); gitexp's
        versions are in "None", or "Archived" once deprecated."""
        with self._lock:
            model = self._model(name)
            wanted = [s.capitalize() for s in stages] if stages else list(STAGES)
            best: dict[str, V.Version] = {}
            for version in sorted(model.versions.values(), key=lambda v: v.number):
                best["None" if version.active else "Archived"] = version
            chosen = [best[s] for s in wanted if s in best]
            return [v.entity(model.aliases_of(v.number)) for v in chosen]

    # model versions

    def create_model_version(
        self, name: str, source: str, run_id: Any = None, tags: Any = None, run_link: Any = None,
        description: Any = None, local_model_path: Any = None, model_id: Any = None,
    ) -> ModelVersion:  # fmt: skip
        """Checked now, registered once the run is recorded: the version returned is
        the number the registry would give it (see the module doc)."""
        _checked(tagnames.check_model, name, "model name")
        path = mlflow_sources.resolve(source, model_id)
        with self._lock:
            model = self._models().setdefault(name, V.Model(name, _now_ms()))
            if any(v.own for v in model.versions.values()):
                raise refuse(
                    f"model {name!r} gets a version from this run already: a run (one "
                    "commit) holds one version of a model; register another name"
                )
            version = self._new_version(model, source, path, run_id, tags, description)
            recorder.request_model_action(
                "register", model=name, path=path, version=V.semver_of(version.number),
                description=description,
            )  # fmt: skip
            model.versions[version.number] = version
            model.semvers.append(V.semver_of(version.number))
            return version.entity([])

    def _new_version(
        self, model: V.Model, source: str, path: str, run_id: Any, tags: Any, description: Any
    ) -> V.Version:
        number = V.next_number(model.semvers)
        given = {t.key: t.value for t in tags or []}
        given[V.EXPERIMENT_TAG] = os.environ.get("GITEXP_RUN_NAME", "")
        given[V.GIT_TAG] = tagnames.version_tag(model.name, V.semver_of(number))
        where = folder_uri(path) if path.split("/")[0] == "mlartifacts" else None
        location = where or os.path.join(mlflow_sources.run_dir(), *path.split("/"))
        return V.Version(
            model.name, number, source, _now_ms(), own=True, run_id=run_id, tags=given,
            description=description, user=os.environ.get("USER"), location=location,
        )  # fmt: skip

    def _await_model_version_creation(self, mv: Any, await_creation_for: Any) -> None:
        """Nothing to wait for: a version is READY at once (registered at the end)."""

    def get_model_version(self, name: str, version: Any) -> ModelVersion:
        with self._lock:
            found = self._version(name, version)
            return found.entity(self._model(name).aliases_of(found.number))

    def get_model_version_download_uri(self, name: str, version: Any) -> str:
        """This run's version: its files in the run dir. An older one lives in
        another experiment's commit, which a script cannot read."""
        found = self._version(name, version)
        if found.location is None:
            semver = V.semver_of(found.number)
            raise refuse(
                f"model {name!r} version {found.number} ({semver}) is in experiment "
                f"{found.tags.get(V.EXPERIMENT_TAG)!r}, not in this run: fetch it before the "
                f"run (`gitexp model get {name} --version {semver}`, gitexp.model_path) "
                "and load that path"
            )
        return found.location

    def search_model_versions(
        self, filter_string: Any = None, max_results: Any = None, order_by: Any = None,
        page_token: Any = None,
    ) -> PagedList[ModelVersion]:  # fmt: skip
        with self._lock:
            versions = {
                (m.name, n): v.entity(m.aliases_of(n))
                for m in self._models().values()
                for n, v in m.versions.items()
            }
            numeric = [
                m.versions[n].entity([], numeric=True) for m in self._models().values()
                for n in m.versions
            ]  # fmt: skip
        found = _VERSIONS.sort(_VERSIONS.filter(numeric, filter_string), order_by)
        page, token = _VERSIONS.paginate(found, page_token, max_results or PAGE)
        return PagedList([versions[(mv.name, mv.version)] for mv in page], token)

    # aliases: gitexp stages

    def set_registered_model_alias(self, name: str, alias: str, version: Any) -> None:
        """Promote the version to the stage ``alias`` once the run is recorded."""
        _VALIDATION._validate_model_alias_name(alias)
        _VALIDATION._validate_model_alias_name_reserved(alias)
        _checked(tagnames.check_model, name, "model name")
        _checked(tagnames.check_stage, alias, "alias")
        mlflow_sources.run_dir()
        with self._lock:
            self._models()
            if self._stages is not None and alias not in self._stages:
                raise refuse(f"invalid alias {alias!r}: .gto allows {', '.join(self._stages)}")
            found = self._version(name, version)
            if not found.active:
                raise refuse(f"model {name!r} version {found.number} is deprecated")
            recorder.request_model_action(
                "alias", model=name, alias=alias, version=V.semver_of(found.number),
                own=found.own,
            )  # fmt: skip
            self._model(name).aliases[alias] = found.number

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Demote: no version holds the stage ``alias`` once the run is recorded."""
        mlflow_sources.run_dir()
        with self._lock:
            model = self._model(name)
            if alias not in model.aliases:
                raise _missing(f"Alias {alias!r} of registered model {name!r}")
            recorder.request_model_action("unalias", model=name, alias=alias)
            del model.aliases[alias]

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        with self._lock:
            number = self._model(name).aliases.get(alias)
            if number is None:
                raise _missing(f"Alias {alias!r} of registered model {name!r}")
            return self.get_model_version(name, number)

    # what gitexp's registry has no place for

    def update_registered_model(self, *args: Any, **kwargs: Any) -> Any:
        raise _unsupported("a registered model's description", "pass description= when registering")

    def rename_registered_model(self, *args: Any, **kwargs: Any) -> Any:
        raise _unsupported("renaming a model", "register under the new name")

    def delete_registered_model(self, *args: Any, **kwargs: Any) -> Any:
        raise _unsupported("deleting a model", "deprecate it: `gitexp model deprecate NAME`")

    def delete_model_version(self, *args: Any, **kwargs: Any) -> Any:
        raise _unsupported("deleting a version", "`gitexp model deprecate NAME VERSION`")

    def update_model_version(self, *args: Any, **kwargs: Any) -> Any:
        raise _unsupported("a version's description", "pass description= when registering")

    def set_registered_model_tag(self, *args: Any, **kwargs: Any) -> Any:
        raise _unsupported("registered model tags", "log them as run params or tags")

    def set_model_version_tag(self, *args: Any, **kwargs: Any) -> Any:
        raise _unsupported("model version tags", "log them as run params or tags")

    delete_registered_model_tag = set_registered_model_tag
    delete_model_version_tag = set_model_version_tag

    def transition_model_version_stage(self, *args: Any, **kwargs: Any) -> Any:
        raise _unsupported(
            "MLflow's stages (deprecated by MLflow)",
            "use MlflowClient().set_registered_model_alias(name, alias, version): an alias "
            "is a gitexp stage",
        )


def _unsupported(what: str, instead: str) -> MlflowException:
    return MlflowException(
        f"{what}: not kept by gitexp's model registry ({SCHEME}: URI); instead, {instead}"
    )
