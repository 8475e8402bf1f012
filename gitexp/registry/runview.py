"""The model registry as a running script sees it: a file the runner writes at run start.

A script cannot read the repository (its run dir is a copy of the tree, maybe
in a container), yet MLflow's registry calls want answers there: the version
``create_model_version`` will get, the versions a model has, the version an
alias points at. So when the command starts, the runner's registry listener
(gitexp/registry/runrequests.py) writes ``.gitexp/registry.json`` in the run
dir (never committed, like ``.gitexp/params.json``)::

    {"schema": 1,
     "stages": ["dev", "prod"] | null,     # what .gto allows (null: any)
     "models": {"wine": {...}}}            # gitexp/registry/report.py's model_dict

It is the registry at that moment: what the script is told is a prediction,
checked again when the run is recorded. A run whose run dir is built
elsewhere (Ray) has no such file: ``read`` returns None. Stdlib only: the
script's process imports this module.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitexp.gitstore.repo import Repo

SNAPSHOT = ".gitexp/registry.json"  # below the run dir
SCHEMA = 1


def path_in(run_dir: str | os.PathLike[str]) -> str:
    return os.path.join(os.fspath(run_dir), *SNAPSHOT.split("/"))


def dumps(models: dict[str, Any], stages: list[str] | None) -> str:
    """The file's text: ``models`` by name, as ``report.model_dict`` gives them."""
    return json.dumps({"schema": SCHEMA, "stages": stages, "models": models}, default=str)


def write(repo: Repo, run_dir: str | os.PathLike[str]) -> None:
    """The registry of ``repo`` now, into the run dir. Its tags are read only when
    a model tag exists (a look at the tag names): most runs pay a stat or two."""
    from gitexp.common.errors import ConfigError
    from gitexp.gitstore import refscan
    from gitexp.registry import report, state, tagnames, tagstore, writing

    names = refscan.under(repo, tagnames.TAG_PREFIX)
    tags = tagstore.read_tags(repo) if any(map(tagnames.is_model_tag, names)) else []
    models = {name: report.model_dict(m, {}) for name, m in state.models(tags).items()}
    try:
        stages = writing.allowed_stages(repo.root)
    except ConfigError:  # a broken .gto: refused where a stage is assigned, with its reason
        stages = None
    os.makedirs(os.path.dirname(path_in(run_dir)), exist_ok=True)
    with open(path_in(run_dir), "w", encoding="utf-8") as f:
        f.write(dumps(models, stages))


def read(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The snapshot of this run dir, or None when the runner wrote none (or an
    unreadable one: the script then knows nothing of the registry)."""
    try:
        with open(path_in(run_dir), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        return None
    return data
