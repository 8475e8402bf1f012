"""MLflow's artifacts under `gitexp run`: a ``gitexp:/<folder>`` URI is a folder of the
run dir, and what lands there is logged with the tracking library (large files go
to DVC). The entry point is ``mlflow_store.artifact_repository``.
"""

from __future__ import annotations

import os
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

from gitexp.integrations import mlflow_store
from gitexp.integrations.mlflow_store import ARTIFACTS_DIR
from gitexp.tracking import recorder


class GitexpArtifactRepository(LocalArtifactRepository):
    """A ``gitexp:/<folder>`` URI is that folder of the run dir; what lands there is logged.

    Outside ``gitexp run`` (no GITEXP_RUN_DIR) the folder is below the current
    directory, where MLflow's own local store would write.
    """

    def __init__(self, artifact_uri: str, tracking_uri: Any = None, registry_uri: Any = None):
        super().__init__(artifact_uri, tracking_uri, registry_uri)
        parts = [p for p in artifact_uri.split(":", 1)[1].split("/") if p not in ("", ".")]
        if ".." in parts or not parts or parts[0] != ARTIFACTS_DIR:
            raise MlflowException(f"not a gitexp artifact location: {artifact_uri}")
        self._folder = "/".join(parts)
        self._artifact_dir = os.path.join(os.environ.get("GITEXP_RUN_DIR", "."), *parts)

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        super().log_artifact(local_file, artifact_path)  # type: ignore[no-untyped-call]
        name = os.path.basename(local_file)
        recorder.log_artifact(os.path.join(self.artifact_dir, artifact_path or "", name))

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """A folder logged under a name, or a model, is one artifact; else each entry is."""
        super().log_artifacts(local_dir, artifact_path)  # type: ignore[no-untyped-call]
        store = mlflow_store.current_store()
        if artifact_path or (store is not None and store.is_model_folder(self._folder)):
            where = os.path.join(self.artifact_dir, artifact_path) if artifact_path else None
            recorder.log_artifact(where or self.artifact_dir)
            return
        for entry in sorted(os.listdir(local_dir)):
            recorder.log_artifact(os.path.join(self.artifact_dir, entry))
