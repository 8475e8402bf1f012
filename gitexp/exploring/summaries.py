"""Experiment summaries: one row per experiment, for tables, filters and sorting.

Summaries come through the commit-keyed cache (summary_cache.py), so listing
10,000 experiments opens no git object that was seen before and never
spawns git.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from gitexp.common.errors import StoreError
from gitexp.common.mappings import flatten
from gitexp.exploring import summary_cache as index
from gitexp.gitstore import store
from gitexp.gitstore.record import observed_status
from gitexp.gitstore.repo import Repo

FIXED_COLUMNS = ("name", "created", "status", "baseline")


@dataclass(frozen=True)
class ExperimentSummary:
    """One row of `gitexp show`: identity and status, and the cached JSON text of
    baseline/status/created/seed/params/metrics, parsed only when needed."""

    name: str
    commit: str
    status: str
    created: str
    entry: index.Entry

    @property
    def ref(self) -> str:
        return store.REF_PREFIX + self.name

    @cached_property
    def data(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.entry.text)
        value["status"] = self.status
        return value

    @property
    def baseline(self) -> str | None:
        return self.data.get("baseline")

    @property
    def seed(self) -> int | None:
        return self.data.get("seed")

    @property
    def params(self) -> dict[str, Any]:
        return self.data.get("params") or {}

    @property
    def metrics(self) -> dict[str, Any]:
        return self.data.get("metrics") or {}

    @property
    def sweep(self) -> str | None:
        """The sweep this experiment is a trial of (None: not a trial)."""
        return self.entry.sweep

    @property
    def trial(self) -> int | None:
        """The trial's number in its sweep (Optuna's)."""
        info = self.data.get("sweep") if self.entry.sweep else None
        number = info.get("trial") if isinstance(info, dict) else None
        return number if isinstance(number, int) else None

    @property
    def objectives(self) -> list[str]:
        """The sweep's objectives as the trial recorded them: ``METRIC:min|max``."""
        info = self.data.get("sweep") if self.entry.sweep else None
        found = info.get("objectives") if isinstance(info, dict) else None
        return [str(o) for o in found] if isinstance(found, list) else []

    def to_json(self) -> dict[str, Any]:
        """The documented `show --format json` object."""
        return {"name": self.name, "ref": self.ref, "commit": self.commit, **self.data}

    def json_text(self) -> str:
        """``json.dumps(self.to_json())`` without parsing the cached text."""
        if self.status != self.entry.status:
            return json.dumps(self.to_json(), default=str)
        head = json.dumps({"name": self.name, "ref": self.ref, "commit": self.commit})
        return head[:-1] + ", " + self.entry.text[1:]

    def row(self) -> dict[str, Any]:
        """Flat row for tables, filters and sorting: params.* and metrics.* columns."""
        row: dict[str, Any] = {
            "name": self.name,
            "commit": self.commit,
            "created": self.created,
            "status": self.status,
            "baseline": self.baseline,
            "seed": self.seed,
            "sweep": self.entry.sweep,
        }
        row.update({"params." + k: v for k, v in flatten(self.params).items()})
        row.update({"metrics." + k: v for k, v in flatten(self.metrics).items()})
        return row


def list_summaries(repo: Repo, baseline: str | None = None) -> list[ExperimentSummary]:
    """Every experiment, newest first; only those of ``baseline`` (a revision) if given."""
    refs = store.ref_targets(repo)
    found = index.summaries(repo, refs.values(), every_ref=True)
    out = [_summary(name, commit, found[commit]) for name, commit in refs.items()]
    if baseline is not None:
        base = store.resolve_rev(repo, baseline)
        out = [s for s in out if s.baseline == base]
    out.sort(key=lambda s: (s.created, s.name), reverse=True)
    return out


def _summary(name: str, commit: str, entry: index.Entry) -> ExperimentSummary:
    status = observed_status(entry.status, entry.host, entry.pid, entry.lease)
    return ExperimentSummary(name, commit, status, entry.created, entry)


def get_summaries(repo: Repo, specs: Iterable[str]) -> list[ExperimentSummary]:
    """Summaries of named experiments (name, prefix, ref or commit id), in order."""
    resolved = [store.resolve(repo, spec) for spec in specs]
    found = index.summaries(repo, [str(oid) for _, oid in resolved])
    return [_summary(name, str(oid), found[str(oid)]) for name, oid in resolved]


def intact_summary(repo: Repo, spec: str) -> ExperimentSummary:
    """One experiment's summary, refused in one line when its objects are gone."""
    summary = get_summaries(repo, [spec])[0]
    if summary.status == index.BROKEN:
        raise StoreError(
            f"experiment {summary.name!r} is broken: commit {summary.commit[:12]} is missing",
            "fetch it again, or remove it with `gitexp remove`",
        )
    return summary
