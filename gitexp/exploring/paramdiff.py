"""The full params of experiments and how two differ, for `gitexp params`.

The params are the merged, composed params run.json records (what the script
read), not the files they came from: two runs composed from different group
options differ here exactly where their params do. The difference is a
unified diff of both as YAML with sorted keys (so key order never shows up as
a change), and a list of changed keys for programs, as comparison.code_diff
is a patch for code.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import yaml

from gitexp.common.mappings import flatten
from gitexp.exploring.summaries import intact_summary
from gitexp.gitstore.repo import Repo


@dataclass(frozen=True)
class ExperimentParams:
    name: str
    commit: str
    params: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "commit": self.commit, "params": self.params}

    def yaml(self, sort_keys: bool = False) -> str:
        """The params as the YAML a params file would hold (``{}`` when none)."""
        return yaml.safe_dump(self.params, sort_keys=sort_keys, allow_unicode=True)


@dataclass(frozen=True)
class Change:
    """One dotted key that differs: ``changed``, ``added`` (only in B), ``removed``."""

    key: str
    change: str
    a: Any = None
    b: Any = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "change": self.change}
        if self.change != "added":
            out["a"] = self.a
        if self.change != "removed":
            out["b"] = self.b
        return out


def params_of(repo: Repo, spec: str) -> ExperimentParams:
    """The params experiment ``spec`` (name, prefix, ref or commit id) ran with."""
    summary = intact_summary(repo, spec)
    return ExperimentParams(summary.name, summary.commit, summary.params)


def changes(a: ExperimentParams, b: ExperimentParams) -> list[Change]:
    """Every dotted key whose value differs, sorted by key."""
    left, right = flatten(a.params), flatten(b.params)
    out = []
    for key in sorted({*left, *right}):
        if key not in right:
            out.append(Change(key, "removed", a=left[key]))
        elif key not in left:
            out.append(Change(key, "added", b=right[key]))
        elif left[key] != right[key] or type(left[key]) is not type(right[key]):
            out.append(Change(key, "changed", left[key], right[key]))
    return out


def unified(a: ExperimentParams, b: ExperimentParams) -> str:
    """A unified diff of both params as YAML (sorted keys); empty when they are equal."""
    lines = difflib.unified_diff(
        a.yaml(sort_keys=True).splitlines(keepends=True),
        b.yaml(sort_keys=True).splitlines(keepends=True),
        fromfile=a.name,
        tofile=b.name,
    )
    return "".join(lines)
