"""Experiments side by side: params and metrics with deltas, and code diffs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gitexp.common.mappings import flatten
from gitexp.exploring.summaries import ExperimentSummary
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import without_meta


@dataclass(frozen=True)
class CompareRow:
    """One param or metric across experiments, with deltas against the first."""

    kind: str  # "param" or "metric"
    key: str
    values: list[Any]
    deltas: list[float | None]

    @property
    def changed(self) -> bool:
        return len({json.dumps(v, sort_keys=True, default=str) for v in self.values}) > 1

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "values": self.values, "deltas": self.deltas}


def compare(summaries: list[ExperimentSummary]) -> list[CompareRow]:
    """Params then metrics of the experiments side by side (union of keys)."""
    rows = []
    for kind, attr in (("param", "params"), ("metric", "metrics")):
        flats = [flatten(getattr(s, attr)) for s in summaries]
        keys = list(dict.fromkeys(k for flat in flats for k in flat))
        for key in keys:
            values = [flat.get(key) for flat in flats]
            rows.append(CompareRow(kind, key, values, [_delta(values[0], v) for v in values]))
    return rows


def _delta(first: Any, value: Any) -> float | None:
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (first, value)):
        return None
    return float(f"{value - first:.12g}")  # 0.3 - 0.2 reads as 0.1


def compare_json(
    summaries: list[ExperimentSummary], rows: list[CompareRow], diffs: dict[str, str] | None
) -> dict[str, Any]:
    """The `compare --format json` document."""
    out: dict[str, Any] = {
        "experiments": [s.to_json() for s in summaries],
        "params": [r.to_json() for r in rows if r.kind == "param"],
        "metrics": [r.to_json() for r in rows if r.kind == "metric"],
    }
    if diffs is not None:
        out["diff"] = diffs
    return out


def code_diff(repo: Repo, old_commit: str, new_commit: str) -> str:
    """Unified diff between two experiments' workspaces (their .gitexp/ left out)."""
    git: Any = repo.git
    old = without_meta(repo, git[old_commit].tree_id)
    new = without_meta(repo, git[new_commit].tree_id)
    text: str = git.diff(git[old], git[new]).patch or ""
    return text


def diffs_against_first(repo: Repo, summaries: list[ExperimentSummary]) -> dict[str, str]:
    """{name: code diff from the first experiment} for every other experiment."""
    first = summaries[0]
    return {s.name: code_diff(repo, first.commit, s.commit) for s in summaries[1:]}
