"""What a model tag's message says, beyond GTO's one-line summary.

A registration tag's message is GTO's sentence (``Registering artifact
churn version v1.2.0``), a blank line, then ``key: value`` lines gitexp
reads back::

    gitexp-model: 1
    experiment: bold-fox-3a1c
    path: model.pkl
    storage: dvc            (or git)
    md5: 0cc175b9c0f1b6a831c399e269772661     (dvc: the object id; a folder ends .dir)
    size: 4000
    blob: 8ab686eafeb1f44702738c8b0f24f2567c36da6d   (git: a file; `tree:` for a folder)
    metrics: {"acc": 0.93}

A message comes from a possibly pulled tag: parsing never fails, and every
path and id is checked where it is used.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from gitexp.common.mappings import flatten

MARK = "gitexp-model"
SCHEMA = "1"
MAX_METRICS = 12


@dataclass(frozen=True)
class ModelFile:
    """Where a version's bytes are: a path of the commit, and how to check them."""

    path: str
    storage: str  # "dvc" or "git"
    md5: str | None = None  # dvc object id
    size: int | None = None
    blob: str | None = None  # git file
    tree: str | None = None  # git folder
    nfiles: int | None = None


@dataclass(frozen=True)
class Details:
    """The metadata block of a registration message (empty for tags others made)."""

    model_file: ModelFile | None = None
    experiment: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


def key_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The numeric metrics, flattened, the first ``MAX_METRICS`` by name."""
    flat = flatten(metrics)
    numbers = {
        k: v
        for k, v in sorted(flat.items())
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    }
    return dict(list(numbers.items())[:MAX_METRICS])


def registration(model: str, version: str, details: Details, summary: str | None = None) -> str:
    """The message of ``NAME@VERSION``: ``summary`` (GTO's sentence by default), the block."""
    first = summary or f"Registering artifact {model} version {version}"
    lines = [first, "", f"{MARK}: {SCHEMA}"]
    if details.experiment:
        lines.append(f"experiment: {details.experiment}")
    found = details.model_file
    if found is not None:
        fields: list[tuple[str, object]] = [
            ("path", found.path),
            ("storage", found.storage),
            ("md5", found.md5),
        ]
        fields += [("size", found.size), ("nfiles", found.nfiles)]
        fields += [("blob", found.blob), ("tree", found.tree)]
        lines += [f"{key}: {value}" for key, value in fields if value is not None]
    lines.append(f"metrics: {json.dumps(details.metrics, sort_keys=True)}")
    return "\n".join(lines) + "\n"


def parse(message: str) -> Details:
    """The metadata block of a message (from its last ``gitexp-model:`` line on);
    ``Details()`` when there is none."""
    lines = message.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(f"{MARK}: ")]
    if not starts:
        return Details()
    values: dict[str, str] = {}
    for line in lines[starts[-1] :]:
        key, sep, value = line.partition(": ")
        if sep and key.strip() and key.strip() not in values:
            values[key.strip()] = value.strip()
    return Details(_model_file(values), values.get("experiment") or None, _metrics(values))


def _model_file(values: dict[str, str]) -> ModelFile | None:
    path, storage = values.get("path"), values.get("storage")
    if not path or storage not in ("dvc", "git"):
        return None
    return ModelFile(
        path,
        storage,
        md5=values.get("md5"),
        size=_int(values.get("size")),
        blob=values.get("blob"),
        tree=values.get("tree"),
        nfiles=_int(values.get("nfiles")),
    )


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _metrics(values: dict[str, str]) -> dict[str, Any]:
    try:
        found = json.loads(values.get("metrics") or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def assignment(model: str, version: str, stage: str) -> str:
    return f"Assigning stage {stage} to artifact {model} version {version}\n"


def unassignment(model: str, version: str, stage: str) -> str:
    return f"Unassigning stage '{stage}' to artifact '{model}' version '{version}'\n"


def deregistration(model: str, version: str) -> str:
    return f"Deregistering artifact {model} version {version}\n"


def deprecation(model: str) -> str:
    return f"Deprecating artifact '{model}'\n"
